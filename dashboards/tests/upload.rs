//! `upload` against a local HTTP server standing in for Grafana's API: it checks method,
//! path, bearer token and body shape, answers 404 for the folder (so it gets created),
//! returns 412 once for the dashboard, and records everything.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::Value;

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    auth: String,
    body: Value,
}

/// Serves `n` requests; `respond` picks the status and body from what was seen so far.
fn fake_grafana(
    n: usize,
    respond: impl Fn(&Seen, &[Seen]) -> (u16, String) + Send + 'static,
) -> (String, Arc<Mutex<Vec<Seen>>>, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = format!("http://{}", l.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let h = std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((stream, _)) = l.accept() else { return };
            let mut r = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            r.read_line(&mut line).expect("request line");
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let path = parts.next().unwrap_or("").to_string();
            let (mut len, mut auth) = (0usize, String::new());
            loop {
                let mut h = String::new();
                r.read_line(&mut h).expect("header");
                if h == "\r\n" || h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap_or(("", ""));
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    "authorization" => auth = v.trim().to_string(),
                    _ => {}
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).expect("body");
            let seen_now = Seen {
                method,
                path,
                auth,
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            };
            let (status, resp) = {
                let all = s2.lock().expect("lock");
                respond(&seen_now, &all)
            };
            s2.lock().expect("lock").push(seen_now);
            let mut w = stream;
            let _ = write!(
                w,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{resp}",
                resp.len()
            );
        }
    });
    (addr, seen, h)
}

fn flow_file(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("flow.yml");
    std::fs::write(
        &p,
        "flow: up-test\ntitle: Upload test\npath:\n  - host: a\n    instance: 192.0.2.1\n    interface: eth0\n    ip: 192.0.2.1\n  - switch: sw\n    target: 192.0.2.254\n    in: {port: \"Ethernet1/1\"}\n    out: {port: \"Ethernet1/2\"}\n  - host: b\n    instance: 192.0.2.2\n    interface: eth0\n    ip: 192.0.2.2\n",
    )
    .expect("write flow");
    p
}

#[test]
fn upload_creates_folder_retries_412_and_sends_the_right_body() {
    let dir = tempfile::tempdir().expect("tmp");
    let flow = flow_file(dir.path());
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "glsa_test-token-123\n").expect("token");

    let (url, seen, h) = fake_grafana(5, |s, all| match (s.method.as_str(), s.path.as_str()) {
        ("GET", "/api/folders/rtmon-flows") => (404, r#"{"message":"folder not found"}"#.into()),
        ("POST", "/api/folders") => (200, r#"{"uid":"rtmon-flows","title":"RTMon Flows"}"#.into()),
        ("POST", "/api/dashboards/db") => {
            let earlier = all
                .iter()
                .filter(|x| x.path == "/api/dashboards/db")
                .count();
            if earlier == 0 {
                (
                    412,
                    r#"{"message":"version-mismatch","status":"version-mismatch"}"#.into(),
                )
            } else {
                let uid = s.body["dashboard"]["uid"].as_str().unwrap_or("?");
                (
                    200,
                    format!(
                        r#"{{"id":1,"uid":"{uid}","url":"/d/{uid}/x","status":"success","version":2}}"#
                    ),
                )
            }
        }
        _ => (500, r#"{"message":"unexpected"}"#.into()),
    });
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
        .args([
            "upload",
            "--grafana",
            &url,
            "--folder",
            "RTMon Flows",
            "--token-file",
        ])
        .arg(&token_file)
        .arg(&flow)
        .output()
        .expect("run");
    h.join().expect("server");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("rtmon-up-test: version 2"), "{stdout}");
    // Then the fleet overview, into the same folder.
    assert!(stdout.contains("rtmon-fleet: version 2"), "{stdout}");
    assert!(
        !stdout.contains("glsa_") && !stderr.contains("glsa_"),
        "token leaked"
    );

    let seen = seen.lock().expect("lock").clone();
    let calls: Vec<(String, String)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.path.clone()))
        .collect();
    assert_eq!(
        calls,
        vec![
            ("GET".into(), "/api/folders/rtmon-flows".into()),
            ("POST".into(), "/api/folders".into()),
            ("POST".into(), "/api/dashboards/db".into()),
            ("POST".into(), "/api/dashboards/db".into()),
            ("POST".into(), "/api/dashboards/db".into()),
        ]
    );
    assert_eq!(seen[4].body["dashboard"]["uid"], "rtmon-fleet");
    assert_eq!(seen[4].body["folderUid"], "rtmon-flows");
    for s in &seen {
        assert_eq!(s.auth, "Bearer glsa_test-token-123");
    }
    assert_eq!(seen[1].body["uid"], "rtmon-flows");
    assert_eq!(seen[1].body["title"], "RTMon Flows");
    let b = &seen[3].body;
    assert_eq!(b["overwrite"], true);
    assert_eq!(b["folderUid"], "rtmon-flows");
    assert_eq!(b["dashboard"]["uid"], "rtmon-up-test");
    assert!(b["dashboard"]["id"].is_null());
    assert_eq!(b["dashboard"]["schemaVersion"], 41);
    assert!(b["dashboard"]["panels"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
    // The retry sends the same dashboard (idempotent).
    assert_eq!(seen[2].body, seen[3].body);
}

#[test]
fn upload_explains_401_and_403_without_the_token() {
    for (status, needle) in [(401u16, "rejected the token"), (403, "lacks permission")] {
        let dir = tempfile::tempdir().expect("tmp");
        let flow = flow_file(dir.path());
        let (url, _seen, h) = fake_grafana(1, move |_, _| (status, r#"{"message":"nope"}"#.into()));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
            .args(["upload", "--grafana", &url])
            .env("GRAFANA_TOKEN", "glsa_secret_value")
            .arg(&flow)
            .output()
            .expect("run");
        h.join().expect("server");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(needle), "{stderr}");
        assert!(
            !stderr.contains("glsa_secret_value"),
            "token leaked: {stderr}"
        );
    }
}

#[test]
fn upload_without_token_fails_clearly() {
    let dir = tempfile::tempdir().expect("tmp");
    let flow = flow_file(dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
        .args([
            "upload",
            "--grafana",
            "http://127.0.0.1:9",
            "--token-env",
            "RTMON_NO_SUCH_VAR",
        ])
        .arg(&flow)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("RTMON_NO_SUCH_VAR"), "{stderr}");
}
