//! rtmon-script-exporter binary: flags and wiring.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rtmon::app::{Exporter, Route};
use rtmon_script_exporter::probe::{Limits, SelfMetrics, State};

/// Runs configured scripts and exposes their Prometheus-format output.
///
/// GET /probe?script=NAME[&PARAM=VALUE…] runs script NAME (only parameters declared in
/// its `params` allow-list are accepted, each checked against its regex; anything else
/// is a 400 and the script does not run) and answers its validated output plus
/// script_success, script_duration_seconds and script_exit_code. The deadline is the
/// smaller of the script's timeout and X-Prometheus-Scrape-Timeout-Seconds minus
/// --web.timeout-offset; at the deadline the whole process group is killed.
/// GET /discovery lists one target per script for Prometheus http_sd_configs.
#[derive(clap::Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    #[command(flatten)]
    common: rtmon::cli::CommonArgs,

    /// Script configuration file (YAML; script_exporter's `scripts:` format is accepted).
    #[arg(
        long = "config.file",
        alias = "config.files",
        value_name = "FILE",
        default_value = "script.yml"
    )]
    script_config: PathBuf,

    /// Timeout of scripts whose config sets none (always enforced).
    #[arg(long = "script.default-timeout", value_name = "DURATION", default_value = "30s",
          value_parser = rtmon::cli::parse_duration)]
    default_timeout: Duration,

    /// Most script runs at once, all scripts together (each script also has its own
    /// `max_concurrency`, default 8). A probe waits for a slot until its deadline.
    #[arg(
        long = "script.max-concurrency",
        value_name = "N",
        default_value_t = 16
    )]
    max_concurrency: usize,

    /// Most bytes read from a script's stdout; a script writing more is killed and
    /// reported with script_output_truncated 1 and script_success 0.
    #[arg(long = "script.max-output-bytes", value_name = "BYTES", default_value_t = 4 << 20)]
    max_output_bytes: usize,

    /// Most output lines parsed; further lines are dropped and counted.
    #[arg(
        long = "script.max-output-lines",
        value_name = "N",
        default_value_t = 50_000
    )]
    max_output_lines: usize,

    /// Most results kept in the cache (scripts with `cache:`), all scripts together; the
    /// least recently used one is evicted beyond it.
    #[arg(
        long = "script.cache-max-entries",
        value_name = "N",
        default_value_t = 1000
    )]
    cache_max_entries: usize,

    /// Most bytes of cached results, all scripts together.
    #[arg(long = "script.cache-max-bytes", value_name = "BYTES", default_value_t = 64 << 20)]
    cache_max_bytes: usize,

    /// Check the configuration file, print a summary and exit (0 valid, 1 invalid).
    #[arg(long = "config.check")]
    check: bool,
}

fn main() -> ExitCode {
    let args: Args = rtmon::cli::parse_with_defaults(rtmon::cli::Defaults {
        listen_address: ":9469",
        push_job: "rtmon_script",
        max_requests: 40,
    });
    let config = match rtmon_script_exporter::config::load(&args.script_config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rtmon-script-exporter: {}", e.render());
            return ExitCode::from(1);
        }
    };
    if args.check {
        println!(
            "{}: {} script(s) OK",
            args.script_config.display(),
            config.scripts.len()
        );
        for w in &config.warnings {
            println!("warning: {w}");
        }
        return ExitCode::SUCCESS;
    }
    if args.max_concurrency == 0 || args.max_output_bytes == 0 || args.max_output_lines == 0 {
        eprintln!("rtmon-script-exporter: --script.max-concurrency, --script.max-output-bytes and --script.max-output-lines must be at least 1");
        return ExitCode::from(1);
    }
    let limits = Limits {
        default_timeout: args.default_timeout,
        max_concurrency: args.max_concurrency,
        max_output_bytes: args.max_output_bytes,
        max_output_lines: args.max_output_lines,
        cache_max_entries: args.cache_max_entries,
        cache_max_bytes: args.cache_max_bytes,
    };
    let state = State::new(config, Some(args.script_config.clone()), limits);
    let (p, d, r) = (Arc::clone(&state), Arc::clone(&state), Arc::clone(&state));
    let exporter = Exporter::new(
        "rtmon-script-exporter",
        Arc::new(SelfMetrics(Arc::clone(&state))),
    )
    .route(Route::new(
        "/probe",
        "Run a script: /probe?script=NAME[&PARAM=VALUE…]",
        move |req| {
            let s = Arc::clone(&p);
            async move { s.probe(&req).await }
        },
    ))
    .route(Route::new(
        "/discovery",
        "Prometheus http_sd_configs targets, one per script",
        move |req| {
            let s = Arc::clone(&d);
            async move { s.discovery(&req) }
        },
    ))
    .on_reload(Arc::new(move || {
        let s = Arc::clone(&r);
        Box::pin(async move { s.reload() })
    }));
    rtmon::app::main(args.common, exporter)
}
