//! Network namespaces and veth pairs for multi-host tests (needs root and iproute2).
//!
//! Every namespace is created by the test, named uniquely (`rt<pid><n>`), and deleted
//! when its [`Netns`] is dropped. Traffic stays inside these namespaces.
//!
//! ```no_run
//! use rtmon_testkit::netns::{Netns, veth};
//! let a = Netns::new().unwrap();
//! let b = Netns::new().unwrap();
//! veth(&a, "eth0", "10.203.0.1/24", &b, "eth0", "10.203.0.2/24").unwrap();
//! a.run(&["ping", "-c1", "-W1", "10.203.0.2"]).unwrap();
//! ```

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace deleted on drop.
#[derive(Debug)]
pub struct Netns {
    /// Its name (`ip netns` name).
    pub name: String,
}

fn check(out: Output, what: &str) -> std::io::Result<Output> {
    if out.status.success() {
        Ok(out)
    } else {
        Err(std::io::Error::other(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl Netns {
    /// Creates a fresh namespace with `lo` up and unprivileged ICMP allowed.
    pub fn new() -> std::io::Result<Netns> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("rt{}x{}", std::process::id(), n);
        check(
            Command::new("ip").args(["netns", "add", &name]).output()?,
            "ip netns add",
        )?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        let _ = ns.run(&["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"]);
        Ok(ns)
    }

    /// Runs `ip -n NAME args…`.
    pub fn ip(&self, args: &[&str]) -> std::io::Result<Output> {
        let out = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()?;
        check(out, &format!("ip -n {} {}", self.name, args.join(" ")))
    }

    /// A `Command` that runs `prog` inside the namespace (`ip netns exec`).
    pub fn command(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(prog);
        c
    }

    /// Runs a command inside the namespace and checks it succeeded.
    pub fn run(&self, argv: &[&str]) -> std::io::Result<Output> {
        let (prog, rest) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty argv"))?;
        let out = self.command(prog).args(rest).output()?;
        check(out, &format!("[{}] {}", self.name, argv.join(" ")))
    }

    /// The MAC address of `dev` in this namespace.
    pub fn mac(&self, dev: &str) -> std::io::Result<String> {
        let out = self.run(&["cat", &format!("/sys/class/net/{dev}/address")])?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Kill anything still running inside, then delete.
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(p) = pid.parse::<i32>() {
                    // SAFETY: kill(2) on a pid inside our own test namespace.
                    unsafe {
                        libc::kill(p, libc::SIGKILL);
                    }
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Creates a veth pair between two namespaces, assigns addresses (CIDR, v4 or v6; may
/// be empty to skip) and brings both ends up. IPv6 DAD is disabled so v6 addresses are
/// usable at once.
pub fn veth(
    a: &Netns,
    a_if: &str,
    a_addr: &str,
    b: &Netns,
    b_if: &str,
    b_addr: &str,
) -> std::io::Result<()> {
    check(
        Command::new("ip")
            .args([
                "link", "add", a_if, "netns", &a.name, "type", "veth", "peer", "name", b_if,
                "netns", &b.name,
            ])
            .output()?,
        "ip link add veth",
    )?;
    for (ns, dev, addr) in [(a, a_if, a_addr), (b, b_if, b_addr)] {
        let _ = ns.run(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{dev}.accept_dad=0"),
        ]);
        if !addr.is_empty() {
            let nodad: &[&str] = if addr.contains(':') { &["nodad"] } else { &[] };
            let mut args = vec!["addr", "add", addr, "dev", dev];
            args.extend_from_slice(nodad);
            ns.ip(&args)?;
        }
        ns.ip(&["link", "set", dev, "up"])?;
    }
    Ok(())
}
