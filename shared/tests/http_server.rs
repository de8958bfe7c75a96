//! End-to-end tests of the shared HTTP server (`rtmon::http`), run through
//! `rtmon::app::run` on free loopback ports.
//!
//! Most tests run the server in-process (a background thread with its own runtime).
//! Tests that need signals or exit codes re-execute this test binary as a child process
//! running only [`child_process_entry`] (selected by the `RTMON_HTTP_CHILD` environment
//! variable), so signals never reach the test harness.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtmon::app::{BoxFuture, Exporter, Reply, Route, Scrape, Source};
use rtmon::expo::MetricSet;
use rtmon_testkit::{available, free_port, http, http_get, sample_value, wait_for, Proc};

/// Prometheus 2.42's exact Accept header (as sent by its scrape loop).
const PROM_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const TEXT_CT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OM_CT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(clap::Parser, Debug)]
struct Cli {
    #[command(flatten)]
    common: rtmon::cli::CommonArgs,
}

/// Shared state of the test exporter.
#[derive(Default)]
struct Ctx {
    /// `Scrape::remaining()` seen by each collect.
    remaining: Mutex<Vec<Option<Duration>>>,
    reloads: AtomicUsize,
    fail_reload: AtomicBool,
    /// The reload hook panics (a bug in an exporter's loader must not kill it).
    panic_reload: AtomicBool,
    /// Set when `/slow` has been entered.
    entered: AtomicBool,
    /// `/slow` waits for this (in-process tests)…
    release: tokio::sync::Notify,
    /// …or sleeps this long (child process), then touches nothing.
    slow_sleep: Option<Duration>,
    /// File created when `/slow` is entered (child process).
    marker: Option<PathBuf>,
    /// `/metrics` collection blocks its thread this long (like the node exporter's
    /// synchronous /proc reads)…
    collect_block: Option<Duration>,
    /// …and counts the collections running.
    collecting: AtomicUsize,
}

struct Src(Arc<Ctx>);

impl Source for Src {
    fn collect<'a>(&'a self, s: &'a Scrape) -> BoxFuture<'a, MetricSet> {
        Box::pin(async move {
            if let Ok(mut r) = self.0.remaining.lock() {
                r.push(s.remaining());
            }
            if let Some(d) = self.0.collect_block {
                self.0.collecting.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(d);
                self.0.collecting.fetch_sub(1, Ordering::SeqCst);
            }
            let mut m = MetricSet::new();
            m.gauge("rtmon_test_up", "Whether the test source works.", &[], 1u64);
            m.counter(
                "rtmon_test_reloads_total",
                "Reloads done.",
                &[],
                self.0.reloads.load(Ordering::SeqCst),
            );
            m.gauge(
                "rtmon_test_temperature_celsius",
                "A labelled gauge with a value that needs escaping.",
                &[("sensor", "a \"quoted\" \\ name")],
                21.5,
            );
            m
        })
    }
}

fn exporter(ctx: Arc<Ctx>) -> Exporter {
    let (c1, c2) = (ctx.clone(), ctx.clone());
    Exporter::new("rtmon-test-exporter", Arc::new(Src(ctx)))
        .route(Route::new(
            "/probe",
            "Probe a target (?target=NAME)",
            |r: rtmon::app::Request| async move {
                let Some(t) = r.param("target") else {
                    return Reply::bad_request("missing parameter target");
                };
                let mut m = MetricSet::new();
                m.gauge(
                    "rtmon_test_probe_success",
                    "Whether the probe worked.",
                    &[("target", t)],
                    1u64,
                );
                Reply::Metrics(m)
            },
        ))
        .route(Route::new("/slow", "Answers when released", move |_r| {
            let c = c1.clone();
            async move {
                c.entered.store(true, Ordering::SeqCst);
                if let Some(p) = &c.marker {
                    let _ = std::fs::write(p, b"entered");
                }
                match c.slow_sleep {
                    Some(d) => tokio::time::sleep(d).await,
                    None => c.release.notified().await,
                }
                Reply::Text(200, "done\n".into())
            }
        }))
        .route(Route::new(
            "/echo",
            "Counts the request body",
            |r: rtmon::app::Request| async move {
                Reply::Json(
                    200,
                    serde_json::json!({"method": r.method, "bytes": r.body.len()}),
                )
            },
        ))
        .on_reload(Arc::new(move || {
            let c = c2.clone();
            Box::pin(async move {
                if c.panic_reload.load(Ordering::SeqCst) {
                    let huge = std::time::Instant::now() + Duration::MAX;
                    panic!("overflow when adding duration to instant: {huge:?}");
                }
                if c.fail_reload.load(Ordering::SeqCst) {
                    return Err("flows.yml:3:7: unknown key `valn`".to_string());
                }
                c.reloads.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        }))
        .with_changes(Arc::new(tokio::sync::Notify::new()))
}

fn parse_args(listen: &str, extra: &[String]) -> Cli {
    let mut argv = vec![
        "rtmon-test-exporter".to_string(),
        format!("--web.listen-address={listen}"),
    ];
    argv.extend(extra.iter().cloned());
    rtmon::cli::try_parse_from_with_defaults(
        argv,
        rtmon::cli::Defaults {
            listen_address: ":0",
            push_job: "rtmon_test",
            max_requests: 40,
        },
    )
    .expect("test flags parse")
}

/// An in-process server; returns its address and the exporter (to flip readiness).
fn start(ctx: Arc<Ctx>, extra: &[&str]) -> (String, Exporter) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let cli = parse_args(&addr, &extra);
    let exp = exporter(ctx);
    let exp2 = exp.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let code = rt.block_on(rtmon::app::run(cli.common, exp2));
        eprintln!("in-process server stopped: {code:?}");
    });
    assert!(
        rtmon_testkit::wait_for_port(&addr, Duration::from_secs(10)),
        "server did not come up on {addr}"
    );
    (addr, exp)
}

