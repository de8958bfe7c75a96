//! `rtmon-dashboards`: flow config → Grafana dashboards, Prometheus rules, provisioning
//! files, upload through Grafana's API, query checks and flow status.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use rtmon_dashboards::provision::{self, ProvisionOptions};
use rtmon_dashboards::{
    alertmanager, check, client, dashboard, fleet, legacy, preview, resolve, rules, status, upload,
    Mode, Options,
};

/// `generate` builds and frees millions of small JSON nodes on every core, where glibc's
/// malloc took ~40 % of the time. Measured with `scripts/bench-dashboards.sh` (1,000 flows,
/// after `jv!`): 1.01-1.08 s with glibc, 0.52-0.56 s with mimalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    version = rtmon::LONG_VERSION,
    about = "Generate Grafana dashboards and Prometheus rules from rtmon flow configs"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Write one Grafana dashboard (Classic JSON) per flow into --out, and the fleet
    /// overview (rtmon-fleet.json) beside them.
    Generate {
        /// Flow config files (config_flow/*.yml).
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// Output directory (created if missing).
        #[arg(long, default_value = "out/dashboards")]
        out: PathBuf,
        #[command(flatten)]
        gen: GenArgs,
    },
    /// Run every panel query and rule selector against a live Prometheus; report each
    /// that returns no data and why. Exit 1 if any returns no data.
    Check {
        /// Flow config files.
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// Prometheus base URL.
        #[arg(long, default_value = "http://127.0.0.1:9090")]
        prometheus: String,
        /// Window substituted for $__rate_interval.
        #[arg(long = "rate-interval", default_value = "1m")]
        rate_interval: String,
        /// Also fail (exit 1) when a layer-2 check evaluates unhealthy.
        #[arg(long = "require-healthy")]
        require_healthy: bool,
        /// Print every expression, not only the failing ones.
        #[arg(long, short)]
        verbose: bool,
        #[command(flatten)]
        gen: GenArgs,
    },
    /// Upload the flows' dashboards to Grafana (POST /api/dashboards/db, overwrite,
    /// folder created if missing). Re-running updates, never duplicates.
    Upload {
        /// Flow config files.
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// Grafana base URL.
        #[arg(long)]
        grafana: String,
        /// Folder title.
        #[arg(long, default_value = "rtmon")]
        folder: String,
        /// File holding a Grafana service-account token (default: the env variable).
        #[arg(long = "token-file")]
        token_file: Option<PathBuf>,
        /// Environment variable holding the token when no --token-file is given.
        #[arg(long = "token-env", default_value = "GRAFANA_TOKEN")]
        token_env: String,
        #[command(flatten)]
        gen: GenArgs,
    },
    /// Check that every configured switch port exists and is one interface, through the
    /// SNMP exporter's /lookup; unknown ports are listed with the nearest names, ports
    /// whose name several interfaces share with how to pin them (ifIndex / ifDescr).
    /// Exit 1 if any is unknown or ambiguous.
    Resolve {
        /// Flow config files.
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// rtmon-snmp-exporter base URL.
        #[arg(long, default_value = "http://127.0.0.1:9116")]
        snmp: String,
    },
    /// Write a small HTML page that lays out a dashboard's panels at their grid
    /// positions with titles and current values from Prometheus (a debugging aid to
    /// look at a dashboard without Grafana).
    Preview {
        /// Dashboard JSON file (from `generate`).
        #[arg(long)]
        dashboard: PathBuf,
        /// Prometheus base URL.
        #[arg(long, default_value = "http://127.0.0.1:9090")]
        prometheus: String,
        /// Output HTML file.
        #[arg(long, default_value = "preview.html")]
        out: PathBuf,
        /// Evaluation time (unix seconds or RFC 3339) [default: now].
        #[arg(long)]
        time: Option<String>,
        /// Window substituted for $__rate_interval and $__interval.
        #[arg(long = "rate-interval", default_value = "1m")]
        rate_interval: String,
    },
    /// Convert a predecessor v1 flow file (hostA/hostB/switchData*) to rtmon's format.
    ImportLegacy {
        /// The v1 YAML file.
        file: PathBuf,
        /// Output file (`-` for standard output).
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
    /// Tell whether each flow is healthy, and where it breaks, cause first: flow → hop →
    /// check with value and since when. Exit 0 healthy, 1 degraded (a warning fails),
    /// 2 down (a critical check fails), 3 could not evaluate (Prometheus unreachable, a bad
    /// flag or flow file).
    Status {
        /// Flow config files.
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// Prometheus base URL.
        #[arg(long, default_value = "http://127.0.0.1:9090")]
        prometheus: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        output: OutputFormat,
        /// Refresh every this many seconds until interrupted.
        #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "10")]
        watch: Option<u64>,
        /// How far back to look for the start of the current state.
        #[arg(long, default_value = "6h", value_parser = rtmon::cli::parse_duration)]
        lookback: std::time::Duration,
        /// Push mode: data older than this is stale (reported as a failure).
        #[arg(long = "stale-after", default_value = "2m", value_parser = rtmon::cli::parse_duration)]
        stale_after: std::time::Duration,
        #[command(flatten)]
        gen: GenArgs,
    },
    /// Write an Alertmanager config for the flow alerts: a route, a receiver and the
    /// inhibitions that make one cause raise one notification.
    Alertmanager {
        /// Output file (`-` for standard output).
        #[arg(long, default_value = "-")]
        out: PathBuf,
        /// Receiver name.
        #[arg(long, default_value = "rtmon")]
        receiver: String,
        /// Webhook the receiver notifies (none: add notifiers yourself).
        #[arg(long = "webhook-url")]
        webhook_url: Option<String>,
        /// Route group_wait.
        #[arg(long = "group-wait", default_value = "30s")]
        group_wait: String,
        /// Route group_interval.
        #[arg(long = "group-interval", default_value = "5m")]
        group_interval: String,
        /// Route repeat_interval.
        #[arg(long = "repeat-interval", default_value = "4h")]
        repeat_interval: String,
    },
    /// Write Prometheus recording + alerting rules for the flows' health.
    Rules {
        /// Flow config files.
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// Output file (`-` for standard output).
        #[arg(long, default_value = "-")]
        out: PathBuf,
        /// Rule group evaluation interval.
        #[arg(long = "eval-interval", default_value = "30s")]
        eval_interval: String,
        /// How long a critical check must fail before its alert fires (warnings: one
        /// --eval-interval longer, so a critical cause inhibits them before they fire).
        #[arg(long = "alert-for", default_value = "2m")]
        alert_for: String,
        /// `constant` (the rules to deploy: one set for all flows over their topology)
        /// or `per-flow` (the former per-flow rules, only for scripts/bench-rules.sh).
        #[arg(long, default_value = "constant", hide = true, value_parser = ["constant", "per-flow"])]
        layout: String,
        /// Where the flows' topology (the rows the constant rules join on) comes from:
        /// `rules` (static rules in this file: complete on its own) or `scrape` (left
        /// out: Prometheus scrapes what `rtmon-dashboards topology` writes, with
        /// honor_labels — far cheaper from about a thousand flows on).
        #[arg(long, default_value = "rules", value_parser = ["rules", "scrape"])]
        topology: String,
        #[command(flatten)]
        gen: GenArgs,
    },
    /// Write the flows' topology in the Prometheus text format, for Prometheus to scrape
    /// (`rules --topology scrape`): serve the file over HTTP or put it in
    /// node_exporter's textfile directory, scraped with `honor_labels: true`.
    Topology {
        /// Flow config files.
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// Output file (`-` for standard output); replaced atomically.
        #[arg(long, default_value = "-")]
        out: PathBuf,
        #[command(flatten)]
        gen: GenArgs,
    },
    /// Keep Grafana dashboards, the rules file and file_sd target lists in step with a
    /// directory of flow files (a service: inotify + periodic resync; /metrics on :9471).
    Sync {
        #[command(flatten)]
        args: Box<rtmon_dashboards::sync::SyncArgs>,
        #[command(flatten)]
        gen: GenArgs,
    },
    /// Write Prometheus file_sd target lists (node/arp/ping per host, snmp per switch)
    /// into --out; files are replaced atomically and only when they change.
    Targets {
        /// Flow config files.
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// Output directory (created if missing).
        #[arg(long, default_value = "out/targets")]
        out: PathBuf,
        /// Port of rtmon-node-exporter on the flow hosts.
        #[arg(long = "node-port", default_value_t = 9100)]
        node_port: u16,
        /// Port of rtmon-arp-exporter on the flow hosts.
        #[arg(long = "arp-port", default_value_t = 9105)]
        arp_port: u16,
        /// Port of rtmon-ping-exporter on the flow hosts.
        #[arg(long = "ping-port", default_value_t = 9107)]
        ping_port: u16,
    },
    /// Write Grafana file-provisioning YAML (dashboard provider + Prometheus datasource),
    /// and Kubernetes objects for the Grafana sidecar (dashboard ConfigMaps labelled
    /// grafana_dashboard="1", datasource Secret labelled grafana_datasource="1").
    Provision {
        /// Flow config files whose dashboards to include (optional).
        flows: Vec<PathBuf>,
        /// Output directory.
        #[arg(long, default_value = "out/provisioning")]
        out: PathBuf,
        /// Grafana folder for the dashboards.
        #[arg(long, default_value = "rtmon")]
        folder: String,
        /// Prometheus URL as Grafana reaches it.
        #[arg(long = "prometheus-url", default_value = "http://prometheus:9090")]
        prometheus_url: String,
        /// Directory Grafana reads provisioned dashboard files from.
        #[arg(
            long = "dashboards-path",
            default_value = "/var/lib/grafana/dashboards/rtmon"
        )]
        dashboards_path: String,
        /// Kubernetes namespace of the ConfigMaps and the Secret.
        #[arg(long, default_value = "monitoring")]
        namespace: String,
        #[command(flatten)]
        gen: GenArgs,
    },
}

