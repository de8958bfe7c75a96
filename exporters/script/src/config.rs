//! The script configuration file.
//!
//! A superset of ricoberger/script_exporter's format: a config using only `name`,
//! `command` and `args` loads unchanged, and so does the older v2 form
//! `script: ./check.sh arg` (split on whitespace, never run through a shell).
//!
//! ```yaml
//! scripts:
//!   - name: ping                  # [A-Za-z0-9_.-]+, unique
//!     command: /usr/local/bin/check-ping.sh   # or a list: [/bin/sh, -c, "..."]
//!     args: [--count, "3"]        # fixed arguments (never from the request)
//!     env: {LANG: C}              # fixed environment (operator-set, trusted)
//!     inherit_env: [HTTPS_PROXY]  # exporter variables passed on, besides PATH, LANG,
//!                                 # LC_ALL and TZ (nothing else is inherited)
//!     params:                     # the ONLY request parameters the script may get
//!       - name: target            # ?target=VALUE
//!         regex: '[0-9.]+'        # whole value must match (anchored)
//!         required: true          # else 400 when missing (default false)
//!         default: 127.0.0.1      # used when missing (optional)
//!         flag: --target          # passed as two arguments `--target VALUE`;
//!         # env: PARAM_TARGET     # …or as this environment variable (PARAM_* or RTMON_*);
//!         # neither: a positional argument, in declaration order ("" when missing)
//!     timeout: 10s                # or script_exporter's {max_timeout: 10, …}; default
//!                                 # --script.default-timeout; always enforced
//!     cache: {duration: 60s}      # reuse a successful result for that long
//!     max_concurrency: 4          # runs of this script at once (default 8)
//!     discovery: {params: {target: 10.0.0.1}, scrape_interval: 30s}
//! ```
//!
//! Request parameters reach the script only as declared above: never through a shell
//! and never as an environment variable the operator did not name. A parameter may only
//! be passed as an environment variable named `PARAM_*` or `RTMON_*` (upper case): an
//! allow-list, since the names that change how programs load or run (`LD_PRELOAD`,
//! `BASH_ENV`, `OPENSSL_CONF`, `LUA_INIT`, `GLIBC_TUNABLES`, `http_proxy`, …) cannot be
//! listed exhaustively.
//!
//! Scripts start with a minimal environment: `PATH` (or a default one), `LANG`, `LC_ALL`
//! and `TZ` from the exporter's environment, the variables named in `inherit_env`, then
//! `env`, the parameter variables and `SCRIPT_TIMEOUT`/`SCRIPT_DEADLINE`. Secrets in the
//! exporter's environment do not reach scripts unless named.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use regex::Regex;
use rtmon::config::{ConfigError, Spanned};
use serde::Deserialize;

/// A validated configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The scripts, in file order.
    pub scripts: Vec<Script>,
    /// Notes about accepted-but-ignored script_exporter options (logged at load).
    pub warnings: Vec<String>,
}

impl Config {
    /// Looks a script up by name.
    pub fn script(&self, name: &str) -> Option<&Script> {
        self.scripts.iter().find(|s| s.name == name)
    }
}

/// One configured script.
#[derive(Clone, Debug)]
pub struct Script {
    /// Name used in `?script=` and the `script` label.
    pub name: String,
    /// Program to execute (looked up in `PATH` if it has no `/`).
    pub program: String,
    /// Fixed arguments (`command` list tail, then `args`).
    pub args: Vec<String>,
    /// Fixed environment variables.
    pub env: Vec<(String, String)>,
    /// Variables of the exporter's environment passed on (besides [`INHERITED_ENV`]).
    pub inherit_env: Vec<String>,
    /// Allowed request parameters.
    pub params: Vec<Param>,
    /// Configured timeout; `None`: the exporter's default.
    pub timeout: Option<Duration>,
    /// How long a result may be reused.
    pub cache: Option<Duration>,
    /// Whether failed results are cached too.
    pub cache_on_error: bool,
    /// Runs of this script at once.
    pub max_concurrency: usize,
    /// What `/discovery` announces for this script.
    pub discovery: Discovery,
}