fn gunzip(b: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(b)
        .read_to_string(&mut s)
        .expect("valid gzip");
    s
}

#[test]
fn metrics_text_is_promtool_clean_with_exact_content_type() {
    let (addr, _) = start(Arc::new(Ctx::default()), &[]);
    let r = http_get(&addr, "/metrics").expect("GET /metrics");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(TEXT_CT));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("content-encoding"), None);
    let body = r.text();
    assert_eq!(sample_value(&body, "rtmon_test_up", &[]), Some(1.0));
    assert_eq!(
        sample_value(
            &body,
            "rtmon_build_info",
            &[
                ("exporter", "rtmon-test-exporter"),
                ("revision", rtmon::REVISION),
                ("version", rtmon::VERSION)
            ]
        ),
        Some(1.0)
    );
    // The revision is a commit hash from shared/build.rs (this test runs in a checkout).
    assert!(
        rtmon::REVISION.len() >= 40 && rtmon::REVISION[..40].bytes().all(|b| b.is_ascii_hexdigit()),
        "revision {:?}",
        rtmon::REVISION
    );
    assert!(
        body.contains(r#"sensor="a \"quoted\" \\ name""#),
        "escaped label: {body}"
    );
    if available(
        "metrics_text_is_promtool_clean",
        &[rtmon_testkit::prom::PROMTOOL_BIN],
        false,
    ) {
        let (code, out) = rtmon_testkit::prom::promtool_check_metrics(&body).expect("promtool");
        assert_eq!(code, 0, "promtool check metrics: {out}\n{body}");
    }
    // HEAD: same headers, no body.
    let h = http("HEAD", &addr, "/metrics", &[], b"").expect("HEAD");
    assert_eq!(h.status, 200);
    assert_eq!(h.header("content-type"), Some(TEXT_CT));
    assert!(h.body.is_empty());
    // Wrong method.
    let p = http("POST", &addr, "/metrics", &[], b"").expect("POST");
    assert_eq!(p.status, 405);
    assert!(p.header("allow").is_some_and(|a| a.contains("GET")));
}

