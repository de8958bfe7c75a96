//! Real Prometheus finds the scripts through `/discovery` (http_sd_configs), probes
//! them with its own scrape-timeout header, and stores the results; promtool accepts
//! a probe answer that carried garbage script output.

use std::process::{Command, Stdio};
use std::time::Duration;

use rtmon_testkit::prom::{Prometheus, PROMETHEUS_BIN, PROMTOOL_BIN};
use rtmon_testkit::{available, free_port, http_get, wait_for_port, Proc};

fn exporter(dir: &std::path::Path, scripts: &[(&str, &str)], config: &str) -> (Proc, String) {
    for (name, body) in scripts {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("script");
        let mut perm = std::fs::metadata(&p).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).expect("chmod");
    }
    let cfg = dir.join("script.yml");
    std::fs::write(&cfg, config.replace("$DIR", &dir.display().to_string())).expect("cfg");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-script-exporter"));
    cmd.arg(format!("--web.listen-address={addr}"))
        .arg(format!("--config.file={}", cfg.display()));
    let p = Proc::spawn("rtmon-script-exporter", cmd, Some(&dir.join("log"))).expect("spawn");
    assert!(wait_for_port(&addr, Duration::from_secs(10)));
    (p, addr)
}

/// The README's relabeling: one `instance` per script, so `up` does not collide.
const RELABEL: &str = "    relabel_configs:\n      - source_labels: [__address__, __param_script]\n        separator: ';'\n        regex: '(.*);(.*)'\n        target_label: instance\n        replacement: '$1/$2'\n";

#[test]
fn prometheus_discovers_and_probes_scripts() {
    if !available("prometheus + script exporter", &[PROMETHEUS_BIN], false) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_p, addr) = exporter(
        dir.path(),
        &[("ok.sh", "echo 'flow_check{check=\"arp\"} 1'"), ("hang.sh", "exec sleep 60")],
        "scripts:\n  - name: ok\n    command: $DIR/ok.sh\n  - name: hang\n    command: $DIR/hang.sh\n    timeout: 30s\n",
    );
    // Global scrape_timeout is 1 s: the hanging script is killed at 1 s - 0.5 s offset,
    // so the scrape itself succeeds (up 1) with script_success 0.
    let prom = Prometheus::start(&format!(
        "  - job_name: scripts\n    http_sd_configs:\n      - url: http://{addr}/discovery\n        refresh_interval: 1s\n{RELABEL}"
    ))
    .expect("prometheus");
    let wait = Duration::from_secs(30);
    let rows = prom
        .wait_for_query("script_success", |r| r.len() == 2, wait)
        .unwrap_or_else(|e| panic!("{e}\n{}", prom.log()));
    for (labels, v) in &rows {
        let want = if labels.get("script").map(String::as_str) == Some("ok") {
            1.0
        } else {
            0.0
        };
        assert_eq!(*v, want, "{labels:?}");
        assert_eq!(labels.get("job").map(String::as_str), Some("scripts"));
    }
    let up = prom
        .wait_for_query("up{job=\"scripts\"}", |r| r.len() == 2, wait)
        .expect("up");
    assert!(up.iter().all(|(_, v)| *v == 1.0), "{up:?}");
    assert!(
        up.iter()
            .any(|(l, _)| l.get("instance") == Some(&format!("{addr}/hang"))),
        "{up:?}"
    );
    let rows = prom
        .wait_for_query("flow_check{check=\"arp\"}", |r| !r.is_empty(), wait)
        .expect("script output stored");
    assert_eq!(rows[0].1, 1.0);
    let rows = prom
        .wait_for_query("script_exit_code{script=\"hang\"}", |r| !r.is_empty(), wait)
        .expect("exit code");
    assert_eq!(rows[0].1, -1.0);
}

#[test]
fn probe_answer_with_garbage_output_passes_promtool() {
    if !available("promtool on probe output", &[PROMTOOL_BIN], false) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_p, addr) = exporter(
        dir.path(),
        &[(
            "g.sh",
            "printf '# TYPE a_total counter\\na_total 1\\na_total 2\\n# TYPE a_total gauge\\nscript_success 1\\nx{y=\"z} 1\\nb_seconds 0.5\\n'",
        )],
        "scripts:\n  - name: g\n    command: $DIR/g.sh\n",
    );
    let body = http_get(&addr, "/probe?script=g").expect("probe").body;
    let mut child = Command::new(PROMTOOL_BIN)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    if let Some(mut stdin) = child.stdin.take() {
        std::io::Write::write_all(&mut stdin, &body).expect("write");
    }
    let out = child.wait_with_output().expect("promtool");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // 0 = clean, 3 = lint findings only; 1 would be a parse error.
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "{text}\n{}",
        String::from_utf8_lossy(&body)
    );
}
