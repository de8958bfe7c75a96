//! `--web.max-requests` sheds load for the node exporter: beyond the limit, scrapes get
//! 503 at once (collection runs off the async workers), and `/-/healthy` is answered
//! meanwhile. No timings are asserted (they belong in scripts/bench-node.sh).

use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use rtmon_testkit::{free_port, http_get, wait_for_port, Proc};

#[test]
fn scrapes_beyond_max_requests_get_503_and_health_is_answered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-node-exporter"));
    cmd.arg(format!("--web.listen-address={addr}"))
        .arg("--web.max-requests=1");
    let log = dir.path().join("log");
    let _p = Proc::spawn("node", cmd, Some(&log)).expect("spawn");
    assert!(
        wait_for_port(&addr, Duration::from_secs(10)),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // Rounds of 24 simultaneous scrapes until some are refused (bounded: before the
    // fix, none ever were, whatever the load).
    let mut seen = (0usize, 0usize);
    for _ in 0..20 {
        let barrier = Arc::new(Barrier::new(24));
        let threads: Vec<_> = (0..24)
            .map(|_| {
                let (a, b) = (addr.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.wait();
                    http_get(&a, "/metrics").map(|r| (r.status, r.text()))
                })
            })
            .collect();
        let health = http_get(&addr, "/-/healthy").expect("healthy");
        assert_eq!(health.status, 200);
        for t in threads {
            let (status, body) = t.join().expect("thread").expect("answer");
            match status {
                200 => {
                    assert!(body.contains("node_cpu_seconds_total"), "{body}");
                    seen.0 += 1;
                }
                503 => {
                    assert!(body.contains("--web.max-requests=1"), "{body}");
                    seen.1 += 1;
                }
                s => panic!("unexpected status {s}: {body}"),
            }
        }
        if seen.0 > 0 && seen.1 > 0 {
            break;
        }
    }
    assert!(seen.0 > 0, "no scrape succeeded: {seen:?}");
    assert!(seen.1 > 0, "no scrape was refused with 503: {seen:?}");
}
