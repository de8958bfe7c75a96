//! End-to-end tests of rtmon-script-exporter over HTTP: real processes, real HTTP.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rtmon_testkit::{free_port, http, http_get, sample_value, wait_for_port, HttpResponse, Proc};

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    addr: String,
    proc: Proc,
}

/// Writes `scripts` (name → shell body) as executables, `config` (with `$DIR`
/// replaced by the fixture directory) as script.yml, and starts the exporter.
fn start(scripts: &[(&str, &str)], config: &str, extra_args: &[&str]) -> Fixture {
    start_env(scripts, config, extra_args, &[])
}

/// Like [`start`], with extra variables in the exporter's environment.
fn start_env(
    scripts: &[(&str, &str)],
    config: &str,
    extra_args: &[&str],
    env: &[(&str, &str)],
) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    for (name, body) in scripts {
        let p = root.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
        let mut perm = std::fs::metadata(&p).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).expect("chmod");
    }
    let cfg = root.join("script.yml");
    std::fs::write(&cfg, config.replace("$DIR", &root.display().to_string())).expect("cfg");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-script-exporter"));
    cmd.arg(format!("--web.listen-address={addr}"))
        .arg(format!("--config.file={}", cfg.display()))
        .arg("--web.timeout-offset=0.5s")
        .args(extra_args)
        .envs(env.iter().copied());
    let proc = Proc::spawn(
        "rtmon-script-exporter",
        cmd,
        Some(&root.join("exporter.log")),
    )
    .expect("spawn exporter");
    assert!(
        wait_for_port(&addr, Duration::from_secs(10)),
        "exporter did not listen: {}",
        std::fs::read_to_string(root.join("exporter.log")).unwrap_or_default()
    );
    Fixture {
        _dir: dir,
        root,
        addr,
        proc,
    }
}

impl Fixture {
    fn get(&self, path: &str) -> HttpResponse {
        http_get(&self.addr, path).expect("GET")
    }
    fn probe_with_timeout(&self, path: &str, scrape_timeout: &str) -> HttpResponse {
        http(
            "GET",
            &self.addr,
            path,
            &[("X-Prometheus-Scrape-Timeout-Seconds", scrape_timeout)],
            b"",
        )
        .expect("GET")
    }
    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p)
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("exporter.log")).unwrap_or_default()
    }
}

fn v(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    sample_value(body, name, labels)
}

#[test]
fn success_exit_code_and_duration_metrics() {
    let f = start(
        &[
            ("ok.sh", "sleep 0.2; echo 'my_value{a=\"1\"} 42'"),
            ("fail.sh", "echo 'my_value 7'; exit 3"),
        ],
        "scripts:\n  - name: ok\n    command: $DIR/ok.sh\n  - name: fail\n    command: [$DIR/fail.sh]\n  - name: missing\n    command: $DIR/does-not-exist\n",
        &[],
    );
    let r = f.get("/probe?script=ok");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")));
    let b = r.text();
    let s = [("script", "ok")];
    assert_eq!(v(&b, "script_success", &s), Some(1.0), "{b}");
    assert_eq!(v(&b, "script_exit_code", &s), Some(0.0));
    let d = v(&b, "script_duration_seconds", &s).expect("duration");
    assert!((0.2..5.0).contains(&d), "duration {d}");
    assert_eq!(v(&b, "my_value", &[("a", "1")]), Some(42.0));

    let b = f.get("/probe?script=fail").text();
    let s = [("script", "fail")];
    assert_eq!(v(&b, "script_success", &s), Some(0.0), "{b}");
    assert_eq!(v(&b, "script_exit_code", &s), Some(3.0));
    assert_eq!(v(&b, "my_value", &[]), Some(7.0));

    let r = f.get("/probe?script=missing");
    assert_eq!(r.status, 200);
    let b = r.text();
    let s = [("script", "missing")];
    assert_eq!(v(&b, "script_success", &s), Some(0.0), "{b}");
    assert_eq!(v(&b, "script_exit_code", &s), Some(-1.0));

    // Bad requests: unknown or missing script.
    let r = f.get("/probe?script=nope");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("unknown script"), "{}", r.text());
    assert_eq!(r.text().lines().count(), 1);
    assert_eq!(f.get("/probe").status, 400);
    assert_eq!(f.get("/probe?script=ok&script=fail").status, 400);

    // Self-metrics.
    let m = f.get("/metrics").text();
    assert_eq!(
        v(&m, "rtmon_script_runs_total", &[("script", "ok")]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        v(&m, "rtmon_script_failures_total", &[("script", "fail")]),
        Some(1.0)
    );
    assert_eq!(
        v(
            &m,
            "rtmon_script_errors_total",
            &[("script", "missing"), ("reason", "spawn_failed")]
        ),
        Some(1.0)
    );
    assert_eq!(v(&m, "rtmon_script_unknown_total", &[]), Some(1.0));
}

