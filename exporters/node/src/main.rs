//! `rtmon-node-exporter`: host metrics with node_exporter's names (default `:9100`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Arg, ArgAction, ArgMatches, Command, Parser};
use rtmon::app::Exporter;
use rtmon_node::collector::{self, Def};
use rtmon_node::config::{self, regex_flag, Config, DeviceFilter, FieldFilter, Paths};
use rtmon_node::source::NodeSource;

/// (collector, enable flag, disable flag). Static so clap can borrow the names.
const FLAGS: &[(&str, &str, &str)] = &[
    ("arp", "collector.arp", "no-collector.arp"),
    ("cpu", "collector.cpu", "no-collector.cpu"),
    ("diskstats", "collector.diskstats", "no-collector.diskstats"),
    ("entropy", "collector.entropy", "no-collector.entropy"),
    ("filefd", "collector.filefd", "no-collector.filefd"),
    (
        "filesystem",
        "collector.filesystem",
        "no-collector.filesystem",
    ),
    ("hwmon", "collector.hwmon", "no-collector.hwmon"),
    ("loadavg", "collector.loadavg", "no-collector.loadavg"),
    ("meminfo", "collector.meminfo", "no-collector.meminfo"),
    ("netclass", "collector.netclass", "no-collector.netclass"),
    ("netdev", "collector.netdev", "no-collector.netdev"),
    ("netstat", "collector.netstat", "no-collector.netstat"),
    ("pressure", "collector.pressure", "no-collector.pressure"),
    ("sockstat", "collector.sockstat", "no-collector.sockstat"),
    ("stat", "collector.stat", "no-collector.stat"),
    (
        "thermal_zone",
        "collector.thermal_zone",
        "no-collector.thermal_zone",
    ),
    ("time", "collector.time", "no-collector.time"),
    ("uname", "collector.uname", "no-collector.uname"),
    ("vmstat", "collector.vmstat", "no-collector.vmstat"),
    ("textfile", "collector.textfile", "no-collector.textfile"),
];

/// `--collector.X` / `--no-collector.X` for every collector (last one given wins).
#[derive(Clone, Debug, Default)]
struct CollectorFlags {
    /// Explicit choices, in registry order.
    explicit: Vec<(&'static str, bool)>,
}

impl clap::FromArgMatches for CollectorFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut f = CollectorFlags::default();
        f.update_from_arg_matches(m)?;
        Ok(f)
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        for (name, on, off) in FLAGS {
            if m.get_flag(on) {
                self.explicit.push((name, true));
            } else if m.get_flag(off) {
                self.explicit.push((name, false));
            }
        }
        Ok(())
    }
}

impl clap::Args for CollectorFlags {
    fn augment_args(mut cmd: Command) -> Command {
        cmd = cmd.next_help_heading("Collectors");
        for (name, on, off) in FLAGS {
            let help = collector::find(name).map(|d| d.help).unwrap_or("");
            let default = collector::find(name).is_some_and(|d| d.default_on);
            cmd = cmd
                .arg(
                    Arg::new(*on)
                        .long(*on)
                        .action(ArgAction::SetTrue)
                        .overrides_with(*off)
                        .help(format!(
                            "Enable the {name} collector (default: {}). {help}.",
                            if default { "enabled" } else { "disabled" }
                        )),
                )
                .arg(
                    Arg::new(*off)
                        .long(*off)
                        .action(ArgAction::SetTrue)
                        .overrides_with(*on)
                        .help(format!("Disable the {name} collector.")),
                );
        }
        cmd
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "rtmon-node-exporter",
    version,
    about = "Host metrics for Prometheus with node_exporter's metric names and labels",
    long_about = "Host metrics for Prometheus with exactly node_exporter's metric names, label \
names and label values for the collectors it implements, so existing dashboards and \
alerts keep working.\n\nFilter one scrape with /metrics?collect[]=cpu&collect[]=loadavg \
or /metrics?exclude[]=filesystem. A collector whose source does not exist on this host \
(no hwmon chips, no PSI) reports node_scrape_collector_applicable 0 instead of a failed \
node_scrape_collector_success."
)]
struct Args {
    #[command(flatten)]
    common: rtmon::cli::CommonArgs,

