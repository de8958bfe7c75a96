//! rtmon-ping-exporter: ICMP echo probing of many targets in the background
//! (smokeping style, one shared socket, sends paced over the interval) with up/down,
//! loss, RTT histogram, min/max/jitter, TTL and time-down per target, plus a
//! blackbox-style one-shot `GET /probe?target=…`.
//!
//! Targets come from `--ping.target`, `--config.file` (YAML, per-target labels) and
//! `--flow FILE --host NAME`; SIGHUP or `POST /-/reload` re-reads them, keeping the
//! counters of unchanged targets.

mod engine;
mod packet;
mod socket;
mod stats;
mod targets;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rtmon::app::{BoxFuture, Exporter, Reply, Request, Route, Scrape, Source};
use rtmon::cli::parse_duration;
use rtmon::expo::MetricSet;

use engine::{Engine, IpProtocol};
use targets::TargetSpec;

/// Longest accepted `count` on /probe.
const MAX_PROBE_COUNT: u16 = 20;

#[derive(clap::Parser, Debug, Clone)]
#[command(
    version,
    about = "Prometheus exporter for ICMP echo (ping): continuous background probing of many \
             targets with loss, RTT histogram, jitter, TTL and time-down per target, plus a \
             one-shot /probe?target=HOST.",
    after_help = "Privileges: an unprivileged ping socket is used when the process group is in \
                  net.ipv4.ping_group_range; otherwise a raw socket, which needs CAP_NET_RAW."
)]
struct Args {
    #[command(flatten)]
    common: rtmon::cli::CommonArgs,

    /// Host name or IP address to probe continuously (repeatable). Labelled `target`.
    #[arg(long = "ping.target", value_name = "HOST", action = clap::ArgAction::Append,
          value_parser = parse_host, help_heading = "Targets")]
    targets: Vec<String>,

    /// YAML targets file: `targets: [{hosts: [...], labels: {...}, source: IP, interface: IF}]`.
    /// Re-read on SIGHUP and POST /-/reload.
    #[arg(long = "config.file", value_name = "FILE", help_heading = "Targets")]
    targets_file: Option<PathBuf>,

    /// Flow file (config_flow/*.yml): probe the peers of --host in every flow of the file,
    /// over this host's data-plane interface, labelled `flow` and `peer`.
    #[arg(
        long = "flow",
        value_name = "FILE",
        requires = "host",
        help_heading = "Targets"
    )]
    flow: Option<PathBuf>,

    /// This host's name in the flow file (the `host:` key of its hop).
    #[arg(
        long = "host",
        value_name = "NAME",
        requires = "flow",
        help_heading = "Targets"
    )]
    host: Option<String>,

    /// When --host is in no flow of --flow: `idle` keeps serving without the flow's
    /// targets and exports rtmon_ping_flow_host_found 0 (a DaemonSet pod on a node outside
    /// the flow); `exit` exits with code 1 (a configuration error, as every exporter's).
    #[arg(
        long = "flow.host-absent",
        value_enum,
        default_value = "idle",
        help_heading = "Targets"
    )]
    host_absent: HostAbsent,

    /// Time between two probes of the same target. Sends to all targets are spread
    /// evenly over this interval.
    #[arg(long = "ping.interval", value_name = "DURATION", default_value = "1s",
          value_parser = parse_positive_duration, help_heading = "Probing")]
    ping_interval: Duration,

    /// Time after which an unanswered echo request counts as lost (also the default and
    /// maximum wait of /probe).
    #[arg(long = "ping.timeout", value_name = "DURATION", default_value = "1s",
          value_parser = parse_positive_duration, help_heading = "Probing")]
    ping_timeout: Duration,

    /// Payload bytes per echo request (after the 8-byte ICMP header).
    #[arg(long = "ping.size", value_name = "BYTES", default_value_t = 56,
          value_parser = clap::value_parser!(u16).range(0..=65000), help_heading = "Probing")]
    ping_size: u16,

    /// TTL (IPv4) / hop limit (IPv6) of echo requests. Default: the kernel's.
    #[arg(long = "ping.ttl", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=255), help_heading = "Probing")]
    ping_ttl: Option<u32>,

    /// Source address for echo requests (targets of the other family ignore it;
    /// a targets-file entry may override it).
    #[arg(long = "ping.source", value_name = "IP", help_heading = "Probing")]
    ping_source: Option<IpAddr>,

    /// Interface to send echo requests on (SO_BINDTODEVICE); a targets-file entry or the
    /// flow's data-plane interface overrides it.
    #[arg(
        long = "ping.interface",
        value_name = "IFNAME",
        help_heading = "Probing"
    )]
    ping_interface: Option<String>,

    /// Number of recent probes over which loss, min, max and jitter are computed.
    #[arg(long = "ping.window", value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=100000), help_heading = "Probing")]
    ping_window: u32,

    /// A target is down (rtmon_ping_up 0) after this many consecutive lost probes, and
    /// up again at the first reply.
    #[arg(long = "ping.down-after", value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=100000), help_heading = "Probing")]
    ping_down_after: u32,

    /// Socket type: `auto` tries an unprivileged ping socket first, then a raw socket.
    #[arg(
        long = "ping.socket",
        value_name = "TYPE",
        value_enum,
        default_value = "auto",
        help_heading = "Probing"
    )]
    ping_socket: socket::Mode,

    /// Address family used for host names.
    #[arg(
        long = "ping.ip-protocol",
        value_name = "PROTO",
        value_enum,
        default_value = "auto",
        help_heading = "Probing"
    )]
    ping_ip_protocol: IpProtocol,

    /// Receive buffer to ask for on each ICMP socket (capped by net.core.rmem_max), so
    /// replies from thousands of targets are not dropped.
    #[arg(long = "ping.receive-buffer", value_name = "BYTES", default_value_t = 4 << 20,
          help_heading = "Probing")]
    ping_receive_buffer: usize,
}

