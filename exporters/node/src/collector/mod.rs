//! The collectors, one module each, registered by name with a default on/off (the
//! node_exporter habit). A collector reads its files below the configured roots and
//! appends samples to the scrape's [`MetricSet`]; it knows nothing about HTTP.
//!
//! Every module keeps its parsing pure (`&str` in, typed values out) and unit-tested;
//! the `collect` function is the thin I/O edge.

use std::io;
use std::path::Path;

use rtmon::expo::MetricSet;

use crate::config::Config;

pub mod arp;
pub mod cpu;
pub mod diskstats;
pub mod entropy;
pub mod filefd;
pub mod filesystem;
pub mod hwmon;
pub mod loadavg;
pub mod meminfo;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod pressure;
pub mod sockstat;
pub mod stat;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
pub mod uname;
pub mod vmstat;

/// Why a collector produced no (or partial) data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CollectError {
    /// The source does not exist on this host (no hwmon chips, no PSI): not a failure.
    NotApplicable(String),
    /// The source exists but could not be read or parsed.
    Failed(String),
}

impl std::fmt::Display for CollectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CollectError::NotApplicable(m) => write!(f, "not applicable: {m}"),
            CollectError::Failed(m) => f.write_str(m),
        }
    }
}

/// Result of one collector run.
pub type CollectResult = Result<(), CollectError>;

/// A collector: appends its samples to `out`.
pub type CollectFn = fn(&Config, &mut MetricSet) -> CollectResult;

/// A registered collector.
#[derive(Clone, Copy, Debug)]
pub struct Def {
    /// node_exporter's collector name (`--collector.<name>`, `collect[]=<name>`).
    pub name: &'static str,
    /// Enabled unless switched off.
    pub default_on: bool,
    /// One-line description for `--help`.
    pub help: &'static str,
    /// The collector.
    pub collect: CollectFn,
}

/// All collectors, in scrape order. `textfile` is last on purpose: it checks its
/// families against what the built-in collectors produced.
pub const ALL: &[Def] = &[
    Def {
        name: "arp",
        default_on: true,
        help: "ARP entries per device (/proc/net/arp)",
        collect: arp::collect,
    },
    Def {
        name: "cpu",
        default_on: true,
        help: "CPU seconds per mode (/proc/stat)",
        collect: cpu::collect,
    },
    Def {
        name: "diskstats",
        default_on: true,
        help: "Disk I/O statistics (/proc/diskstats)",
        collect: diskstats::collect,
    },
    Def {
        name: "entropy",
        default_on: true,
        help: "Available entropy (/proc/sys/kernel/random)",
        collect: entropy::collect,
    },
    Def {
        name: "filefd",
        default_on: true,
        help: "File descriptor statistics (/proc/sys/fs/file-nr)",
        collect: filefd::collect,
    },
    Def {
        name: "filesystem",
        default_on: true,
        help: "Filesystem space and inodes (mount table + statfs)",
        collect: filesystem::collect,
    },
    Def {
        name: "hwmon",
        default_on: true,
        help: "Hardware monitoring sensors (/sys/class/hwmon)",
        collect: hwmon::collect,
    },
    Def {
        name: "loadavg",
        default_on: true,
        help: "Load average (/proc/loadavg)",
        collect: loadavg::collect,
    },
    Def {
        name: "meminfo",
        default_on: true,
        help: "Memory statistics (/proc/meminfo)",
        collect: meminfo::collect,
    },
    Def {
        name: "netclass",
        default_on: true,
        help: "Network interface properties (/sys/class/net)",
        collect: netclass::collect,
    },
    Def {
        name: "netdev",
        default_on: true,
        help: "Network interface counters (/proc/net/dev)",
        collect: netdev::collect,
    },
    Def {
        name: "netstat",
        default_on: true,
        help: "Network statistics (/proc/net/netstat, snmp, snmp6)",
        collect: netstat::collect,
    },
    Def {
        name: "pressure",
        default_on: true,
        help: "Pressure stall information (/proc/pressure)",
        collect: pressure::collect,
    },
    Def {
        name: "sockstat",
        default_on: true,
        help: "Socket statistics (/proc/net/sockstat, sockstat6)",
        collect: sockstat::collect,
    },
    Def {
        name: "stat",
        default_on: true,
        help: "Boot time, context switches, forks, processes (/proc/stat)",
        collect: stat::collect,
    },
    Def {
        name: "thermal_zone",
        default_on: true,
        help: "Thermal zones and cooling devices (/sys/class/thermal)",
        collect: thermal_zone::collect,
    },
    Def {
        name: "time",
        default_on: true,
        help: "System time, time zone, clock sources",
        collect: time::collect,
    },
    Def {
        name: "uname",
        default_on: true,
        help: "uname system call information",
        collect: uname::collect,
    },
    Def {
        name: "vmstat",
        default_on: true,
        help: "Virtual memory statistics (/proc/vmstat)",
        collect: vmstat::collect,
    },
    Def {
        name: "textfile",
        default_on: true,
        help: "Metrics from *.prom files in --collector.textfile.directory",
        collect: textfile::collect,
    },
];

