//! Command-line conventions shared by every rtmon binary (Prometheus exporter names).
//!
//! An exporter flattens [`CommonArgs`] into its own clap struct and parses with
//! [`parse_with_defaults`], which sets its default listen address and push job:
//!
//! ```no_run
//! #[derive(clap::Parser, Debug)]
//! #[command(version, about = "Says hello")]
//! struct Args {
//!     #[command(flatten)]
//!     common: rtmon::cli::CommonArgs,
//!     /// Something of this exporter's own.
//!     #[arg(long = "hello.name", default_value = "world")]
//!     name: String,
//! }
//! let args: Args = rtmon::cli::parse_with_defaults(rtmon::cli::Defaults {
//!     listen_address: ":9999", push_job: "hello", max_requests: 40,
//! });
//! ```

use std::time::Duration;

use clap::Args;

/// Per-binary defaults applied to the shared flags.
#[derive(Clone, Copy, Debug)]
pub struct Defaults {
    /// Default `--web.listen-address`, e.g. `:9100`.
    pub listen_address: &'static str,
    /// Default `--push.job`, e.g. `rtmon_node`.
    pub push_job: &'static str,
    /// Default `--web.max-requests`: node_exporter's 40 for one-target exporters; a
    /// multi-target exporter that Prometheus scrapes once per target (snmp) needs more, and
    /// queues work behind its own per-target limits instead.
    pub max_requests: usize,
}

/// All shared flags. Their clap ids are their long names (`web.config.file`, …), so an
/// exporter's own fields (`config_file`, `interval`, …) never collide with them.
#[derive(Args, Clone, Debug, Default)]
pub struct CommonArgs {
    /// HTTP serving.
    #[command(flatten)]
    pub web: WebArgs,
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
    /// Push mode.
    #[command(flatten)]
    pub push: PushArgs,
}

/// HTTP serving flags.
#[derive(Args, Clone, Debug, Default)]
#[command(next_help_heading = "Web")]
pub struct WebArgs {
    /// Address to listen on for HTTP (repeatable). `:PORT` means all interfaces.
    /// An empty value disables serving (push-only mode).
    #[arg(id = "web.listen-address", long = "web.listen-address", value_name = "[HOST]:PORT", action = clap::ArgAction::Append)]
    pub listen_addresses: Vec<String>,

    /// Path under which to expose metrics.
    #[arg(
        id = "web.telemetry-path",
        long = "web.telemetry-path",
        value_name = "PATH",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,

    /// Path to an exporter-toolkit web config file (TLS, basic auth with bcrypt hashes).
    #[arg(
        id = "web.config.file",
        long = "web.config.file",
        value_name = "FILE",
        env = "RTMON_WEB_CONFIG_FILE"
    )]
    pub config_file: Option<std::path::PathBuf>,

    /// Maximum number of metrics/probe requests served at once; further ones get 503.
    /// Health endpoints are not counted. 0 means no limit.
    #[arg(
        id = "web.max-requests",
        long = "web.max-requests",
        value_name = "N",
        default_value_t = 40
    )]
    pub max_requests: usize,

    /// Subtracted from Prometheus' X-Prometheus-Scrape-Timeout-Seconds to get the deadline.
    #[arg(id = "web.timeout-offset", long = "web.timeout-offset", value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub timeout_offset: Duration,
}

/// Logging flags.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Logging")]
pub struct LogArgs {
    /// Only log messages with the given severity or above.
    #[arg(id = "log.level", long = "log.level", value_name = "LEVEL", default_value = "info",
          value_parser = ["debug", "info", "warn", "error"])]
    pub level: String,

    /// Output format of log messages (to stderr).
    #[arg(id = "log.format", long = "log.format", value_name = "FORMAT", default_value = "logfmt",
          value_parser = ["logfmt", "json"])]
    pub format: String,
}

impl Default for LogArgs {
    fn default() -> Self {
        LogArgs {
            level: "info".into(),
            format: "logfmt".into(),
        }
    }
}