fn pid_dead(pid: i32) -> bool {
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    st.is_empty() || st.contains(") Z ")
}

fn read_pid(p: &Path) -> i32 {
    rtmon_testkit::wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(p).ok()?.trim().parse().ok()
    })
    .expect("pid file")
}

#[test]
fn hanging_script_and_grandchild_are_killed_at_the_deadline() {
    let f = start(
        &[
            ("hang.sh", "echo $$ > \"$1\"; echo 'early 1'; exec sleep 60"),
            // The script exits at once, but a grandchild keeps stdout open.
            ("fork.sh", "(echo $$ >/dev/null; sleep 60; echo late 1) & echo $! > \"$1\"; echo 'early 1'; exit 0"),
        ],
        "scripts:\n  - name: hang\n    command: $DIR/hang.sh\n    args: [$DIR/hang.pid]\n    timeout: 20s\n  - name: fork\n    command: $DIR/fork.sh\n    args: [$DIR/fork.pid]\n    timeout: 20s\n",
        &[],
    );
    // The script itself exits at once: its exit decides (success), the grandchild
    // holding stdout is killed with the group after a short grace.
    let r = f.probe_with_timeout("/probe?script=fork", "1.5");
    let b = r.text();
    let s = [("script", "fork")];
    assert_eq!(v(&b, "script_success", &s), Some(1.0), "{b}");
    assert_eq!(v(&b, "script_exit_code", &s), Some(0.0), "{b}");
    assert_eq!(v(&b, "early", &[]), Some(1.0), "{b}");
    let pid = read_pid(&f.path("fork.pid"));
    assert!(
        rtmon_testkit::wait_for(Duration::from_secs(2), || pid_dead(pid).then_some(())).is_some(),
        "fork: grandchild {pid} still alive"
    );
    {
        let name = "hang";
        // Scrape timeout 1.5 s − offset 0.5 s: deadline 1.0 s.
        let t0 = Instant::now();
        let r = f.probe_with_timeout(&format!("/probe?script={name}"), "1.5");
        let took = t0.elapsed();
        assert_eq!(r.status, 200);
        assert!(
            took < Duration::from_millis(1500),
            "{name}: answered after {took:?}, deadline was 1.0 s"
        );
        assert!(took >= Duration::from_millis(900), "{name}: {took:?}");
        let b = r.text();
        let s = [("script", name)];
        assert_eq!(v(&b, "script_success", &s), Some(0.0), "{b}");
        assert_eq!(v(&b, "script_exit_code", &s), Some(-1.0), "{b}");
        let pid = read_pid(&f.path(&format!("{name}.pid")));
        assert!(
            rtmon_testkit::wait_for(Duration::from_secs(2), || pid_dead(pid).then_some(()))
                .is_some(),
            "{name}: process {pid} still alive after the deadline"
        );
    }
    let m = f.get("/metrics").text();
    assert_eq!(
        v(
            &m,
            "rtmon_script_errors_total",
            &[("script", "hang"), ("reason", "timeout")]
        ),
        Some(1.0),
        "{m}"
    );
    assert!(f.log().contains("killed at the deadline"), "{}", f.log());
}

