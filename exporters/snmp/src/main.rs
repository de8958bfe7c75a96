//! `rtmon-snmp-exporter`: see the crate docs of `rtmon_snmp` and README.md.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rtmon::app::{BoxFuture, Exporter, Route, Scrape, Source};
use rtmon::expo::MetricSet;
use rtmon_snmp::config::Config;
use rtmon_snmp::engine::{Engine, Options};

/// Polls switches over SNMP (v1, v2c, v3) for Prometheus: `GET /snmp?target=<host[:port]>&module=<m>[,<m2>]&auth=<a>`
/// with snmp_exporter's if_mib names and labels, plus `GET /lookup?target=…&ifName=…`.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: rtmon::cli::CommonArgs,

    /// snmp_exporter-style config (auths: and modules:). Without it the built-in modules
    /// (if_mib, bridge_fdb, qbridge_vlan, system, lldp) and the auth public_v2 (v2c, community "public") are available.
    #[arg(
        id = "snmp_config_file",
        long = "config.file",
        value_name = "FILE",
        env = "RTMON_SNMP_CONFIG"
    )]
    config_file: Option<PathBuf>,

    /// Targets scraped at the same time, over all requests (further scrapes wait, within their deadline).
    #[arg(
        long = "snmp.max-concurrent-targets",
        value_name = "N",
        default_value_t = 64
    )]
    max_concurrent_targets: usize,

    /// Scrapes of one target (and auth) at the same time.
    #[arg(
        long = "snmp.max-requests-per-target",
        value_name = "N",
        default_value_t = 1
    )]
    max_per_target: usize,

    /// Scrape deadline when the scraper sends no X-Prometheus-Scrape-Timeout-Seconds header.
    #[arg(long = "snmp.default-deadline", value_name = "DURATION", default_value = "10s", value_parser = rtmon::cli::parse_duration)]
    default_deadline: Duration,

    /// Reduce Counter64 values modulo 2^53 like snmp_exporter's --snmp.wrap-large-counters.
    /// Default: exact integers (Prometheus stores float64, so values above 2^53 are rounded
    /// to the nearest representable number there; rate() stays correct).
    #[arg(long = "snmp.wrap-large-counters")]
    wrap_large_counters: bool,
}

struct SelfMetrics(Arc<Engine>);

impl Source for SelfMetrics {
    fn collect<'a>(&'a self, _s: &'a Scrape) -> BoxFuture<'a, MetricSet> {
        Box::pin(async move { self.0.self_metrics() })
    }
}

fn main() -> std::process::ExitCode {
    let args: Args = rtmon::cli::parse_with_defaults(rtmon::cli::Defaults {
        listen_address: ":9116",
        push_job: "rtmon_snmp",
        max_requests: 1024,
    });
    let config = match Config::load(args.config_file.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rtmon-snmp-exporter: error: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let opts = Options {
        max_concurrent_targets: args.max_concurrent_targets,
        max_per_target: args.max_per_target,
        default_deadline: args.default_deadline,
        wrap_large_counters: args.wrap_large_counters,
        ..Options::default()
    };
    let engine = Arc::new(Engine::new(config, args.config_file.clone(), opts));
    let (e1, e2, e3) = (engine.clone(), engine.clone(), engine.clone());
    let exporter = Exporter::new("rtmon-snmp-exporter", Arc::new(SelfMetrics(engine)))
        .route(Route::new(
            "/snmp",
            "Scrape a target: /snmp?target=HOST[:PORT]&module=if_mib&auth=public_v2",
            move |r| {
                let e = e1.clone();
                async move { e.handle_snmp(r).await }
            },
        ))
        .route(Route::new(
            "/lookup",
            "Resolve an interface: /lookup?target=HOST&auth=A&ifName=NAME (JSON)",
            move |r| {
                let e = e2.clone();
                async move { e.handle_lookup(r).await }
            },
        ))
        .on_reload(Arc::new(move || {
            let e = e3.clone();
            Box::pin(async move { e.reload() })
        }));
    rtmon::app::main(args.common, exporter)
}