    #[command(flatten)]
    collectors: CollectorFlags,

    /// Disable every collector by default; enable the wanted ones with --collector.X.
    #[arg(long = "collector.disable-defaults", help_heading = "Collectors")]
    disable_defaults: bool,

    /// procfs mount point.
    #[arg(
        long = "path.procfs",
        value_name = "PATH",
        default_value = "/proc",
        help_heading = "Paths"
    )]
    procfs: PathBuf,
    /// sysfs mount point.
    #[arg(
        long = "path.sysfs",
        value_name = "PATH",
        default_value = "/sys",
        help_heading = "Paths"
    )]
    sysfs: PathBuf,
    /// rootfs mount point (prefix for filesystem statistics; stripped from mountpoint labels).
    #[arg(
        long = "path.rootfs",
        value_name = "PATH",
        default_value = "/",
        help_heading = "Paths"
    )]
    rootfs: PathBuf,
    /// udev database (for node_disk_info labels).
    #[arg(
        long = "path.udev.data",
        value_name = "PATH",
        default_value = "/run/udev/data",
        help_heading = "Paths"
    )]
    udev_data: PathBuf,

    /// Regexp of arp devices to include (mutually exclusive to device-exclude).
    #[arg(
        long = "collector.arp.device-include",
        value_name = "REGEX",
        help_heading = "Collector options"
    )]
    arp_include: Option<String>,
    /// Regexp of arp devices to exclude (mutually exclusive to device-include).
    #[arg(
        long = "collector.arp.device-exclude",
        value_name = "REGEX",
        help_heading = "Collector options"
    )]
    arp_exclude: Option<String>,
    /// Regexp of diskstats devices to include (mutually exclusive to device-exclude).
    #[arg(
        long = "collector.diskstats.device-include",
        value_name = "REGEX",
        help_heading = "Collector options"
    )]
    diskstats_include: Option<String>,
    /// Regexp of diskstats devices to exclude (mutually exclusive to device-include).
    /// Default, when neither is given: ^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$
    #[arg(
        long = "collector.diskstats.device-exclude",
        value_name = "REGEX",
        help_heading = "Collector options"
    )]
    diskstats_exclude: Option<String>,
    /// Regexp of mount points to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.mount-points-exclude", value_name = "REGEX",
          default_value = config::FS_MOUNT_POINTS_EXCLUDE, help_heading = "Collector options")]
    fs_mount_points_exclude: String,
    /// Regexp of filesystem types to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.fs-types-exclude", value_name = "REGEX",
          default_value = config::FS_TYPES_EXCLUDE, help_heading = "Collector options")]
    fs_types_exclude: String,
    /// Regexp of net devices to ignore for netclass collector.
    #[arg(long = "collector.netclass.ignored-devices", value_name = "REGEX",
          default_value = config::NETCLASS_IGNORED, help_heading = "Collector options")]
    netclass_ignored: String,
    /// Ignore devices where the speed is invalid (negative).
    #[arg(
        long = "collector.netclass.ignore-invalid-speed",
        help_heading = "Collector options"
    )]
    netclass_ignore_invalid_speed: bool,
    /// Regexp of net devices to include (mutually exclusive to device-exclude).
    #[arg(
        long = "collector.netdev.device-include",
        value_name = "REGEX",
        help_heading = "Collector options"
    )]
    netdev_include: Option<String>,
    /// Regexp of net devices to exclude (mutually exclusive to device-include).
    /// Default, when neither is given: ^lo$
    #[arg(
        long = "collector.netdev.device-exclude",
        value_name = "REGEX",
        help_heading = "Collector options"
    )]
    netdev_exclude: Option<String>,
    /// Regexp of fields to return for netstat collector.
    #[arg(long = "collector.netstat.fields", value_name = "REGEX",
          default_value = config::NETSTAT_FIELDS, help_heading = "Collector options")]
    netstat_fields: String,
    /// Regexp of fields to return for vmstat collector.
    #[arg(long = "collector.vmstat.fields", value_name = "REGEX",
          default_value = config::VMSTAT_FIELDS, help_heading = "Collector options")]
    vmstat_fields: String,
    /// Enables node_cpu_info, node_cpu_frequency_hertz (and the flag/bug info series)
    /// from /proc/cpuinfo.
    #[arg(
        long = "collector.cpu.info",
        overrides_with = "no_cpu_info",
        help_heading = "Collector options"
    )]
    cpu_info: bool,
    /// Disables --collector.cpu.info.
    #[arg(
        long = "no-collector.cpu.info",
        overrides_with = "cpu_info",
        help_heading = "Collector options"
    )]
    no_cpu_info: bool,
    /// Regexp of /proc/cpuinfo `flags` to expose as node_cpu_flag_info (implies
    /// --collector.cpu.info).
    #[arg(
        long = "collector.cpu.info.flags-include",
        value_name = "REGEX",
        help_heading = "Collector options"
    )]
    cpu_flags_include: Option<String>,
    /// Regexp of /proc/cpuinfo `bugs` to expose as node_cpu_bug_info (implies
    /// --collector.cpu.info).
    #[arg(
        long = "collector.cpu.info.bugs-include",
        value_name = "REGEX",
        help_heading = "Collector options"
    )]
    cpu_bugs_include: Option<String>,
    /// Regexp of hwmon chips (the `chip` label) to include (mutually exclusive to
    /// chip-exclude).
    #[arg(
        long = "collector.hwmon.chip-include",
        value_name = "REGEX",
        help_heading = "Collector options"
    )]
    hwmon_chip_include: Option<String>,
    /// Regexp of hwmon chips (the `chip` label) to exclude (mutually exclusive to
    /// chip-include).
    #[arg(
        long = "collector.hwmon.chip-exclude",
        value_name = "REGEX",
        help_heading = "Collector options"
    )]
    hwmon_chip_exclude: Option<String>,
    /// Regexp of hwmon sensors, matched against `<chip>;<sensor>`, to include
    /// (mutually exclusive to sensor-exclude).
    #[arg(
        long = "collector.hwmon.sensor-include",
        value_name = "REGEX",
        help_heading = "Collector options"
    )]
    hwmon_sensor_include: Option<String>,
    /// Regexp of hwmon sensors, matched against `<chip>;<sensor>`, to exclude
    /// (mutually exclusive to sensor-include).
    #[arg(
        long = "collector.hwmon.sensor-exclude",
        value_name = "REGEX",
        help_heading = "Collector options"
    )]
    hwmon_sensor_exclude: Option<String>,
    /// Export softirq calls per vector (node_softirqs_total) from /proc/stat.
    #[arg(
        long = "collector.stat.softirq",
        overrides_with = "no_stat_softirq",
        help_heading = "Collector options"
    )]
    stat_softirq: bool,
    /// Disables --collector.stat.softirq.
    #[arg(
        long = "no-collector.stat.softirq",
        overrides_with = "stat_softirq",
        help_heading = "Collector options"
    )]
    no_stat_softirq: bool,
    /// Directory to read text files with metrics from (*.prom; write then rename).
    /// Empty: none.
    #[arg(long = "collector.textfile.directory", value_name = "DIR",
          default_value = config::TEXTFILE_DIRECTORY, help_heading = "Collector options")]
    textfile_directory: PathBuf,
}

