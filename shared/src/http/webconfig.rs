//! `--web.config.file`: the prometheus/exporter-toolkit web configuration format.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # relative paths are relative to this file
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: ca.crt
//!   min_version: TLS12
//! basic_auth_users:
//!   prometheus: $2y$10$...         # bcrypt hash
//! http_server_config:
//!   headers:
//!     Strict-Transport-Security: max-age=31536000
//! ```
//!
//! The file is read once at startup (exporter-toolkit re-reads it on every request;
//! rtmon needs a restart to pick up changes, SIGHUP reloads only the exporter's own
//! configuration). Relative paths are relative to the file's directory.
//!
//! Parsing ([`WebConfig::parse`]) is pure; [`WebConfig::load`] reads the file and the
//! certificate files it names and builds the rustls server configuration. Errors name
//! the file and the key; they never contain a password hash or key material.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use serde::Deserialize;

/// Response headers a web config may set (the exporter-toolkit list).
pub const ALLOWED_HEADERS: &[&str] = &[
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// The raw file, as written (exporter-toolkit key names).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, HashValue>>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
}

/// A `basic_auth_users` value. Deserialized by hand so that a wrongly typed value (say a
/// plaintext numeric password) never appears in an error message: serde's own
/// "invalid type: integer `123456`" would echo it.
#[derive(Debug)]
struct HashValue(String);

