//! `snmp.yml`: snmp_exporter-style `auths:` and `modules:`.
//!
//! ```yaml
//! auths:
//!   site_v2:            {version: 2, community: "{env:SITE_COMMUNITY}"}
//!   site_v3:
//!     version: 3
//!     username: rtmon
//!     security_level: authPriv       # noAuthNoPriv | authNoPriv | authPriv
//!     auth_protocol: SHA256          # MD5 SHA SHA224 SHA256 SHA384 SHA512
//!     password: "{file:/run/secrets/snmp_auth}"
//!     priv_protocol: AES256          # DES AES AES192 AES256 AES192C AES256C
//!     priv_password: "{file:/run/secrets/snmp_priv}"
//! modules:
//!   flow_ports:
//!     base: if_mib                   # if_mib | bridge_fdb | qbridge_vlan | system | lldp
//!     max_repetitions: 25
//!     retries: 3
//!     timeout: 5s                    # per request
//!     lookup_ttl: 5m
//!     filters: {ifName: '^(hundredGigE 1/27|Port-channel 103)$', oper_status: [up]}
//! ```
//! Secrets (`community`, `password`, `priv_password`) are literal strings or
//! `{env:VAR}` / `{file:PATH}` references, resolved at load time (a file's trailing
//! newlines removed). They are kept in the shared [`rtmon::config::Secret`], whose
//! `Debug`/`Display` never show the value, and no error message quotes them. The
//! built-in modules and the `public_v2` auth (v2c, community `public`) exist without any
//! file.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rtmon::config::{Secret, Spanned};
use serde::Deserialize;

/// SNMP version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// SNMPv1 (GETNEXT walks).
    V1,
    /// SNMPv2c.
    V2c,
    /// SNMPv3 USM.
    V3,
}

/// v3 security level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityLevel {
    /// No authentication, no privacy.
    NoAuthNoPriv,
    /// Authentication only.
    AuthNoPriv,
    /// Authentication and privacy.
    AuthPriv,
}

/// v3 authentication protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthProto {
    /// HMAC-MD5-96.
    Md5,
    /// HMAC-SHA-96.
    Sha,
    /// HMAC-SHA-224.
    Sha224,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-384.
    Sha384,
    /// HMAC-SHA-512.
    Sha512,
}

/// v3 privacy protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivProto {
    /// DES-CBC.
    Des,
    /// AES-128-CFB.
    Aes,
    /// AES-192 (Blumenthal key extension).
    Aes192,
    /// AES-256 (Blumenthal key extension).
    Aes256,
    /// AES-192 (Reeder/Cisco key extension).
    Aes192c,
    /// AES-256 (Reeder/Cisco key extension).
    Aes256c,
}

/// A resolved auth.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// Version.
    pub version: Version,
    /// v1/v2c community.
    pub community: Secret,
    /// v3 user name.
    pub username: String,
    /// v3 security level.
    pub security_level: SecurityLevel,
    /// v3 auth protocol.
    pub auth_protocol: AuthProto,
    /// v3 auth password.
    pub password: Secret,
    /// v3 privacy protocol.
    pub priv_protocol: PrivProto,
    /// v3 privacy password.
    pub priv_password: Secret,
    /// v3 context name.
    pub context_name: String,
}

impl AuthConfig {
    /// v2c with a community.
    pub fn v2c(community: &str) -> AuthConfig {
        AuthConfig {
            version: Version::V2c,
            community: Secret::literal(community),
            username: String::new(),
            security_level: SecurityLevel::NoAuthNoPriv,
            auth_protocol: AuthProto::Md5,
            password: Secret::literal(""),
            priv_protocol: PrivProto::Des,
            priv_password: Secret::literal(""),
            context_name: String::new(),
        }
    }
}

/// Which built-in collector a module runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// ifTable + ifXTable.
    IfMib,
    /// BRIDGE-MIB / Q-BRIDGE-MIB forwarding databases.
    BridgeFdb,
    /// sysUpTime, sysName, sysDescr.
    System,
    /// Q-BRIDGE-MIB VLAN membership per port.
    QbridgeVlan,
    /// LLDP-MIB / LLDP-V2-MIB remote tables (neighbours per port).
    Lldp,
}

impl Base {
    fn parse(s: &str) -> Option<Base> {
        match s {
            "if_mib" => Some(Base::IfMib),
            "bridge_fdb" => Some(Base::BridgeFdb),
            "system" => Some(Base::System),
            "qbridge_vlan" => Some(Base::QbridgeVlan),
            "lldp" => Some(Base::Lldp),
            _ => None,
        }
    }
}