/// What a host that is in no flow of the flow file does (`--flow.host-absent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum HostAbsent {
    Idle,
    Exit,
}

/// rtmon_ping_flow_host_found: 0 no --flow, 1 --host found in it, 2 absent.
static FLOW_HOST: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

fn parse_host(s: &str) -> Result<String, String> {
    targets::check_host(s)?;
    Ok(s.to_string())
}

fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(1) {
        return Err(format!("{s:?} is too short (at least 1ms)"));
    }
    Ok(d)
}

/// Reads every target source named on the command line.
fn load_targets(args: &Args) -> Result<Vec<TargetSpec>, String> {
    let mut specs: Vec<TargetSpec> = args
        .targets
        .iter()
        .map(|h| TargetSpec {
            host: h.clone(),
            labels: Default::default(),
            source: None,
            interface: None,
        })
        .collect();
    if let Some(f) = &args.targets_file {
        specs.extend(targets::load_file(f)?);
    }
    if let (Some(f), Some(host)) = (&args.flow, &args.host) {
        let flows = rtmon::flow::load_file(f).map_err(|e| e.to_string())?;
        if flows.iter().any(|fl| fl.host(host).is_some()) {
            FLOW_HOST.store(1, std::sync::atomic::Ordering::Relaxed);
            specs.extend(targets::from_flows(&flows, host, f)?);
        } else {
            FLOW_HOST.store(2, std::sync::atomic::Ordering::Relaxed);
            if args.host_absent == HostAbsent::Exit {
                // The same message as before, exit code 1 (see run).
                return targets::from_flows(&flows, host, f);
            }
            tracing::warn!(host = %host, flow = %f.display(),
                "host is in no flow of this file: idle (no flow targets, rtmon_ping_flow_host_found 0)");
        }
    }
    Ok(specs)
}

struct Metrics(Arc<Engine>);

impl Source for Metrics {
    fn collect<'a>(&'a self, _s: &'a Scrape) -> BoxFuture<'a, MetricSet> {
        Box::pin(async move {
            let mut m = MetricSet::new();
            self.0.write(&mut m);
            m.prune_empty();
            let v = FLOW_HOST.load(std::sync::atomic::Ordering::Relaxed);
            if v != 0 {
                m.gauge(
                    "rtmon_ping_flow_host_found",
                    "1 if --host is a host of the --flow file, 0 if not (idle: no flow targets).",
                    &[],
                    if v == 1 { 1.0 } else { 0.0 },
                );
            }
            m
        })
    }
}

async fn probe(engine: Arc<Engine>, default_timeout: Duration, req: Request) -> Reply {
    let target = match req.param("target") {
        Some(t) => t.to_string(),
        None => return Reply::bad_request("missing parameter `target`"),
    };
    if let Err(e) = targets::check_host(&target) {
        return Reply::bad_request(format!("parameter `target`: {e}"));
    }
    let count = match req.param("count") {
        None => 1,
        Some(c) => match c.parse::<u16>() {
            Ok(n) if (1..=MAX_PROBE_COUNT).contains(&n) => n,
            _ => {
                return Reply::bad_request(format!(
                    "parameter `count`: {c:?} is not a number from 1 to {MAX_PROBE_COUNT}"
                ))
            }
        },
    };
    let mut timeout = default_timeout;
    if let Some(t) = req.param("timeout") {
        match parse_duration(t) {
            Ok(d) if d > Duration::ZERO => timeout = timeout.min(d),
            _ => {
                return Reply::bad_request(format!("parameter `timeout`: {t:?} is not a duration"))
            }
        }
    }
    if let Some(left) = req.scrape().remaining() {
        timeout = timeout.min(left);
    }
    Reply::Metrics(engine.probe(&target, count, timeout).await)
}