/// An optional regex flag: absent or empty is "no filter".
fn opt_regex(flag: &str, v: Option<&str>) -> Result<Option<regex::Regex>, String> {
    v.filter(|s| !s.is_empty())
        .map(|s| regex_flag(flag, s))
        .transpose()
}

fn build(args: &Args) -> Result<(Config, Vec<&'static Def>), String> {
    let cpu_flags_include = opt_regex(
        "collector.cpu.info.flags-include",
        args.cpu_flags_include.as_deref(),
    )?;
    let cpu_bugs_include = opt_regex(
        "collector.cpu.info.bugs-include",
        args.cpu_bugs_include.as_deref(),
    )?;
    // As node_exporter: a flags/bugs filter switches the cpuinfo series on.
    let cpu_info = args.cpu_info || cpu_flags_include.is_some() || cpu_bugs_include.is_some();
    let cfg = Config {
        paths: Paths {
            procfs: args.procfs.clone(),
            sysfs: args.sysfs.clone(),
            rootfs: args.rootfs.clone(),
            udev_data: args.udev_data.clone(),
        },
        netdev_devices: DeviceFilter::new(
            "collector.netdev.device",
            args.netdev_include.as_deref(),
            args.netdev_exclude.as_deref(),
            Some(config::NETDEV_DEVICE_EXCLUDE),
        )?,
        diskstats_devices: DeviceFilter::new(
            "collector.diskstats.device",
            args.diskstats_include.as_deref(),
            args.diskstats_exclude.as_deref(),
            Some(config::DISKSTATS_DEVICE_EXCLUDE),
        )?,
        arp_devices: DeviceFilter::new(
            "collector.arp.device",
            args.arp_include.as_deref(),
            args.arp_exclude.as_deref(),
            None,
        )?,
        netclass_ignored: regex_flag("collector.netclass.ignored-devices", &args.netclass_ignored)?,
        netclass_ignore_invalid_speed: args.netclass_ignore_invalid_speed,
        fs_mount_points_exclude: regex_flag(
            "collector.filesystem.mount-points-exclude",
            &args.fs_mount_points_exclude,
        )?,
        fs_types_exclude: regex_flag(
            "collector.filesystem.fs-types-exclude",
            &args.fs_types_exclude,
        )?,
        netstat_fields: FieldFilter::new(regex_flag(
            "collector.netstat.fields",
            &args.netstat_fields,
        )?),
        vmstat_fields: FieldFilter::new(regex_flag(
            "collector.vmstat.fields",
            &args.vmstat_fields,
        )?),
        textfile_directory: args.textfile_directory.clone(),
        hwmon_chips: DeviceFilter::new(
            "collector.hwmon.chip",
            args.hwmon_chip_include.as_deref(),
            args.hwmon_chip_exclude.as_deref(),
            None,
        )?,
        hwmon_sensors: DeviceFilter::new(
            "collector.hwmon.sensor",
            args.hwmon_sensor_include.as_deref(),
            args.hwmon_sensor_exclude.as_deref(),
            None,
        )?,
        cpu_info,
        cpu_flags_include,
        cpu_bugs_include,
        stat_softirq: args.stat_softirq,
    };
    let enabled = collector::ALL
        .iter()
        .filter(|d| {
            let explicit = args
                .collectors
                .explicit
                .iter()
                .rev()
                .find(|(n, _)| *n == d.name)
                .map(|(_, on)| *on);
            explicit.unwrap_or(d.default_on && !args.disable_defaults)
        })
        .collect();
    Ok((cfg, enabled))
}