#[test]
fn openmetrics_when_prometheus_asks_and_gzip_round_trips() {
    let (addr, _) = start(Arc::new(Ctx::default()), &[]);
    let om = http("GET", &addr, "/metrics", &[("Accept", PROM_ACCEPT)], b"").expect("GET");
    assert_eq!(om.status, 200);
    assert_eq!(om.header("content-type"), Some(OM_CT));
    let body = om.text();
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(body.contains("rtmon_test_reloads_total 0"), "{body}");
    assert!(body.contains("# TYPE rtmon_test_reloads counter"), "{body}");

    let plain = http_get(&addr, "/metrics").expect("GET").text();
    let gz = http(
        "GET",
        &addr,
        "/metrics",
        &[("Accept-Encoding", "gzip")],
        b"",
    )
    .expect("GET gzip");
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("content-type"), Some(TEXT_CT));
    assert_eq!(gunzip(&gz.body), plain);
    let nogz = http(
        "GET",
        &addr,
        "/metrics",
        &[("Accept-Encoding", "gzip;q=0, identity")],
        b"",
    )
    .expect("GET");
    assert_eq!(nogz.header("content-encoding"), None);
    assert_eq!(nogz.text(), plain);

    // Route replies with metrics go through the same negotiation and gzip.
    let p = http(
        "GET",
        &addr,
        "/probe?target=sw%2D1",
        &[("Accept", PROM_ACCEPT), ("Accept-Encoding", "gzip")],
        b"",
    )
    .expect("GET /probe");
    assert_eq!(p.status, 200);
    assert_eq!(p.header("content-type"), Some(OM_CT));
    let pb = gunzip(&p.body);
    assert!(
        pb.contains("rtmon_test_probe_success{target=\"sw-1\"} 1"),
        "{pb}"
    );
    assert!(pb.ends_with("# EOF\n"), "{pb}");
    assert!(!pb.contains("rtmon_build_info"), "{pb}");
}

#[test]
fn scrape_timeout_header_sets_the_deadline() {
    let ctx = Arc::new(Ctx::default());
    let (addr, _) = start(ctx.clone(), &["--web.timeout-offset=1s"]);
    let take = || {
        ctx.remaining
            .lock()
            .expect("lock")
            .pop()
            .expect("one collect")
    };
    let r = http(
        "GET",
        &addr,
        "/metrics",
        &[("X-Prometheus-Scrape-Timeout-Seconds", "10")],
        b"",
    )
    .expect("GET");
    assert_eq!(r.status, 200);
    let left = take().expect("a deadline");
    assert!(
        left <= Duration::from_secs(9) && left > Duration::from_secs(8),
        "deadline should be now + 10 s - 1 s, {left:?} left"
    );
    http_get(&addr, "/metrics").expect("GET");
    assert_eq!(take(), None, "no header: no deadline");
    http(
        "GET",
        &addr,
        "/metrics",
        &[("X-Prometheus-Scrape-Timeout-Seconds", "soon")],
        b"",
    )
    .expect("GET");
    assert_eq!(take(), None, "invalid header: ignored");
}

#[test]
fn landing_health_ready_routes_and_errors() {
    let ctx = Arc::new(Ctx::default());
    // A second listener on IPv6 loopback serves the same exporter.
    let v6 = format!("[::1]:{}", free_port());
    let (addr, exp) = start(ctx.clone(), &[&format!("--web.listen-address={v6}")]);
    let r6 = http_get(&v6, "/-/healthy").expect("GET over IPv6");
    assert_eq!(r6.status, 200);
    let l = http_get(&addr, "/").expect("GET /");
    assert_eq!(l.status, 200);
    assert_eq!(l.header("content-type"), Some("text/html; charset=utf-8"));
    let page = l.text();
    for needle in [
        "rtmon-test-exporter",
        "href=\"/metrics\"",
        "href=\"/probe\"",
        "Probe a target (?target=NAME)",
        "href=\"/slow\"",
        "/-/healthy",
        "/-/ready",
        "/-/reload",
        rtmon::VERSION,
    ] {
        assert!(
            page.contains(needle),
            "landing page lacks {needle:?}:\n{page}"
        );
    }
    assert_eq!(http_get(&addr, "/-/healthy").expect("GET").status, 200);
    assert_eq!(http_get(&addr, "/-/ready").expect("GET").status, 200);
    exp.ready.store(false, Ordering::SeqCst);
    assert_eq!(http_get(&addr, "/-/ready").expect("GET").status, 503);
    exp.ready.store(true, Ordering::SeqCst);
    assert_eq!(http_get(&addr, "/-/ready").expect("GET").status, 200);

    let nf = http_get(&addr, "/nope").expect("GET");
    assert_eq!(nf.status, 404);
    let bad = http_get(&addr, "/probe").expect("GET");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.text(), "missing parameter target\n");
    let bad = http_get(&addr, "/probe?target=%zz").expect("GET");
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("target"), "{}", bad.text());

    let e = http("POST", &addr, "/echo", &[], &[b'x'; 1000]).expect("POST");
    assert_eq!(e.status, 200);
    assert_eq!(e.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&e.body).expect("json");
    assert_eq!(v, serde_json::json!({"method": "POST", "bytes": 1000}));
    let big = vec![b'x'; (1 << 20) + 1];
    let e = http("POST", &addr, "/echo", &[], &big).expect("POST big");
    assert_eq!(e.status, 413);
}