/// An allowed request parameter.
#[derive(Clone, Debug)]
pub struct Param {
    /// Query parameter name.
    pub name: String,
    /// The value must match this (anchored) expression.
    pub regex: Regex,
    /// 400 when missing.
    pub required: bool,
    /// Value used when missing.
    pub default: Option<String>,
    /// How the value reaches the script.
    pub pass: Pass,
}

/// How a parameter value is passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pass {
    /// A positional argument after the fixed ones, in declaration order.
    Positional,
    /// Two arguments: the flag, then the value.
    Flag(String),
    /// An environment variable of this name.
    Env(String),
}

/// Discovery settings of a script.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// Fixed parameters added to the discovered target (`__param_<name>`).
    pub params: BTreeMap<String, String>,
    /// `__scrape_interval__`, if set.
    pub scrape_interval: Option<Duration>,
    /// `__scrape_timeout__`, if set.
    pub scrape_timeout: Option<Duration>,
}

/// Query parameter names the exporter itself uses.
pub const RESERVED_PARAMS: &[&str] = &["script", "timeout", "params"];

/// Variables of the exporter's environment every script gets (when set).
pub const INHERITED_ENV: &[&str] = &["PATH", "LANG", "LC_ALL", "TZ"];

/// `PATH` of scripts when the exporter has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Prefixes a request parameter's environment variable name must have (an allow-list).
pub const PARAM_ENV_PREFIXES: &[&str] = &["PARAM_", "RTMON_"];

fn valid_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
        ))
    }
}

/// Whether a request parameter may be passed as environment variable `name`: upper
/// case, starting with one of [`PARAM_ENV_PREFIXES`].
pub fn env_name_allowed(name: &str) -> Result<(), String> {
    valid_env_name(name)?;
    let upper_only = name
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    let rest_ok = PARAM_ENV_PREFIXES
        .iter()
        .any(|p| name.strip_prefix(p).is_some_and(|r| !r.is_empty()));
    if upper_only && rest_ok {
        return Ok(());
    }
    Err(format!(
        "a request parameter may only be passed as an upper-case environment variable \
         named PARAM_* or RTMON_*, not {name:?} (variables such as LD_PRELOAD, BASH_ENV, \
         OPENSSL_CONF or http_proxy change how programs load or run)"
    ))
}