/// Interface filters of an `if_mib` module.
#[derive(Clone, Debug, Default)]
pub struct IfFilter {
    /// Keep interfaces whose ifName matches.
    pub if_name: Option<regex::Regex>,
    /// Keep interfaces whose ifOperStatus is one of these (1 up, 2 down, …).
    pub oper_status: Vec<i64>,
}

impl IfFilter {
    /// Whether nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.if_name.is_none() && self.oper_status.is_empty()
    }
}

/// A resolved module.
#[derive(Clone, Debug)]
pub struct Module {
    /// Its name.
    pub name: String,
    /// What it collects.
    pub base: Base,
    /// GETBULK max-repetitions (halved on tooBig/genErr/timeout).
    pub max_repetitions: u32,
    /// Retries per request after a timeout.
    pub retries: u32,
    /// Timeout of one request.
    pub timeout: Duration,
    /// How long cached lookup tables (ifName, ifDescr, ifAlias, …) stay valid.
    pub lookup_ttl: Duration,
    /// Interface filters (if_mib).
    pub filter: IfFilter,
}

impl Module {
    /// A built-in module with default settings.
    pub fn builtin(name: &str, base: Base) -> Module {
        Module {
            name: name.to_string(),
            base,
            max_repetitions: 25,
            retries: 3,
            timeout: Duration::from_secs(5),
            lookup_ttl: Duration::from_secs(300),
            filter: IfFilter::default(),
        }
    }
}

/// The whole resolved configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Auths by name.
    pub auths: BTreeMap<String, AuthConfig>,
    /// Modules by name.
    pub modules: BTreeMap<String, Module>,
}