#[test]
fn reload_over_http() {
    let ctx = Arc::new(Ctx::default());
    let (addr, _) = start(ctx.clone(), &[]);
    let g = http_get(&addr, "/-/reload").expect("GET");
    assert_eq!(g.status, 405);
    assert_eq!(ctx.reloads.load(Ordering::SeqCst), 0);
    let p = http("POST", &addr, "/-/reload", &[], b"").expect("POST");
    assert_eq!(p.status, 200, "{}", p.text());
    assert_eq!(ctx.reloads.load(Ordering::SeqCst), 1);
    ctx.fail_reload.store(true, Ordering::SeqCst);
    let p = http("POST", &addr, "/-/reload", &[], b"").expect("POST");
    assert_eq!(p.status, 500);
    assert!(p.text().contains("unknown key `valn`"), "{}", p.text());
    assert_eq!(ctx.reloads.load(Ordering::SeqCst), 1);
    let ok = |m: &str| sample_value(m, "rtmon_test_config_last_reload_successful", &[]);
    let ts = |m: &str| {
        sample_value(
            m,
            "rtmon_test_config_last_reload_success_timestamp_seconds",
            &[],
        )
    };
    let m = http_get(&addr, "/metrics").expect("GET").text();
    assert_eq!(ok(&m), Some(0.0), "{m}");
    let t1 = ts(&m).expect("timestamp");
    // A panicking hook fails the reload cleanly: an answer, the server stays up.
    ctx.fail_reload.store(false, Ordering::SeqCst);
    ctx.panic_reload.store(true, Ordering::SeqCst);
    let p = http("POST", &addr, "/-/reload", &[], b"").expect("POST");
    assert_eq!(p.status, 500);
    assert!(
        p.text().contains("keeping the running configuration"),
        "{}",
        p.text()
    );
    assert_eq!(http_get(&addr, "/-/healthy").expect("GET").status, 200);
    let m = http_get(&addr, "/metrics").expect("GET").text();
    assert_eq!(ok(&m), Some(0.0), "{m}");
    ctx.panic_reload.store(false, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(20));
    let p = http("POST", &addr, "/-/reload", &[], b"").expect("POST");
    assert_eq!(p.status, 200, "{}", p.text());
    let m = http_get(&addr, "/metrics").expect("GET").text();
    assert_eq!(ok(&m), Some(1.0), "{m}");
    assert!(ts(&m).is_some_and(|t| t > t1), "{m}");

    // An exporter without a reload hook says so.
    let port = free_port();
    let addr2 = format!("127.0.0.1:{port}");
    let cli = parse_args(&addr2, &[]);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let exp = Exporter::new("rtmon-plain", Arc::new(Src(Arc::new(Ctx::default()))));
        rt.block_on(rtmon::app::run(cli.common, exp));
    });
    assert!(rtmon_testkit::wait_for_port(
        &addr2,
        Duration::from_secs(10)
    ));
    let p = http("POST", &addr2, "/-/reload", &[], b"").expect("POST");
    assert_eq!(p.status, 404);
    assert!(
        p.text().contains("no configuration to reload"),
        "{}",
        p.text()
    );
}

#[test]
fn over_the_request_limit_gets_503() {
    let ctx = Arc::new(Ctx::default());
    let (addr, _) = start(ctx.clone(), &["--web.max-requests=1"]);
    let a = addr.clone();
    let slow = std::thread::spawn(move || http_get(&a, "/slow").expect("GET /slow"));
    assert!(
        wait_for(Duration::from_secs(10), || ctx
            .entered
            .load(Ordering::SeqCst)
            .then_some(()))
        .is_some(),
        "/slow never started"
    );
    let busy = http_get(&addr, "/metrics").expect("GET");
    assert_eq!(busy.status, 503);
    assert!(
        busy.text().contains("--web.max-requests=1"),
        "{}",
        busy.text()
    );
    // Health checks are not limited.
    assert_eq!(http_get(&addr, "/-/healthy").expect("GET").status, 200);
    ctx.release.notify_one();
    let done = slow.join().expect("thread");
    assert_eq!(done.status, 200);
    assert_eq!(done.text(), "done\n");
    assert_eq!(http_get(&addr, "/metrics").expect("GET").status, 200);
}

/// Self-signed ECDSA certificate for 127.0.0.1/localhost, via openssl.
fn make_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl: {out:?}");
    (cert, key)
}