/// Looks a collector up by name.
pub fn find(name: &str) -> Option<&'static Def> {
    ALL.iter().find(|d| d.name == name)
}

/// Reads a whole file; a missing file is [`CollectError::NotApplicable`], any other
/// error [`CollectError::Failed`], both naming the path.
pub fn read_required(path: &Path) -> Result<String, CollectError> {
    std::fs::read_to_string(path).map_err(|e| io_error(path, &e))
}

/// Maps an I/O error to a collector error naming the path.
pub fn io_error(path: &Path, e: &io::Error) -> CollectError {
    if e.kind() == io::ErrorKind::NotFound {
        CollectError::NotApplicable(format!("{} does not exist", path.display()))
    } else {
        CollectError::Failed(format!("{}: {e}", path.display()))
    }
}

/// Reads a small sysfs attribute, trimmed. `None` when it cannot be read (many
/// attributes answer EINVAL when the device is down, as node_exporter tolerates).
pub fn read_attr(path: &Path) -> Option<String> {
    let mut s = std::fs::read_to_string(path).ok()?;
    let t = s.trim_end_matches(['\n', ' ', '\t']).len();
    s.truncate(t);
    Some(s)
}

/// Reads a sysfs attribute as an integer.
pub fn read_int(path: &Path) -> Option<i64> {
    read_attr(path)?.trim().parse().ok()
}

/// A parse error naming the file and line.
pub fn parse_error(path: &Path, line: usize, what: impl std::fmt::Display) -> CollectError {
    CollectError::Failed(format!("{}:{line}: {what}", path.display()))
}

/// A directory opened once (`O_PATH`) so its attributes are opened relative to it:
/// one path walk per directory instead of one per attribute (sysfs paths go through
/// symlinks, and netclass reads ~20 attributes per interface).
#[derive(Debug)]
pub struct Dir(rustix::fd::OwnedFd);

impl Dir {
    /// Opens a directory.
    pub fn open(path: &Path) -> io::Result<Dir> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Dir(fd))
    }

    /// Reads a small attribute (up to `buf.len()` bytes) into `buf`, trimmed of
    /// trailing whitespace. `None` when it cannot be read or is not UTF-8.
    pub fn read_attr<'b>(&self, name: &str, buf: &'b mut [u8]) -> Option<&'b str> {
        let raw = self.read_raw(name, buf)?;
        std::str::from_utf8(raw)
            .ok()
            .map(|s| s.trim_end_matches(['\n', ' ', '\t']))
    }

    /// Reads a small attribute (up to `buf.len()` bytes) into `buf`, untouched.
    /// `None` when it cannot be opened or read (a directory, EINVAL, EAGAIN …).
    pub fn read_raw<'b>(&self, name: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::openat(
            &self.0,
            name,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let mut n = 0;
        while n < buf.len() {
            match rustix::io::read(&fd, &mut buf[n..]) {
                Ok(0) => break,
                // sysfs hands out a whole attribute in one read: a short read is the
                // end, which saves the extra read(2) that would return 0.
                Ok(k) if n + k < buf.len() => {
                    n += k;
                    break;
                }
                Ok(k) => n += k,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return None,
            }
        }
        Some(&buf[..n])
    }

    /// Reads an integer attribute (decimal, or hex with `0x`).
    pub fn read_int(&self, name: &str) -> Option<i64> {
        let mut buf = [0u8; 64];
        let s = self.read_attr(name, &mut buf)?.trim();
        match s.strip_prefix("0x") {
            Some(h) => i64::from_str_radix(h, 16).ok(),
            None => s.parse().ok(),
        }
    }
}

/// Sorted entries of a directory (names only). Missing directory → NotApplicable.
pub fn dir_names(path: &Path) -> Result<Vec<String>, CollectError> {
    let rd = std::fs::read_dir(path).map_err(|e| io_error(path, &e))?;
    let mut v: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    v.sort_unstable();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_textfile_last() {
        let mut names: Vec<_> = ALL.iter().map(|d| d.name).collect();
        assert_eq!(names.last(), Some(&"textfile"));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert!(find("cpu").is_some());
        assert!(find("nonexist").is_none());
    }

    #[test]
    fn missing_file_is_not_applicable() {
        let e = read_required(Path::new("/nonexistent/rtmon/x")).expect_err("missing");
        assert!(matches!(e, CollectError::NotApplicable(_)), "{e:?}");
    }
}