// ---- raw (serde) form ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    scripts: Vec<RawScript>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    name: Spanned<String>,
    #[serde(default)]
    command: Option<Spanned<CommandSpec>>,
    /// script_exporter v2's older form: one string, split on whitespace (no shell).
    #[serde(default)]
    script: Option<Spanned<String>>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    inherit_env: Vec<Spanned<String>>,
    #[serde(default)]
    params: Vec<RawParam>,
    #[serde(default)]
    timeout: Option<Spanned<TimeoutSpec>>,
    #[serde(default)]
    cache: Option<Spanned<RawCache>>,
    #[serde(default)]
    max_concurrency: Option<Spanned<usize>>,
    #[serde(default)]
    discovery: Option<RawDiscovery>,
    /// script_exporter: `output: {ignore, ignore_on_error, format}` — only the
    /// Prometheus format is supported.
    #[serde(default)]
    output: Option<Spanned<RawOutput>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CommandSpec {
    One(String),
    List(Vec<String>),
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum DurationSpec {
    Seconds(f64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TimeoutSpec {
    Simple(DurationSpec),
    Full(RawTimeout),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeout {
    #[serde(default)]
    max_timeout: Option<DurationSpec>,
    #[serde(default)]
    enforced: Option<bool>,
    #[serde(default)]
    wait_delay: Option<DurationSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCache {
    #[serde(default)]
    duration: Option<DurationSpec>,
    #[serde(default)]
    cache_on_error: bool,
    #[serde(default)]
    use_expired_cache_on_error: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    #[serde(default)]
    ignore: Option<bool>,
    #[serde(default)]
    ignore_on_error: Option<bool>,
    #[serde(default)]
    format: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiscovery {
    #[serde(default)]
    params: BTreeMap<String, String>,
    #[serde(default)]
    scrape_interval: Option<DurationSpec>,
    #[serde(default)]
    scrape_timeout: Option<DurationSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    name: Spanned<String>,
    regex: Spanned<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    flag: Option<Spanned<String>>,
    #[serde(default)]
    env: Option<Spanned<String>>,
}

fn duration(
    file: &Path,
    at: &Spanned<impl Sized>,
    field: &str,
    d: &DurationSpec,
) -> Result<Duration, ConfigError> {
    match d {
        DurationSpec::Seconds(s) => rtmon::duration::from_secs_f64(*s)
            .map_err(|e| ConfigError::at(file, at, format!("{field}: invalid duration {s}: {e}"))),
        DurationSpec::Text(t) => rtmon::duration::parse(t)
            .map_err(|e| ConfigError::at(file, at, format!("{field}: {e}"))),
    }
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = rtmon::config::read_text(path)?;
    parse(path, &text)
}

/// Parses and validates config text (`file` names it in errors).
pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = rtmon::config::from_yaml_str(file, text)?;
    let mut cfg = Config::default();
    for rs in raw.scripts {
        let s = validate_script(file, rs, &mut cfg.warnings)?;
        if cfg.script(&s.name).is_some() {
            return Err(ConfigError::new(
                file,
                None,
                format!("script {:?} is defined twice", s.name),
            ));
        }
        cfg.scripts.push(s);
    }
    Ok(cfg)
}

fn valid_script_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn validate_script(
    file: &Path,
    rs: RawScript,
    warnings: &mut Vec<String>,
) -> Result<Script, ConfigError> {
    let name = rs.name.value.clone();
    if !valid_script_name(&name) {
        return Err(ConfigError::at(
            file,
            &rs.name,
            format!("script name {name:?} must be non-empty and use only [A-Za-z0-9_.-]"),
        ));
    }
    let words: Vec<String> = match (&rs.command, &rs.script) {
        (Some(_), Some(sc)) => {
            return Err(ConfigError::at(
                file,
                sc,
                format!("script {name:?}: give either `command` or `script`, not both"),
            ))
        }
        (None, None) => {
            return Err(ConfigError::at(
                file,
                &rs.name,
                format!("script {name:?}: `command` is missing"),
            ))
        }
        (Some(c), None) => match &c.value {
            CommandSpec::One(c) => vec![c.clone()],
            CommandSpec::List(l) => l.clone(),
        },
        (None, Some(sc)) => sc.value.split_whitespace().map(str::to_string).collect(),
    };
    let (program, mut args) = match words.split_first() {
        Some((p, rest)) if !p.trim().is_empty() => (p.clone(), rest.to_vec()),
        _ => {
            let at = match (&rs.command, &rs.script) {
                (Some(c), _) => ConfigError::at(file, c, ""),
                (_, Some(s)) => ConfigError::at(file, s, ""),
                _ => ConfigError::at(file, &rs.name, ""),
            };
            return Err(ConfigError::new(
                file,
                at.location,
                format!("script {name:?}: command is empty"),
            ));
        }
    };
    args.extend(rs.args);

    let mut timeout = None;
    if let Some(t) = &rs.timeout {
        match &t.value {
            TimeoutSpec::Simple(d) => {
                let d = duration(file, t, &format!("script {name:?}: timeout"), d)?;
                if d.is_zero() {
                    return Err(ConfigError::at(
                        file,
                        t,
                        format!("script {name:?}: timeout must be positive"),
                    ));
                }
                timeout = Some(d);
            }
            TimeoutSpec::Full(f) => {
                if let Some(d) = &f.max_timeout {
                    let d = duration(file, t, &format!("script {name:?}: timeout.max_timeout"), d)?;
                    // script_exporter: 0 means "no limit"; we always enforce one.
                    timeout = (!d.is_zero()).then_some(d);
                }
                if f.enforced == Some(false) {
                    warnings.push(format!(
                        "script {name:?}: timeout.enforced=false is ignored, timeouts are always enforced"
                    ));
                }
                if f.wait_delay.is_some() {
                    warnings.push(format!(
                        "script {name:?}: timeout.wait_delay is ignored, the whole process group is killed at the deadline"
                    ));
                }
            }
        }
    }

    let (mut cache, mut cache_on_error) = (None, false);
    if let Some(c) = &rs.cache {
        if let Some(d) = &c.value.duration {
            let d = duration(file, c, &format!("script {name:?}: cache.duration"), d)?;
            cache = (!d.is_zero()).then_some(d);
        }
        cache_on_error = c.value.cache_on_error;
        if c.value.use_expired_cache_on_error.is_some() {
            warnings.push(format!(
                "script {name:?}: cache.use_expired_cache_on_error is ignored"
            ));
        }
    }

    if let Some(o) = &rs.output {
        if o.value.format.as_deref().is_some_and(|f| f != "prometheus") {
            return Err(ConfigError::at(
                file,
                o,
                format!("script {name:?}: only output.format \"prometheus\" is supported"),
            ));
        }
        if o.value.ignore.is_some() || o.value.ignore_on_error.is_some() {
            warnings.push(format!(
                "script {name:?}: output.ignore/ignore_on_error are ignored, output is always validated and exposed"
            ));
        }
    }

    let max_concurrency = match &rs.max_concurrency {
        Some(m) if m.value == 0 => {
            return Err(ConfigError::at(
                file,
                m,
                format!("script {name:?}: max_concurrency must be at least 1"),
            ))
        }
        Some(m) => m.value,
        None => 8,
    };

    let mut params: Vec<Param> = Vec::new();
    for rp in rs.params {
        let pname = rp.name.value.clone();
        if !rtmon::expo::valid_label_name(&pname) {
            return Err(ConfigError::at(
                file,
                &rp.name,
                format!(
                    "script {name:?}: parameter name {pname:?} must match [A-Za-z_][A-Za-z0-9_]*"
                ),
            ));
        }
        if RESERVED_PARAMS.contains(&pname.as_str()) {
            return Err(ConfigError::at(
                file,
                &rp.name,
                format!("script {name:?}: parameter name {pname:?} is reserved by the exporter"),
            ));
        }
        if params.iter().any(|p| p.name == pname) {
            return Err(ConfigError::at(
                file,
                &rp.name,
                format!("script {name:?}: parameter {pname:?} is declared twice"),
            ));
        }
        let regex = Regex::new(&format!("^(?:{})$", rp.regex.value)).map_err(|e| {
            let first = e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string();
            ConfigError::at(
                file,
                &rp.regex,
                format!("script {name:?}: parameter {pname:?}: invalid regex: {first}"),
            )
        })?;
        if let Some(d) = &rp.default {
            if !regex.is_match(d) {
                return Err(ConfigError::at(
                    file,
                    &rp.name,
                    format!(
                        "script {name:?}: parameter {pname:?}: default does not match its regex"
                    ),
                ));
            }
        }
        let pass = match (&rp.flag, &rp.env) {
            (Some(f), Some(_)) => {
                return Err(ConfigError::at(
                    file,
                    f,
                    format!(
                        "script {name:?}: parameter {pname:?}: use either flag or env, not both"
                    ),
                ))
            }
            (Some(f), None) if f.value.is_empty() => {
                return Err(ConfigError::at(file, f, "flag must not be empty"))
            }
            (Some(f), None) => Pass::Flag(f.value.clone()),
            (None, Some(e)) => {
                env_name_allowed(&e.value).map_err(|m| {
                    ConfigError::at(
                        file,
                        e,
                        format!("script {name:?}: parameter {pname:?}: {m}"),
                    )
                })?;
                Pass::Env(e.value.clone())
            }
            (None, None) => Pass::Positional,
        };
        params.push(Param {
            name: pname,
            regex,
            required: rp.required,
            default: rp.default,
            pass,
        });
    }

    let mut inherit_env = Vec::new();
    for v in &rs.inherit_env {
        valid_env_name(&v.value)
            .map_err(|m| ConfigError::at(file, v, format!("script {name:?}: inherit_env: {m}")))?;
        if !INHERITED_ENV.contains(&v.value.as_str()) && !inherit_env.contains(&v.value) {
            inherit_env.push(v.value.clone());
        }
    }

    let mut discovery = Discovery::default();
    if let Some(d) = rs.discovery {
        for k in d.params.keys() {
            if !params.iter().any(|p| &p.name == k) {
                return Err(ConfigError::at(
                    file,
                    &rs.name,
                    format!(
                        "script {name:?}: discovery parameter {k:?} is not a declared parameter"
                    ),
                ));
            }
        }
        discovery.params = d.params;
        if let Some(i) = &d.scrape_interval {
            discovery.scrape_interval =
                Some(duration(file, &rs.name, "discovery.scrape_interval", i)?);
        }
        if let Some(t) = &d.scrape_timeout {
            discovery.scrape_timeout =
                Some(duration(file, &rs.name, "discovery.scrape_timeout", t)?);
        }
    }

    Ok(Script {
        name,
        program,
        args,
        env: rs.env.into_iter().collect(),
        inherit_env,
        params,
        timeout,
        cache,
        cache_on_error,
        max_concurrency,
        discovery,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Config, ConfigError> {
        parse(Path::new("cfg.yml"), s)
    }

    #[test]
    fn script_exporter_minimal_config_loads_unchanged() {
        // ricoberger/script_exporter's README example form (v2 string command, v3 list).
        let c = p("scripts:\n  - name: test\n    command: ./examples/test.sh\n  - name: ping\n    command: ./examples/ping.sh\n    args:\n      - -c\n      - \"3\"\n  - name: v3\n    command: [/bin/sh, -c]\n    args: ['echo hi 1']\n")
            .expect("loads");
        assert_eq!(c.scripts.len(), 3);
        assert_eq!(c.scripts[0].program, "./examples/test.sh");
        assert_eq!(c.scripts[1].args, vec!["-c", "3"]);
        assert_eq!(c.scripts[2].program, "/bin/sh");
        assert_eq!(c.scripts[2].args, vec!["-c", "echo hi 1"]);
        assert!(c
            .scripts
            .iter()
            .all(|s| s.params.is_empty() && s.timeout.is_none()));
    }

    #[test]
    fn script_exporter_v2_script_key_loads() {
        // The predecessor's se_config/config.yaml form (script_exporter v2.5).
        let c = p("scripts:\n  - name: default\n    script: ./examples/args.sh -v  x\n")
            .expect("loads");
        assert_eq!(c.scripts[0].program, "./examples/args.sh");
        assert_eq!(c.scripts[0].args, vec!["-v", "x"]);
        let e = p("scripts:\n  - name: d\n    script: a\n    command: b\n").expect_err("both");
        assert!(e.to_string().contains("not both"), "{e}");
        let e = p("scripts:\n  - name: d\n").expect_err("none");
        assert!(e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn script_exporter_extended_keys_load() {
        let c = p(concat!(
            "scripts:\n",
            "  - name: t\n",
            "    command: [./t.sh]\n",
            "    env: {A: b}\n",
            "    timeout: {max_timeout: 5, enforced: false, wait_delay: 1}\n",
            "    cache: {duration: 60, cache_on_error: true}\n",
            "    output: {format: prometheus}\n",
            "    discovery: {scrape_interval: 30s}\n",
        ))
        .expect("loads");
        let s = &c.scripts[0];
        assert_eq!(s.timeout, Some(Duration::from_secs(5)));
        assert_eq!(s.cache, Some(Duration::from_secs(60)));
        assert!(s.cache_on_error);
        assert_eq!(s.env, vec![("A".to_string(), "b".to_string())]);
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert_eq!(s.discovery.scrape_interval, Some(Duration::from_secs(30)));
    }

    #[test]
    fn params_are_validated() {
        let c = p(concat!(
            "scripts:\n",
            "  - name: t\n",
            "    command: ./t.sh\n",
            "    timeout: 2s\n",
            "    params:\n",
            "      - {name: target, regex: '[0-9.]+', required: true, flag: --target}\n",
            "      - {name: count, regex: '[0-9]{1,2}', default: '3'}\n",
            "      - {name: iface, regex: '[a-z0-9.]+', env: RTMON_IFACE}\n",
        ))
        .expect("loads");
        let s = &c.scripts[0];
        assert_eq!(s.timeout, Some(Duration::from_secs(2)));
        assert_eq!(s.params[0].pass, Pass::Flag("--target".into()));
        assert_eq!(s.params[1].pass, Pass::Positional);
        assert_eq!(s.params[2].pass, Pass::Env("RTMON_IFACE".into()));
        // Anchored: a prefix match is not enough.
        assert!(!s.params[0].regex.is_match("1.2.3.4; rm -rf /"));
        assert!(s.params[0].regex.is_match("1.2.3.4"));
    }

    #[test]
    fn errors_point_at_file_line_and_reason() {
        let cases: &[(&str, &str)] = &[
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: LD_PRELOAD}\n",
                "LD_PRELOAD",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: BASH_ENV}\n",
                "BASH_ENV",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: PATH}\n",
                "PATH",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: OPENSSL_CONF}\n",
                "OPENSSL_CONF",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: LUA_INIT}\n",
                "LUA_INIT",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: GLIBC_TUNABLES}\n",
                "GLIBC_TUNABLES",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: PYTHONWARNINGS}\n",
                "PYTHONWARNINGS",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: GIT_SSH_COMMAND}\n",
                "GIT_SSH_COMMAND",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: http_proxy}\n",
                "http_proxy",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: RTMON_lower}\n",
                "RTMON_lower",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: PARAM_}\n",
                "PARAM_",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: SCRIPT_TIMEOUT}\n",
                "SCRIPT_TIMEOUT",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    inherit_env: ['A B']\n",
                "inherit_env",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: '(a'}\n",
                "invalid regex",
            ),
            (
                "scripts:\n  - name: t\n    command: x\n    params:\n      - {name: script, regex: 'a'}\n",
                "reserved",
            ),
            ("scripts:\n  - name: 'a b'\n    command: x\n", "script name"),
            ("scripts:\n  - name: t\n    command: []\n", "command is empty"),
            ("scripts:\n  - name: t\n    command: x\n  - name: t\n    command: z\n", "twice"),
            ("scripts:\n  - name: t\n    comand: x\n", "comand"),
            ("scripts:\n  - name: t\n    command: x\n    sudo: true\n", "sudo"),
            ("scripts:\n  - name: t\n    command: x\n    timeout: 5 parsecs\n", "invalid duration"),
            ("scripts:\n  - name: t\n    command: x\n    output: {format: nagios}\n", "prometheus"),
        ];
        for (text, needle) in cases {
            let e = p(text).expect_err(text);
            let msg = e.to_string();
            assert!(msg.starts_with("cfg.yml:"), "{msg}");
            assert!(msg.contains(needle), "{needle}: {msg}");
        }
        let e = p("scripts:\n  - name: t\n    command: x\n    params:\n      - {name: p, regex: 'a', env: LD_PRELOAD}\n")
            .expect_err("bad env");
        assert_eq!(e.location.map(|l| l.line), Some(5), "{e}");
        for ok in ["PARAM_TARGET", "RTMON_IFACE", "PARAM_2"] {
            assert_eq!(env_name_allowed(ok), Ok(()), "{ok}");
        }
        // One sentence, single spaces (a line-continuation slip once left runs of blanks).
        let msg = env_name_allowed("LD_PRELOAD").expect_err("refused");
        assert_eq!(
            msg,
            "a request parameter may only be passed as an upper-case environment variable named PARAM_* or RTMON_*, not \"LD_PRELOAD\" (variables such as LD_PRELOAD, BASH_ENV, OPENSSL_CONF or http_proxy change how programs load or run)"
        );
        assert!(!e.to_string().contains("  "), "{e}");
        let c = p("scripts:\n  - name: t\n    command: x\n    inherit_env: [HTTPS_PROXY, PATH, HTTPS_PROXY]\n").expect("ok");
        assert_eq!(c.scripts[0].inherit_env, vec!["HTTPS_PROXY"]);
    }
}
