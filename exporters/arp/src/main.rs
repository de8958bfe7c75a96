//! `rtmon-arp-exporter`: IPv4 ARP and IPv6 neighbour entries as Prometheus metrics,
//! with change detection (new station, changed MAC, flip-flop, removed) from rtnetlink
//! events, persisted state, and push-on-change to a Pushgateway.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rtmon::app::Exporter;
use rtmon::cli::parse_duration;
use rtmon_arp::engine::{Engine, EngineConfig};
use rtmon_arp::filter::{anchored, Cidr, Family, Filter};
use rtmon_arp::lldp_socket::{ArpLldpSource, LldpMonitor};
use rtmon_arp::monitor::Monitor;
use rtmon_arp::statefile::{self, Loaded};
use rtmon_arp::tasks::{self, Reader};

const NAME: &str = "rtmon-arp-exporter";

/// Where entries are read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SourceKind {
    /// rtnetlink: full dump + RTM_NEWNEIGH/RTM_DELNEIGH events (IPv4 and IPv6).
    Netlink,
    /// Poll /proc/net/arp (IPv4 only, no NUD states, changes seen at the next poll).
    Proc,
}

#[derive(Parser, Debug, Clone)]
#[command(
    name = NAME,
    version,
    about = "Exports the IPv4 ARP and IPv6 neighbour tables and counts IP→MAC changes.",
    long_about = "Exports the IPv4 ARP and IPv6 neighbour tables and counts IP→MAC changes \
(new station, changed MAC, flip-flop back to the previous MAC, removed, returned). \
Entries come from rtnetlink (a full dump at start and every --arp.resync-interval, plus \
live neighbour events) or, as a fallback, from polling /proc/net/arp. Known IP→MAC \
history is kept in --arp.state-file so a restart does not report every neighbour as new. \
In push mode (--push.url) the whole group is PUT on every change (--push.on-change is \
always on for this exporter) plus a heartbeat every --push.interval."
)]
struct Args {
    #[command(flatten)]
    common: rtmon::cli::CommonArgs,

