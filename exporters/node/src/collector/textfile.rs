//! `textfile`: metrics from `*.prom` files in `--collector.textfile.directory`
//! (writers use write-then-rename, so a file is read whole or not at all).
//!
//! Per file: a parse error, a timestamp, or a family whose name collides with a
//! built-in series of this scrape (or a reserved self-metric) rejects the *whole*
//! file, sets `node_textfile_scrape_error 1` and logs the file — a textfile never
//! replaces a real value. Good files add `node_textfile_mtime_seconds{file}`.

use std::path::Path;

use rtmon::expo::parse::{parse_text, ParseOptions};
use rtmon::expo::{MetricSet, MetricType};

use super::CollectResult;
use crate::config::Config;

/// Why a textfile was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// A line did not parse.
    Parse(String),
    /// A family collides with a built-in or reserved name.
    Collision(String),
}

fn reserved(name: &str) -> bool {
    name.starts_with("node_scrape_collector_") || name.starts_with("node_textfile_")
}

/// Parses one file's content and checks it against the built-in families in `builtin`.
/// Pure: no I/O. On success returns the families, with HELP defaulted as node_exporter
/// does (`Metric read from <path>`).
pub fn check_file(path: &str, text: &str, builtin: &MetricSet) -> Result<MetricSet, Rejected> {
    let opts = ParseOptions {
        reject_timestamps: true,
        ..ParseOptions::default()
    };
    let parsed = parse_text(text, &opts);
    if let Some(e) = parsed.errors.first() {
        return Err(Rejected::Parse(format!("{path}:{}: {}", e.line, e.message)));
    }
    let mut set = parsed.set;
    for f in set.families() {
        if builtin.contains(&f.name) || reserved(&f.name) {
            return Err(Rejected::Collision(f.name.clone()));
        }
    }
    let mut out = MetricSet::new();
    for f in set.families() {
        let mut f = f.clone();
        if f.help.is_empty() {
            f.help = format!("Metric read from {path}");
        }
        out.push_family(f);
    }
    set = out;
    Ok(set)
}

/// Reads the directory. Never fails as a whole: problems become
/// `node_textfile_scrape_error 1` plus a log line naming the file.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let dir = &cfg.textfile_directory;
    let mut errored = false;
    let mut accepted = MetricSet::new();
    let mut mtimes: Vec<(String, f64)> = Vec::new();
    if !dir.as_os_str().is_empty() {
        match std::fs::read_dir(dir) {
            Err(e) => {
                errored = true;
                tracing::error!(collector = "textfile", path = %dir.display(), error = %e, "failed to read textfile collector directory");
            }
            Ok(rd) => {
                let mut files: Vec<_> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "prom"))
                    .collect();
                files.sort();
                for p in files {
                    match read_one(&p, out) {
                        Ok((set, mtime)) => {
                            accepted.merge(set);
                            mtimes.push((p.display().to_string(), mtime));
                        }
                        Err(msg) => {
                            errored = true;
                            tracing::error!(collector = "textfile", file = %p.display(), error = %msg, "textfile rejected");
                        }
                    }
                }
            }
        }
    }
    out.merge(accepted);
    for (file, mtime) in &mtimes {
        out.gauge(
            "node_textfile_mtime_seconds",
            "Unixtime mtime of textfiles successfully read.",
            &[("file", file)],
            *mtime,
        );
    }
    out.family(
        "node_textfile_scrape_error",
        "1 if there was an error opening or reading a file, 0 otherwise",
        MetricType::Gauge,
    )
    .add(&[], u64::from(errored));
    Ok(())
}

fn read_one(p: &Path, builtin: &MetricSet) -> Result<(MetricSet, f64), String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read: {e}"))?;
    let mtime = std::fs::metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let shown = p.display().to_string();
    match check_file(&shown, &text, builtin) {
        Ok(set) => Ok((set, mtime)),
        Err(Rejected::Parse(m)) => Err(format!("parse error: {m}")),
        Err(Rejected::Collision(name)) => Err(format!(
            "metric {name:?} collides with a built-in metric; the whole file is ignored"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> MetricSet {
        let mut m = MetricSet::new();
        m.gauge("node_load1", "1m load average.", &[], 0.5);
        m
    }

    #[test]
    fn good_file_gets_default_help() {
        let s = check_file("/d/a.prom", "my_metric{a=\"1\"} 3\n", &builtin()).expect("ok");
        let f = s.get("my_metric").expect("family");
        assert_eq!(f.help, "Metric read from /d/a.prom");
        assert_eq!(f.samples[0].value.as_f64(), 3.0);
    }

    #[test]
    fn collisions_parse_errors_and_timestamps_reject_the_file() {
        assert_eq!(
            check_file("/d/b.prom", "ok 1\nnode_load1 99\n", &builtin()).expect_err("collision"),
            Rejected::Collision("node_load1".into())
        );
        assert!(matches!(
            check_file(
                "/d/s.prom",
                "node_scrape_collector_success{collector=\"x\"} 1\n",
                &builtin()
            ),
            Err(Rejected::Collision(_))
        ));
        match check_file("/d/c.prom", "ok 1\nbad line here\n", &builtin()) {
            Err(Rejected::Parse(m)) => assert!(m.starts_with("/d/c.prom:2:"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check_file("/d/t.prom", "ok 1 1700000000000\n", &builtin()),
            Err(Rejected::Parse(_))
        ));
    }
}
