//! Runtime configuration of the node exporter: where `/proc`, `/sys` and `/` are, and
//! the per-collector filters (node_exporter's flag names, Debian's defaults).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use regex::Regex;

/// Debian's default `--collector.netdev.device-exclude`.
pub const NETDEV_DEVICE_EXCLUDE: &str = "^lo$";
/// Default `--collector.diskstats.device-exclude` (node_exporter's since 1.6: `zram`
/// devices too).
pub const DISKSTATS_DEVICE_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
/// Debian's default `--collector.filesystem.mount-points-exclude`.
pub const FS_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// Debian's default `--collector.filesystem.fs-types-exclude`.
pub const FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
/// Default `--collector.netstat.fields`.
pub const NETSTAT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";
/// Default `--collector.vmstat.fields`.
pub const VMSTAT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";
/// Default `--collector.netclass.ignored-devices`.
pub const NETCLASS_IGNORED: &str = "^$";
/// Debian's default `--collector.textfile.directory`.
pub const TEXTFILE_DIRECTORY: &str = "/var/lib/prometheus/node-exporter";

/// Where the host's pseudo filesystems are (fixture trees in tests).
#[derive(Clone, Debug)]
pub struct Paths {
    /// procfs mount point (`--path.procfs`).
    pub procfs: PathBuf,
    /// sysfs mount point (`--path.sysfs`).
    pub sysfs: PathBuf,
    /// Root filesystem (`--path.rootfs`): prefix for statfs of mount points.
    pub rootfs: PathBuf,
    /// udev database (`--path.udev.data`) for `node_disk_info`.
    pub udev_data: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
            udev_data: "/run/udev/data".into(),
        }
    }
}

impl Paths {
    /// A path below procfs (`rel` without a leading `/`).
    pub fn proc(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }
    /// A path below sysfs.
    pub fn sys(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }
    /// A host path (mount point) as seen below `--path.rootfs`.
    pub fn root(&self, host_path: &str) -> PathBuf {
        self.rootfs.join(host_path.trim_start_matches('/'))
    }
    /// Strips the rootfs prefix from a mount point read from the mount table, as
    /// node_exporter does, so labels show host paths.
    pub fn strip_rootfs<'a>(&self, mount_point: &'a str) -> &'a str {
        let root = self.rootfs.to_str().unwrap_or("/");
        if root == "/" || root.is_empty() {
            return mount_point;
        }
        let root = root.trim_end_matches('/');
        match mount_point.strip_prefix(root) {
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            _ => mount_point,
        }
    }
}