const PARAM_CONFIG: &str = r#"scripts:
  - name: p
    command: $DIR/p.sh
    env: {MARKER: $DIR/ran}
    params:
      - {name: target, regex: '[0-9]{1,3}(\.[0-9]{1,3}){3}', required: true, flag: --target}
      - {name: count, regex: '[0-9]{1,2}', default: '3'}
      - {name: iface, regex: '[a-z0-9.]{1,15}', env: RTMON_IFACE}
"#;

const PARAM_SCRIPT: &str = r#"touch "$MARKER"
echo "args_seen{a1=\"$1\",a2=\"$2\",a3=\"$3\",n=\"$#\"} 1"
echo "env_seen{iface=\"${RTMON_IFACE-unset}\",bash_env=\"${BASH_ENV-unset}\",ld=\"${LD_PRELOAD-unset}\"} 1""#;

#[test]
fn parameters_pass_only_as_declared() {
    let f = start(&[("p.sh", PARAM_SCRIPT)], PARAM_CONFIG, &[]);
    let marker = f.path("ran");
    let refused = [
        // not in the allow-list
        "/probe?script=p&target=10.0.0.1&other=1",
        // the peer's environment-injection holes
        "/probe?script=p&target=10.0.0.1&BASH_ENV=/tmp/evil",
        "/probe?script=p&target=10.0.0.1&LD_PRELOAD=/tmp/evil.so",
        "/probe?script=p&target=10.0.0.1&PATH=/tmp",
        "/probe?script=p&target=10.0.0.1&params=target,PATH&PATH=/tmp",
        // failing the regex (argument injection, anchoring)
        "/probe?script=p&target=10.0.0.1;id",
        "/probe?script=p&target=-rf",
        "/probe?script=p&target=10.0.0.1&count=100",
        "/probe?script=p&target=10.0.0.1&iface=eth0%0aX",
        // missing required, duplicated
        "/probe?script=p",
        "/probe?script=p&target=10.0.0.1&target=10.0.0.2",
        "/probe?script=p&target=10.0.0.1&timeout=abc",
    ];
    for path in refused {
        let r = f.get(path);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        let t = r.text();
        assert_eq!(t.lines().count(), 1, "{path}: one-line reason: {t:?}");
        assert!(!marker.exists(), "{path}: the script ran");
    }
    let m = f.get("/metrics").text();
    assert_eq!(
        v(&m, "rtmon_script_bad_requests_total", &[("script", "p")]),
        Some(refused.len() as f64),
        "{m}"
    );
    assert!(!marker.exists());

    // Allowed parameters arrive exactly as declared.
    let b = f
        .get("/probe?script=p&target=10.0.0.1&iface=eth0.100")
        .text();
    assert!(marker.exists());
    assert_eq!(
        v(&b, "script_success", &[("script", "p")]),
        Some(1.0),
        "{b}"
    );
    assert_eq!(
        v(
            &b,
            "args_seen",
            &[
                ("a1", "--target"),
                ("a2", "10.0.0.1"),
                ("a3", "3"),
                ("n", "3")
            ]
        ),
        Some(1.0),
        "{b}"
    );
    assert_eq!(
        v(
            &b,
            "env_seen",
            &[
                ("iface", "eth0.100"),
                ("bash_env", "unset"),
                ("ld", "unset")
            ]
        ),
        Some(1.0),
        "{b}"
    );
}

