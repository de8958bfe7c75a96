//! Shared by the exposition-conformance tests (`shared/tests/textparse_upstream.rs`,
//! `exporters/script/tests/openmetrics_strict.rs`, `dashboards/tests/openmetrics_rig.rs`,
//! which include this file with `#[path]`): the edge-case corpus, the upstream test data
//! location, and the strict OpenMetrics parser of Python's `prometheus_client`.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One document of the corpus: what Prometheus 2.42's text parser makes of it (checked
/// against a real Prometheus by `exporters/script/tests/openmetrics_strict.rs`).
pub struct Doc {
    /// Short name (a script name: `[a-z0-9_]`).
    pub name: &'static str,
    /// The bytes a script prints.
    pub input: &'static [u8],
    /// 1-based lines dropped (and counted).
    pub dropped: &'static [usize],
    /// Series kept, rendered by [`render`], sorted.
    pub series: &'static [&'static str],
}

/// Edge cases of the classic text format. Each was checked by hand against a real
/// Prometheus 2.42 scraping the document as a static file.
pub const CORPUS: &[Doc] = &[
    Doc {
        name: "negative_timestamp",
        // Prometheus: `expected timestamp or new record, got "INVALID"`.
        input: b"tn 1 -1000\ntp 1 +1700000000000\nok 1\n",
        dropped: &[1, 2],
        series: &["ok 1"],
    },
    Doc {
        name: "numbers",
        input: b"a 1e400\nb -NaN\nc +nan\nd -0\ne -0.0\nf -1e-400\ng 1e-400\nh 0x10\ni 1_000\nj 1p3\nk .5\nl 5.\nm 1E+3\nn +1\no +.5\np 1.e5\nq .e5\nr 1e\ns +\nt infinity\nu -Infinity\nv nan\nw INF\nx infinit\ny 01\nz 18446744073709551615\naa 1.7976931348623157e308\nab 1.8e308\nac 4.9e-324\nad -12\n",
        dropped: &[1, 2, 3, 8, 9, 10, 17, 18, 19, 24, 28],
        series: &[
            "aa 1.7976931348623157e308",
            "ac 5e-324", "ad -12", "d -0", "e -0", "f -0", "g 0", "k 0.5", "l 5", "m 1000",
            "n 1", "o 0.5", "p 100000", "t +Inf", "u -Inf", "v NaN", "w +Inf", "y 1",
            "z 18446744073709551615",
        ],
    },
    Doc {
        name: "comments_and_meta",
        // `#TYPE` is a comment, so hnt stays untyped; `# HELP` alone is a comment;
        // `# HELP x` without text is fine; `# TYPE a-counter` is TYPE a counter.
        input: b"#TYPE hnt histogram\nhnt 1\n# HELP\n# HELP x\nx 2\n# TYPE y\ny 3\n# TYPE a-counter\na 4\n#\n  # TYPE g gauge\ng 5\n# HELP \n# EOF\nz 6\n",
        dropped: &[6, 13],
        series: &["a 4", "g 5", "hnt 1", "x 2", "y 3", "z 6"],
    },
    Doc {
        name: "crlf",
        // Prometheus: `parsing "1\r": invalid syntax`; a TYPE with CR is an unknown type.
        input: b"# HELP a x\r\n# TYPE a gauge\r\na 1\r\nb 2\n\r\n",
        dropped: &[2, 3, 5],
        series: &["b 2"],
    },
    Doc {
        name: "blanks",
        // A sample may not start with a blank (invalid metric name "   lead"); a
        // comment may; whitespace-only lines are blank; blanks after the value are fine.
        input: b"   lead 1\n\t tab 1\n  \n\t\n  # TYPE c gauge\nc 1  \nd\t2\t\n# TYPE e gauge \ne 3\n# TYPE f  gauge\nf 4\n",
        dropped: &[1, 2, 8, 10],
        series: &["c 1", "d 2", "e 3", "f 4"],
    },
    Doc {
        name: "labels",
        // Comma optional, trailing comma fine, blanks anywhere inside the braces, an
        // empty value is no label (so `c 2` duplicates `c{b=""}`), other escapes kept.
        input: b"m{a=\"1\" b=\"2\"} 1\nn{ a = \"1\" , } 2\no {a=\"1\"} 3\np{a=\"1\"}4\nq{}5\nc{b=\"\"} 1\nc 2\nr{a=\"x\\ty\"} 6\ns{a=\"1\",,b=\"2\"} 7\nt{,a=\"1\"} 8\nu{1a=\"1\"} 9\nv{a=\"1\",a=\"2\"} 10\nw{__name__=\"x\"} 11\nx{__x=\"1\"} 12\ny{a=\"x\ny\"} 13\n",
        dropped: &[7, 9, 10, 11, 12, 13, 14, 15, 16],
        series: &[
            "c 1", "m{a=\"1\",b=\"2\"} 1", "n{a=\"1\"} 2", "o{a=\"1\"} 3", "p{a=\"1\"} 4",
            "q 5", "r{a=\"x\\\\ty\"} 6",
        ],
    },
    Doc {
        name: "utf8",
        // Invalid UTF-8: dropped unless the line is a plain comment.
        input: b"# comment \xff\na{b=\"\xff\"} 1\n# HELP c \xff\nc 2\nd\xff 3\ne{b=\"\xc3\xa9\"} 4\n# HELP f \xc3\xa9t\xc3\xa9\nf 5\n# HELP g\xc3\xa9 x\ng 6\n",
        dropped: &[2, 3, 5, 9],
        series: &["c 2", "e{b=\"\u{e9}\"} 4", "f 5", "g 6"],
    },
    Doc {
        name: "nul",
        // A NUL inside a label value is kept; at the start of a line Prometheus stops.
        input: b"a{b=\"x\x00y\"} 1\nc\x001 1\nd 2\n\x00e 3\nf 4\n",
        dropped: &[2, 4, 5],
        series: &["a{b=\"x\u{0}y\"} 1", "d 2"],
    },
    Doc {
        name: "timestamps",
        input: b"a 1 0001\nb 2 99999999999999999999\nc 3 1.5\nd 4 5 6\ne 5 7x\n",
        dropped: &[2, 3, 4, 5],
        series: &["a 1 @1"],
    },
    Doc {
        name: "histogram_shapes",
        // Prometheus takes all of these; the OpenMetrics output must still be strict.
        // `le="Inf"` is normalised to `+Inf`.
        input: b"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"Inf\"} 2\nh_sum 3\nh_count 2\n# TYPE i histogram\ni_bucket{le=\"1\"} 1\ni_count 1\n# TYPE j histogram\nj_bucket{a=\"1\",le=\"+Inf\"} 1\nj_bucket{a=\"2\",le=\"+Inf\"} 1\nj_sum{a=\"1\"} 1\nj_count{a=\"1\"} 1\n# TYPE s summary\ns{quantile=\"2\"} 1\ns_sum -1\n# TYPE k_total counter\nk_total -1\n# TYPE k gauge\nk 1\n",
        dropped: &[],
        series: &[
            "h_bucket{le=\"+Inf\"} 2", "h_bucket{le=\"1\"} 1", "h_count 2", "h_sum 3",
            "i_bucket{le=\"1\"} 1", "i_count 1", "j_bucket{a=\"1\",le=\"+Inf\"} 1",
            "j_bucket{a=\"2\",le=\"+Inf\"} 1", "j_count{a=\"1\"} 1", "j_sum{a=\"1\"} 1",
            "k 1", "k_total -1", "s_sum -1", "s{quantile=\"2\"} 1",
        ],
    },
    Doc {
        name: "type_rules",
        // Deliberately stricter than Prometheus: second/conflicting/late TYPE, second
        // HELP and duplicate series are dropped (Prometheus keeps the first sample too).
        input: b"# TYPE a gauge\n# TYPE a counter\na 1\nb 2\n# TYPE b gauge\n# HELP c one\n# HELP c two\nc 3\nc 4\n# TYPE d flurb\nd 5\n",
        dropped: &[2, 5, 7, 9, 10],
        series: &["a 1", "b 2", "c 3", "d 5"],
    },
];