/// Output format of `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    /// A tree for people.
    Text,
    /// The documented JSON shape, for tools.
    Json,
}

/// Options shared by the subcommands that build queries.
#[derive(Args, Debug, Clone)]
struct GenArgs {
    /// How metrics reach Prometheus: scraped from the exporters, or pushed to a Pushgateway.
    #[arg(long, value_enum, default_value = "scrape")]
    mode: Mode,
    /// Label that identifies hosts and switches: `instance`, or `exported_instance` for
    /// push mode when Prometheus scrapes the Pushgateway without honor_labels.
    #[arg(long = "instance-label", default_value = "instance")]
    instance_label: String,
    /// Grafana dashboard schemaVersion.
    #[arg(long = "schema-version", default_value_t = 41, value_parser = clap::value_parser!(u32).range(36..=42))]
    schema_version: u32,
    /// Add a Mermaid path diagram (needs Grafana's jdbranham-diagram-panel plugin).
    #[arg(long)]
    mermaid: bool,
    /// Pin the dashboards' datasource variable to this Grafana datasource uid.
    #[arg(long = "datasource-uid")]
    datasource_uid: Option<String>,
    /// Prometheus `job` of the node exporters [default: node; push mode: rtmon_node].
    #[arg(long = "node-job", value_name = "JOB")]
    node_job: Option<String>,
    /// Prometheus `job` of the ARP exporters [default: arp; push mode: rtmon_arp].
    #[arg(long = "arp-job", value_name = "JOB")]
    arp_job: Option<String>,
    /// Prometheus `job` of the ping exporters [default: ping; push mode: rtmon_ping].
    #[arg(long = "ping-job", value_name = "JOB")]
    ping_job: Option<String>,
    /// Window of the rate-based checks (errors, ping quality, loss); at least four
    /// SNMP scrape intervals.
    #[arg(long = "check-window", default_value = "5m")]
    check_window: String,
    /// Scrape interval of the host exporters: the host panels' minimum interval, so
    /// `$__rate_interval` spans several samples.
    #[arg(long = "host-scrape-interval", default_value = "30s")]
    host_scrape_interval: String,
    /// Scrape interval of the SNMP job: the switch panels' minimum interval.
    #[arg(long = "snmp-scrape-interval", default_value = "60s")]
    snmp_scrape_interval: String,
    /// The runbook alerts link to (`<url>#<check>`) [default: docs/runbook.md of the repository].
    #[arg(long = "runbook-url")]
    runbook_url: Option<String>,
    /// Grafana's base URL, for the alerts' dashboard links.
    #[arg(long = "grafana-url", default_value = "http://localhost:3000")]
    grafana_url: String,
}

