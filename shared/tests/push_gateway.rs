//! Push mode against a real Pushgateway (and a real Prometheus with `honor_labels`).
//!
//! Each test starts its own gateway on a free loopback port; the push loop runs on a
//! small tokio runtime while the test thread polls the rig (blocking calls).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtmon::app::{BoxFuture, Scrape, Source};
use rtmon::cli::PushArgs;
use rtmon::expo::{MetricSet, MetricType};
use rtmon::push::{self, PushError};
use rtmon_testkit::prom::{
    scrape_job, PgwSample, Prometheus, Pushgateway, PROMETHEUS_BIN, PUSHGATEWAY_BIN,
};
use rtmon_testkit::{available, free_port, wait_for};
use tokio::sync::{watch, Notify};

/// A source whose snapshot the test sets: `(state label, value)` pairs of
/// `rtmon_test_entries{device="veth0",state=…}`.
struct TestSource {
    rows: Mutex<Vec<(&'static str, u64)>>,
    collects: AtomicU64,
}

impl TestSource {
    fn new(rows: &[(&'static str, u64)]) -> Arc<TestSource> {
        Arc::new(TestSource {
            rows: Mutex::new(rows.to_vec()),
            collects: AtomicU64::new(0),
        })
    }
    fn set(&self, rows: &[(&'static str, u64)]) {
        *self.rows.lock().expect("lock") = rows.to_vec();
    }
}

impl Source for TestSource {
    fn collect<'a>(&'a self, scrape: &'a Scrape) -> BoxFuture<'a, MetricSet> {
        Box::pin(async move {
            assert!(scrape.push, "the push loop marks its collections as push");
            self.collects.fetch_add(1, Ordering::Relaxed);
            let rows = self.rows.lock().expect("lock").clone();
            let mut m = MetricSet::new();
            let f = m.family(
                "rtmon_test_entries",
                "Neighbour entries by state.",
                MetricType::Gauge,
            );
            for (state, v) in rows {
                f.add(&[("device", "veth0"), ("state", state)], v);
            }
            m
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn args(url: &str, job: &str, grouping: &[(&str, &str)]) -> PushArgs {
    PushArgs {
        url: Some(url.to_string()),
        job: Some(job.to_string()),
        grouping: grouping
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        interval: Duration::from_secs(60),
        on_change: true,
        min_interval: Duration::from_millis(100),
        delete_on_shutdown: false,
        timeout: Duration::from_secs(2),
        username: None,
        password_file: None,
        once: false,
    }
}

/// The push loop on its own runtime, stopped (and awaited) on drop.
struct Loop {
    rt: tokio::runtime::Runtime,
    stop: watch::Sender<bool>,
    stats: Arc<push::PushStats>,
    handle: Option<push::PushHandle>,
}

impl Loop {
    fn start(args: &PushArgs, source: Arc<TestSource>, changed: Option<Arc<Notify>>) -> Loop {
        let rt = runtime();
        let (stop, rx) = watch::channel(false);
        let handle = {
            let _g = rt.enter();
            push::start(args, source, changed, rx).expect("push::start")
        };
        Loop {
            rt,
            stop,
            stats: handle.stats.clone(),
            handle: Some(handle),
        }
    }
    fn stats(&self) -> &push::PushStats {
        &self.stats
    }
    /// Signals shutdown and waits (up to 10 s) for the loop to finish.
    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(h) = self.handle.take() {
            let done = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), h.task).await });
            assert!(done.is_ok(), "push loop did not stop within 10 s");
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(h) = self.handle.take() {
            h.task.abort();
        }
    }
}

fn entries(pgw: &Pushgateway) -> Vec<PgwSample> {
    pgw.samples()
        .expect("pushgateway samples")
        .into_iter()
        .filter(|(n, _, _)| n == "rtmon_test_entries")
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pgw_value(pgw: &Pushgateway, name: &str, with: &[(&str, &str)]) -> Option<f64> {
    pgw.samples().ok()?.into_iter().find_map(|(n, l, v)| {
        (n == name
            && with
                .iter()
                .all(|(k, x)| l.get(*k).map(String::as_str) == Some(*x)))
        .then_some(v)
    })
}

const WAIT: Duration = Duration::from_secs(15);

#[test]
fn push_reaches_prometheus_and_a_change_replaces_the_group() {
    if !available(
        "push_reaches_prometheus_and_a_change_replaces_the_group",
        &[PUSHGATEWAY_BIN, PROMETHEUS_BIN],
        false,
    ) {
        return;
    }
    let pgw = Pushgateway::start().expect("pushgateway");
    let prom =
        Prometheus::start(&scrape_job("pushgateway", &[&pgw.addr()], true)).expect("prometheus");
    let source = TestSource::new(&[("reachable", 3), ("stale", 1)]);
    let changed = Arc::new(Notify::new());
    let a = args(
        &pgw.url(),
        "rtmon_test",
        &[("instance", "dtn-a"), ("flow", "f1")],
    );
    let mut lp = Loop::start(&a, source.clone(), Some(changed.clone()));

    // Exact series and labels in Prometheus (honor_labels: the pushed job/instance win).
    let base = [
        ("__name__", "rtmon_test_entries"),
        ("job", "rtmon_test"),
        ("instance", "dtn-a"),
        ("flow", "f1"),
        ("device", "veth0"),
    ];
    let with = |state: &str| {
        let mut l = labels(&base);
        l.insert("state".into(), state.into());
        l
    };
    let rows = prom
        .wait_for_query("rtmon_test_entries", |r| r.len() == 2, WAIT)
        .expect("series in prometheus");
    assert_eq!(
        rows,
        vec![(with("reachable"), 3.0), (with("stale"), 1.0)],
        "exact series"
    );
    prom.wait_for_query(
        "rtmon_pushes_total{job=\"rtmon_test\",instance=\"dtn-a\",flow=\"f1\"}",
        |r| r.len() == 1,
        WAIT,
    )
    .expect("self-metrics pushed too");

    // A changed snapshot: `stale` removed, `delay` added, pushed on change (the
    // heartbeat is 60 s away) and replacing the whole group.
    source.set(&[("reachable", 4), ("delay", 2)]);
    changed.notify_one();
    let got = wait_for(WAIT, || {
        let e = entries(&pgw);
        e.iter()
            .any(|(_, l, _)| l.get("state").map(String::as_str) == Some("delay"))
            .then_some(e)
    })
    .expect("changed snapshot pushed on change");
    let states: Vec<(String, f64)> = got
        .iter()
        .map(|(_, l, v)| (l.get("state").cloned().unwrap_or_default(), *v))
        .collect();
    assert_eq!(
        states,
        vec![("delay".to_string(), 2.0), ("reachable".to_string(), 4.0)],
        "no orphan: the removed series is gone from the gateway"
    );
    assert_eq!(pgw.groups().expect("groups").len(), 1, "one group");
    let rows = prom
        .wait_for_query(
            "rtmon_test_entries",
            |r| {
                r.len() == 2
                    && r.iter()
                        .any(|(l, _)| l.get("state").map(String::as_str) == Some("delay"))
            },
            WAIT,
        )
        .expect("new snapshot in prometheus");
    assert_eq!(rows, vec![(with("delay"), 2.0), (with("reachable"), 4.0)]);

    // Without --push.delete-on-shutdown the group stays after shutdown.
    lp.shutdown();
    assert_eq!(entries(&pgw).len(), 2);
    assert_eq!(lp.stats().failures("transient"), 0);
    assert_eq!(lp.stats().failures("rejected"), 0);
}

#[test]
fn slash_and_empty_grouping_values_round_trip_via_base64() {
    if !available(
        "slash_and_empty_grouping_values_round_trip_via_base64",
        &[PUSHGATEWAY_BIN],
        false,
    ) {
        return;
    }
    let pgw = Pushgateway::start().expect("pushgateway");
    let source = TestSource::new(&[("reachable", 1)]);
    let a = args(
        &pgw.url(),
        "rtmon/test",
        &[
            ("flow", "dtn-a/dtn-b"),
            ("site", ""),
            ("path", "/var/tmp"),
            ("odd", "a b%c?d#é"),
        ],
    );
    runtime()
        .block_on(push::push_once(&a, source))
        .expect("push");
    let groups = pgw.groups().expect("groups");
    let host = rtmon::cli::hostname();
    assert_eq!(
        groups,
        vec![labels(&[
            ("job", "rtmon/test"),
            ("flow", "dtn-a/dtn-b"),
            ("site", ""),
            ("path", "/var/tmp"),
            ("odd", "a b%c?d#é"),
            ("instance", &host),
        ])],
        "grouping key as stored by the gateway"
    );
    let e = entries(&pgw);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].1.get("flow").map(String::as_str), Some("dtn-a/dtn-b"));
    assert_eq!(e[0].1.get("site").map(String::as_str), Some(""));
}

#[test]
fn gateway_down_counts_failures_then_delivers_the_latest_snapshot() {
    if !available(
        "gateway_down_counts_failures_then_delivers_the_latest_snapshot",
        &[PUSHGATEWAY_BIN],
        false,
    ) {
        return;
    }
    let port = free_port();
    let source = TestSource::new(&[("reachable", 1)]);
    let a = args(
        &format!("http://127.0.0.1:{port}"),
        "rtmon_down",
        &[("instance", "i1")],
    );
    let mut lp = Loop::start(&a, source.clone(), None);
    wait_for(WAIT, || {
        (lp.stats().failures("transient") >= 2).then_some(())
    })
    .expect("failures counted while the gateway is down");
    assert_eq!(lp.stats().last_success_timestamp(), 0.0);
    // The data changes while the gateway is down: the newest must arrive.
    source.set(&[("reachable", 42), ("stale", 7)]);
    let pgw = Pushgateway::start_on(port).expect("pushgateway on the same port");
    let got = wait_for(WAIT, || {
        let e = entries(&pgw);
        (e.len() == 2).then_some(e)
    })
    .expect("latest snapshot after the gateway came up");
    let vals: Vec<f64> = got.iter().map(|(_, _, v)| *v).collect();
    assert_eq!(vals, vec![42.0, 7.0]);
    let failures = pgw_value(
        &pgw,
        "rtmon_push_failures_total",
        &[("reason", "transient"), ("job", "rtmon_down")],
    )
    .expect("failure counter pushed");
    assert!(failures >= 2.0, "{failures}");
    assert!(lp.stats().last_success_timestamp() > 0.0);
    lp.shutdown();
}

#[test]
fn a_400_is_reported_with_the_gateway_message_and_not_retried() {
    if !available(
        "a_400_is_reported_with_the_gateway_message_and_not_retried",
        &[PUSHGATEWAY_BIN],
        false,
    ) {
        return;
    }
    let pgw = Pushgateway::start().expect("pushgateway");
    // Another group owns rtmon_test_entries as a counter: our gauge conflicts.
    let (code, msg) = pgw
        .put(
            "other/instance/x",
            "# TYPE rtmon_test_entries counter\nrtmon_test_entries 1\n",
        )
        .expect("put");
    assert_eq!(code, 200, "{msg}");
    let source = TestSource::new(&[("reachable", 1)]);
    let a = args(&pgw.url(), "rtmon_conflict", &[("instance", "i1")]);

    let e = runtime()
        .block_on(push::push_once(&a, source.clone()))
        .expect_err("must be rejected");
    match &e {
        PushError::Rejected(m) => {
            assert!(
                // Whichever side the gateway checks first: "… is not a GAUGE|COUNTER".
                m.contains("rtmon_test_entries")
                    && (m.contains("is not a GAUGE") || m.contains("is not a COUNTER")),
                "{m}"
            )
        }
        other => panic!("expected Rejected, got {other:?}"),
    }

    let mut lp = Loop::start(&a, source.clone(), None);
    wait_for(WAIT, || {
        (lp.stats().failures("rejected") == 1).then_some(())
    })
    .expect("rejection counted");
    // A retry (backoff starts at 250 ms) would show within 1.5 s; a 400 waits for the
    // next heartbeat (60 s).
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(lp.stats().pushes_total(), 1, "a 400 is not retried");
    assert_eq!(lp.stats().failures("rejected"), 1);
    assert_eq!(lp.stats().failures("transient"), 0);
    lp.shutdown();
}

#[test]
fn delete_on_shutdown_removes_the_group() {
    if !available(
        "delete_on_shutdown_removes_the_group",
        &[PUSHGATEWAY_BIN],
        false,
    ) {
        return;
    }
    let pgw = Pushgateway::start().expect("pushgateway");
    let source = TestSource::new(&[("reachable", 1)]);
    let mut a = args(&pgw.url(), "rtmon_del", &[("instance", "i1")]);
    a.delete_on_shutdown = true;
    // A neighbour group with the same job must survive.
    let (code, msg) = pgw
        .put("rtmon_del/instance/i2", "# TYPE keep gauge\nkeep 1\n")
        .expect("put");
    assert_eq!(code, 200, "{msg}");
    let mut lp = Loop::start(&a, source, None);
    wait_for(WAIT, || (entries(&pgw).len() == 1).then_some(())).expect("pushed");
    lp.shutdown();
    let groups = wait_for(WAIT, || {
        let g = pgw.groups().ok()?;
        (g.len() == 1).then_some(g)
    })
    .expect("group deleted");
    assert_eq!(
        groups,
        vec![labels(&[("job", "rtmon_del"), ("instance", "i2")])]
    );
}

#[test]
fn push_once_fails_against_a_dead_gateway() {
    let port = free_port();
    let source = TestSource::new(&[("reachable", 1)]);
    let a = args(&format!("http://127.0.0.1:{port}"), "rtmon_dead", &[]);
    let e = runtime()
        .block_on(push::push_once(&a, source.clone()))
        .expect_err("nothing listens there");
    assert!(matches!(e, PushError::Transient(_)), "{e:?}");
    assert!(e.to_string().contains(&port.to_string()), "{e}");
    assert_eq!(source.collects.load(Ordering::Relaxed), 1, "one collect");
}

#[test]
fn basic_auth_from_password_file() {
    if !available("basic_auth_from_password_file", &[PUSHGATEWAY_BIN], false) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let hash = bcrypt::hash("s3cret-pw", 4).expect("bcrypt");
    let web = dir.path().join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  pusher: '{hash}'\n")).expect("write");
    let pgw = Pushgateway::start_with(
        free_port(),
        &[format!("--web.config.file={}", web.display())],
    )
    .expect("pushgateway with basic auth");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret-pw\n").expect("write");
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "wrong\n").expect("write");
    let source = TestSource::new(&[("reachable", 1)]);
    let rt = runtime();

    let mut a = args(&pgw.url(), "rtmon_auth", &[("instance", "i1")]);
    a.username = Some("pusher".into());
    a.password_file = Some(pw);
    rt.block_on(push::push_once(&a, source.clone()))
        .expect("push with the right password");

    a.password_file = Some(bad);
    let e = rt
        .block_on(push::push_once(&a, source.clone()))
        .expect_err("wrong password");
    assert!(matches!(e, PushError::Config(_)), "{e:?}");
    assert!(e.to_string().contains("401"), "{e}");
    assert!(
        !e.to_string().contains("wrong"),
        "no secret in the error: {e}"
    );
}

/// A source built from a closure.
struct FnSource<F>(F);

impl<F: Fn() -> MetricSet + Send + Sync + 'static> Source for FnSource<F> {
    fn collect<'a>(&'a self, _scrape: &'a Scrape) -> BoxFuture<'a, MetricSet> {
        Box::pin(async move { (self.0)() })
    }
}

#[test]
fn large_gzipped_body_with_timestamps_is_accepted_whole() {
    if !available(
        "large_gzipped_body_with_timestamps_is_accepted_whole",
        &[PUSHGATEWAY_BIN],
        false,
    ) {
        return;
    }
    let pgw = Pushgateway::start().expect("pushgateway");
    // 2,000 series (well above the 1 KiB gzip threshold), a histogram, and samples
    // carrying timestamps, which the gateway would reject with a 400 if sent.
    let source = Arc::new(FnSource(|| {
        let mut m = MetricSet::new();
        let f = m.family("rtmon_test_bytes_total", "Bytes.", MetricType::Counter);
        for i in 0..2000u64 {
            f.add_owned(
                vec![(std::borrow::Cow::Borrowed("port"), format!("eth{i}"))],
                i * 1000,
            );
        }
        for s in &mut f.samples {
            s.timestamp_ms = Some(1_700_000_000_000);
        }
        m.family("rtmon_test_rtt_seconds", "RTT.", MetricType::Histogram)
            .add_histogram(&[("target", "a")], &[(0.001, 2), (0.01, 5)], 0.02, 6);
        m
    }));
    let a = args(&pgw.url(), "rtmon_big", &[("instance", "i1")]);
    runtime()
        .block_on(push::push_once(&a, source))
        .expect("large push accepted");
    let s = pgw.samples().expect("samples");
    let bytes: Vec<&PgwSample> = s
        .iter()
        .filter(|(n, _, _)| n == "rtmon_test_bytes_total")
        .collect();
    assert_eq!(bytes.len(), 2000);
    assert!(bytes.iter().any(
        |(_, l, v)| l.get("port").map(String::as_str) == Some("eth1999") && *v == 1_999_000.0
    ));
    let group = pgw.metrics_json().expect("json");
    let h = &group[0]["rtmon_test_rtt_seconds"]["metrics"][0];
    assert_eq!(h["count"], "6", "{h}");
    assert_eq!(h["buckets"]["0.01"], "5", "{h}");
}

#[test]
fn heartbeat_pushes_without_changes_and_debounces_bursts() {
    if !available(
        "heartbeat_pushes_without_changes_and_debounces_bursts",
        &[PUSHGATEWAY_BIN],
        false,
    ) {
        return;
    }
    let pgw = Pushgateway::start().expect("pushgateway");
    let source = TestSource::new(&[("reachable", 1)]);
    let mut a = args(&pgw.url(), "rtmon_hb", &[("instance", "i1")]);
    a.interval = Duration::from_millis(300);
    let lp = Loop::start(&a, source.clone(), None);
    let first = wait_for(WAIT, || {
        pgw_value(&pgw, "push_time_seconds", &[("job", "rtmon_hb")]).filter(|v| *v > 0.0)
    })
    .expect("first push");
    wait_for(WAIT, || {
        pgw_value(&pgw, "push_time_seconds", &[("job", "rtmon_hb")]).filter(|v| *v > first)
    })
    .expect("heartbeat pushes again with no change");
    // (The gateway may answer before the loop records the push.)
    wait_for(WAIT, || (lp.stats().pushes_total() >= 2).then_some(())).expect("counted");
    drop(lp);

    // 50 notifications in a burst, min-interval 200 ms, heartbeat 60 s: a handful of
    // pushes, not 50, and the last state arrives.
    let changed = Arc::new(Notify::new());
    let mut a = args(&pgw.url(), "rtmon_burst", &[("instance", "i1")]);
    a.min_interval = Duration::from_millis(200);
    let lp = Loop::start(&a, source.clone(), Some(changed.clone()));
    wait_for(WAIT, || (lp.stats().pushes_total() == 1).then_some(())).expect("first push");
    for i in 0..50u64 {
        source.set(&[("reachable", i)]);
        changed.notify_one();
        std::thread::sleep(Duration::from_millis(2));
    }
    wait_for(WAIT, || {
        pgw_value(&pgw, "rtmon_test_entries", &[("job", "rtmon_burst")]).filter(|v| *v == 49.0)
    })
    .expect("last state of the burst pushed");
    std::thread::sleep(Duration::from_millis(500));
    let n = lp.stats().pushes_total();
    assert!((2..=10).contains(&n), "{n} pushes for 50 notifications");
}

#[test]
fn conflicting_grouping_label_is_a_config_error_and_nothing_is_sent() {
    if !available(
        "conflicting_grouping_label_is_a_config_error_and_nothing_is_sent",
        &[PUSHGATEWAY_BIN],
        false,
    ) {
        return;
    }
    let pgw = Pushgateway::start().expect("pushgateway");
    let source = Arc::new(FnSource(|| {
        let mut m = MetricSet::new();
        m.gauge("rtmon_test_up", "Up.", &[("instance", "10.0.0.1")], 1u64);
        m
    }));
    let a = args(&pgw.url(), "rtmon_conf", &[("instance", "dtn-a")]);
    let e = runtime()
        .block_on(push::push_once(&a, source))
        .expect_err("conflict");
    assert!(matches!(e, PushError::Config(_)), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("rtmon_test_up") && msg.contains("\"10.0.0.1\"") && msg.contains("\"dtn-a\""),
        "{msg}"
    );
    assert!(pgw.groups().expect("groups").is_empty(), "nothing was sent");
}

#[test]
fn once_through_the_app_runtime_sets_the_exit_code() {
    if !available(
        "once_through_the_app_runtime_sets_the_exit_code",
        &[PUSHGATEWAY_BIN],
        false,
    ) {
        return;
    }
    let pgw = Pushgateway::start().expect("pushgateway");
    let source = TestSource::new(&[("reachable", 5)]);
    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        common: rtmon::cli::CommonArgs,
    }
    let run = |url: String| {
        let flags: Flags = rtmon::cli::try_parse_from_with_defaults(
            [
                "rtmon-test-exporter",
                "--push.url",
                &url,
                "--push.grouping=instance=i1",
                "--push.timeout=2s",
                "--once",
            ],
            rtmon::cli::Defaults {
                listen_address: "127.0.0.1:0",
                push_job: "rtmon_once",
                max_requests: 40,
            },
        )
        .expect("flags");
        let exporter = rtmon::app::Exporter::new("rtmon-test-exporter", source.clone());
        runtime().block_on(rtmon::app::run(flags.common, exporter))
    };
    assert_eq!(run(pgw.url()), std::process::ExitCode::SUCCESS);
    assert_eq!(
        pgw_value(&pgw, "rtmon_test_entries", &[("job", "rtmon_once")]),
        Some(5.0)
    );
    assert_ne!(
        run(format!("http://127.0.0.1:{}", free_port())),
        std::process::ExitCode::SUCCESS
    );
}

/// Measurement, not a test (run on demand, release build):
/// `cargo test -p rtmon --release --test push_gateway -- --ignored --nocapture bench_`.
/// Pushes an 8,000-series snapshot 20 times through rtmon's client (validate + encode +
/// gzip + PUT) and, side by side, the same body with `curl -X PUT --data-binary` (the
/// cron + curl containers push mode replaces); prints medians and the ratio.
#[test]
#[ignore = "benchmark: run on demand"]
fn bench_push_8k_series_vs_curl() {
    if !available(
        "bench_push_8k_series_vs_curl",
        &[PUSHGATEWAY_BIN, "curl"],
        false,
    ) {
        return;
    }
    let pgw = Pushgateway::start().expect("pushgateway");
    let mut set = MetricSet::new();
    let f = set.family(
        "ifHCInOctets",
        "The total number of octets received on the interface.",
        MetricType::Counter,
    );
    for sw in 0..8u64 {
        for port in 0..1000u64 {
            f.add_owned(
                vec![
                    (
                        std::borrow::Cow::Borrowed("ifAlias"),
                        format!("uplink {sw}/{port}"),
                    ),
                    (
                        std::borrow::Cow::Borrowed("ifDescr"),
                        format!("hundredGigE 1/{port}"),
                    ),
                    (std::borrow::Cow::Borrowed("ifIndex"), port.to_string()),
                    (
                        std::borrow::Cow::Borrowed("ifName"),
                        format!("sw{sw}-hu1/{port}"),
                    ),
                ],
                port * 1_000_003 + sw,
            );
        }
    }
    let a = args(&pgw.url(), "rtmon_bench", &[("instance", "i1")]);
    let rt = runtime();
    let pusher = push::Pusher::new(&a).expect("pusher");
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mut prep = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..20 {
        let s = set.clone();
        let t = std::time::Instant::now();
        let p = push::prepare_body(s, pusher.key()).expect("valid");
        prep.push(t.elapsed());
        let s = set.clone();
        let t = std::time::Instant::now();
        rt.block_on(pusher.push(s)).expect("push");
        ours.push(t.elapsed());
        drop(p);
    }
    let body = push::prepare_body(set.clone(), pusher.key())
        .expect("valid")
        .body;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("body.prom");
    std::fs::write(&file, &body).expect("write");
    let url = format!("{}/metrics/job/rtmon_bench_curl/instance/i1", pgw.url());
    let mut theirs = Vec::new();
    for _ in 0..20 {
        let t = std::time::Instant::now();
        let st = std::process::Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "-X", "PUT", "--data-binary"])
            .arg(format!("@{}", file.display()))
            .arg(&url)
            .status()
            .expect("curl");
        theirs.push(t.elapsed());
        assert!(st.success());
    }
    let (p, o, c) = (median(prep), median(ours), median(theirs));
    println!(
        "8000 series, body {} bytes: rtmon validate+encode {:?}; rtmon push (validate+encode+gzip+PUT) {:?}; curl PUT {:?}; ratio rtmon/curl {:.2}",
        body.len(),
        p,
        o,
        c,
        o.as_secs_f64() / c.as_secs_f64()
    );
}