#[test]
fn garbage_and_duplicates_are_dropped_and_counted() {
    let out = r#"# HELP good_total Good.
# TYPE good_total counter
good_total{k="a"} 1
good_total{k="b"} 2
good_total{k="a"} 3
this is not a metric
bad{x="unterminated} 1
# TYPE good_total gauge
script_success 1
script_exit_code{script="g"} 0
dup 1
dup 2
other{le="x"} 5 1700000000000 extra
fine NaN"#;
    let f = start(
        &[("g.sh", &format!("cat <<'EOF'\n{out}\nEOF"))],
        "scripts:\n  - name: g\n    command: $DIR/g.sh\n",
        &[],
    );
    let b = f.get("/probe?script=g").text();
    let s = [("script", "g")];
    assert_eq!(v(&b, "script_success", &s), Some(1.0), "{b}");
    assert_eq!(
        v(&b, "good_total", &[("k", "a")]),
        Some(1.0),
        "first wins: {b}"
    );
    assert_eq!(v(&b, "good_total", &[("k", "b")]), Some(2.0));
    assert_eq!(v(&b, "dup", &[]), Some(1.0));
    assert!(v(&b, "fine", &[]).is_some_and(f64::is_nan));
    assert!(b.contains("# TYPE good_total counter"), "{b}");
    // One script_success only: ours.
    assert_eq!(
        b.lines()
            .filter(|l| l.starts_with("script_success"))
            .count(),
        1
    );
    assert_eq!(
        b.lines()
            .filter(|l| l.starts_with("script_exit_code"))
            .count(),
        1
    );
    assert_eq!(v(&b, "script_exit_code", &s), Some(0.0));
    // Dropped: duplicate good_total{k=a}, garbage, unterminated, conflicting TYPE,
    // 2 reserved, dup 2, trailing garbage = 8.
    assert_eq!(v(&b, "script_output_lines_dropped", &s), Some(8.0), "{b}");
    assert_eq!(v(&b, "script_output_errors_total", &s), Some(8.0));
    let m = f.get("/metrics").text();
    assert_eq!(
        v(&m, "rtmon_script_output_errors_total", &s),
        Some(8.0),
        "{m}"
    );
    // The log names the line numbers.
    let log = f.log();
    assert!(log.contains("line=5"), "{log}");
    assert!(log.contains("line=6"), "{log}");
    // The whole answer is a valid exposition: it parses without errors.
    let reparsed = rtmon::expo::parse::parse_text(&b, &Default::default());
    assert!(reparsed.errors.is_empty(), "{:?}\n{b}", reparsed.errors);
}

#[test]
fn huge_output_is_cut_off_at_the_bound() {
    let f = start(
        &[(
            "big.sh",
            "yes 'big_metric{x=\"0123456789\"} 1' | head -c 100000000",
        )],
        "scripts:\n  - name: big\n    command: $DIR/big.sh\n    timeout: 30s\n",
        &["--script.max-output-bytes=1048576"],
    );
    let t0 = Instant::now();
    let r = f.get("/probe?script=big");
    assert_eq!(r.status, 200);
    let b = r.text();
    let s = [("script", "big")];
    assert_eq!(
        v(&b, "script_success", &s),
        Some(0.0),
        "{}",
        &b[..b.len().min(2000)]
    );
    assert_eq!(v(&b, "script_output_truncated", &s), Some(1.0));
    assert_eq!(v(&b, "script_exit_code", &s), Some(-1.0));
    assert!(b.len() < 2 << 20, "answer of {} bytes", b.len());
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    let m = f.get("/metrics").text();
    assert_eq!(
        v(
            &m,
            "rtmon_script_errors_total",
            &[("script", "big"), ("reason", "output_too_large")]
        ),
        Some(1.0)
    );
}

#[test]
fn concurrency_limit_per_script() {
    let f = start(
        &[("slow.sh", "sleep 5")],
        "scripts:\n  - name: slow\n    command: $DIR/slow.sh\n    max_concurrency: 1\n",
        &[],
    );
    let addr = f.addr.clone();
    // First probe holds the only slot until its deadline (2.5 s).
    let first = std::thread::spawn(move || {
        http(
            "GET",
            &addr,
            "/probe?script=slow",
            &[("X-Prometheus-Scrape-Timeout-Seconds", "3")],
            b"",
        )
        .expect("GET")
    });
    std::thread::sleep(Duration::from_millis(300));
    // Second probe (deadline 1.0 s) never gets the slot.
    let t0 = Instant::now();
    let r = f.probe_with_timeout("/probe?script=slow", "1.5");
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(
        v(&r.text(), "script_success", &[("script", "slow")]),
        Some(0.0)
    );
    let first = first.join().expect("first probe");
    assert_eq!(
        v(&first.text(), "script_success", &[("script", "slow")]),
        Some(0.0)
    );
    let m = f.get("/metrics").text();
    let l = |reason| [("script", "slow"), ("reason", reason)];
    assert_eq!(
        v(&m, "rtmon_script_errors_total", &l("concurrency_limit")),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        v(&m, "rtmon_script_errors_total", &l("timeout")),
        Some(1.0),
        "{m}"
    );
}

#[test]
fn discovery_and_reload() {
    let f = start(
        &[("a.sh", "echo a 1")],
        "scripts:\n  - name: a\n    command: $DIR/a.sh\n    params:\n      - {name: target, regex: '[a-z]+'}\n    discovery: {params: {target: sw}, scrape_interval: 30s}\n",
        &[],
    );
    let r = f.get("/discovery");
    assert_eq!(r.status, 200);
    let j: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(j[0]["targets"][0], serde_json::json!(f.addr));
    assert_eq!(j[0]["labels"]["__param_script"], "a");
    assert_eq!(j[0]["labels"]["__param_target"], "sw");
    assert_eq!(j[0]["labels"]["__metrics_path__"], "/probe");
    assert_eq!(j[0]["labels"]["__scrape_interval__"], "30s");

    // Reload picks up a new script; a broken file keeps the old config.
    let cfg = f.path("script.yml");
    let dir = f.root.display().to_string();
    std::fs::write(
        &cfg,
        format!("scripts:\n  - name: b\n    command: {dir}/a.sh\n"),
    )
    .expect("cfg");
    let r = http("POST", &f.addr, "/-/reload", &[], b"").expect("reload");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(f.get("/probe?script=b").status, 200);
    assert_eq!(f.get("/probe?script=a").status, 400);
    std::fs::write(&cfg, "scripts:\n  - name: c\n    comand: x\n").expect("cfg");
    let r = http("POST", &f.addr, "/-/reload", &[], b"").expect("reload");
    assert_ne!(r.status, 200);
    assert_eq!(f.get("/probe?script=b").status, 200);
}

#[test]
fn bad_config_fails_at_start_with_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("bad.yml");
    std::fs::write(
        &cfg,
        "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: a, env: LD_PRELOAD}\n",
    )
    .expect("cfg");
    let out = Command::new(env!("CARGO_BIN_EXE_rtmon-script-exporter"))
        .arg(format!("--config.file={}", cfg.display()))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yml:5:"), "{err}");
    assert!(err.contains("LD_PRELOAD"), "{err}");
    let help = Command::new(env!("CARGO_BIN_EXE_rtmon-script-exporter"))
        .arg("--help")
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--config.file",
        "--script.default-timeout",
        "--script.max-concurrency",
        "--script.max-output-bytes",
        "--script.max-output-lines",
        "--web.listen-address",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn cache_reuses_a_result_per_parameter_set() {
    let f = start(
        &[("c.sh", "echo run >> \"$COUNT_FILE\"; echo \"runs $(wc -l < \"$COUNT_FILE\")\"")],
        "scripts:\n  - name: c\n    command: $DIR/c.sh\n    env: {COUNT_FILE: $DIR/count}\n    cache: {duration: 60s}\n    params:\n      - {name: k, regex: '[a-z]'}\n",
        &[],
    );
    let runs = || {
        std::fs::read_to_string(f.path("count"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let b = f.get("/probe?script=c&k=a").text();
    assert_eq!(v(&b, "script_cached", &[("script", "c")]), Some(0.0), "{b}");
    assert_eq!(v(&b, "runs", &[]), Some(1.0));
    let b = f.get("/probe?script=c&k=a").text();
    assert_eq!(v(&b, "script_cached", &[("script", "c")]), Some(1.0), "{b}");
    assert_eq!(v(&b, "runs", &[]), Some(1.0));
    assert_eq!(runs(), 1);
    // Another parameter value is another cache entry.
    let b = f.get("/probe?script=c&k=b").text();
    assert_eq!(v(&b, "script_cached", &[("script", "c")]), Some(0.0), "{b}");
    assert_eq!(runs(), 2);
    let m = f.get("/metrics").text();
    assert_eq!(
        v(&m, "rtmon_script_cache_hits_total", &[("script", "c")]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        v(&m, "rtmon_script_runs_total", &[("script", "c")]),
        Some(2.0),
        "{m}"
    );
}

#[test]
fn self_metrics_pass_promtool_lint() {
    if !rtmon_testkit::available("promtool lint of /metrics", &["promtool"], false) {
        return;
    }
    let f = start(
        &[("ok.sh", "echo x 1")],
        "scripts:\n  - name: ok\n    command: $DIR/ok.sh\n",
        &[],
    );
    assert_eq!(f.get("/probe?script=ok").status, 200);
    let body = f.get("/metrics").body;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool");
    if let Some(mut stdin) = child.stdin.take() {
        std::io::Write::write_all(&mut stdin, &body).expect("write");
    }
    let out = child.wait_with_output().expect("promtool");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // Only rtmon_script_* families are ours to lint (the runtime adds its own).
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("rtmon_script"))
        .collect();
    assert!(ours.is_empty(), "{text}");
}

#[test]
fn out_of_range_durations_are_config_errors_with_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("big.yml");
    for (yaml, place, field) in [
        // Passed --config.check before and then panicked on every probe.
        (
            "    timeout: 10000000000000000000\n",
            "big.yml:4:14:",
            "timeout",
        ),
        ("    timeout: 1e30\n", "big.yml:4:14:", "timeout"),
        (
            "    cache: {duration: 1e30}\n",
            "big.yml:4:12:",
            "cache.duration",
        ),
        (
            "    timeout: {max_timeout: 1e30}\n",
            "big.yml:4:14:",
            "timeout.max_timeout",
        ),
        (
            "    timeout: 99999999999999999999h\n",
            "big.yml:4:14:",
            "timeout",
        ),
    ] {
        std::fs::write(
            &cfg,
            format!("scripts:\n  - name: t\n    command: /bin/true\n{yaml}"),
        )
        .expect("cfg");
        for check in [true, false] {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-script-exporter"));
            cmd.arg(format!("--config.file={}", cfg.display()))
                .arg("--web.listen-address=127.0.0.1:0");
            if check {
                cmd.arg("--config.check");
            }
            let out = cmd.output().expect("run");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{yaml}: {err}");
            assert!(
                err.contains(place) && err.contains(field) && err.contains("at most"),
                "{yaml}: {err}"
            );
        }
    }
    for flag in ["--script.default-timeout=1e30", "--push.interval=1e30"] {
        let out = Command::new(env!("CARGO_BIN_EXE_rtmon-script-exporter"))
            .arg(flag)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flag}: {err}");
        assert!(
            err.contains(flag.split('=').next().unwrap_or(flag)),
            "{err}"
        );
    }
}

#[test]
fn failed_reload_keeps_the_running_config_and_reports_it() {
    let mut f = start(
        &[("a.sh", "echo a 1")],
        "scripts:\n  - name: a\n    command: $DIR/a.sh\n",
        &[],
    );
    let m = f.get("/metrics").text();
    let ok = |m: &str| v(m, "rtmon_script_config_last_reload_successful", &[]);
    let ts = |m: &str| {
        v(
            m,
            "rtmon_script_config_last_reload_success_timestamp_seconds",
            &[],
        )
    };
    assert_eq!(ok(&m), Some(1.0), "{m}");
    let ts0 = ts(&m).expect("timestamp");
    assert!(ts0 > 1.6e9, "{ts0}");

    // An out-of-range value + SIGHUP: the process stays up with the old config.
    let cfg = f.path("script.yml");
    let dir = f.root.display().to_string();
    std::fs::write(
        &cfg,
        format!("scripts:\n  - name: b\n    command: {dir}/a.sh\n    timeout: 1e30\n"),
    )
    .expect("cfg");
    f.proc.signal(libc::SIGHUP);
    let m = rtmon_testkit::wait_for(Duration::from_secs(10), || {
        let m = f.get("/metrics").text();
        (ok(&m) == Some(0.0)).then_some(m)
    })
    .expect("reload_successful 0 after SIGHUP");
    assert_eq!(ts(&m), Some(ts0), "{m}");
    assert!(f.proc.try_wait().is_none(), "exporter died on reload");
    assert_eq!(f.get("/probe?script=a").status, 200);
    assert_eq!(f.get("/probe?script=b").status, 400);
    assert!(
        f.log().contains("keeping the running configuration"),
        "{}",
        f.log()
    );

    // POST /-/reload answers with a status and the reason, never an empty reply.
    let r = http("POST", &f.addr, "/-/reload", &[], b"").expect("reload");
    assert_eq!(r.status, 500);
    let body = r.text();
    assert!(
        body.contains("script.yml:4:14") && body.contains("at most") && body.contains("keeping"),
        "{body}"
    );

    // A good file again: success, a newer timestamp.
    std::fs::write(
        &cfg,
        format!("scripts:\n  - name: b\n    command: {dir}/a.sh\n"),
    )
    .expect("cfg");
    let r = http("POST", &f.addr, "/-/reload", &[], b"").expect("reload");
    assert_eq!(r.status, 200, "{}", r.text());
    let m = f.get("/metrics").text();
    assert_eq!(ok(&m), Some(1.0), "{m}");
    assert!(ts(&m).is_some_and(|t| t >= ts0), "{m}");
    assert_eq!(f.get("/probe?script=b").status, 200);
}

#[test]
fn cache_is_bounded_in_entries_and_bytes() {
    // ~10 KB of output per distinct parameter value.
    let body = "i=0; while [ $i -lt 400 ]; do echo \"big_value{k=\\\"$1\\\",i=\\\"$i\\\"} 1\"; i=$((i+1)); done";
    let cfg = "scripts:\n  - name: c\n    command: $DIR/c.sh\n    cache: {duration: 10m}\n    params:\n      - {name: k, regex: '[a-z]{1,8}'}\n";
    for (flag, max_entries) in [
        ("--script.cache-max-entries=3", 3.0),
        ("--script.cache-max-bytes=25000", 2.0),
    ] {
        let f = start(&[("c.sh", body)], cfg, &[flag]);
        let keys = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        for k in keys {
            let b = f.get(&format!("/probe?script=c&k={k}")).text();
            assert_eq!(
                v(&b, "script_success", &[("script", "c")]),
                Some(1.0),
                "{b}"
            );
            assert_eq!(v(&b, "big_value", &[("k", k), ("i", "399")]), Some(1.0));
        }
        let m = f.get("/metrics").text();
        let entries = v(&m, "rtmon_script_cache_entries", &[]).expect("entries");
        assert!(
            entries <= max_entries && entries >= 1.0,
            "{flag}: {entries}\n{m}"
        );
        let evicted = v(&m, "rtmon_script_cache_evictions_total", &[]).expect("evictions");
        assert!(evicted >= 10.0 - max_entries, "{flag}: {evicted}");
        let bytes = v(&m, "rtmon_script_cache_bytes", &[]).expect("bytes");
        assert!(bytes > 0.0 && bytes <= 3.0 * 12_000.0, "{flag}: {bytes}");
        if flag.contains("bytes") {
            assert!(bytes <= 25_000.0, "{bytes}");
        }
        // The most recent one is still a hit; the first was evicted (runs again).
        let b = f.get("/probe?script=c&k=j").text();
        assert_eq!(v(&b, "script_cached", &[("script", "c")]), Some(1.0), "{b}");
        let b = f.get("/probe?script=c&k=a").text();
        assert_eq!(v(&b, "script_cached", &[("script", "c")]), Some(0.0), "{b}");
    }
}

#[test]
fn background_child_does_not_turn_success_into_failure() {
    let f = start(
        &[("bg.sh", "sleep 1000 & echo $! > \"$PIDFILE\"; echo bg_ok 1; exit 0")],
        "scripts:\n  - name: bg\n    command: $DIR/bg.sh\n    timeout: 20s\n    env: {PIDFILE: $DIR/pid}\n",
        &[],
    );
    let b = f.probe_with_timeout("/probe?script=bg", "30");
    let b = b.text();
    let s = [("script", "bg")];
    assert_eq!(v(&b, "script_success", &s), Some(1.0), "{b}");
    assert_eq!(v(&b, "script_exit_code", &s), Some(0.0), "{b}");
    assert_eq!(v(&b, "bg_ok", &[]), Some(1.0), "{b}");
    let pid = read_pid(&f.path("pid"));
    assert!(
        rtmon_testkit::wait_for(Duration::from_secs(5), || pid_dead(pid).then_some(())).is_some(),
        "stray child {pid} survived"
    );
}

#[test]
fn scripts_get_a_minimal_environment() {
    let f = start_env(
        &[(
            "env.sh",
            "echo \"secret_seen $(env | grep -c '^MY_SECRET=')\"; echo \"named_seen $(env | grep -c '^MY_NAMED=')\"; echo \"fixed_seen $(env | grep -c '^FIXED=x$')\"; echo \"param_seen $(env | grep -c '^PARAM_P=abc$')\"; echo \"path_set $(env | grep -c '^PATH=')\"; echo \"vars $(env | grep -vc '^PWD=\\|^SHLVL=\\|^_=')\"",
        )],
        "scripts:\n  - name: env\n    command: $DIR/env.sh\n    env: {FIXED: x}\n    inherit_env: [MY_NAMED]\n    params:\n      - {name: p, regex: '[a-z]+', env: PARAM_P}\n",
        &[],
        &[("MY_SECRET", "hunter2"), ("MY_NAMED", "yes"), ("LANG", "C.UTF-8")],
    );
    let b = f.get("/probe?script=env&p=abc").text();
    assert_eq!(
        v(&b, "script_success", &[("script", "env")]),
        Some(1.0),
        "{b}"
    );
    assert_eq!(v(&b, "secret_seen", &[]), Some(0.0), "{b}");
    assert_eq!(v(&b, "named_seen", &[]), Some(1.0), "{b}");
    assert_eq!(v(&b, "fixed_seen", &[]), Some(1.0), "{b}");
    assert_eq!(v(&b, "param_seen", &[]), Some(1.0), "{b}");
    assert_eq!(v(&b, "path_set", &[]), Some(1.0), "{b}");
    // PATH, LANG, MY_NAMED, FIXED, PARAM_P, SCRIPT_TIMEOUT, SCRIPT_DEADLINE (+ TZ/LC_ALL
    // when the test runner has them): nothing else.
    let vars = v(&b, "vars", &[]).expect("vars");
    assert!((7.0..=9.0).contains(&vars), "{vars}: {b}");
}

#[test]
fn script_output_cannot_carry_the_exporters_own_names() {
    let f = start(
        &[(
            "forge.sh",
            "echo 'rtmon_build_info{exporter=\"x\",version=\"9\"} 1'; echo 'rtmon_script_runs_total{script=\"forge\"} 99'; echo 'script_success{script=\"forge\"} 1'; echo 'rtmon_l2_check_up 1'; exit 3",
        )],
        "scripts:\n  - name: forge\n    command: $DIR/forge.sh\n",
        &[],
    );
    let b = f.get("/probe?script=forge").text();
    assert_eq!(
        v(&b, "script_success", &[("script", "forge")]),
        Some(0.0),
        "{b}"
    );
    assert!(!b.contains("rtmon_build_info"), "{b}");
    assert!(!b.contains("rtmon_script_runs_total"), "{b}");
    assert_eq!(v(&b, "rtmon_l2_check_up", &[]), Some(1.0), "{b}");
    assert_eq!(
        v(&b, "script_output_lines_dropped", &[("script", "forge")]),
        Some(3.0),
        "{b}"
    );
}