/// An include-or-exclude device filter (the two are mutually exclusive).
#[derive(Clone, Debug, Default)]
pub struct DeviceFilter {
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl DeviceFilter {
    /// Builds a filter from the two flags. `flag` names the flag pair in errors.
    /// `default_exclude` applies only when neither flag is given.
    pub fn new(
        flag: &str,
        include: Option<&str>,
        exclude: Option<&str>,
        default_exclude: Option<&str>,
    ) -> Result<DeviceFilter, String> {
        let compile = |which: &str, re: &str| {
            Regex::new(re).map_err(|e| format!("--{flag}-{which}: invalid regex {re:?}: {e}"))
        };
        match (include, exclude) {
            (Some(_), Some(_)) => Err(format!(
                "--{flag}-include and --{flag}-exclude are mutually exclusive"
            )),
            (Some(i), None) => Ok(DeviceFilter {
                include: Some(compile("include", i)?),
                exclude: None,
            }),
            (None, Some(e)) => Ok(DeviceFilter {
                include: None,
                exclude: (!e.is_empty()).then(|| compile("exclude", e)).transpose()?,
            }),
            (None, None) => Ok(DeviceFilter {
                include: None,
                exclude: default_exclude.map(|e| compile("exclude", e)).transpose()?,
            }),
        }
    }

    /// Whether `name` is filtered out.
    pub fn ignored(&self, name: &str) -> bool {
        if let Some(i) = &self.include {
            return !i.is_match(name);
        }
        if let Some(e) = &self.exclude {
            return e.is_match(name);
        }
        false
    }
}

/// Everything the collectors need to know.
#[derive(Clone, Debug)]
pub struct Config {
    /// Pseudo-filesystem locations.
    pub paths: Paths,
    /// `--collector.netdev.device-include/exclude`.
    pub netdev_devices: DeviceFilter,
    /// `--collector.diskstats.device-include/exclude`.
    pub diskstats_devices: DeviceFilter,
    /// `--collector.arp.device-include/exclude`.
    pub arp_devices: DeviceFilter,
    /// `--collector.netclass.ignored-devices`.
    pub netclass_ignored: Regex,
    /// `--collector.netclass.ignore-invalid-speed`.
    pub netclass_ignore_invalid_speed: bool,
    /// `--collector.filesystem.mount-points-exclude`.
    pub fs_mount_points_exclude: Regex,
    /// `--collector.filesystem.fs-types-exclude`.
    pub fs_types_exclude: Regex,
    /// `--collector.netstat.fields`.
    pub netstat_fields: FieldFilter,
    /// `--collector.vmstat.fields`.
    pub vmstat_fields: FieldFilter,
    /// `--collector.textfile.directory` (empty: none).
    pub textfile_directory: PathBuf,
    /// `--collector.hwmon.chip-include/exclude` (matched against the `chip` label).
    pub hwmon_chips: DeviceFilter,
    /// `--collector.hwmon.sensor-include/exclude` (matched against `<chip>;<sensor>`).
    pub hwmon_sensors: DeviceFilter,
    /// `--collector.cpu.info`: `node_cpu_info`, `node_cpu_frequency_hertz` and the
    /// flag/bug info series from `/proc/cpuinfo` (off by default, as upstream).
    pub cpu_info: bool,
    /// `--collector.cpu.info.flags-include` (none: no `node_cpu_flag_info`).
    pub cpu_flags_include: Option<Regex>,
    /// `--collector.cpu.info.bugs-include` (none: no `node_cpu_bug_info`).
    pub cpu_bugs_include: Option<Regex>,
    /// `--collector.stat.softirq`: `node_softirqs_total{vector}` (off by default).
    pub stat_softirq: bool,
}

/// A field-name filter that remembers its answers. `/proc/net/netstat`, `snmp`,
/// `snmp6` and `/proc/vmstat` name the same ~500 fields every scrape, so each name is
/// matched against the regex once; the memo is bounded ([`FieldFilter::MEMO_MAX`]
/// names, beyond which the regex is asked directly).
#[derive(Debug)]
pub struct FieldFilter {
    re: Regex,
    memo: Mutex<HashMap<Box<str>, bool, foldhash::fast::RandomState>>,
}

impl FieldFilter {
    /// Most names remembered (a kernel has ~600 such fields).
    pub const MEMO_MAX: usize = 4096;

    /// A filter matching names against `re`.
    pub fn new(re: Regex) -> FieldFilter {
        FieldFilter {
            re,
            memo: Mutex::default(),
        }
    }

    /// Whether `name` matches the regex.
    pub fn is_match(&self, name: &str) -> bool {
        // A poisoned memo only holds complete answers: keep using it.
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&m) = memo.get(name) {
            return m;
        }
        let m = self.re.is_match(name);
        if memo.len() < Self::MEMO_MAX {
            memo.insert(name.into(), m);
        }
        m
    }
}

impl Clone for FieldFilter {
    fn clone(&self) -> FieldFilter {
        FieldFilter::new(self.re.clone())
    }
}

/// Compiles a regex flag value, naming the flag on error.
pub fn regex_flag(flag: &str, re: &str) -> Result<Regex, String> {
    Regex::new(re).map_err(|e| format!("--{flag}: invalid regex {re:?}: {e}"))
}

impl Config {
    /// Defaults (Debian's) rooted at `paths`.
    pub fn with_paths(paths: Paths) -> Config {
        // Built-in constants, not input: a failure here is a programming error that the
        // unit tests catch.
        let re = |s: &str| Regex::new(s).expect("built-in default regex compiles");
        Config {
            paths,
            netdev_devices: DeviceFilter {
                include: None,
                exclude: Some(re(NETDEV_DEVICE_EXCLUDE)),
            },
            diskstats_devices: DeviceFilter {
                include: None,
                exclude: Some(re(DISKSTATS_DEVICE_EXCLUDE)),
            },
            arp_devices: DeviceFilter::default(),
            netclass_ignored: re(NETCLASS_IGNORED),
            netclass_ignore_invalid_speed: false,
            fs_mount_points_exclude: re(FS_MOUNT_POINTS_EXCLUDE),
            fs_types_exclude: re(FS_TYPES_EXCLUDE),
            netstat_fields: FieldFilter::new(re(NETSTAT_FIELDS)),
            vmstat_fields: FieldFilter::new(re(VMSTAT_FIELDS)),
            textfile_directory: PathBuf::from(TEXTFILE_DIRECTORY),
            hwmon_chips: DeviceFilter::default(),
            hwmon_sensors: DeviceFilter::default(),
            cpu_info: false,
            cpu_flags_include: None,
            cpu_bugs_include: None,
            stat_softirq: false,
        }
    }