/// Push-mode flags (Pushgateway).
#[derive(Args, Clone, Debug, Default)]
#[command(next_help_heading = "Push mode")]
pub struct PushArgs {
    /// Pushgateway base URL (e.g. http://pgw:9091). Enables push mode.
    #[arg(
        id = "push.url",
        long = "push.url",
        value_name = "URL",
        env = "RTMON_PUSH_URL"
    )]
    pub url: Option<String>,

    /// Job name of the pushed group.
    #[arg(id = "push.job", long = "push.job", value_name = "JOB")]
    pub job: Option<String>,

    /// Extra grouping label NAME=VALUE (repeatable), e.g. instance=dtn-a. Without an
    /// `instance` label, the host name is used.
    #[arg(id = "push.grouping", long = "push.grouping", value_name = "NAME=VALUE", action = clap::ArgAction::Append,
          value_parser = parse_grouping)]
    pub grouping: Vec<(String, String)>,

    /// Heartbeat: push at least this often.
    #[arg(id = "push.interval", long = "push.interval", value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Also push as soon as the exporter reports a change (debounced by --push.min-interval).
    #[arg(id = "push.on-change", long = "push.on-change")]
    pub on_change: bool,

    /// Minimum time between two pushes triggered by changes.
    #[arg(id = "push.min-interval", long = "push.min-interval", value_name = "DURATION", default_value = "200ms", value_parser = parse_duration)]
    pub min_interval: Duration,

    /// Delete the pushed group on clean shutdown (SIGTERM/SIGINT).
    #[arg(id = "push.delete-on-shutdown", long = "push.delete-on-shutdown")]
    pub delete_on_shutdown: bool,

    /// Timeout of one push request.
    #[arg(id = "push.timeout", long = "push.timeout", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Basic-auth user for the Pushgateway; the password comes from --push.password-file.
    #[arg(
        id = "push.username",
        long = "push.username",
        value_name = "USER",
        env = "RTMON_PUSH_USERNAME"
    )]
    pub username: Option<String>,

    /// File holding the Pushgateway basic-auth password (never given on the command line).
    #[arg(
        id = "push.password-file",
        long = "push.password-file",
        value_name = "FILE",
        env = "RTMON_PUSH_PASSWORD_FILE"
    )]
    pub password_file: Option<std::path::PathBuf>,

    /// Push one snapshot and exit (drop-in for a cron line). Exit code 0 on success.
    #[arg(id = "once", long = "once")]
    pub once: bool,
}