/// A Prometheus duration (`30s`, `5m`, `1h30m`) or an error naming the flag.
fn prom_duration(flag: &str, v: &str) -> Result<(), String> {
    rtmon::cli::parse_duration(v).map_err(|e| format!("{flag}: {e}"))?;
    if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric()) || v.parse::<f64>().is_ok() {
        return Err(format!(
            "{flag}: use a Prometheus duration like 30s or 2m, not {v:?}"
        ));
    }
    Ok(())
}

impl GenArgs {
    fn options(&self) -> Result<Options, String> {
        if !matches!(
            self.instance_label.as_str(),
            "instance" | "exported_instance"
        ) {
            return Err(format!(
                "--instance-label must be `instance` or `exported_instance`, not {:?}",
                self.instance_label
            ));
        }
        let mut o = match self.mode {
            Mode::Scrape => Options::default(),
            Mode::Push => Options::push(),
        };
        o.instance_label = self.instance_label.clone();
        o.schema_version = self.schema_version;
        o.mermaid = self.mermaid;
        o.datasource_uid = self.datasource_uid.clone();
        for (flag, v) in [
            ("--check-window", &self.check_window),
            ("--host-scrape-interval", &self.host_scrape_interval),
            ("--snmp-scrape-interval", &self.snmp_scrape_interval),
        ] {
            prom_duration(flag, v)?;
        }
        o.check_window.clone_from(&self.check_window);
        o.host_interval.clone_from(&self.host_scrape_interval);
        o.snmp_interval.clone_from(&self.snmp_scrape_interval);
        if let Some(u) = &self.runbook_url {
            o.runbook_url.clone_from(u);
        }
        o.grafana_url.clone_from(&self.grafana_url);
        for (flag, value, job) in [
            ("--node-job", &self.node_job, &mut o.jobs.node),
            ("--arp-job", &self.arp_job, &mut o.jobs.arp),
            ("--ping-job", &self.ping_job, &mut o.jobs.ping),
        ] {
            if let Some(v) = value {
                if v.trim().is_empty() {
                    return Err(format!("{flag} must not be empty"));
                }
                job.clone_from(v);
            }
        }
        Ok(o)
    }
}