    /// Where neighbour entries come from.
    #[arg(
        long = "arp.source",
        value_enum,
        default_value = "netlink",
        help_heading = "ARP"
    )]
    source: SourceKind,

    /// Full re-read of the table (netlink mode); heals events lost to socket overruns.
    #[arg(long = "arp.resync-interval", value_name = "DURATION", default_value = "60s",
          value_parser = parse_duration, help_heading = "ARP")]
    resync_interval: Duration,

    /// Poll interval of /proc/net/arp (proc mode).
    #[arg(long = "arp.poll-interval", value_name = "DURATION", default_value = "5s",
          value_parser = parse_duration, help_heading = "ARP")]
    poll_interval: Duration,

    /// procfs mount point (proc mode reads <PATH>/net/arp).
    #[arg(
        long = "path.procfs",
        value_name = "PATH",
        default_value = "/proc",
        help_heading = "ARP"
    )]
    procfs: PathBuf,

    /// Maximum number of entries tracked and exported as rtmon_arp_entry_info series;
    /// further ones are counted in rtmon_arp_entries_dropped_total.
    #[arg(
        long = "arp.max-entries",
        value_name = "N",
        default_value_t = 2000,
        help_heading = "ARP"
    )]
    max_entries: usize,

    /// Maximum number of neighbours whose MAC history is remembered.
    #[arg(
        long = "arp.max-history",
        value_name = "N",
        default_value_t = 10_000,
        help_heading = "ARP"
    )]
    max_history: usize,

    /// Also count NUD state changes with the same MAC (REACHABLE→STALE…) as changes of
    /// kind "state_changed". Off by default: kernel aging is not a change.
    #[arg(long = "arp.count-state-changes", help_heading = "ARP")]
    count_state_changes: bool,

    /// Only watch devices whose name matches this regex (anchored).
    #[arg(
        long = "arp.device-include",
        value_name = "REGEX",
        help_heading = "ARP"
    )]
    device_include: Option<String>,

    /// Ignore devices whose name matches this regex (anchored).
    #[arg(
        long = "arp.device-exclude",
        value_name = "REGEX",
        help_heading = "ARP"
    )]
    device_exclude: Option<String>,

    /// Only watch neighbours inside this prefix, e.g. 10.10.100.0/24 or fe80::/10
    /// (repeatable; any match passes).
    #[arg(long = "arp.address", value_name = "CIDR", action = clap::ArgAction::Append,
          value_parser = Cidr::parse, help_heading = "ARP")]
    address: Vec<Cidr>,

    /// Ignore neighbours inside this prefix (repeatable).
    #[arg(long = "arp.address-exclude", value_name = "CIDR", action = clap::ArgAction::Append,
          value_parser = Cidr::parse, help_heading = "ARP")]
    address_exclude: Vec<Cidr>,

    /// Also export NOARP entries (IPv6 multicast, loopback, point-to-point links),
    /// which are skipped by default like node_exporter does.
    #[arg(long = "arp.include-noarp", help_heading = "ARP")]
    include_noarp: bool,

    /// Address families to watch.
    #[arg(
        long = "arp.family",
        value_enum,
        default_value = "all",
        help_heading = "ARP"
    )]
    family: Family,

    /// JSON file keeping the known IP→MAC history across restarts (written atomically
    /// after changes). A corrupt file is reported, moved to <FILE>.corrupt and replaced.
    #[arg(long = "arp.state-file", value_name = "FILE", help_heading = "ARP")]
    state_file: Option<PathBuf>,

    /// Flow config file: watch only this host's data-plane interface of the flow and add
    /// a flow="<id>" label to every series (needs --host unless the host name matches).
    #[arg(long = "flow", value_name = "FILE", help_heading = "Flow")]
    flow: Option<PathBuf>,

    /// This host's name in the flow config (default: the system host name).
    #[arg(long = "host", value_name = "NAME", help_heading = "Flow")]
    host: Option<String>,

    /// Which flow to use when the file has several flows through this host.
    #[arg(long = "flow.id", value_name = "ID", help_heading = "Flow")]
    flow_id: Option<String>,

    /// When --host is in no flow of --flow: `idle` keeps serving, watches nothing and
    /// exports rtmon_arp_flow_host_found 0 (a DaemonSet pod on a node outside the flow);
    /// `exit` exits with code 1 (a configuration error, as every exporter's).
    #[arg(
        long = "flow.host-absent",
        value_enum,
        default_value = "idle",
        help_heading = "Flow"
    )]
    host_absent: HostAbsent,

    /// Listen for LLDP on this interface (repeatable; a VLAN subinterface means its
    /// physical parent). With --flow, the host's data-plane interface is listened on
    /// anyway unless --lldp.disable.
    #[arg(long = "lldp.interface", value_name = "IFACE", action = clap::ArgAction::Append,
          help_heading = "LLDP")]
    lldp_interface: Vec<String>,

    /// Do not listen for LLDP on the flow's data-plane interface.
    #[arg(long = "lldp.disable", help_heading = "LLDP")]
    lldp_disable: bool,

    /// Maximum number of LLDP neighbours tracked (further ones are counted in
    /// rtmon_lldp_neighbors_dropped_total).
    #[arg(
        long = "lldp.max-neighbors",
        value_name = "N",
        default_value_t = 256,
        help_heading = "LLDP"
    )]
    lldp_max_neighbors: usize,
}

/// What a host that is in no flow of the flow file does (`--flow.host-absent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum HostAbsent {
    Idle,
    Exit,
}

/// rtmon_arp_flow_host_found: 0 no --flow, 1 --host found in it, 2 absent (idle).
static FLOW_HOST: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// [`ArpLldpSource`] plus `rtmon_arp_flow_host_found` when a flow file is used.
struct WithFlowHost(ArpLldpSource);

impl rtmon::app::Source for WithFlowHost {
    fn collect<'a>(
        &'a self,
        s: &'a rtmon::app::Scrape,
    ) -> rtmon::app::BoxFuture<'a, rtmon::expo::MetricSet> {
        Box::pin(async move {
            let mut m = rtmon::app::Source::collect(&self.0, s).await;
            let v = FLOW_HOST.load(std::sync::atomic::Ordering::Relaxed);
            if v != 0 {
                m.gauge(
                    "rtmon_arp_flow_host_found",
                    "1 if --host is a host of the --flow file, 0 if not (idle: nothing watched).",
                    &[],
                    if v == 1 { 1.0 } else { 0.0 },
                );
            }
            m
        })
    }
}