/// curl; returns (status code, headers+body text).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-S", "-i", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    let (text, code) = s.rsplit_once('\n').unwrap_or(("", ""));
    (code.trim().parse().unwrap_or(0), text.to_string())
}

#[test]
fn tls_and_basic_auth_via_curl() {
    if !available("tls_and_basic_auth_via_curl", &["openssl", "curl"], false) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, _key) = make_cert(dir.path());
    // A real bcrypt hash (cost 6 keeps the debug-build test fast; production uses 10+).
    let hash = bcrypt::hash("s3cret pass", 6).expect("bcrypt");
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
             min_version: TLS12\nbasic_auth_users:\n  prom: '{hash}'\n\
             http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
        ),
    )
    .expect("write web.yml");
    let (addr, _) = start(
        Arc::new(Ctx::default()),
        &[&format!("--web.config.file={}", web.display())],
    );
    let url = format!("https://{addr}/metrics");
    let cacert = cert.display().to_string();

    let (code, out) = curl(&["--cacert", &cacert, "-u", "prom:s3cret pass", &url]);
    assert_eq!(code, 200, "{out}");
    assert!(out.contains("rtmon_test_up 1"), "{out}");
    assert!(
        out.to_ascii_lowercase()
            .contains("x-content-type-options: nosniff"),
        "{out}"
    );
    // Cached now; a second request works too.
    let (code, _) = curl(&["--cacert", &cacert, "-u", "prom:s3cret pass", &url]);
    assert_eq!(code, 200);

    for creds in [
        vec!["-u", "prom:wrong"],
        vec!["-u", "nobody:s3cret pass"],
        vec![],
    ] {
        let mut args = vec!["--cacert", cacert.as_str()];
        args.extend(creds.iter().copied());
        args.push(&url);
        let (code, out) = curl(&args);
        assert_eq!(code, 401, "{creds:?}: {out}");
        assert!(
            out.contains("WWW-Authenticate: Basic realm=\"rtmon\"")
                || out.contains("www-authenticate: Basic realm=\"rtmon\""),
            "{out}"
        );
        assert!(!out.contains("rtmon_test_up"), "{out}");
    }
    // TLS 1.2 is refused when min_version is TLS13.
    let web13 = dir.path().join("web13.yml");
    std::fs::write(
        &web13,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n",
    )
    .expect("write web13.yml");
    let (addr13, _) = start(
        Arc::new(Ctx::default()),
        &[&format!("--web.config.file={}", web13.display())],
    );
    let url13 = format!("https://{addr13}/metrics");
    assert_eq!(curl(&["--cacert", &cacert, "--tlsv1.3", &url13]).0, 200);
    assert_ne!(
        curl(&["--cacert", &cacert, "--tls-max", "1.2", &url13]).0,
        200,
        "TLS 1.2 must be refused"
    );
    // Plain HTTP on the TLS port gets Go's answer.
    let plain = http_get(&addr, "/metrics").expect("an answer");
    assert_eq!(plain.status, 400, "{plain:?}");
    assert!(
        plain
            .text()
            .contains("Client sent an HTTP request to an HTTPS server"),
        "{plain:?}"
    );
}

/// Runs this test binary again as a child that serves until signalled.
fn child(args: &[String], marker: Option<&Path>, log: &Path) -> Proc {
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "child_process_entry",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("RTMON_HTTP_CHILD", args.join("\n"));
    if let Some(m) = marker {
        cmd.env("RTMON_HTTP_CHILD_MARKER", m);
    }
    Proc::spawn("http child", cmd, Some(log)).expect("spawn child")
}

/// Entry point of the child process used by the signal and exit-code tests; a no-op
/// when run as a normal test.
#[test]
fn child_process_entry() {
    let Ok(args) = std::env::var("RTMON_HTTP_CHILD") else {
        return;
    };
    let argv: Vec<String> = std::iter::once("rtmon-test-exporter".to_string())
        .chain(args.lines().map(str::to_string))
        .collect();
    let cli: Cli = rtmon::cli::try_parse_from_with_defaults(
        argv,
        rtmon::cli::Defaults {
            listen_address: ":0",
            push_job: "rtmon_test",
            max_requests: 40,
        },
    )
    .expect("child flags");
    let ctx = Arc::new(Ctx {
        slow_sleep: Some(Duration::from_millis(1500)),
        marker: std::env::var_os("RTMON_HTTP_CHILD_MARKER").map(PathBuf::from),
        ..Ctx::default()
    });
    let code = rtmon::app::main(cli.common, exporter(ctx));
    std::process::exit(if code == std::process::ExitCode::SUCCESS {
        0
    } else {
        1
    });
}