/// Parses `NAME=VALUE`.
pub fn parse_grouping(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))?;
    if !crate::expo::valid_label_name(k) {
        return Err(format!("{k:?} is not a valid label name"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// Parses a Prometheus-style duration: `1h30m`, `15s`, `500ms`, `2m`, `1.5s`; a bare
/// number means seconds. Bounded (see [`crate::duration`]): out-of-range values are
/// errors, so clap reports them naming the flag.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::duration::parse(s)
}

/// Parses the process arguments into `T`, with per-binary defaults for the shared flags.
/// On a bad flag, prints clap's message (which names the flag) and exits with status 1,
/// like every other configuration error of an rtmon exporter (and like the Go
/// exporters); `--help` and `--version` exit 0.
pub fn parse_with_defaults<T: clap::Parser>(d: Defaults) -> T {
    match try_parse_from_with_defaults(std::env::args_os(), d) {
        Ok(t) => t,
        Err(e) => exit_on_flag_error(e),
    }
}

/// Prints a clap error and exits: status 0 for `--help`/`--version`, 1 for a bad flag
/// (clap's own default is 2).
pub fn exit_on_flag_error(e: clap::Error) -> ! {
    let _ = e.print();
    if e.use_stderr() {
        std::process::exit(1)
    }
    std::process::exit(0)
}

/// Like [`parse_with_defaults`] from an explicit argument list (tests).
pub fn try_parse_from_with_defaults<T, I, A>(args: I, d: Defaults) -> Result<T, clap::Error>
where
    T: clap::Parser,
    I: IntoIterator<Item = A>,
    A: Into<std::ffi::OsString> + Clone,
{
    let cmd = T::command()
        .mut_arg("web.listen-address", |a| a.default_value(d.listen_address))
        .mut_arg("push.job", |a| a.default_value(d.push_job))
        .mut_arg("web.max-requests", |a| {
            a.default_value(d.max_requests.to_string())
        })
        .version(crate::LONG_VERSION);
    let mut matches = cmd.try_get_matches_from(args)?;
    T::from_arg_matches_mut(&mut matches)
}

/// The host name (for default grouping `instance`, logs and landing pages).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for buf.len() bytes; gethostname writes a NUL-terminated name.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        if let Ok(s) = std::str::from_utf8(&buf[..end]) {
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    "localhost".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct T {
        #[command(flatten)]
        common: CommonArgs,
    }

    const D: Defaults = Defaults {
        listen_address: ":9100",
        push_job: "rtmon_node",
        max_requests: 40,
    };

    #[test]
    fn version_carries_the_git_revision() {
        let e = try_parse_from_with_defaults::<T, _, _>(["rtmon-x", "--version"], D).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
        let out = e.render().to_string();
        assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");
        assert!(
            out.contains(&format!("(revision {})", crate::REVISION)),
            "{out}"
        );
        assert_ne!(crate::REVISION, "", "{out}");
    }

    #[test]
    fn defaults_are_per_binary() {
        let t: T = try_parse_from_with_defaults(["x"], D).expect("parse");
        assert_eq!(t.common.web.listen_addresses, vec![":9100".to_string()]);
        assert_eq!(t.common.push.job.as_deref(), Some("rtmon_node"));
        assert_eq!(t.common.web.telemetry_path, "/metrics");
        assert_eq!(t.common.push.interval, Duration::from_secs(15));
        assert_eq!(t.common.web.max_requests, 40);
        let multi = Defaults {
            max_requests: 1024,
            ..D
        };
        let t: T = try_parse_from_with_defaults(["x"], multi).expect("parse");
        assert_eq!(t.common.web.max_requests, 1024);
        let t: T =
            try_parse_from_with_defaults(["x", "--web.max-requests=7"], multi).expect("parse");
        assert_eq!(t.common.web.max_requests, 7);
    }

    #[test]
    fn listen_address_repeats_and_grouping_parses() {
        let t: T = try_parse_from_with_defaults(
            [
                "x",
                "--web.listen-address=127.0.0.1:1",
                "--web.listen-address",
                "[::1]:2",
                "--push.grouping",
                "instance=dtn-a",
                "--push.grouping=flow=a/b",
            ],
            D,
        )
        .expect("parse");
        assert_eq!(
            t.common.web.listen_addresses,
            vec!["127.0.0.1:1", "[::1]:2"]
        );
        assert_eq!(
            t.common.push.grouping,
            vec![
                ("instance".into(), "dtn-a".into()),
                ("flow".into(), "a/b".into())
            ]
        );
    }

    #[test]
    fn bad_flags_are_rejected_with_reason() {
        let e = try_parse_from_with_defaults::<T, _, _>(["x", "--push.grouping", "no-equals"], D)
            .expect_err("must fail");
        assert!(e.to_string().contains("NAME=VALUE"), "{e}");
        let e = try_parse_from_with_defaults::<T, _, _>(["x", "--log.level", "loud"], D)
            .expect_err("must fail");
        assert!(e.to_string().contains("loud"), "{e}");
        let e = try_parse_from_with_defaults::<T, _, _>(["x", "--web.listen-adress", ":1"], D)
            .expect_err("must fail");
        assert!(e.to_string().contains("--web.listen-address"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn out_of_range_duration_flags_name_the_flag() {
        for flag in [
            "--push.interval=1e30",
            "--push.timeout=99999999999999999999s",
            "--web.timeout-offset=1e30",
            "--push.min-interval=inf",
        ] {
            let e = try_parse_from_with_defaults::<T, _, _>(["x", flag], D).expect_err(flag);
            let name = flag.split('=').next().unwrap_or(flag);
            let msg = e.to_string();
            assert!(
                msg.contains(name) && msg.contains("duration"),
                "{flag}: {msg}"
            );
        }
    }
}