fn main() -> ExitCode {
    // At most two malloc arenas: glibc otherwise creates one per thread that ever
    // allocates, which doubled the peak RSS under concurrent scrapes.
    // SAFETY: mallopt only tunes the allocator; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let args: Args = rtmon::cli::parse_with_defaults(rtmon::cli::Defaults {
        listen_address: ":9100",
        push_job: "rtmon_node",
        max_requests: 40,
    });
    let (cfg, enabled) = match build(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("rtmon-node-exporter: {e}");
            return ExitCode::from(1);
        }
    };
    let source = NodeSource::new(cfg, enabled);
    let exporter = Exporter::new("rtmon-node-exporter", Arc::new(source));
    rtmon::app::main(args.common, exporter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        rtmon::cli::try_parse_from_with_defaults(
            std::iter::once("rtmon-node-exporter").chain(args.iter().copied()),
            rtmon::cli::Defaults {
                listen_address: ":9100",
                push_job: "rtmon_node",
                max_requests: 40,
            },
        )
    }

    fn enabled(args: &[&str]) -> Vec<&'static str> {
        let a = parse(args).expect("parse");
        build(&a).expect("build").1.iter().map(|d| d.name).collect()
    }

    #[test]
    fn collector_switches() {
        assert_eq!(enabled(&[]).len(), collector::ALL.len());
        assert_eq!(
            enabled(&[
                "--collector.disable-defaults",
                "--collector.cpu",
                "--collector.loadavg"
            ]),
            ["cpu", "loadavg"]
        );
        assert!(!enabled(&["--no-collector.hwmon"]).contains(&"hwmon"));
        assert!(enabled(&["--no-collector.hwmon", "--collector.hwmon"]).contains(&"hwmon"));
        assert!(!enabled(&["--collector.hwmon", "--no-collector.hwmon"]).contains(&"hwmon"));
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let a = parse(&[
            "--collector.netdev.device-include=eth",
            "--collector.netdev.device-exclude=lo",
        ])
        .expect("parse");
        assert!(build(&a)
            .expect_err("exclusive")
            .contains("mutually exclusive"));
        let a = parse(&["--collector.vmstat.fields=("]).expect("parse");
        assert!(build(&a)
            .expect_err("regex")
            .contains("--collector.vmstat.fields"));
        assert!(parse(&["--collector.nonexist"]).is_err());
        let a = parse(&["--collector.cpu.info.flags-include=("]).expect("parse");
        assert!(build(&a)
            .expect_err("regex")
            .contains("--collector.cpu.info.flags-include"));
        let a = parse(&[
            "--collector.hwmon.chip-include=a",
            "--collector.hwmon.chip-exclude=b",
        ])
        .expect("parse");
        assert!(build(&a)
            .expect_err("exclusive")
            .contains("--collector.hwmon.chip-include"));
    }

    #[test]
    fn upstream_option_flags() {
        let cfg = |args: &[&str]| build(&parse(args).expect("parse")).expect("build").0;
        let c = cfg(&[]);
        assert!(!c.cpu_info && !c.stat_softirq);
        assert!(c.cpu_flags_include.is_none());
        let c = cfg(&["--collector.cpu.info", "--collector.stat.softirq"]);
        assert!(c.cpu_info && c.stat_softirq);
        let c = cfg(&["--collector.cpu.info", "--no-collector.cpu.info"]);
        assert!(!c.cpu_info);
        // A flags/bugs filter implies --collector.cpu.info, as upstream; empty is none.
        let c = cfg(&["--collector.cpu.info.flags-include=^avx"]);
        assert!(c.cpu_info);
        assert!(c.cpu_flags_include.is_some_and(|r| r.is_match("avx2")));
        let c = cfg(&[
            "--no-collector.cpu.info",
            "--collector.cpu.info.bugs-include=",
            "--collector.cpu.info.flags-include=",
        ]);
        assert!(!c.cpu_info);
        let c = cfg(&["--collector.hwmon.chip-include=(coretemp|nct)"]);
        assert!(!c.hwmon_chips.ignored("platform_coretemp_0"));
        assert!(c.hwmon_chips.ignored("bogus"));
        let c = cfg(&["--collector.hwmon.sensor-exclude=^bogus;"]);
        assert!(c.hwmon_sensors.ignored("bogus;temp1"));
        assert!(!c.hwmon_sensors.ignored("nct6779;temp1"));
    }

    #[test]
    fn help_mentions_every_flag() {
        use clap::CommandFactory;
        let help = Args::command().render_long_help().to_string();
        for (_, on, off) in FLAGS {
            assert!(help.contains(on) && help.contains(off), "{on}");
        }
        assert!(help.contains("--path.procfs") && help.contains("--collector.textfile.directory"));
    }
}