/// Renders a series of a parsed set: `name{labels sorted by name} value[ @ts]`.
pub fn render(set: &rtmon::expo::MetricSet) -> Vec<String> {
    let mut out = Vec::new();
    for f in set.families() {
        for s in &f.samples {
            let mut labels: Vec<(&str, &str)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.as_ref(), v.as_str()))
                .collect();
            labels.sort_unstable();
            let mut line = format!("{}{}", f.name, s.suffix);
            if !labels.is_empty() {
                line.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    line.push_str(k);
                    line.push_str("=\"");
                    rtmon::expo::escape_label_value(v, &mut line);
                    line.push('"');
                }
                line.push('}');
            }
            line.push(' ');
            s.value.write_to(&mut line);
            if let Some(ts) = s.timestamp_ms {
                line.push_str(&format!(" @{ts}"));
            }
            out.push(line);
        }
    }
    out.sort();
    out
}

/// The upstream test data directory (`../shared/upstream-fixtures/prometheus-textparse`
/// beside the repository), if present.
pub fn upstream_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/upstream-fixtures/prometheus-textparse");
    let d = if d.is_dir() {
        d
    } else {
        // From a crate one level deeper (exporters/script) the workspace is ../..
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/upstream-fixtures/prometheus-textparse")
    };
    d.is_dir().then_some(d)
}

/// Upstream files: (file name, expected series, expected dropped lines).
pub const UPSTREAM: &[(&str, usize, usize)] = &[
    ("promtestdata.txt", 410, 0),
    ("alltypes.237mfs.prom.txt", 1858, 0),
    // The file switches back and forth between families: 349 lines repeat a series
    // (Prometheus keeps the first sample too) or a family's TYPE/HELP.
    ("family-switch.prom.txt", 149, 349),
];

/// Python with `prometheus_client` (`$RTMON_VENV`, else /opt/rtmon-venv).
pub fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("RTMON_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/rtmon-venv"));
    let p = venv.join("bin/python");
    let ok = Command::new(&p)
        .args(["-c", "import prometheus_client.openmetrics.parser"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(p)
}

const CHECKER: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for doc in json.load(sys.stdin):
    try:
        fams = list(text_string_to_metric_families(doc))
        out.append({"ok": True, "samples": sum(len(f.samples) for f in fams)})
    except Exception as e:
        out.append({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
json.dump(out, sys.stdout)
"#;

/// Runs `prometheus_client`'s strict OpenMetrics parser on each document: per document
/// the number of samples it read, or its error.
pub fn om_strict(python: &Path, docs: &[String]) -> Vec<Result<u64, String>> {
    let mut child = Command::new(python)
        .args(["-c", CHECKER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    let input = serde_json::to_vec(docs).expect("json");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write to python");
    let out = child.wait_with_output().expect("python");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("python json");
    v.into_iter()
        .map(|r| {
            if r["ok"].as_bool() == Some(true) {
                Ok(r["samples"].as_u64().unwrap_or(0))
            } else {
                Err(r["error"].as_str().unwrap_or("?").to_string())
            }
        })
        .collect()
}