#[test]
fn sighup_reloads_and_sigterm_finishes_in_flight_then_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let marker = dir.path().join("entered");
    let log = dir.path().join("child.log");
    let mut p = child(
        &[format!("--web.listen-address={addr}")],
        Some(&marker),
        &log,
    );
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        rtmon_testkit::wait_for_port(&addr, Duration::from_secs(20)),
        "child did not listen: {}",
        logs()
    );
    p.signal(libc::SIGHUP);
    let reloaded = wait_for(Duration::from_secs(10), || {
        let r = http_get(&addr, "/metrics").ok()?;
        (sample_value(&r.text(), "rtmon_test_reloads_total", &[]) == Some(1.0)).then_some(())
    });
    assert!(reloaded.is_some(), "SIGHUP did not reload: {}", logs());

    let a = addr.clone();
    let slow = std::thread::spawn(move || http_get(&a, "/slow"));
    assert!(
        wait_for(Duration::from_secs(10), || marker.exists().then_some(())).is_some(),
        "/slow not entered"
    );
    p.signal(libc::SIGTERM);
    let status = p.wait_timeout(Duration::from_secs(15));
    let r = slow
        .join()
        .expect("thread")
        .expect("in-flight request answered");
    assert_eq!(r.status, 200, "in-flight request: {r:?}");
    assert_eq!(r.text(), "done\n");
    let status = status.expect("child exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", logs());
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "still listening"
    );
    let l = logs();
    assert!(l.contains("Listening on"), "{l}");
    assert!(l.contains(&addr), "{l}");
}

fn expect_startup_failure(args: &[String], needles: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("child.log");
    let mut p = child(args, None, &log);
    let status = p
        .wait_timeout(Duration::from_secs(20))
        .expect("child exits at startup");
    let l = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(1), "{args:?}: {l}");
    for n in needles {
        assert!(l.contains(n), "{args:?}: log lacks {n:?}:\n{l}");
    }
    l
}

#[test]
fn startup_errors_exit_1_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = format!("--web.listen-address=127.0.0.1:{}", free_port());

    let unknown = dir.path().join("unknown-key.yml");
    std::fs::write(
        &unknown,
        "tls_server_config:\n  cert_file: a\n  key_fil: b\n",
    )
    .expect("w");
    expect_startup_failure(
        &[
            listen.clone(),
            format!("--web.config.file={}", unknown.display()),
        ],
        &[&unknown.display().to_string(), "key_fil"],
    );

    let hash = bcrypt::hash("pw", 4).expect("bcrypt");
    let missing = dir.path().join("missing-cert.yml");
    std::fs::write(
        &missing,
        format!(
            "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n\
             basic_auth_users:\n  prom: '{hash}'\n"
        ),
    )
    .expect("w");
    let l = expect_startup_failure(
        &[
            listen.clone(),
            format!("--web.config.file={}", missing.display()),
        ],
        &[
            &missing.display().to_string(),
            &dir.path().join("nope.crt").display().to_string(),
        ],
    );
    assert!(!l.contains(&hash), "log leaks the hash: {l}");

    expect_startup_failure(
        &[
            listen.clone(),
            "--web.config.file=/nonexistent/web.yml".into(),
        ],
        &["/nonexistent/web.yml"],
    );

    // Port already taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    expect_startup_failure(
        &[format!("--web.listen-address=127.0.0.1:{port}")],
        &["cannot listen", &port.to_string()],
    );
    expect_startup_failure(
        &["--web.listen-address=nonsense".into()],
        &["--web.listen-address", "nonsense"],
    );
    expect_startup_failure(&["--web.listen-address=".into()], &["nothing to do"]);
}