fn main() -> ExitCode {
    let args: Args = rtmon::cli::parse_with_defaults(rtmon::cli::Defaults {
        listen_address: ":9107",
        push_job: "rtmon_ping",
        max_requests: 40,
    });
    if let Err(e) = rtmon::log::init(&args.common.log) {
        eprintln!("rtmon-ping-exporter: {e}");
        return ExitCode::from(1);
    }
    rtmon::app::block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let specs = match load_targets(&args) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot load targets");
            eprintln!("rtmon-ping-exporter: {e}");
            // A configuration error (a host outside the flow with --flow.host-absent=exit
            // included): 1, as in every exporter.
            return ExitCode::from(1);
        }
    };
    let changed = Arc::new(tokio::sync::Notify::new());
    let engine = Engine::new(
        engine::Config {
            interval: args.ping_interval,
            timeout: args.ping_timeout,
            size: usize::from(args.ping_size),
            ttl: args.ping_ttl,
            settings: stats::Settings {
                window: args.ping_window as usize,
                down_after: args.ping_down_after,
            },
            mode: args.ping_socket,
            recv_buffer: args.ping_receive_buffer,
            source: args.ping_source,
            interface: args.ping_interface.clone(),
            ip_protocol: args.ping_ip_protocol,
        },
        changed.clone(),
    );
    // Fail at startup, with the missing capability or sysctl named, rather than report
    // every target down.
    let mut families = vec![packet::Family::V4];
    if args.ping_source.is_some_and(|s| s.is_ipv6()) || args.ping_ip_protocol == IpProtocol::Ip6 {
        families = vec![packet::Family::V6];
    }
    if let Err(e) = engine.check_sockets(&families).await {
        eprintln!("rtmon-ping-exporter: {e}");
        tracing::error!(error = %e, "cannot open ICMP socket");
        return ExitCode::from(1);
    }
    if let Err(e) = engine.set_targets(specs).await {
        eprintln!("rtmon-ping-exporter: {e}");
        tracing::error!(error = %e, "cannot set up targets");
        return ExitCode::from(1);
    }
    tracing::info!(targets = engine.target_count(), interval = ?args.ping_interval, "probing");
    engine.start();

    let reload_args = args.clone();
    let reload_engine = engine.clone();
    let reload: rtmon::app::ReloadFn = Arc::new(move || {
        let args = reload_args.clone();
        let engine = reload_engine.clone();
        Box::pin(async move {
            let res = match load_targets(&args) {
                Ok(specs) => engine.set_targets(specs).await,
                Err(e) => Err(e),
            };
            engine.note_reload(res.is_ok());
            match &res {
                Ok(()) => tracing::info!(targets = engine.target_count(), "targets reloaded"),
                Err(e) => tracing::error!(error = %e, "reload failed, keeping the old targets"),
            }
            res
        })
    });
    let probe_engine = engine.clone();
    let timeout = args.ping_timeout;
    let exporter = Exporter::new("rtmon-ping-exporter", Arc::new(Metrics(engine)))
        .route(Route::new(
            "/probe",
            "One-shot ICMP probe: /probe?target=HOST[&count=N][&timeout=DURATION]",
            move |req| probe(probe_engine.clone(), timeout, req),
        ))
        .on_reload(reload)
        .with_changes(changed);
    rtmon::app::run(args.common, exporter).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        rtmon::cli::try_parse_from_with_defaults(
            argv,
            rtmon::cli::Defaults {
                listen_address: ":9107",
                push_job: "rtmon_ping",
                max_requests: 40,
            },
        )
    }

    #[test]
    fn flags_parse_and_validate() {
        let a = parse(&[
            "x",
            "--ping.target",
            "10.0.0.1",
            "--ping.interval=200ms",
            "--ping.ttl=9",
        ])
        .expect("valid");
        assert_eq!(a.targets, vec!["10.0.0.1"]);
        assert_eq!(a.ping_interval, Duration::from_millis(200));
        assert_eq!(a.ping_ttl, Some(9));
        assert_eq!(a.common.web.listen_addresses, vec![":9107"]);
        assert!(parse(&["x", "--ping.target", "a b"]).is_err());
        assert!(parse(&["x", "--ping.interval", "0s"]).is_err());
        assert!(parse(&["x", "--ping.ttl", "0"]).is_err());
        assert!(
            parse(&["x", "--flow", "f.yml"]).is_err(),
            "--flow needs --host"
        );
        assert!(parse(&["x", "--ping.socket", "weird"]).is_err());
    }

    #[test]
    fn every_flag_has_help() {
        use clap::CommandFactory;
        for a in Args::command().get_arguments() {
            assert!(
                a.get_help().is_some() || a.get_long_help().is_some(),
                "flag {:?} has no help",
                a.get_id()
            );
        }
    }

    #[test]
    fn host_outside_the_flow_idles_or_exits() {
        let flow = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config_flow/one-switch.yml"
        );
        let idle = parse(&["x", "--flow", flow, "--host", "nothere"]).expect("valid");
        assert_eq!(load_targets(&idle).expect("idle: no flow targets").len(), 0);
        let exit = parse(&[
            "x",
            "--flow",
            flow,
            "--host",
            "nothere",
            "--flow.host-absent=exit",
        ])
        .expect("valid");
        let e = load_targets(&exit).expect_err("exit");
        assert!(e.contains("no flow has host \"nothere\""), "{e}");
        let host = parse(&[
            "x",
            "--flow",
            flow,
            "--host",
            "dtn-a",
            "--flow.host-absent=exit",
        ])
        .expect("valid");
        assert_eq!(load_targets(&host).expect("flow host").len(), 1);
    }
}