impl<'de> Deserialize<'de> for HashValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = HashValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a bcrypt hash string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HashValue, E> {
                Ok(HashValue(v.to_string()))
            }
            // Scalars of other types: keep them (the hash check rejects them later,
            // without echoing the value).
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<HashValue, E> {
                Ok(HashValue(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<HashValue, E> {
                Ok(HashValue(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<HashValue, E> {
                Ok(HashValue(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<HashValue, E> {
                Ok(HashValue(v.to_string()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<HashValue, E> {
                Ok(HashValue(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default)]
    cert_file: Option<String>,
    #[serde(default)]
    key_file: Option<String>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<String>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    // Accepted for compatibility; see `parse` for how each is treated.
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    http2: Option<bool>,
}

/// How the server treats client certificates (exporter-toolkit `client_auth_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// Do not ask for a client certificate (default).
    NoClientCert,
    /// Ask for one, accept any or none, verify nothing.
    RequestClientCert,
    /// Require one, but do not verify it.
    RequireAnyClientCert,
    /// Accept none; if one is given, it must verify against `client_ca_file`.
    VerifyClientCertIfGiven,
    /// Require one that verifies against `client_ca_file`.
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    fn parse(s: &str) -> Option<ClientAuth> {
        Some(match s {
            "" | "NoClientCert" => ClientAuth::NoClientCert,
            "RequestClientCert" => ClientAuth::RequestClientCert,
            "RequireAnyClientCert" => ClientAuth::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
            _ => return None,
        })
    }

    fn needs_ca(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }
}

/// A TLS protocol version bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.0 (only meaningful as a minimum: rustls starts at 1.2).
    Tls10,
    /// TLS 1.1 (as above).
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    fn parse(s: &str) -> Option<TlsVersion> {
        Some(match s {
            "TLS10" => TlsVersion::Tls10,
            "TLS11" => TlsVersion::Tls11,
            "TLS12" => TlsVersion::Tls12,
            "TLS13" => TlsVersion::Tls13,
            _ => return None,
        })
    }
}

/// The TLS part of a web config, with paths resolved against the config's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// Server certificate chain (PEM).
    pub cert_file: PathBuf,
    /// Server private key (PEM).
    pub key_file: PathBuf,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
    /// CA bundle for verifying client certificates.
    pub client_ca_file: Option<PathBuf>,
    /// Lowest accepted version (default TLS 1.2).
    pub min_version: TlsVersion,
    /// Highest accepted version (default TLS 1.3).
    pub max_version: TlsVersion,
}

/// A parsed, validated web config (no file I/O done yet for the TLS material).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebConfig {
    /// TLS, if configured.
    pub tls: Option<TlsSettings>,
    /// Basic-auth users: name → bcrypt hash (never logged).
    pub users: BTreeMap<String, String>,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
}

/// An error in the web config: always names the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("web config {}: {message}", file.display())]
pub struct WebConfigError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong (no secrets).
    pub message: String,
}

impl WebConfig {
    /// Parses and validates the YAML text of `file` (used for messages and to resolve
    /// relative paths). Does not read the certificate files.
    pub fn parse(file: &Path, text: &str) -> Result<WebConfig, WebConfigError> {
        let err = |message: String| WebConfigError {
            file: file.to_path_buf(),
            message,
        };
        let mut opts = serde_saphyr::Options::default();
        // The snippet would echo the offending line, which may hold a password hash.
        opts.with_snippet = false;
        let raw: RawWebConfig = if text.trim().is_empty() {
            RawWebConfig::default()
        } else {
            serde_saphyr::from_str_with_options(text, opts).map_err(|e| {
                // serde's messages name the key ("unknown field `x`, expected one of …")
                // and the position; they do not include values.
                let msg = e.to_string();
                let msg = first_line(&msg);
                match e.location() {
                    Some(l) if !msg.contains("line") => {
                        err(format!("line {}, column {}: {msg}", l.line(), l.column()))
                    }
                    _ => err(msg.to_string()),
                }
            })?
        };
        let dir = file.parent().unwrap_or(Path::new("."));
        let resolve = |p: &str| {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                dir.join(p)
            }
        };

        let mut out = WebConfig::default();
        if let Some(t) = raw.tls_server_config {
            if t.cipher_suites.as_ref().is_some_and(|c| !c.is_empty()) {
                return Err(err(
                    "tls_server_config.cipher_suites is not supported: rtmon (rustls) only \
                     offers its secure default suites; remove the key"
                        .into(),
                ));
            }
            if t.curve_preferences.as_ref().is_some_and(|c| !c.is_empty()) {
                return Err(err(
                    "tls_server_config.curve_preferences is not supported: rtmon (rustls) \
                     uses its default key-exchange groups; remove the key"
                        .into(),
                ));
            }
            if t.client_allowed_sans
                .as_ref()
                .is_some_and(|c| !c.is_empty())
            {
                return Err(err(
                    "tls_server_config.client_allowed_sans is not supported by rtmon; remove the key"
                        .into(),
                ));
            }
            // prefer_server_cipher_suites: ignored, as Go itself ignores it since 1.18.
            let _ = t.prefer_server_cipher_suites;
            let cert = t.cert_file.filter(|s| !s.is_empty());
            let key = t.key_file.filter(|s| !s.is_empty());
            let (cert, key) = match (cert, key) {
                (Some(c), Some(k)) => (c, k),
                (None, _) => {
                    return Err(err(
                        "tls_server_config.cert_file is required when tls_server_config is set"
                            .into(),
                    ))
                }
                (_, None) => {
                    return Err(err(
                        "tls_server_config.key_file is required when tls_server_config is set"
                            .into(),
                    ))
                }
            };
            let client_auth = match t.client_auth_type.as_deref() {
                None => ClientAuth::NoClientCert,
                Some(s) => ClientAuth::parse(s).ok_or_else(|| {
                    err(format!(
                        "tls_server_config.client_auth_type: unknown value {s:?} (use \
                         NoClientCert, RequestClientCert, RequireAnyClientCert, \
                         VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
                    ))
                })?,
            };
            let client_ca_file = t.client_ca_file.filter(|s| !s.is_empty());
            if client_auth.needs_ca() && client_ca_file.is_none() {
                return Err(err(format!(
                    "tls_server_config.client_ca_file is required with client_auth_type {client_auth:?}"
                )));
            }
            if client_ca_file.is_some() && !client_auth.needs_ca() {
                return Err(err(format!(
                    "tls_server_config.client_ca_file is set but client_auth_type {client_auth:?} \
                     does not verify client certificates (use RequireAndVerifyClientCert or \
                     VerifyClientCertIfGiven)"
                )));
            }
            let version = |key: &str, v: Option<String>, default: TlsVersion| {
                match v {
                None => Ok(default),
                Some(s) => TlsVersion::parse(&s).ok_or_else(|| {
                    err(format!(
                        "tls_server_config.{key}: unknown TLS version {s:?} (use TLS10, TLS11, TLS12 or TLS13)"
                    ))
                }),
            }
            };
            let min_version = version("min_version", t.min_version, TlsVersion::Tls12)?;
            let max_version = version("max_version", t.max_version, TlsVersion::Tls13)?;
            if max_version < TlsVersion::Tls12 {
                return Err(err(
                    "tls_server_config.max_version: rtmon supports only TLS 1.2 and 1.3".into(),
                ));
            }
            if min_version > max_version {
                return Err(err(format!(
                    "tls_server_config: min_version {min_version:?} is above max_version {max_version:?}"
                )));
            }
            out.tls = Some(TlsSettings {
                cert_file: resolve(&cert),
                key_file: resolve(&key),
                client_auth,
                client_ca_file: client_ca_file.map(|c| resolve(&c)),
                min_version,
                max_version,
            });
        }
        if let Some(users) = raw.basic_auth_users {
            for (user, HashValue(hash)) in users {
                if user.is_empty() || user.contains(':') {
                    return Err(err(format!(
                        "basic_auth_users: invalid user name {user:?} (must be non-empty, without ':')"
                    )));
                }
                if hash.parse::<bcrypt::HashParts>().is_err() {
                    return Err(err(format!(
                        "basic_auth_users.{user}: the value is not a bcrypt hash \
                         (generate one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"
                    )));
                }
                out.users.insert(user, hash);
            }
        }
        if let Some(h) = raw.http_server_config {
            if h.http2 == Some(true) {
                tracing::debug!(
                    "web config: http_server_config.http2 ignored, rtmon serves HTTP/1.1"
                );
            }
            for (name, value) in h.headers.unwrap_or_default() {
                let Some(canon) = ALLOWED_HEADERS
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(&name))
                else {
                    return Err(err(format!(
                        "http_server_config.headers: header {name:?} may not be set (allowed: {})",
                        ALLOWED_HEADERS.join(", ")
                    )));
                };
                if hyper::header::HeaderValue::from_str(&value).is_err() {
                    return Err(err(format!(
                        "http_server_config.headers.{name}: invalid header value"
                    )));
                }
                out.headers.push((canon.to_string(), value));
            }
        }
        Ok(out)
    }

    /// Reads and validates `file`.
    pub fn load(file: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| WebConfigError {
            file: file.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        WebConfig::parse(file, &text)
    }

    /// Builds the rustls server configuration (reads the certificate, key and CA files).
    /// `Ok(None)` when TLS is not configured.
    pub fn server_config(
        &self,
        file: &Path,
    ) -> Result<Option<Arc<rustls::ServerConfig>>, WebConfigError> {
        let Some(t) = &self.tls else {
            return Ok(None);
        };
        let err = |message: String| WebConfigError {
            file: file.to_path_buf(),
            message,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&t.cert_file)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                err(format!(
                    "tls_server_config.cert_file {}: {}",
                    t.cert_file.display(),
                    pem_error(&e)
                ))
            })?;
        if certs.is_empty() {
            return Err(err(format!(
                "tls_server_config.cert_file {}: no CERTIFICATE in the file",
                t.cert_file.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(&t.key_file).map_err(|e| {
            err(format!(
                "tls_server_config.key_file {}: {}",
                t.key_file.display(),
                pem_error(&e)
            ))
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
        if t.min_version <= TlsVersion::Tls12 && t.max_version >= TlsVersion::Tls12 {
            versions.push(&rustls::version::TLS12);
        }
        if t.max_version >= TlsVersion::Tls13 {
            versions.push(&rustls::version::TLS13);
        }
        let verifier: Arc<dyn ClientCertVerifier> = match t.client_auth {
            ClientAuth::NoClientCert => Arc::new(rustls::server::NoClientAuth),
            ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => {
                Arc::new(AnyClientCert {
                    mandatory: t.client_auth == ClientAuth::RequireAnyClientCert,
                    algs: provider.signature_verification_algorithms,
                })
            }
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
                let ca = t.client_ca_file.as_deref().unwrap_or(Path::new(""));
                let mut roots = RootCertStore::empty();
                let cas = CertificateDer::pem_file_iter(ca)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        err(format!(
                            "tls_server_config.client_ca_file {}: {}",
                            ca.display(),
                            pem_error(&e)
                        ))
                    })?;
                let (added, _) = roots.add_parsable_certificates(cas);
                if added == 0 {
                    return Err(err(format!(
                        "tls_server_config.client_ca_file {}: no usable CA certificate",
                        ca.display()
                    )));
                }
                let mut b =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                if t.client_auth == ClientAuth::VerifyClientCertIfGiven {
                    b = b.allow_unauthenticated();
                }
                b.build().map_err(|e| {
                    err(format!(
                        "tls_server_config.client_ca_file {}: {e}",
                        ca.display()
                    ))
                })?
            }
        };
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| err(format!("tls_server_config: {e}")))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| {
                err(format!(
                    "tls_server_config: certificate {} and key {} do not form a usable pair: {e}",
                    t.cert_file.display(),
                    t.key_file.display()
                ))
            })?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Arc::new(cfg)))
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(io) => format!("cannot read: {io}"),
        E::NoItemsFound => "no PEM item of the expected kind in the file".into(),
        // Other variants describe the PEM structure, not its content.
        other => format!("invalid PEM: {other:?}"),
    }
}

/// `RequestClientCert` / `RequireAnyClientCert`: take any certificate without chain
/// verification (signatures over the handshake are still checked, so the client proves it
/// holds the key).
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algs: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig, WebConfigError> {
        WebConfig::parse(Path::new("/etc/rtmon/web.yml"), text)
    }

    #[test]
    fn full_config_parses_and_resolves_paths() {
        let hash = bcrypt::hash("pw", 4).expect("hash");
        let c = parse(&format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: /abs/server.key\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
             min_version: TLS13\nbasic_auth_users:\n  prom: '{hash}'\n\
             http_server_config:\n  headers:\n    x-frame-options: deny\n"
        ))
        .expect("valid");
        let t = c.tls.expect("tls");
        assert_eq!(t.cert_file, Path::new("/etc/rtmon/server.crt"));
        assert_eq!(t.key_file, Path::new("/abs/server.key"));
        assert_eq!(
            t.client_ca_file.as_deref(),
            Some(Path::new("/etc/rtmon/ca.crt"))
        );
        assert_eq!(t.client_auth, ClientAuth::RequireAndVerifyClientCert);
        assert_eq!(t.min_version, TlsVersion::Tls13);
        assert_eq!(t.max_version, TlsVersion::Tls13);
        assert_eq!(c.users.get("prom").map(String::as_str), Some(hash.as_str()));
        assert_eq!(
            c.headers,
            vec![("X-Frame-Options".to_string(), "deny".to_string())]
        );
    }

    #[test]
    fn empty_file_means_nothing_configured() {
        assert_eq!(parse("").expect("empty ok"), WebConfig::default());
        assert_eq!(
            parse("# only a comment\n").expect("ok"),
            WebConfig::default()
        );
    }

    #[test]
    fn unknown_keys_are_named_with_the_file() {
        let e = parse("tls_server_config:\n  cert_fil: a\n").expect_err("typo");
        let s = e.to_string();
        assert!(s.contains("/etc/rtmon/web.yml"), "{s}");
        assert!(s.contains("cert_fil"), "{s}");
        assert!(s.contains("line 2"), "{s}");
        let e = parse("basic_auth_user:\n  a: b\n").expect_err("typo");
        assert!(e.to_string().contains("basic_auth_user"), "{e}");
    }

    #[test]
    fn bad_values_are_rejected_without_echoing_hashes() {
        let e = parse("basic_auth_users:\n  prom: notahash-s3cret\n").expect_err("bad hash");
        let s = e.to_string();
        assert!(s.contains("basic_auth_users.prom"), "{s}");
        assert!(!s.contains("s3cret"), "{s}");
        for v in ["123456", "12.5", "true", "", "[s3cret]", "{a: s3cret}"] {
            let e = parse(&format!("basic_auth_users:\n  prom: {v}\n")).expect_err(v);
            let s = e.to_string();
            assert!(s.contains("prom") || s.contains("line 2"), "{v}: {s}");
            for leak in ["123456", "12.5", "true", "s3cret"] {
                assert!(!s.contains(leak), "{v}: {s}");
            }
        }
        let e = parse("tls_server_config:\n  cert_file: a\n").expect_err("no key");
        assert!(e.to_string().contains("key_file"), "{e}");
        let e =
            parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Maybe\n")
                .expect_err("bad auth type");
        assert!(e.to_string().contains("Maybe"), "{e}");
        let e = parse(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
        )
        .expect_err("needs CA");
        assert!(e.to_string().contains("client_ca_file"), "{e}");
        let e = parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  max_version: TLS11\n")
            .expect_err("too old");
        assert!(e.to_string().contains("max_version"), "{e}");
        let e = parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS9\n")
            .expect_err("unknown");
        assert!(e.to_string().contains("TLS9"), "{e}");
        let e = parse("http_server_config:\n  headers:\n    Content-Type: x\n")
            .expect_err("forbidden header");
        assert!(e.to_string().contains("Content-Type"), "{e}");
        let e = parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [X]\n")
            .expect_err("unsupported");
        assert!(e.to_string().contains("cipher_suites"), "{e}");
    }

    #[test]
    fn missing_cert_file_names_both_files() {
        let c = parse("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n")
            .expect("parses");
        let e = c
            .server_config(Path::new("/etc/rtmon/web.yml"))
            .expect_err("no such file");
        let s = e.to_string();
        assert!(s.contains("/etc/rtmon/web.yml"), "{s}");
        assert!(s.contains("/etc/rtmon/nope.crt"), "{s}");
    }
}