/// Loads and validates every flow file, reporting every error of every file (with the
/// offending line and a hint), and flow ids repeated across files.
fn load_flows(files: &[PathBuf]) -> Result<Vec<rtmon::flow::Flow>, String> {
    rtmon::flow::validate(files).map_err(|errors| {
        errors
            .iter()
            .map(|e| e.render())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn write_file(path: &std::path::Path, content: &str) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// How a command failed.
#[derive(Debug)]
enum Failure {
    /// Print this and exit 1.
    Message(String),
    /// Already reported on stdout; exit with this code.
    Code(u8),
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::Message(s)
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.cmd {
        Cmd::Sync { args, gen } => match rtmon_dashboards::sync::main(*args, gen.options()?) {
            0 => Ok(()),
            code => Err(Failure::Code(code)),
        },
        Cmd::Targets {
            flows,
            out,
            node_port,
            arp_port,
            ping_port,
        } => {
            let flows = load_flows(&flows)?;
            let ports = rtmon_dashboards::targets::Ports {
                node: node_port,
                arp: arp_port,
                ping: ping_port,
            };
            rtmon_dashboards::targets::write_all(&out, &flows, &ports)?;
            for name in rtmon_dashboards::targets::FILES {
                println!("{}", out.join(name).display());
            }
            Ok(())
        }
        Cmd::Generate { flows, out, gen } => {
            let opts = gen.options()?;
            let flows = load_flows(&flows)?;
            fleet::uid_clash(&flows)?;
            std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            // Flows are independent: build and serialise them on every core; one thread
            // writes the files (several writers in one directory contend for its lock: on
            // ext4 they spun for as long as the building took).
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
            let chunk = flows.len().div_ceil(workers).max(1);
            let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, PathBuf, String)>(4 * workers);
            let written: Result<Vec<PathBuf>, String> = std::thread::scope(|scope| {
                let handles: Vec<_> = flows
                    .chunks(chunk)
                    .enumerate()
                    .map(|(c, part)| {
                        let (out, opts, tx) = (&out, &opts, tx.clone());
                        scope.spawn(move || -> Result<(), String> {
                            for (i, flow) in part.iter().enumerate() {
                                let d = dashboard::build(flow, opts);
                                let text = serde_json::to_string_pretty(&d)
                                    .map_err(|e| e.to_string())?
                                    + "\n";
                                let path = out.join(format!("{}.json", dashboard::uid(&flow.id)));
                                if tx.send((c * chunk + i, path, text)).is_err() {
                                    break; // the writer stopped on an error
                                }
                            }
                            Ok(())
                        })
                    })
                    .collect();
                drop(tx);
                // Listed in the order of the flows, whatever order they were built in.
                let mut written: Vec<Option<PathBuf>> = vec![None; flows.len()];
                let mut failed = None;
                for (i, path, text) in rx {
                    if let Err(e) = write_file(&path, &text) {
                        failed = Some(e);
                        break;
                    }
                    written[i] = Some(path);
                }
                for h in handles {
                    h.join()
                        .unwrap_or_else(|_| Err("a generator thread panicked".into()))?;
                }
                failed.map_or_else(|| Ok(written.into_iter().flatten().collect()), Err)
            });
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            for path in written? {
                use std::io::Write as _;
                let _ = writeln!(stdout, "{}", path.display());
            }
            // The fleet overview: one dashboard whatever the number of flows.
            let path = out.join(fleet::file_name());
            let text = serde_json::to_string_pretty(&fleet::build(&opts))
                .map_err(|e| e.to_string())?
                + "\n";
            write_file(&path, &text)?;
            {
                use std::io::Write as _;
                let _ = writeln!(stdout, "{}", path.display());
            }
            Ok(())
        }
        Cmd::Check {
            flows,
            prometheus,
            rate_interval,
            require_healthy,
            verbose,
            gen,
        } => {
            let opts = gen.options()?;
            rtmon::cli::parse_duration(&rate_interval)
                .map_err(|e| format!("--rate-interval: {e}"))?;
            let flows = load_flows(&flows)?;
            let rt = runtime()?;
            rt.block_on(async {
                let c = client::client(std::time::Duration::from_secs(30))?;
                let (mut missing, mut unhealthy, mut total) = (0usize, 0usize, 0usize);
                for f in &flows {
                    println!("flow {}", f.id);
                    for o in check::check_flow(&c, &prometheus, f, &opts, &rate_interval).await? {
                        total += 1;
                        let bad_health = o.healthy == Some(false);
                        if o.why.is_some() {
                            missing += 1;
                        }
                        if bad_health {
                            unhealthy += 1;
                        }
                        if verbose || o.why.is_some() || bad_health {
                            let state = match (&o.why, o.healthy) {
                                (Some(_), _) => "NO DATA",
                                (None, Some(false)) => "UNHEALTHY",
                                (None, Some(true)) => "healthy",
                                (None, None) => "ok",
                            };
                            println!("  {state:<9} {}: {}", o.origin, o.expr);
                            if let Some(w) = &o.why {
                                println!("            why: {w}");
                            }
                        }
                    }
                }
                println!("fleet overview");
                for o in fleet::check(&c, &prometheus, &opts, &rate_interval).await? {
                    total += 1;
                    if o.why.is_some() {
                        missing += 1;
                    }
                    if verbose || o.why.is_some() {
                        let state = if o.why.is_some() { "NO DATA" } else { "ok" };
                        println!("  {state:<9} {}: {}", o.origin, o.expr);
                        if let Some(w) = &o.why {
                            println!("            why: {w}");
                        }
                    }
                }
                println!(
                    "{total} expressions, {missing} without data, {unhealthy} unhealthy checks"
                );
                Ok::<bool, String>(missing > 0 || (require_healthy && unhealthy > 0))
            })
            .map_err(Failure::from)
            .and_then(|failed| {
                if failed {
                    Err(Failure::Code(1))
                } else {
                    Ok(())
                }
            })
        }
        Cmd::Upload {
            flows,
            grafana,
            folder,
            token_file,
            token_env,
            gen,
        } => {
            let opts = gen.options()?;
            let token = upload::read_token(token_file.as_deref(), &token_env)?;
            let flows = load_flows(&flows)?;
            fleet::uid_clash(&flows)?;
            let rt = runtime()?;
            rt.block_on(async {
                let g = upload::Grafana::new(
                    &grafana,
                    token,
                    client::client(std::time::Duration::from_secs(30))?,
                );
                let folder_uid = g.ensure_folder(&folder).await?;
                for f in &flows {
                    println!(
                        "{}",
                        g.upload(&dashboard::build(f, &opts), &folder_uid).await?
                    );
                }
                println!("{}", g.upload(&fleet::build(&opts), &folder_uid).await?);
                Ok(())
            })
        }
        Cmd::Status {
            flows,
            prometheus,
            output,
            watch,
            lookback,
            stale_after,
            gen,
        } => {
            let mut opts = gen.options()?;
            opts.stale_after_seconds = stale_after.as_secs().max(1);
            let flows = load_flows(&flows)?;
            let rt = runtime()?;
            let code: u8 = rt.block_on(async {
                let c = client::client(std::time::Duration::from_secs(15))?;
                loop {
                    let mut states = Vec::new();
                    // Prometheus unreachable: said once, not once per check.
                    // So are rules that fall behind: their records describe the past.
                    let unreachable = match status::reachable(&c, &prometheus).await {
                        Ok(()) => status::rules_lag(&c, &prometheus).await.err(),
                        Err(e) => Some(e),
                    };
                    if unreachable.is_none() {
                        for f in &flows {
                            states.push(
                                status::evaluate(
                                    &c,
                                    &prometheus,
                                    f,
                                    &opts,
                                    lookback.as_secs().max(60),
                                )
                                .await,
                            );
                        }
                    }
                    if watch.is_some() {
                        print!("\x1b[2J\x1b[H");
                    }
                    match output {
                        OutputFormat::Json => {
                            let j = status::report_json(&states, unreachable.as_deref());
                            println!(
                                "{}",
                                serde_json::to_string_pretty(&j).map_err(|e| e.to_string())?
                            );
                        }
                        OutputFormat::Text => {
                            if let Some(e) = &unreachable {
                                println!("unknown: cannot evaluate any flow: {e}");
                            }
                            for s in &states {
                                print!("{}", s.to_text());
                            }
                        }
                    }
                    let overall = if unreachable.is_some() {
                        status::State::Unknown
                    } else {
                        states
                            .iter()
                            .map(|s| s.state())
                            .max()
                            .unwrap_or(status::State::Unknown)
                    };
                    match watch {
                        Some(secs) => {
                            tokio::time::sleep(std::time::Duration::from_secs(secs.max(1))).await
                        }
                        None => return Ok::<u8, String>(overall.exit_code()),
                    }
                }
            })?;
            if code == 0 {
                Ok(())
            } else {
                Err(Failure::Code(code))
            }
        }
        Cmd::Resolve { flows, snmp } => {
            let flows = load_flows(&flows)?;
            let rt = runtime()?;
            rt.block_on(async {
                let c = client::client(std::time::Duration::from_secs(30))?;
                let mut bad = 0;
                for f in &flows {
                    for r in resolve::resolve_flow(&c, &snmp, f).await {
                        if !r.ok() {
                            bad += 1;
                        }
                        let line = r.line();
                        println!("{} {} {:?}: {line}", r.flow, r.switch, r.port);
                    }
                }
                if bad > 0 {
                    Err(format!("{bad} port(s) could not be resolved"))
                } else {
                    Ok(())
                }
            })?;
            Ok(())
        }
        Cmd::Preview {
            dashboard,
            prometheus,
            out,
            time,
            rate_interval,
        } => {
            prom_duration("--rate-interval", &rate_interval)?;
            let text = std::fs::read_to_string(&dashboard)
                .map_err(|e| format!("{}: {e}", dashboard.display()))?;
            let d: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{}: not dashboard JSON: {e}", dashboard.display()))?;
            if !d.get("panels").is_some_and(serde_json::Value::is_array) {
                return Err(
                    format!("{}: no `panels` list: not a dashboard", dashboard.display()).into(),
                );
            }
            let rt = runtime()?;
            let results = rt.block_on(async {
                let c = client::client(std::time::Duration::from_secs(30))?;
                // Fail early and once when Prometheus is not there.
                status::reachable(&c, &prometheus).await?;
                Ok::<_, String>(
                    preview::fetch(&c, &prometheus, &d, &rate_interval, time.as_deref()).await,
                )
            })?;
            let when = time.clone().unwrap_or_else(|| "now".into());
            let html = preview::render(&d, &results, &format!("{when} from {prometheus}"));
            write_file(&out, &html)?;
            let failed = results.values().filter(|r| r.is_err()).count();
            println!(
                "{} ({} queries, {failed} failed)",
                out.display(),
                results.len()
            );
            if failed > 0 && failed == results.len() {
                // Written anyway (the errors are in the tiles), but nothing worked.
                return Err(format!(
                    "every query failed (see the tiles of {}), e.g. a bad --time",
                    out.display()
                )
                .into());
            }
            Ok(())
        }
        Cmd::ImportLegacy { file, out } => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let doc: serde_json::Value =
                serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            let r = legacy::convert(&doc, &file.display().to_string())?;
            for n in &r.notes {
                eprintln!("note: {n}");
            }
            if out.as_os_str() == "-" {
                print!("{}", r.yaml);
            } else {
                write_file(&out, &r.yaml)?;
                println!("{}", out.display());
            }
            Ok(())
        }
        Cmd::Provision {
            flows,
            out,
            folder,
            prometheus_url,
            dashboards_path,
            namespace,
            gen,
        } => {
            let mut opts = gen.options()?;
            let p = ProvisionOptions {
                folder,
                dashboards_path,
                prometheus_url,
                datasource_uid: opts
                    .datasource_uid
                    .clone()
                    .unwrap_or_else(|| provision::DATASOURCE_UID.into()),
                namespace,
            };
            // Provisioned dashboards pin the provisioned datasource.
            opts.datasource_uid = Some(p.datasource_uid.clone());
            let flows = load_flows(&flows)?;
            fleet::uid_clash(&flows)?;
            let mut dashboards: Vec<(String, serde_json::Value)> = flows
                .iter()
                .map(|f| (dashboard::uid(&f.id), dashboard::build(f, &opts)))
                .collect();
            if !flows.is_empty() {
                let uid = rtmon_dashboards::names::FLEET_UID.to_string();
                dashboards.push((uid, fleet::build(&opts)));
            }
            // The flows' rules as a PrometheusRule too (the `rules` defaults: 30s, 2m).
            let rule_text = rules::render(&flows, &opts, "30s", "2m");
            for (rel, content) in provision::files_with_rules(&p, &dashboards, &rule_text) {
                let path = out.join(rel);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                write_file(&path, &content)?;
                println!("{}", path.display());
            }
            Ok(())
        }
        Cmd::Alertmanager {
            out,
            receiver,
            webhook_url,
            group_wait,
            group_interval,
            repeat_interval,
        } => {
            for (flag, v) in [
                ("--group-wait", &group_wait),
                ("--group-interval", &group_interval),
                ("--repeat-interval", &repeat_interval),
            ] {
                prom_duration(flag, v)?;
            }
            if receiver.trim().is_empty() {
                return Err("--receiver must not be empty".to_string().into());
            }
            let text = alertmanager::render(&alertmanager::AlertmanagerOptions {
                receiver,
                webhook_url,
                group_wait,
                group_interval,
                repeat_interval,
            });
            if out.as_os_str() == "-" {
                print!("{text}");
            } else {
                write_file(&out, &text)?;
                println!("{}", out.display());
            }
            Ok(())
        }
        Cmd::Topology { flows, out, gen } => {
            let opts = gen.options()?;
            let flows = load_flows(&flows)?;
            let write = |w: &mut dyn std::io::Write| {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, w);
                rtmon_dashboards::topology::write_exposition(&mut w, &flows, &opts)
                    .and_then(|()| std::io::Write::flush(&mut w))
            };
            if out.as_os_str() == "-" {
                write(&mut std::io::stdout().lock()).map_err(|e| format!("stdout: {e}"))?;
            } else {
                let tmp = out.with_extension("tmp");
                let mut f =
                    std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
                write(&mut f).map_err(|e| format!("{}: {e}", tmp.display()))?;
                std::fs::rename(&tmp, &out).map_err(|e| format!("{}: {e}", out.display()))?;
                println!("{}", out.display());
            }
            Ok(())
        }
        Cmd::Rules {
            flows,
            out,
            eval_interval,
            alert_for,
            layout,
            topology,
            gen,
        } => {
            let opts = gen.options()?;
            let topology_rules = topology == "rules";
            let per_flow = layout == "per-flow";
            let write = |w: &mut Box<dyn std::io::Write>,
                         flows: &[rtmon::flow::Flow],
                         opts: &rtmon_dashboards::Options,
                         eval: &str,
                         alert_for: &str| {
                if per_flow {
                    rtmon_dashboards::engine::per_flow::write(w, flows, opts, eval, alert_for)
                } else {
                    rules::write_with(w, flows, opts, eval, alert_for, topology_rules)
                }
            };
            for (flag, v) in [
                ("--eval-interval", &eval_interval),
                ("--alert-for", &alert_for),
            ] {
                prom_duration(flag, v)?;
            }
            let flows = load_flows(&flows)?;
            if out.as_os_str() == "-" {
                let mut w: Box<dyn std::io::Write> =
                    Box::new(std::io::BufWriter::new(std::io::stdout().lock()));
                write(&mut w, &flows, &opts, &eval_interval, &alert_for)
                    .and_then(|()| std::io::Write::flush(&mut w))
                    .map_err(|e| format!("stdout: {e}"))?;
            } else {
                // Streamed to a temporary file beside the output, renamed when complete.
                let tmp = out.with_extension("tmp");
                let f =
                    std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
                let mut w: Box<dyn std::io::Write> =
                    Box::new(std::io::BufWriter::with_capacity(1 << 20, f));
                write(&mut w, &flows, &opts, &eval_interval, &alert_for)
                    .and_then(|()| std::io::Write::flush(&mut w))
                    .map_err(|e| format!("{}: {e}", tmp.display()))?;
                drop(w);
                std::fs::rename(&tmp, &out).map_err(|e| format!("{}: {e}", out.display()))?;
                println!("{}", out.display());
            }
            Ok(())
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Exit code of an error that is not a verdict: 1, like the exporters' bad flag or
/// config; for `status`, whose 1 and 2 mean degraded and down, 3 ("could not evaluate").
fn error_exit(is_status: bool) -> ExitCode {
    ExitCode::from(if is_status { 3 } else { 1 })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            // --help and --version print to stdout and succeed; a bad flag is an error
            // (clap's own exit code 2 would read as "down" from `status`).
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => error_exit(std::env::args().nth(1).as_deref() == Some("status")),
            };
        }
    };
    let is_status = matches!(cli.cmd, Cmd::Status { .. });
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Code(c)) => ExitCode::from(c),
        Err(Failure::Message(e)) => {
            eprintln!("rtmon-dashboards: {e}");
            error_exit(is_status)
        }
    }
}