/// The physical interfaces to listen for LLDP on: --lldp.interface and the flow's
/// data-plane interface, each resolved to its physical parent(s).
fn lldp_interfaces(a: &Args) -> Result<Vec<String>, String> {
    let mut wanted = a.lldp_interface.clone();
    if let (Some(file), false) = (&a.flow, a.lldp_disable) {
        let host = a.host.clone().unwrap_or_else(rtmon::cli::hostname);
        let flows = rtmon::flow::load_file(file).map_err(|e| format!("--flow: {e}"))?;
        // A host in no flow idles (--flow.host-absent=idle, reported by build_filter) or
        // has exited already: no flow interface to listen on.
        if flows.iter().any(|f| f.host(&host).is_some()) {
            let (_, iface) = pick_flow(&flows, &host, a.flow_id.as_deref())
                .map_err(|e| format!("--flow {}: {e}", file.display()))?;
            wanted.push(iface);
        }
    }
    let sys = rtmon_arp::lldp_socket::sys_class_net();
    let mut out: Vec<String> = Vec::new();
    for w in wanted {
        for p in rtmon_arp::lldp_socket::physical_interfaces(&sys, &w) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// The filter and flow label the flags (and the flow file) ask for.
fn build_filter(a: &Args) -> Result<(Filter, Option<String>), String> {
    let mut f = Filter {
        device_include: a
            .device_include
            .as_deref()
            .map(|r| anchored("--arp.device-include", r))
            .transpose()?,
        device_exclude: a
            .device_exclude
            .as_deref()
            .map(|r| anchored("--arp.device-exclude", r))
            .transpose()?,
        addresses: a.address.clone(),
        addresses_exclude: a.address_exclude.clone(),
        family: a.family,
        include_noarp: a.include_noarp,
    };
    let Some(file) = &a.flow else {
        return Ok((f, None));
    };
    let host = a.host.clone().unwrap_or_else(rtmon::cli::hostname);
    let flows = rtmon::flow::load_file(file).map_err(|e| format!("--flow: {e}"))?;
    let found = flows.iter().any(|f| f.host(&host).is_some());
    FLOW_HOST.store(
        if found { 1 } else { 2 },
        std::sync::atomic::Ordering::Relaxed,
    );
    if !found && a.host_absent == HostAbsent::Idle {
        tracing::warn!(host = %host, flow = %file.display(),
            "host is in no flow of this file: idle (nothing watched, rtmon_arp_flow_host_found 0)");
        // A device name is never empty: this filter accepts no entry.
        f.device_include = Some(anchored("--flow", "")?);
        return Ok((f, None));
    }
    let (id, iface) = pick_flow(&flows, &host, a.flow_id.as_deref())
        .map_err(|e| format!("--flow {}: {e}", file.display()))?;
    if f.device_include.is_some() {
        return Err(
            "--flow sets the device filter; do not combine it with --arp.device-include".into(),
        );
    }
    f.device_include = Some(anchored("--flow", &regex::escape(&iface))?);
    Ok((f, Some(id)))
}

/// Finds the flow through `host` (or the one named `id`) and the host's interface.
fn pick_flow(
    flows: &[rtmon::flow::Flow],
    host: &str,
    id: Option<&str>,
) -> Result<(String, String), String> {
    let candidates: Vec<_> = flows
        .iter()
        .filter(|f| id.is_none_or(|id| f.id == id))
        .filter_map(|f| f.host(host).map(|h| (f.id.clone(), h.interface.clone())))
        .collect();
    match candidates.len() {
        1 => Ok(candidates.into_iter().next().unwrap_or_default()),
        0 => Err(match id {
            Some(id) => format!("no flow {id:?} with host {host:?} (set --host / --flow.id)"),
            None => format!("host {host:?} is in no flow of this file (set --host)"),
        }),
        n => Err(format!(
            "host {host:?} is in {n} flows ({}); choose one with --flow.id",
            candidates
                .iter()
                .map(|c| c.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn main() -> ExitCode {
    let mut args: Args = rtmon::cli::parse_with_defaults(rtmon::cli::Defaults {
        listen_address: ":9105",
        push_job: "rtmon_arp",
        max_requests: 40,
    });
    if let Err(e) = rtmon::log::init(&args.common.log) {
        eprintln!("{NAME}: {e}");
        return ExitCode::from(1);
    }
    if args.max_entries == 0 || args.lldp_max_neighbors == 0 {
        eprintln!("{NAME}: --arp.max-entries and --lldp.max-neighbors must be at least 1");
        return ExitCode::from(1);
    }
    let (filter, flow) = match build_filter(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::from(1);
        }
    };
    // Push on change is what this exporter is for.
    args.common.push.on_change = true;
    rtmon::app::block_on(run(args, filter, flow))
}

async fn run(args: Args, filter: Filter, flow: Option<String>) -> ExitCode {
    let cfg = EngineConfig {
        max_entries: args.max_entries,
        max_history: args.max_history,
        count_state_changes: args.count_state_changes,
    };
    let mut load_error = false;
    let engine = match &args.state_file {
        None => Engine::new(cfg),
        Some(p) => match statefile::load(p) {
            Loaded::Missing => Engine::new(cfg),
            Loaded::Ok(s) => {
                tracing::info!(file = %p.display(), entries = s.entries.len(), "state loaded");
                Engine::restore(cfg, s)
            }
            Loaded::Corrupt { reason, moved_to } => {
                tracing::warn!(error = %reason,
                    moved_to = %moved_to.map(|m| m.display().to_string()).unwrap_or_default(),
                    "state file unusable; starting fresh and replacing it");
                load_error = true;
                Engine::new(cfg)
            }
        },
    };
    let mon = Arc::new(Monitor::new(engine, filter, flow.clone()));
    if load_error {
        mon.state_error(true);
    }
    let reader = match args.source {
        SourceKind::Netlink => Reader::Netlink {
            resync: args.resync_interval,
        },
        SourceKind::Proc => Reader::Proc {
            path: args.procfs.join("net/arp"),
            interval: args.poll_interval,
        },
    };
    tasks::spawn(&mon, reader, args.state_file.clone());
    // LLDP listeners (none when no interface is asked for; a reload may add some).
    let lldp = Arc::new(LldpMonitor::new(
        args.lldp_max_neighbors,
        mon.changed.clone(),
    ));
    match lldp_interfaces(&args) {
        Ok(ifaces) => lldp.set_interfaces(&ifaces),
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::from(1);
        }
    }
    lldp.set_flow(flow.clone());
    tokio::spawn(rtmon_arp::lldp_socket::run_expiry(
        lldp.clone(),
        rtmon_arp::lldp_socket::sys_class_net(),
    ));

    let reload_args = args.clone();
    let reload_mon = mon.clone();
    let reload_lldp = lldp.clone();
    let source = ArpLldpSource {
        arp: mon.clone(),
        lldp: Some(lldp),
    };
    let mut exporter = Exporter::new(NAME, Arc::new(WithFlowHost(source)));
    // `/-/ready` answers 503 until the table has been read once.
    exporter.ready = mon.ready.clone();
    let exporter = exporter
        .with_changes(mon.changed.clone())
        .on_reload(Arc::new(move || {
            let a = reload_args.clone();
            let m = reload_mon.clone();
            let l = reload_lldp.clone();
            Box::pin(async move {
                let (f, flow) = build_filter(&a)?;
                l.set_interfaces(&lldp_interfaces(&a)?);
                l.set_flow(flow.clone());
                m.set_filter(f, flow);
                Ok(())
            })
        }));
    let code = rtmon::app::run(args.common.clone(), exporter).await;
    if let Some(p) = &args.state_file {
        tasks::save_now(&mon, p).await;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtmon::flow::{Flow, Hop, HostHop};

    fn host(name: &str, iface: &str) -> Hop {
        Hop::Host(HostHop {
            name: name.into(),
            instance: name.into(),
            interface: iface.into(),
            ip: None,
            vlan: None,
            mac: None,
            lldp_chassis_id: None,
        })
    }

    fn flow(id: &str, hops: Vec<Hop>) -> Flow {
        Flow {
            id: id.into(),
            title: id.into(),
            path: hops,
            file: "f.yml".into(),
            limits: Default::default(),
        }
    }

    #[test]
    fn flow_sets_interface_and_label() {
        let flows = vec![
            flow(
                "a-b",
                vec![host("dtn-a", "ens2f0.1000"), host("dtn-b", "eth1")],
            ),
            flow("a-c", vec![host("dtn-a", "ens2f1"), host("dtn-c", "eth2")]),
        ];
        assert_eq!(
            pick_flow(&flows, "dtn-b", None),
            Ok(("a-b".into(), "eth1".into()))
        );
        assert_eq!(
            pick_flow(&flows, "dtn-a", Some("a-c")),
            Ok(("a-c".into(), "ens2f1".into()))
        );
        let e = pick_flow(&flows, "dtn-a", None).expect_err("ambiguous");
        assert!(e.contains("2 flows") && e.contains("--flow.id"), "{e}");
        let e = pick_flow(&flows, "dtn-z", None).expect_err("absent");
        assert!(e.contains("dtn-z"), "{e}");
    }

    #[test]
    fn help_explains_every_flag() {
        use clap::CommandFactory;
        let mut cmd = Args::command();
        let help = cmd.render_long_help().to_string();
        for flag in [
            "--arp.source",
            "--arp.resync-interval",
            "--arp.max-entries",
            "--arp.state-file",
            "--arp.device-include",
            "--arp.address",
            "--flow",
            "--host",
            "--lldp.interface",
            "--lldp.disable",
            "--push.url",
        ] {
            assert!(help.contains(flag), "{flag} missing from --help");
        }
        for a in cmd.get_arguments() {
            if a.get_id() != "help" && a.get_id() != "version" {
                assert!(
                    a.get_help().is_some() || a.get_long_help().is_some(),
                    "{:?} has no help",
                    a.get_id()
                );
            }
        }
    }

    #[test]
    fn bad_filters_are_named() {
        let a: Args = rtmon::cli::try_parse_from_with_defaults(
            ["x", "--arp.device-include", "("],
            rtmon::cli::Defaults {
                listen_address: ":9105",
                push_job: "rtmon_arp",
                max_requests: 40,
            },
        )
        .expect("parse");
        let e = build_filter(&a).expect_err("bad regex");
        assert!(e.contains("--arp.device-include"), "{e}");
        let e = rtmon::cli::try_parse_from_with_defaults::<Args, _, _>(
            ["x", "--arp.address", "10.0.0.0/40"],
            rtmon::cli::Defaults {
                listen_address: ":9105",
                push_job: "rtmon_arp",
                max_requests: 40,
            },
        )
        .expect_err("bad cidr");
        assert!(e.to_string().contains("10.0.0.0/40"), "{e}");
    }

    #[test]
    fn host_outside_the_flow_idles_or_exits() {
        let flow = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config_flow/one-switch.yml"
        );
        let parse = |extra: &[&str]| -> Args {
            let mut argv = vec!["x", "--flow", flow];
            argv.extend_from_slice(extra);
            rtmon::cli::try_parse_from_with_defaults(
                argv,
                rtmon::cli::Defaults {
                    listen_address: ":9105",
                    push_job: "rtmon_arp",
                    max_requests: 40,
                },
            )
            .expect("parse")
        };
        // Default: idle, no flow label, a filter that accepts no device.
        let (f, id) = build_filter(&parse(&["--host", "nothere"])).expect("idle");
        assert_eq!(id, None);
        let re = f.device_include.expect("device filter");
        assert!(!re.is_match("ens2f0np0.1000") && !re.is_match("eth0"));
        // exit: the error names the host (main exits 1).
        let e = build_filter(&parse(&["--host", "nothere", "--flow.host-absent", "exit"]))
            .expect_err("exit");
        assert!(e.contains("\"nothere\" is in no flow"), "{e}");
        // A flow host is unaffected by the flag.
        let (_, id) = build_filter(&parse(&["--host", "dtn-a", "--flow.host-absent", "exit"]))
            .expect("flow host");
        assert_eq!(id.as_deref(), Some("dtn-a-dtn-b-1000"));
    }
}
