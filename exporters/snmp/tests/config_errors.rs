//! Startup errors of rtmon-snmp-exporter: out-of-range durations in flags and in the
//! config file, and semantic config errors, exit 1 with a message naming the flag or the
//! file:line:column — never a panic (exit 101) and never library wording.

use std::process::Command;

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rtmon-snmp-exporter"))
        .args(args)
        .arg("--web.listen-address=127.0.0.1:0")
        .output()
        .expect("run the exporter");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn out_of_range_duration_flags_exit_1_naming_the_flag() {
    for (flag, name) in [
        ("--snmp.default-deadline=1e25", "--snmp.default-deadline"),
        ("--push.interval=1e30", "--push.interval"),
        ("--push.timeout=99999999999999999999s", "--push.timeout"),
        ("--web.timeout-offset=1e30", "--web.timeout-offset"),
    ] {
        let (code, err) = run(&[flag]);
        assert_eq!(code, Some(1), "{flag}: {err}");
        assert!(
            err.contains(name) && err.contains("at most"),
            "{flag}: {err}"
        );
        assert!(!err.contains("panicked"), "{flag}: {err}");
    }
}

#[test]
fn config_errors_exit_1_with_file_line_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (yaml, place, needle) in [
        (
            "modules:\n  m:\n    base: if_mib\n    lookup_ttl: 1e300\n",
            ":4:17:",
            "modules.m.lookup_ttl",
        ),
        (
            "modules:\n  m:\n    base: if_mib\n    timeout: 99999999999999999999h\n",
            ":4:14:",
            "modules.m.timeout",
        ),
        ("auths:\n  a: {version: 300}\n", ":2:16:", "version"),
        (
            "auths:\n  a: {version: 2}\n  a: {version: 2}\n",
            ":3:3:",
            "duplicate key `a`",
        ),
        (
            "modules:\n  m: {base: if_mibb}\n",
            ":2:6:",
            "modules.m.base",
        ),
        (
            "auths:\n  x: {version: 3, username: u, security_level: authNoPriv, password: short}\n",
            ":2:6:",
            "auths.x.password",
        ),
        ("modulez: {}\n", ":1:1:", "did you mean `modules`"),
    ] {
        let f = dir.path().join("snmp.yml");
        std::fs::write(&f, yaml).expect("write");
        let (code, err) = run(&[&format!("--config.file={}", f.display())]);
        assert_eq!(code, Some(1), "{yaml}: {err}");
        assert!(
            err.contains(&format!("snmp.yml{place}")) && err.contains(needle),
            "{yaml}: {err}"
        );
        for leak in ["DuplicateKeyPolicy", "invalid u8", "panicked", "short"] {
            assert!(!err.contains(leak), "{yaml}: leaks {leak:?}: {err}");
        }
    }
}

#[test]
fn failed_reload_keeps_the_running_config_and_reports_it() {
    use rtmon_testkit::{free_port, http, http_get, sample_value, wait_for, wait_for_port, Proc};
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("snmp.yml");
    std::fs::write(&cfg, "modules:\n  mine: {base: system}\n").expect("cfg");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-snmp-exporter"));
    cmd.arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--web.listen-address={addr}"));
    let log = dir.path().join("log");
    let mut p = Proc::spawn("snmp", cmd, Some(&log)).expect("spawn");
    assert!(wait_for_port(&addr, Duration::from_secs(10)));
    let ok = |m: &str| sample_value(m, "rtmon_snmp_config_last_reload_successful", &[]);
    let m = http_get(&addr, "/metrics").expect("metrics").text();
    assert_eq!(ok(&m), Some(1.0), "{m}");

    std::fs::write(
        &cfg,
        "modules:\n  other: {base: system, lookup_ttl: 1e300}\n",
    )
    .expect("cfg");
    p.signal(1); // SIGHUP
    wait_for(Duration::from_secs(10), || {
        let m = http_get(&addr, "/metrics").ok()?.text();
        (ok(&m) == Some(0.0)).then_some(())
    })
    .expect("reload_successful 0 after SIGHUP");
    assert!(p.try_wait().is_none(), "exporter died on reload");
    let r = http("POST", &addr, "/-/reload", &[], b"").expect("reload");
    assert_eq!(r.status, 500);
    assert!(
        r.text().contains("snmp.yml:2:") && r.text().contains("lookup_ttl"),
        "{}",
        r.text()
    );
    // The old config is still the one in use: module `mine` is known, `other` is not.
    let r = http_get(&addr, "/snmp?target=127.0.0.1:9&module=other").expect("snmp");
    assert_eq!(r.status, 400, "{}", r.text());
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("keeping the running configuration"),
        "{logged}"
    );
}
