//! `filesystem`: space and inode statistics of mounted filesystems,
//! `node_filesystem_*{device,fstype,mountpoint}`, from the mount table of
//! `<procfs>/1/mountinfo` (falling back to `<procfs>/self/mountinfo`), as node_exporter
//! reads it, and statfs(2) below `--path.rootfs`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rtmon::expo::MetricSet;

use super::{io_error, CollectResult};
use crate::config::Config;

/// One mount table entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Source device.
    pub device: String,
    /// Mount point (octal escapes decoded).
    pub mount_point: String,
    /// Filesystem type.
    pub fstype: String,
    /// Mounted read-only.
    pub ro: bool,
}

/// Decodes the kernel's octal escapes (`\040` space, `\011` tab, `\012`, `\134`).
pub fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a `/proc/<pid>/mountinfo` table: `id parent major:minor root mountpoint
/// options [optional fields…] - fstype source super-options`. Read-only is the
/// per-mount `ro` option, as node_exporter reads it.
pub fn parse_mountinfo(text: &str) -> Result<Vec<Mount>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let sep = f
            .iter()
            .skip(6)
            .position(|x| *x == "-")
            .map(|p| p + 6)
            .ok_or((
                i + 1,
                "no ' - ' separator after the optional fields".to_string(),
            ))?;
        if f.len() < sep + 3 {
            return Err((
                i + 1,
                format!(
                    "expected fstype, source and super options after ' - ', got {} fields",
                    f.len() - sep - 1
                ),
            ));
        }
        out.push(Mount {
            device: unescape(f[sep + 2]),
            mount_point: unescape(f[4]),
            fstype: f[sep + 1].to_string(),
            ro: f[5].split(',').any(|o| o == "ro"),
        });
    }
    Ok(out)
}

/// statfs results used by the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Total bytes.
    pub size: f64,
    /// Free bytes.
    pub free: f64,
    /// Bytes available to unprivileged users.
    pub avail: f64,
    /// Inodes.
    pub files: f64,
    /// Free inodes.
    pub files_free: f64,
}

/// statfs(2) on a path.
pub fn statfs(path: &Path) -> std::io::Result<Stats> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: statfs is plain old data; zeroed is valid.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `s` a valid out-pointer.
    if unsafe { libc::statfs(c.as_ptr(), &mut s) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let bs = s.f_bsize as f64;
    Ok(Stats {
        size: s.f_blocks as f64 * bs,
        free: s.f_bfree as f64 * bs,
        avail: s.f_bavail as f64 * bs,
        files: s.f_files as f64,
        files_free: s.f_ffree as f64,
    })
}

/// Appends the samples of one filesystem (`stats` None: device error).
pub fn record(m: &Mount, mount_point: &str, stats: Option<Stats>, out: &mut MetricSet) {
    let labels = [
        ("device", m.device.as_str()),
        ("fstype", m.fstype.as_str()),
        ("mountpoint", mount_point),
    ];
    out.gauge(
        "node_filesystem_device_error",
        "Whether an error occurred while getting statistics for the given device.",
        &labels,
        u64::from(stats.is_none()),
    );
    let Some(s) = stats else { return };
    out.gauge(
        "node_filesystem_size_bytes",
        "Filesystem size in bytes.",
        &labels,
        s.size,
    );
    out.gauge(
        "node_filesystem_free_bytes",
        "Filesystem free space in bytes.",
        &labels,
        s.free,
    );
    out.gauge(
        "node_filesystem_avail_bytes",
        "Filesystem space available to non-root users in bytes.",
        &labels,
        s.avail,
    );
    out.gauge(
        "node_filesystem_files",
        "Filesystem total file nodes.",
        &labels,
        s.files,
    );
    out.gauge(
        "node_filesystem_files_free",
        "Filesystem total free file nodes.",
        &labels,
        s.files_free,
    );
    out.gauge(
        "node_filesystem_readonly",
        "Filesystem read-only status.",
        &labels,
        u64::from(m.ro),
    );
}

/// Reads the mount table and statfs()s every kept mount point.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    // As node_exporter: init's mount namespace, else our own (hidepid=2 hides pid 1).
    let primary = cfg.paths.proc("1/mountinfo");
    let (path, text) = match std::fs::read_to_string(&primary) {
        Ok(t) => (primary, t),
        Err(_) => {
            let p = cfg.paths.proc("self/mountinfo");
            let t = std::fs::read_to_string(&p).map_err(|e| io_error(&p, &e))?;
            (p, t)
        }
    };
    let mounts = parse_mountinfo(&text).map_err(|(l, m)| super::parse_error(&path, l, m))?;
    for m in &mounts {
        let mp = cfg.paths.strip_rootfs(&m.mount_point);
        if cfg.fs_mount_points_exclude.is_match(mp) || cfg.fs_types_exclude.is_match(&m.fstype) {
            continue;
        }
        let stats = match statfs(&cfg.paths.root(mp)) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::debug!(mountpoint = mp, error = %e, "statfs failed");
                None
            }
        };
        record(m, mp, stats, out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_with_escapes_and_optional_fields() {
        let t = "21 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
                 22 21 0:20 / /proc rw,nosuid shared:2 master:3 - proc proc rw\n\
                 25 21 254:17 / /srv/my\\040disk ro,noatime - vfat /dev/sdb1 rw\n";
        let m = parse_mountinfo(t).expect("parse");
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[0],
            Mount {
                device: "/dev/vda".into(),
                mount_point: "/".into(),
                fstype: "ext4".into(),
                ro: false
            }
        );
        assert_eq!(m[1].fstype, "proc");
        assert_eq!(m[2].mount_point, "/srv/my disk");
        assert_eq!(m[2].device, "/dev/sdb1");
        assert!(m[2].ro, "per-mount options decide read-only");
        assert_eq!(
            parse_mountinfo("1 2 3:4 / / rw shared:1\n")
                .expect_err("no sep")
                .0,
            1
        );
        assert_eq!(
            parse_mountinfo("\n1 2 3:4 / / rw - ext4\n")
                .expect_err("short")
                .0,
            2
        );
        assert_eq!(unescape("a\\011b\\134"), "a\tb\\");
    }

    #[test]
    fn statfs_of_root_works() {
        let s = statfs(Path::new("/")).expect("statfs /");
        assert!(s.size > 0.0 && s.size >= s.free && s.free >= s.avail);
        assert!(statfs(Path::new("/nonexistent/rtmon")).is_err());
    }
}