    /// Convenience for tests: defaults rooted at a fixture directory holding `proc/`,
    /// `sys/` and `udev/`.
    pub fn fixture(root: &Path) -> Config {
        Config::with_paths(Paths {
            procfs: root.join("proc"),
            sysfs: root.join("sys"),
            rootfs: root.to_path_buf(),
            udev_data: root.join("udev"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_compile_and_filter() {
        let c = Config::with_paths(Paths::default());
        assert!(c.netdev_devices.ignored("lo"));
        assert!(!c.netdev_devices.ignored("eth0"));
        assert!(c.diskstats_devices.ignored("vda1"));
        assert!(c.diskstats_devices.ignored("loop3"));
        assert!(c.diskstats_devices.ignored("nvme0n1p2"));
        assert!(!c.diskstats_devices.ignored("nvme0n1"));
        assert!(!c.diskstats_devices.ignored("vda"));
        assert!(c.fs_mount_points_exclude.is_match("/proc/sys"));
        assert!(!c.fs_mount_points_exclude.is_match("/home"));
        assert!(c.fs_types_exclude.is_match("cgroup2"));
        assert!(c.netstat_fields.is_match("Tcp_CurrEstab"));
        assert!(!c.netstat_fields.is_match("Tcp_MaxConn"));
        assert!(c.netstat_fields.is_match("TcpExt_TCPOFOQueue"));
        assert!(c.netstat_fields.is_match("TcpExt_TCPRcvQDrop"));
        assert!(c.diskstats_devices.ignored("zram0"));
    }

    #[test]
    fn include_and_exclude_are_exclusive() {
        let e = DeviceFilter::new("collector.netdev.device", Some("a"), Some("b"), None)
            .expect_err("must fail");
        assert!(e.contains("mutually exclusive"), "{e}");
        let e = DeviceFilter::new("collector.netdev.device", Some("("), None, None)
            .expect_err("must fail");
        assert!(e.contains("--collector.netdev.device-include"), "{e}");
        let f = DeviceFilter::new("x", Some("^eth"), None, Some("^lo$")).expect("ok");
        assert!(f.ignored("lo") && !f.ignored("eth1"));
        let f = DeviceFilter::new("x", None, Some(""), Some("^lo$")).expect("ok");
        assert!(!f.ignored("lo"));
    }

    #[test]
    fn rootfs_prefix_is_stripped() {
        let p = Paths {
            rootfs: "/host".into(),
            ..Paths::default()
        };
        assert_eq!(p.strip_rootfs("/host"), "/");
        assert_eq!(p.strip_rootfs("/host/var"), "/var");
        assert_eq!(p.strip_rootfs("/hostile"), "/hostile");
        assert_eq!(p.root("/var"), PathBuf::from("/host/var"));
    }

    #[test]
    fn field_filter_remembers_answers_within_its_bound() {
        let f = FieldFilter::new(Regex::new("^Tcp_(CurrEstab|InSegs)$").expect("re"));
        for _ in 0..2 {
            assert!(f.is_match("Tcp_CurrEstab"));
            assert!(!f.is_match("Tcp_MaxConn"));
            assert!(!f.is_match("Tcp_CurrEstabX"));
        }
        assert_eq!(f.memo.lock().expect("memo").len(), 3);
        // Past the bound, names are matched without being remembered.
        for i in 0..FieldFilter::MEMO_MAX + 10 {
            assert!(!f.is_match(&format!("Udp_F{i}")));
        }
        assert!(f.is_match("Tcp_InSegs"));
        assert_eq!(f.memo.lock().expect("memo").len(), FieldFilter::MEMO_MAX);
        // A clone starts with an empty memo and the same regex.
        let c = f.clone();
        assert_eq!(c.memo.lock().expect("memo").len(), 0);
        assert!(c.is_match("Tcp_InSegs") && !c.is_match("Tcp_MaxConn"));
    }
}
