//! The text parser against data no one on this team wrote — Prometheus's own parser
//! test files — and against a corpus of edge cases whose expected result was taken from
//! a real Prometheus 2.42: per document, the series kept and the lines dropped. Every
//! document's OpenMetrics encoding must pass `prometheus_client`'s strict parser.

#[path = "support/mod.rs"]
mod support;

use rtmon::expo::encode_openmetrics;
use rtmon::expo::parse::{parse_bytes, ParseOptions};

#[test]
fn corpus_keeps_and_drops_what_prometheus_does() {
    let mut failures = Vec::new();
    for d in support::CORPUS {
        let p = parse_bytes(d.input, &ParseOptions::default());
        let dropped: Vec<usize> = p.errors.iter().map(|e| e.line).collect();
        let series = support::render(&p.set);
        if dropped != d.dropped || series != d.series {
            failures.push(format!(
                "{}: dropped {dropped:?} (want {:?}), errors {:?}\n  series {series:?}\n  want   {:?}",
                d.name, d.dropped, p.errors, d.series
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn upstream_files_parse_series_for_series() {
    let Some(dir) = support::upstream_dir() else {
        eprintln!("SKIP upstream_files_parse_series_for_series: ../shared/upstream-fixtures/prometheus-textparse is absent");
        return;
    };
    for (file, series, dropped) in support::UPSTREAM {
        let bytes = std::fs::read(dir.join(file)).expect("read upstream file");
        let p = parse_bytes(&bytes, &ParseOptions::default());
        assert_eq!(p.set.len(), *series, "{file}");
        assert_eq!(
            p.errors.len(),
            *dropped,
            "{file}: {:?}",
            &p.errors[..p.errors.len().min(5)]
        );
        // Only repeats are dropped: series Prometheus drops as duplicates too, and
        // TYPE/HELP lines repeated when the file comes back to a family (or typing it
        // after its first samples).
        let repeat = |m: &str| {
            m.contains("duplicate series")
                || m.contains("second TYPE")
                || m.contains("second HELP")
                || m.contains("after its samples")
        };
        assert!(
            p.errors.iter().all(|e| repeat(&e.message)),
            "{file}: {:?}",
            p.errors.iter().find(|e| !repeat(&e.message))
        );
    }
}

#[test]
fn openmetrics_encoding_of_every_document_passes_the_strict_parser() {
    let Some(python) = support::python() else {
        assert!(
            !rtmon_testkit::strict(),
            "python with prometheus_client is required (RTMON_TEST_STRICT=1)"
        );
        eprintln!("SKIP: no python with prometheus_client");
        return;
    };
    let mut names = Vec::new();
    let mut docs = Vec::new();
    let mut sets = Vec::new();
    for d in support::CORPUS {
        names.push(d.name.to_string());
        sets.push(parse_bytes(d.input, &ParseOptions::default()).set);
    }
    if let Some(dir) = support::upstream_dir() {
        for (file, _, _) in support::UPSTREAM {
            let bytes = std::fs::read(dir.join(file)).expect("read upstream file");
            names.push(file.to_string());
            sets.push(parse_bytes(&bytes, &ParseOptions::default()).set);
        }
    }
    for s in &sets {
        docs.push(encode_openmetrics(s));
    }
    let results = support::om_strict(&python, &docs);
    for ((name, r), (doc, set)) in names.iter().zip(&results).zip(docs.iter().zip(&sets)) {
        match r {
            // Every series is written (none left out), each as one sample.
            Ok(n) => assert_eq!(*n as usize, set.len(), "{name}:\n{doc}"),
            Err(e) => panic!("{name}: strict parser rejected the OpenMetrics output: {e}\n{doc}"),
        }
    }
    // The upstream Go-runtime files had a counter/gauge clash: it is written as unknown.
    if let Some(i) = names.iter().position(|n| n == "promtestdata.txt") {
        assert!(docs[i].contains("# TYPE go_memstats_alloc_bytes gauge\n"));
        assert!(docs[i].contains("# TYPE go_memstats_alloc_bytes_total unknown\n"));
    }
}

/// Random documents built from a small vocabulary of names, suffixes, types, labels and
/// values — the combinations where OpenMetrics families clash or histograms and
/// summaries break — always encode to OpenMetrics the strict parser accepts, with every
/// series written.
#[test]
fn random_documents_encode_to_strict_openmetrics() {
    let Some(python) = support::python() else {
        assert!(
            !rtmon_testkit::strict(),
            "python with prometheus_client is required (RTMON_TEST_STRICT=1)"
        );
        eprintln!("SKIP: no python with prometheus_client");
        return;
    };
    const NAMES: &[&str] = &["a", "a_total", "a_created", "a_info", "h", "h_count", "s"];
    const SUFFIXES: &[&str] = &["", "", "_total", "_bucket", "_sum", "_count", "_info"];
    const TYPES: &[&str] = &["counter", "gauge", "histogram", "summary", "untyped"];
    const LABELS: &[&str] = &[
        "",
        "",
        "x=\"1\"",
        "x=\"2\"",
        "le=\"1\"",
        "le=\"+Inf\"",
        "le=\"Inf\"",
        "le=\"-1\"",
        "le=\"NaN\"",
        "quantile=\"0.5\"",
        "quantile=\"2\"",
        "x=\"1\",le=\"+Inf\"",
    ];
    const VALUES: &[&str] = &["1", "0", "2", "-1", "2.5", "NaN", "+Inf", "3", "-0"];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut docs = Vec::new();
    let mut sets = Vec::new();
    for _ in 0..400 {
        let mut doc = String::new();
        for _ in 0..(1 + next(12)) {
            let name = NAMES[next(NAMES.len())];
            if next(4) == 0 {
                doc.push_str(&format!("# TYPE {name} {}\n", TYPES[next(TYPES.len())]));
                continue;
            }
            let labels = LABELS[next(LABELS.len())];
            let braces = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{labels}}}")
            };
            let ts = if next(8) == 0 { " 1700000000000" } else { "" };
            doc.push_str(&format!(
                "{name}{}{braces} {}{ts}\n",
                SUFFIXES[next(SUFFIXES.len())],
                VALUES[next(VALUES.len())]
            ));
        }
        let set = parse_bytes(doc.as_bytes(), &ParseOptions::default()).set;
        docs.push(encode_openmetrics(&set));
        sets.push((doc, set));
    }
    let results = support::om_strict(&python, &docs);
    for ((r, om), (doc, set)) in results.iter().zip(&docs).zip(&sets) {
        match r {
            Ok(n) => assert_eq!(*n as usize, set.len(), "input:\n{doc}\noutput:\n{om}"),
            Err(e) => panic!("strict parser: {e}\ninput:\n{doc}\noutput:\n{om}"),
        }
    }
}