#[test]
fn real_prometheus_scrapes_openmetrics_with_deadline() {
    if !available(
        "real_prometheus_scrapes_openmetrics_with_deadline",
        &[rtmon_testkit::prom::PROMETHEUS_BIN],
        false,
    ) {
        return;
    }
    let ctx = Arc::new(Ctx::default());
    let (addr, _) = start(ctx.clone(), &["--web.timeout-offset=200ms"]);
    let prom = rtmon_testkit::prom::Prometheus::start(&rtmon_testkit::prom::scrape_job(
        "rtmon_test",
        &[&addr],
        false,
    ))
    .expect("prometheus");
    let rows = prom
        .wait_for_query(
            "rtmon_test_up{job=\"rtmon_test\"}",
            |r| r.len() == 1 && r[0].1 == 1.0,
            Duration::from_secs(30),
        )
        .expect("Prometheus ingests rtmon_test_up");
    assert_eq!(
        rows[0].0.get("instance").map(String::as_str),
        Some(addr.as_str())
    );
    prom.wait_for_query(
        "rtmon_build_info{exporter=\"rtmon-test-exporter\"}",
        |r| r.len() == 1,
        Duration::from_secs(10),
    )
    .expect("build info ingested");
    // The rig's scrape_timeout is 1 s: deadline = now + 1 s - 200 ms.
    let seen = ctx.remaining.lock().expect("lock").clone();
    let from_prom: Vec<Duration> = seen.into_iter().flatten().collect();
    assert!(!from_prom.is_empty(), "Prometheus sent no timeout header");
    for left in from_prom {
        assert!(
            left <= Duration::from_millis(800) && left > Duration::from_millis(300),
            "{left:?}"
        );
    }
}

