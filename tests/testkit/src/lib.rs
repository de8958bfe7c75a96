//! rtmon test rig: real components on free loopback ports, network namespaces,
//! and the skip convention.
//!
//! **Skip convention.** A test that needs root or a binary that is not installed calls
//! [`available`] first and returns early when it says no, after a loud `SKIP` line on
//! stderr. In strict mode (`RTMON_TEST_STRICT=1`, set by `scripts/test.sh` under CI) a
//! missing requirement is a test failure instead, so CI runs everything.
//!
//! Modules: [`netns`] (namespaces + veth), [`bridge`] (a Linux-bridge switch with
//! snmpd between two host namespaces), [`prom`] (Prometheus, Pushgateway),
//! [`snmp`] (snmpd, snmpsim), [`rig`] (a whole flow: host namespaces running the
//! exporters, an snmpsim switch, Prometheus with the generated rules), [`vm`]
//! (VictoriaMetrics, vmagent, vmalert, Alertmanager).

pub mod bridge;
pub mod netns;
pub mod prom;
pub mod rig;
pub mod snmp;
pub mod snmprec;
pub mod vm;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// True when missing requirements must fail tests rather than skip them.
pub fn strict() -> bool {
    std::env::var("RTMON_TEST_STRICT").is_ok_and(|v| v == "1" || v == "true")
}

/// Whether we run as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `bin` is on PATH (or is an existing path).
pub fn have_binary(bin: &str) -> bool {
    if bin.contains('/') {
        return Path::new(bin).exists();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

/// Checks a test's requirements. Returns true when the test can run. Otherwise prints
/// `SKIP <test>: …` and returns false, or panics in [`strict`] mode.
pub fn available(test: &str, binaries: &[&str], needs_root: bool) -> bool {
    let mut missing: Vec<String> = binaries
        .iter()
        .filter(|b| !have_binary(b))
        .map(|b| format!("binary `{b}`"))
        .collect();
    if needs_root && !is_root() {
        missing.push("root".to_string());
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "SKIP {test}: missing {} (run scripts/install-test-deps.sh as root)",
        missing.join(", ")
    );
    if strict() {
        panic!("{msg} — strict mode (RTMON_TEST_STRICT=1) does not allow skips");
    }
    eprintln!("\n!!!!! {msg}\n");
    false
}

/// A free TCP port on 127.0.0.1 (bound then released; race-tolerant enough for tests),
/// never one this process was given before: the kernel may hand a released port out
/// again, and two tests of one binary running in parallel would then start their
/// servers on the same port and talk to each other's (seen once: a scrape reset when
/// the other test stopped its exporter).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free port on 127.0.0.1");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no port on 127.0.0.1 that this process was not given before");
}

/// A free UDP port on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("no free UDP port on 127.0.0.1")
}

/// A child process killed (SIGKILL to its process group) when dropped.
pub struct Proc {
    /// What it is, for messages.
    pub name: String,
    child: Child,
}

impl Proc {
    /// Spawns `cmd` in its own process group, stdout/stderr to `log` if given.
    pub fn spawn(name: &str, mut cmd: Command, log: Option<&Path>) -> std::io::Result<Proc> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        if let Some(log) = log {
            let f = std::fs::File::create(log)?;
            cmd.stdout(f.try_clone()?);
            cmd.stderr(f);
        }
        let child = cmd.spawn()?;
        Ok(Proc {
            name: name.to_string(),
            child,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the process (not its group).
    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Whether it has exited (and its status).
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Some(s) = self.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: kill(2) of the process group we created (pgid == child pid).
            unsafe {
                libc::kill(-(self.child.id() as i32), libc::SIGKILL);
            }
            let _ = self.child.wait();
        }
    }
}

/// A minimal blocking HTTP/1.0 client response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body (raw bytes, not decompressed).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Body as UTF-8 (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one HTTP/1.0 request to `addr` (`host:port`) and reads the whole response.
/// `path` includes the query string. No TLS (use curl for TLS tests).
pub fn http(
    method: &str,
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let sa = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("cannot resolve {addr}")))?;
    let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "PUT" || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    })
}

/// GET shorthand.
pub fn http_get(addr: &str, path: &str) -> std::io::Result<HttpResponse> {
    http("GET", addr, path, &[], b"")
}

/// Polls `f` every 50 ms until it returns Some or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until a TCP connect to `addr` succeeds.
pub fn wait_for_port(addr: &str, timeout: Duration) -> bool {
    wait_for(timeout, || TcpStream::connect(addr).ok().map(|_| ())).is_some()
}

/// Finds the value of the first sample of `name` whose labels include all `labels`
/// in a text-format exposition.
pub fn sample_value(exposition: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    for line in exposition.lines() {
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = match line.rsplit_once(' ') {
            Some(x) => x,
            None => continue,
        };
        let (n, rest) = match series.find('{') {
            Some(i) => (&series[..i], &series[i..]),
            None => (series, ""),
        };
        if n != name {
            continue;
        }
        if labels
            .iter()
            .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        {
            return match value {
                "+Inf" => Some(f64::INFINITY),
                "-Inf" => Some(f64::NEG_INFINITY),
                "NaN" => Some(f64::NAN),
                v => v.parse().ok(),
            };
        }
    }
    None
}

/// A path to a workspace binary built by cargo (`target/<profile>/<name>`), for tests
/// outside the binary's own crate. Builds nothing: run `cargo build --workspace` first
/// (scripts/test.sh does).
pub fn workspace_bin(name: &str) -> std::path::PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../target"));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    target.join(profile).join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_value_finds_labelled_series() {
        let t = "# HELP x y\nx{a=\"1\",b=\"2\"} 3.5\nx{a=\"2\"} 7\ny 1\n";
        assert_eq!(sample_value(t, "x", &[("a", "2")]), Some(7.0));
        assert_eq!(sample_value(t, "x", &[("b", "2")]), Some(3.5));
        assert_eq!(sample_value(t, "y", &[]), Some(1.0));
        assert_eq!(sample_value(t, "z", &[]), None);
    }
}
