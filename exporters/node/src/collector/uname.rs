//! `uname`: `node_uname_info{domainname,machine,nodename,release,sysname,version} 1`
//! from the uname system call (like node_exporter; not below `--path.procfs`).

use rtmon::expo::MetricSet;

use super::{CollectError, CollectResult};
use crate::config::Config;

/// The uname fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Uname {
    /// `sysname`.
    pub sysname: String,
    /// `nodename`.
    pub nodename: String,
    /// `release`.
    pub release: String,
    /// `version`.
    pub version: String,
    /// `machine`.
    pub machine: String,
    /// `domainname`.
    pub domainname: String,
}

fn field(raw: &[libc::c_char]) -> String {
    // The kernel NUL-terminates every field; fall back to the whole buffer if not.
    let bytes: Vec<u8> = raw
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Calls uname(2).
pub fn uname() -> Result<Uname, String> {
    // SAFETY: utsname is plain old data; zeroed is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(format!("uname: {}", std::io::Error::last_os_error()));
    }
    Ok(Uname {
        sysname: field(&u.sysname),
        nodename: field(&u.nodename),
        release: field(&u.release),
        version: field(&u.version),
        machine: field(&u.machine),
        domainname: field(&u.domainname),
    })
}

/// Appends `node_uname_info`.
pub fn record(u: &Uname, out: &mut MetricSet) {
    out.info(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        &[
            ("domainname", &u.domainname),
            ("machine", &u.machine),
            ("nodename", &u.nodename),
            ("release", &u.release),
            ("sysname", &u.sysname),
            ("version", &u.version),
        ],
    );
}

/// Reads uname(2).
pub fn collect(_cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let u = uname().map_err(CollectError::Failed)?;
    record(&u, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn uname_has_linux_fields() {
        let u = super::uname().expect("uname");
        assert_eq!(u.sysname, "Linux");
        assert!(!u.release.is_empty() && !u.machine.is_empty());
    }
}