#[test]
fn serving_with_push_and_push_only_delete_the_group_on_sigterm() {
    use rtmon_testkit::prom::{Pushgateway, PUSHGATEWAY_BIN};
    if !available(
        "serving_with_push_and_push_only_delete_the_group_on_sigterm",
        &[PUSHGATEWAY_BIN],
        false,
    ) {
        return;
    }
    let pgw = Pushgateway::start().expect("pushgateway");
    let dir = tempfile::tempdir().expect("tempdir");
    let group = |inst: &str| {
        std::collections::BTreeMap::from([
            ("job".to_string(), "rtmon_http".to_string()),
            ("instance".to_string(), inst.to_string()),
        ])
    };
    let push_flags = |inst: &str| {
        vec![
            format!("--push.url={}", pgw.url()),
            "--push.job=rtmon_http".to_string(),
            format!("--push.grouping=instance={inst}"),
            "--push.interval=1s".to_string(),
            "--push.delete-on-shutdown".to_string(),
        ]
    };

    // Serving and pushing at once: /metrics carries the push loop's self-metrics.
    let addr = format!("127.0.0.1:{}", free_port());
    let mut args = vec![format!("--web.listen-address={addr}")];
    args.extend(push_flags("served"));
    let log = dir.path().join("served.log");
    let mut p = child(&args, None, &log);
    let logs = |l: &Path| std::fs::read_to_string(l).unwrap_or_default();
    wait_for(Duration::from_secs(20), || {
        pgw.groups().ok()?.contains(&group("served")).then_some(())
    })
    .unwrap_or_else(|| panic!("no push arrived: {}\n{}", logs(&log), pgw.log()));
    let m = wait_for(Duration::from_secs(10), || {
        let t = http_get(&addr, "/metrics").ok()?.text();
        (sample_value(&t, "rtmon_pushes_total", &[]).unwrap_or(0.0) >= 1.0).then_some(t)
    })
    .unwrap_or_else(|| panic!("no push self-metrics on /metrics: {}", logs(&log)));
    assert_eq!(sample_value(&m, "rtmon_test_up", &[]), Some(1.0));
    p.signal(libc::SIGTERM);
    let st = p.wait_timeout(Duration::from_secs(20)).expect("exits");
    assert_eq!(st.code(), Some(0), "{}", logs(&log));
    assert!(
        !pgw.groups().expect("groups").contains(&group("served")),
        "group not deleted on shutdown"
    );

    // Push only (empty listen address): nothing served, pushes go on, SIGTERM deletes.
    let mut args = vec!["--web.listen-address=".to_string()];
    args.extend(push_flags("pushonly"));
    let log = dir.path().join("pushonly.log");
    let mut p = child(&args, None, &log);
    wait_for(Duration::from_secs(20), || {
        pgw.groups()
            .ok()?
            .contains(&group("pushonly"))
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no push-only push: {}", logs(&log)));
    assert!(!logs(&log).contains("Listening on"), "{}", logs(&log));
    p.signal(libc::SIGTERM);
    let st = p.wait_timeout(Duration::from_secs(20)).expect("exits");
    assert_eq!(st.code(), Some(0), "{}", logs(&log));
    assert!(
        !pgw.groups().expect("groups").contains(&group("pushonly")),
        "push-only group not deleted on shutdown"
    );
}

/// openssl with arguments; panics with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

#[test]
fn client_certificates_are_required_and_verified() {
    if !available(
        "client_certificates_are_required_and_verified",
        &["openssl", "curl"],
        false,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (cert, _) = make_cert(d);
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    // A client CA, a client certificate it signed, and a self-signed stranger.
    let mut a = vec!["req", "-x509", "-days", "2", "-subj", "/CN=rtmon test CA"];
    a.extend(ec);
    a.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    openssl(d, &a);
    let mut a = vec!["req", "-subj", "/CN=prometheus"];
    a.extend(ec);
    a.extend(["-keyout", "client.key", "-out", "client.csr"]);
    openssl(d, &a);
    std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("w");
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "client.ext",
            "-out",
            "client.crt",
        ],
    );
    let mut a = vec!["req", "-x509", "-days", "2", "-subj", "/CN=stranger"];
    a.extend(ec);
    a.extend(["-keyout", "stranger.key", "-out", "stranger.crt"]);
    openssl(d, &a);

    let cacert = cert.display().to_string();
    let p = |f: &str| d.join(f).display().to_string();
    let (client, client_key) = (p("client.crt"), p("client.key"));
    let (stranger, stranger_key) = (p("stranger.crt"), p("stranger.key"));
    let get = |addr: &str, cert: Option<(&str, &str)>| {
        let url = format!("https://{addr}/metrics");
        let mut args = vec!["--cacert", cacert.as_str()];
        if let Some((c, k)) = cert {
            args.extend(["--cert", c, "--key", k]);
        }
        args.push(&url);
        curl(&args).0
    };

    let web = d.join("verify.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
    )
    .expect("w");
    let (addr, _) = start(
        Arc::new(Ctx::default()),
        &[&format!("--web.config.file={}", web.display())],
    );
    assert_eq!(get(&addr, Some((&client, &client_key))), 200);
    assert_ne!(get(&addr, None), 200, "no client certificate");
    assert_ne!(
        get(&addr, Some((&stranger, &stranger_key))),
        200,
        "certificate from another CA"
    );

    let web = d.join("any.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: RequireAnyClientCert\n",
    )
    .expect("w");
    let (addr, _) = start(
        Arc::new(Ctx::default()),
        &[&format!("--web.config.file={}", web.display())],
    );
    assert_eq!(get(&addr, Some((&stranger, &stranger_key))), 200);
    assert_ne!(get(&addr, None), 200, "a certificate is required");
}

#[test]
fn synchronous_collections_past_the_limit_get_503_and_health_stays_answered() {
    let ctx = Arc::new(Ctx {
        collect_block: Some(Duration::from_millis(1500)),
        ..Ctx::default()
    });
    let (addr, _) = start(ctx.clone(), &["--web.max-requests=1"]);
    // Four scrapes at once: one collects (blocking its thread), three are refused.
    let scrapes: Vec<_> = (0..4)
        .map(|_| {
            let a = addr.clone();
            std::thread::spawn(move || http_get(&a, "/metrics").map(|r| r.status))
        })
        .collect();
    assert!(
        wait_for(Duration::from_secs(10), || (ctx
            .collecting
            .load(Ordering::SeqCst)
            == 1)
            .then_some(()))
        .is_some(),
        "the collection never ran"
    );
    // While the collection blocks its thread, health and readiness are answered and
    // further scrapes are refused at once.
    assert_eq!(http_get(&addr, "/-/healthy").expect("healthy").status, 200);
    assert_eq!(http_get(&addr, "/-/ready").expect("ready").status, 200);
    assert_eq!(http_get(&addr, "/metrics").expect("metrics").status, 503);
    let mut statuses: Vec<u16> = scrapes
        .into_iter()
        .map(|t| t.join().expect("thread").expect("answer"))
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 503, 503, 503]);
}

#[test]
fn soft_open_files_limit_is_raised_to_the_hard_limit() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child_process_entry", "--nocapture"])
        .env("RTMON_HTTP_CHILD", format!("--web.listen-address={addr}"));
    // SAFETY: only async-signal-safe calls (getrlimit/setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            l.rlim_cur = l.rlim_max.min(1024);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let log = dir.path().join("child.log");
    let p = Proc::spawn("nofile child", cmd, Some(&log)).expect("spawn");
    assert!(
        rtmon_testkit::wait_for_port(&addr, Duration::from_secs(20)),
        "child did not listen: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", p.pid())).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files line");
    let nums: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(nums.len(), 2, "{line}");
    assert_eq!(
        nums[0], nums[1],
        "soft limit not raised to the hard one: {line}"
    );
    if nums[1] != "1024" {
        assert_ne!(nums[0], "1024", "{line}");
    }
}