impl Default for Config {
    fn default() -> Config {
        let mut auths = BTreeMap::new();
        auths.insert("public_v2".to_string(), AuthConfig::v2c("public"));
        let mut modules = BTreeMap::new();
        for (n, b) in [
            ("if_mib", Base::IfMib),
            ("bridge_fdb", Base::BridgeFdb),
            ("system", Base::System),
            ("qbridge_vlan", Base::QbridgeVlan),
            ("lldp", Base::Lldp),
        ] {
            modules.insert(n.to_string(), Module::builtin(n, b));
        }
        Config { auths, modules }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    auths: BTreeMap<String, Spanned<RawAuth>>,
    #[serde(default)]
    modules: BTreeMap<String, Spanned<RawModule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    version: Option<u8>,
    community: Option<String>,
    username: Option<String>,
    security_level: Option<String>,
    password: Option<String>,
    auth_protocol: Option<String>,
    priv_protocol: Option<String>,
    priv_password: Option<String>,
    context_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModule {
    base: String,
    max_repetitions: Option<u32>,
    retries: Option<u32>,
    timeout: Option<Spanned<String>>,
    lookup_ttl: Option<Spanned<String>>,
    filters: Option<RawFilters>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilters {
    #[serde(rename = "ifName")]
    if_name: Option<String>,
    oper_status: Option<Vec<String>>,
}

/// A configuration error (never contains a secret).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A secret field's raw string (a literal, `{env:VAR}` or `{file:PATH}`) read now;
/// errors name the field (`what`) and the variable or file, never the value.
fn resolve_secret(raw: &str, what: &str) -> Result<Secret, ConfigError> {
    Secret::from_reference(raw)
        .and_then(|s| s.resolve())
        .map_err(|e| ConfigError(format!("{what}: {e}")))
}

/// Length of a resolved secret's value.
fn secret_len(s: &Secret) -> usize {
    s.expose().map_or(0, str::len)
}

/// Parses a duration like `5s`, `500ms`, `10m` (bounded: see [`rtmon::duration`]).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    rtmon::duration::parse(s)
}

/// `file:line:column: ` of a spanned value (or `file: ` when its place is unknown).
fn place<T>(file: &Path, v: &Spanned<T>) -> String {
    match rtmon::config::Location::from_saphyr(v.referenced) {
        Some(l) => format!("{}:{}:{}", file.display(), l.line, l.column),
        None => file.display().to_string(),
    }
}

fn parse_auth(name: &str, r: RawAuth) -> Result<AuthConfig, ConfigError> {
    let f = |field: &str| format!("auths.{name}.{field}");
    let mut a = AuthConfig::v2c("public");
    a.version = match r.version.unwrap_or(2) {
        1 => Version::V1,
        2 => Version::V2c,
        3 => Version::V3,
        v => {
            return Err(ConfigError(format!(
                "{}: unknown version {v} (1, 2 or 3)",
                f("version")
            )))
        }
    };
    if let Some(c) = &r.community {
        a.community = resolve_secret(c, &f("community"))?;
    }
    if let Some(u) = r.username {
        a.username = u;
    }
    if a.version == Version::V3 && a.username.is_empty() {
        return Err(ConfigError(format!(
            "{}: required for version 3",
            f("username")
        )));
    }
    a.security_level = match r.security_level.as_deref().unwrap_or("noAuthNoPriv") {
        "noAuthNoPriv" => SecurityLevel::NoAuthNoPriv,
        "authNoPriv" => SecurityLevel::AuthNoPriv,
        "authPriv" => SecurityLevel::AuthPriv,
        s => {
            return Err(ConfigError(format!(
                "{}: unknown `{s}` (noAuthNoPriv, authNoPriv, authPriv)",
                f("security_level")
            )))
        }
    };
    a.auth_protocol = match r
        .auth_protocol
        .as_deref()
        .unwrap_or("MD5")
        .to_ascii_uppercase()
        .as_str()
    {
        "MD5" => AuthProto::Md5,
        "SHA" | "SHA1" => AuthProto::Sha,
        "SHA224" => AuthProto::Sha224,
        "SHA256" => AuthProto::Sha256,
        "SHA384" => AuthProto::Sha384,
        "SHA512" => AuthProto::Sha512,
        s => {
            return Err(ConfigError(format!(
                "{}: unknown `{s}` (MD5, SHA, SHA224, SHA256, SHA384, SHA512)",
                f("auth_protocol")
            )))
        }
    };
    a.priv_protocol = match r
        .priv_protocol
        .as_deref()
        .unwrap_or("DES")
        .to_ascii_uppercase()
        .as_str()
    {
        "DES" => PrivProto::Des,
        "AES" | "AES128" => PrivProto::Aes,
        "AES192" => PrivProto::Aes192,
        "AES256" => PrivProto::Aes256,
        "AES192C" => PrivProto::Aes192c,
        "AES256C" => PrivProto::Aes256c,
        s => {
            return Err(ConfigError(format!(
                "{}: unknown `{s}` (DES, AES, AES192, AES256, AES192C, AES256C)",
                f("priv_protocol")
            )))
        }
    };
    if let Some(p) = &r.password {
        a.password = resolve_secret(p, &f("password"))?;
    }
    if let Some(p) = &r.priv_password {
        a.priv_password = resolve_secret(p, &f("priv_password"))?;
    }
    if a.version == Version::V3 {
        if a.security_level != SecurityLevel::NoAuthNoPriv && secret_len(&a.password) < 8 {
            return Err(ConfigError(format!(
                "{}: must be at least 8 characters",
                f("password")
            )));
        }
        if a.security_level == SecurityLevel::AuthPriv && secret_len(&a.priv_password) < 8 {
            return Err(ConfigError(format!(
                "{}: must be at least 8 characters",
                f("priv_password")
            )));
        }
    }
    if let Some(c) = r.context_name {
        a.context_name = c;
    }
    Ok(a)
}

fn parse_module(file: &Path, name: &str, r: RawModule) -> Result<Module, ConfigError> {
    let f = |field: &str| format!("modules.{name}.{field}");
    let base = Base::parse(&r.base).ok_or_else(|| {
        ConfigError(format!(
            "{}: unknown `{}` (if_mib, bridge_fdb, qbridge_vlan, system, lldp)",
            f("base"),
            r.base
        ))
    })?;
    let mut m = Module::builtin(name, base);
    if let Some(x) = r.max_repetitions {
        if x == 0 {
            return Err(ConfigError(format!(
                "{}: must be at least 1",
                f("max_repetitions")
            )));
        }
        m.max_repetitions = x;
    }
    if let Some(x) = r.retries {
        m.retries = x.min(10);
    }
    for (field, value, slot) in [
        ("timeout", &r.timeout, &mut m.timeout),
        ("lookup_ttl", &r.lookup_ttl, &mut m.lookup_ttl),
    ] {
        if let Some(t) = value {
            *slot = parse_duration(&t.value)
                .map_err(|e| ConfigError(format!("{}: {}: {e}", place(file, t), f(field))))?;
        }
    }
    if let Some(fl) = r.filters {
        if let Some(re) = fl.if_name {
            m.filter.if_name =
                Some(regex::Regex::new(&re).map_err(|e| {
                    ConfigError(format!("{}: bad regex: {e}", f("filters.ifName")))
                })?);
        }
        for s in fl.oper_status.unwrap_or_default() {
            m.filter
                .oper_status
                .push(oper_status_code(&s).ok_or_else(|| {
                    ConfigError(format!(
                        "{}: unknown status `{s}`",
                        f("filters.oper_status")
                    ))
                })?);
        }
    }
    Ok(m)
}

/// IF-MIB ifOperStatus names → codes.
pub fn oper_status_code(s: &str) -> Option<i64> {
    Some(match s {
        "up" | "1" => 1,
        "down" | "2" => 2,
        "testing" | "3" => 3,
        "unknown" | "4" => 4,
        "dormant" | "5" => 5,
        "notPresent" | "6" => 6,
        "lowerLayerDown" | "7" => 7,
        _ => return None,
    })
}

impl Config {
    /// Parses YAML text (`file` names it in errors), resolving secrets now.
    /// User auths and modules are added to (and may replace) the built-in ones.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        // rtmon's loader: file:line:column, "did you mean", no library wording.
        let raw: RawConfig = rtmon::config::from_yaml_str(file, text).map_err(|e| {
            let r = e.with_source(text).render();
            ConfigError(r.strip_prefix("error: ").unwrap_or(&r).to_string())
        })?;
        let mut c = Config::default();
        for (name, a) in raw.auths {
            let at = place(file, &a);
            let a =
                parse_auth(&name, a.value).map_err(|e| ConfigError(format!("{at}: {}", e.0)))?;
            c.auths.insert(name, a);
        }
        for (name, m) in raw.modules {
            let at = place(file, &m);
            let m = parse_module(file, &name, m.value).map_err(|e| {
                if e.0.starts_with(&file.display().to_string()) {
                    e
                } else {
                    ConfigError(format!("{at}: {}", e.0))
                }
            })?;
            c.modules.insert(name, m);
        }
        Ok(c)
    }

    /// Loads a file (or the built-in defaults when `path` is None).
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            None => Ok(Config::default()),
            Some(p) => {
                let text = rtmon::config::read_text(p).map_err(|e| ConfigError(e.to_string()))?;
                Config::parse(&text, p)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses with the secrets of the tests in place: `RTMON_SNMP_UNIT_COMM` set, the
    /// file `{PRIV}` in the YAML replaced by a file holding `privpass123\n`.
    fn parse(y: &str, file: &str) -> Result<Config, ConfigError> {
        std::env::set_var("RTMON_SNMP_UNIT_COMM", "s3cr3t-comm");
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("priv");
        std::fs::write(&p, "privpass123\n").expect("write");
        Config::parse(
            &y.replace("{PRIV}", &p.display().to_string()),
            Path::new(file),
        )
    }

    #[test]
    fn parses_auths_modules_and_secrets() {
        let y = r#"
auths:
  a2: {version: 2, community: "{env:RTMON_SNMP_UNIT_COMM}"}
  a3:
    version: 3
    username: u
    security_level: authPriv
    auth_protocol: SHA256
    password: authpass123
    priv_protocol: AES256
    priv_password: "{file:{PRIV}}"
modules:
  ports:
    base: if_mib
    max_repetitions: 10
    timeout: 2s
    filters: {ifName: '^eth', oper_status: [up]}
"#;
        let c = parse(y, "snmp.yml").unwrap();
        assert_eq!(c.auths["a2"].community.expose(), Some("s3cr3t-comm"));
        let a3 = &c.auths["a3"];
        assert_eq!(a3.auth_protocol, AuthProto::Sha256);
        assert_eq!(a3.priv_protocol, PrivProto::Aes256);
        assert_eq!(a3.priv_password.expose(), Some("privpass123"));
        assert!(c.auths.contains_key("public_v2"));
        let m = &c.modules["ports"];
        assert_eq!(m.max_repetitions, 10);
        assert_eq!(m.timeout, Duration::from_secs(2));
        assert_eq!(m.filter.oper_status, vec![1]);
        assert!(c.modules.contains_key("if_mib"));
        // Debug never shows secrets.
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("s3cr3t-comm") && !dbg.contains("privpass123"),
            "{dbg}"
        );
    }

    #[test]
    fn errors_name_the_field_not_the_secret() {
        let e = parse(
            "auths:\n  x: {version: 3, username: u, security_level: authNoPriv, password: short}\n",
            "f.yml",
        )
        .unwrap_err()
        .0;
        assert!(e.contains("f.yml") && e.contains("auths.x.password"), "{e}");
        assert!(!e.contains("short"), "{e}");
        let e = parse("auths:\n  x: {community: \"{env:NOPE}\"}\n", "f.yml")
            .unwrap_err()
            .0;
        assert!(e.contains("NOPE") && e.contains("auths.x.community"), "{e}");
        let e = parse("modules:\n  m: {base: if_mibb}\n", "f.yml")
            .unwrap_err()
            .0;
        assert!(e.contains("modules.m.base"), "{e}");
        let e = parse("modulez: {}\n", "f.yml").unwrap_err().0;
        assert!(e.contains("f.yml") && e.contains("modulez"), "{e}");
    }
}