#[test]
fn delete_on_shutdown_with_the_gateway_gone_stops_within_the_timeout() {
    if !available(
        "delete_on_shutdown_with_the_gateway_gone_stops_within_the_timeout",
        &[PUSHGATEWAY_BIN],
        false,
    ) {
        return;
    }
    let mut pgw = Pushgateway::start().expect("pushgateway");
    let source = TestSource::new(&[("reachable", 1)]);
    let mut a = args(&pgw.url(), "rtmon_gone", &[("instance", "i1")]);
    a.delete_on_shutdown = true;
    a.timeout = Duration::from_secs(1);
    let mut lp = Loop::start(&a, source, None);
    wait_for(WAIT, || (lp.stats().pushes_total() == 1).then_some(())).expect("pushed");
    assert_eq!(lp.stats().failures("transient"), 0);
    pgw.stop();
    // Loop::shutdown fails the test if the loop takes more than 10 s to stop.
    lp.shutdown();
    assert!(
        lp.stats().failures("transient") >= 1,
        "the failed DELETE is counted"
    );
}

#[test]
fn pushed_body_with_self_metrics_is_promtool_clean() {
    if !available(
        "pushed_body_with_self_metrics_is_promtool_clean",
        &[rtmon_testkit::prom::PROMTOOL_BIN],
        false,
    ) {
        return;
    }
    let mut set = MetricSet::new();
    set.family("rtmon_test_rtt_seconds", "RTT.", MetricType::Histogram)
        .add_histogram(&[("target", "a")], &[(0.001, 2), (0.01, 5)], 0.02, 6);
    set.gauge("rtmon_test_up", "Up.", &[("target", "a/b")], 1u64);
    push::PushStats::default().write(&mut set);
    let key = push::grouping_key("rtmon_test", &[], "h").expect("key");
    let body = push::prepare_body(set, &key).expect("valid").body;
    for name in [
        "rtmon_push_last_success_timestamp_seconds",
        "rtmon_push_failures_total{reason=\"config\"}",
        "rtmon_push_duration_seconds",
        "rtmon_pushes_total",
    ] {
        assert!(body.contains(name), "{name} missing in:\n{body}");
    }
    let (code, out) = rtmon_testkit::prom::promtool_check_metrics(&body).expect("promtool");
    assert_eq!(code, 0, "promtool check metrics:\n{out}\n{body}");
}
