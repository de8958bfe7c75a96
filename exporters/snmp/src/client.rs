//! The SNMP client behind a small trait of ours, so the `async-snmp` crate (pinned
//! `=0.18.1`, fast-moving) can be replaced without touching the walker or collectors.
//!
//! Every call is exactly **one request/response exchange** (no retries inside): the
//! walker ([`crate::walk`]) owns retries, back-off of `max_repetitions`, packet counting
//! and the scrape deadline.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_snmp::{
    Auth as SnmpAuth, Client, EngineCache, ErrorKind, ErrorStatus, Retry, UdpHandle, UsmConfig,
};

use crate::config::{AuthConfig, AuthProto, PrivProto, SecurityLevel, Version};

/// One variable binding: OID arcs and value.
#[derive(Clone, Debug, PartialEq)]
pub struct VarBind {
    /// OID arcs.
    pub oid: Vec<u32>,
    /// Value.
    pub value: SnmpValue,
}

/// A decoded SNMP value (what the collectors need of it).
#[derive(Clone, Debug, PartialEq)]
pub enum SnmpValue {
    /// INTEGER.
    Integer(i64),
    /// Counter32, Gauge32, TimeTicks, Unsigned32.
    Unsigned(u32),
    /// Counter64 (kept exact).
    Counter64(u64),
    /// OCTET STRING (also Opaque).
    Bytes(Vec<u8>),
    /// OBJECT IDENTIFIER.
    Oid(Vec<u32>),
    /// IpAddress.
    Ip([u8; 4]),
    /// NULL, noSuchObject, noSuchInstance.
    Missing,
    /// endOfMibView.
    EndOfMib,
}

impl SnmpValue {
    /// The value as an exact unsigned integer, if it is a number ≥ 0.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            SnmpValue::Integer(i) => u64::try_from(i).ok(),
            SnmpValue::Unsigned(u) => Some(u64::from(u)),
            SnmpValue::Counter64(c) => Some(c),
            _ => None,
        }
    }

    /// The value as a signed integer, if it is a number that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            SnmpValue::Integer(i) => Some(i),
            SnmpValue::Unsigned(u) => Some(i64::from(u)),
            SnmpValue::Counter64(c) => i64::try_from(c).ok(),
            _ => None,
        }
    }

    /// The value as text (DisplayString): lossy UTF-8, trailing NULs removed.
    pub fn as_text(&self) -> Option<String> {
        match self {
            SnmpValue::Bytes(b) => {
                let end = b.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
                Some(String::from_utf8_lossy(&b[..end]).into_owned())
            }
            _ => None,
        }
    }
}

impl From<&async_snmp::Value> for SnmpValue {
    fn from(v: &async_snmp::Value) -> SnmpValue {
        use async_snmp::Value as V;
        match v {
            V::Integer(i) => SnmpValue::Integer(i64::from(*i)),
            V::Counter32(u) | V::Gauge32(u) | V::TimeTicks(u) | V::UInteger32(u) => {
                SnmpValue::Unsigned(*u)
            }
            V::Counter64(c) => SnmpValue::Counter64(*c),
            V::OctetString(b) | V::Opaque(b) | V::Nsap(b) => SnmpValue::Bytes(b.to_vec()),
            V::ObjectIdentifier(o) => SnmpValue::Oid(o.arcs().to_vec()),
            V::IpAddress(a) => SnmpValue::Ip(*a),
            V::EndOfMibView => SnmpValue::EndOfMib,
            _ => SnmpValue::Missing,
        }
    }
}

/// Why a request failed, classified for the `reason` label of the error counter.
/// Never carries a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No (valid) answer within the request timeout. A wrong community looks like this.
    #[error("timeout")]
    Timeout,
    /// v3 authentication or privacy failed (wrong password, unknown user, …).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The agent answered with an error status (tooBig, genErr, …).
    #[error("agent error status {0}")]
    Status(String),
    /// The answer could not be decoded.
    #[error("malformed response: {0}")]
    Decode(String),
    /// Socket or address problem.
    #[error("network error: {0}")]
    Network(String),
    /// Anything else (configuration refused by the library, …).
    #[error("{0}")]
    Other(String),
}

impl ClientError {
    /// A short, stable reason for the `snmp_request_errors_total{reason}` label.
    pub fn reason(&self) -> &'static str {
        match self {
            ClientError::Timeout => "timeout",
            ClientError::Auth(_) => "auth",
            ClientError::Status(_) => "agent_error",
            ClientError::Decode(_) => "decode",
            ClientError::Network(_) => "network",
            ClientError::Other(_) => "other",
        }
    }

    /// Whether this failure suggests the response was too large (halve max_repetitions).
    pub fn suggests_smaller(&self) -> bool {
        match self {
            ClientError::Timeout => true,
            ClientError::Status(s) => s == "tooBig" || s == "genErr",
            _ => false,
        }
    }
}

fn map_err(e: &async_snmp::Error) -> ClientError {
    // Display strings of async-snmp errors never include community or passwords, but
    // to be safe we only keep messages of kinds that cannot involve credentials.
    match e.kind() {
        ErrorKind::Timeout => ClientError::Timeout,
        ErrorKind::Auth | ErrorKind::Report | ErrorKind::Privacy => {
            ClientError::Auth(format!("{:?}", e.kind()))
        }
        ErrorKind::Snmp => match e {
            async_snmp::Error::Snmp { status, .. } => ClientError::Status(status_name(*status)),
            _ => ClientError::Status("unknown".into()),
        },
        ErrorKind::Decode | ErrorKind::MalformedResponse | ErrorKind::ResponseShape => {
            ClientError::Decode(format!("{:?}", e.kind()))
        }
        ErrorKind::Network | ErrorKind::Closed => ClientError::Network(format!("{:?}", e.kind())),
        k => ClientError::Other(format!("{k:?}")),
    }
}

fn status_name(s: ErrorStatus) -> String {
    match s {
        ErrorStatus::TooBig => "tooBig".into(),
        ErrorStatus::GenErr => "genErr".into(),
        ErrorStatus::NoSuchName => "noSuchName".into(),
        other => format!("{other:?}"),
    }
}

/// What the walker needs from an SNMP session. One call = one exchange.
pub trait SnmpClient: Send + Sync {
    /// GET of exact OIDs.
    fn get<'a>(
        &'a self,
        oids: &'a [Vec<u32>],
        timeout: Duration,
    ) -> rtmon::app::BoxFuture<'a, Result<Vec<VarBind>, ClientError>>;
    /// GETNEXT of several OIDs (SNMPv1 walks).
    fn get_next<'a>(
        &'a self,
        oids: &'a [Vec<u32>],
        timeout: Duration,
    ) -> rtmon::app::BoxFuture<'a, Result<Vec<VarBind>, ClientError>>;
    /// GETBULK with non-repeaters 0.
    fn get_bulk<'a>(
        &'a self,
        oids: &'a [Vec<u32>],
        max_repetitions: u32,
        timeout: Duration,
    ) -> rtmon::app::BoxFuture<'a, Result<Vec<VarBind>, ClientError>>;
    /// Whether GETBULK may be used (v2c, v3).
    fn bulk_capable(&self) -> bool;
}

/// The async-snmp implementation.
pub struct AsyncSnmp {
    client: Client<UdpHandle>,
    bulk: bool,
    target: SocketAddr,
    /// v3 only: engines discovered by this client.
    engines: Option<Arc<EngineCache>>,
    /// Whether an authenticated exchange has succeeded on this client.
    authed: AtomicBool,
    /// When the last reachability probe started (ms since `created`), rate-limiting them.
    last_probe_ms: std::sync::atomic::AtomicU64,
    created: std::time::Instant,
}

/// An exchange still unanswered after this long is diagnosed with a probe.
const PROBE_AFTER: Duration = Duration::from_millis(200);
/// At most one probe per client this often.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Why an unanswered exchange is not simply a timeout, found by sending one empty UDP
/// datagram from a connected socket: an ICMP port unreachable comes back as
/// `ECONNREFUSED` (nothing listens: `network`, at once), and a datagram that is not SNMP
/// means the port answers garbage (`decode`). A real agent ignores the empty datagram,
/// and then this never resolves.
async fn diagnose(target: SocketAddr) -> ClientError {
    let local: SocketAddr = if target.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = match tokio::net::UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    if sock.connect(target).await.is_err() || sock.send(&[]).await.is_err() {
        return std::future::pending().await;
    }
    let mut buf = vec![0u8; 1500];
    loop {
        match sock.recv(&mut buf).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return ClientError::Network(
                    "port unreachable (ICMP): nothing listens on the SNMP port".into(),
                )
            }
            Err(_) => return std::future::pending().await,
            Ok(n) if !decode_untrusted(&buf[..n]) => {
                return ClientError::Decode(
                    "the agent's port answers with something that is not SNMP".into(),
                )
            }
            Ok(_) => {}
        }
    }
}

impl AsyncSnmp {
    /// Builds a client for `target` with `auth`. Errors never contain a secret.
    pub async fn connect(target: SocketAddr, auth: &AuthConfig) -> Result<AsyncSnmp, ClientError> {
        let snmp_auth = to_snmp_auth(auth)?;
        let engines = (auth.version == Version::V3).then(|| Arc::new(EngineCache::new()));
        let mut b = Client::builder(target, snmp_auth);
        if let Some(e) = &engines {
            b = b.engine_cache(e.clone());
        }
        let client = b
            // Each exchange gets its own timeout from the walker (tokio::time::timeout);
            // this only bounds a runaway.
            .request_timeout(Duration::from_secs(60))
            .retry(Retry::none())
            .connect()
            .await
            .map_err(|e| map_err(&e))?;
        Ok(AsyncSnmp {
            client,
            bulk: auth.version != Version::V1,
            target,
            engines,
            authed: AtomicBool::new(false),
            last_probe_ms: std::sync::atomic::AtomicU64::new(u64::MAX),
            created: std::time::Instant::now(),
        })
    }

    /// Runs `f` within `timeout`; if it is still unanswered after [`PROBE_AFTER`] and no
    /// exchange on this client has succeeded yet, a [`diagnose`] probe may end it early
    /// with a better reason than `timeout`.
    async fn exchange<T>(
        &self,
        timeout: Duration,
        f: impl std::future::Future<Output = async_snmp::Result<T>>,
    ) -> Result<T, ClientError> {
        let probe = async {
            tokio::time::sleep(PROBE_AFTER).await;
            // An agent that answered on this client is there: no probe (the empty
            // datagram would only cost a slow agent time).
            if self.authed.load(Ordering::Relaxed) {
                return std::future::pending().await;
            }
            let now = u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX);
            let last = self.last_probe_ms.load(Ordering::Relaxed);
            let every = u64::try_from(PROBE_EVERY.as_millis()).unwrap_or(1000);
            if last != u64::MAX && now.saturating_sub(last) < every {
                return std::future::pending().await;
            }
            self.last_probe_ms.store(now, Ordering::Relaxed);
            diagnose(self.target).await
        };
        tokio::select! {
            r = bounded(timeout, f) => r,
            e = probe => Err(e),
        }
    }

    /// Classifies an exchange result. net-snmp answers a wrong v3 password with an
    /// unauthenticated Report that async-snmp (rightly) does not trust, so the request
    /// times out; when the agent's engine was discovered but no authenticated answer
    /// ever came on this client, the timeout is reported as an authentication failure.
    fn classify<T>(&self, r: Result<T, ClientError>) -> Result<T, ClientError> {
        match r {
            Ok(v) => {
                self.authed.store(true, Ordering::Relaxed);
                Ok(v)
            }
            Err(ClientError::Timeout)
                if !self.authed.load(Ordering::Relaxed)
                    && self
                        .engines
                        .as_ref()
                        .is_some_and(|e| e.get(&self.target).is_some()) =>
            {
                Err(ClientError::Auth(
                    "engine discovered but no authenticated answer (wrong user or password?)"
                        .into(),
                ))
            }
            Err(e) => Err(e),
        }
    }
}

fn to_snmp_auth(a: &AuthConfig) -> Result<SnmpAuth, ClientError> {
    match a.version {
        Version::V1 => Ok(SnmpAuth::v1(
            a.community.expose().unwrap_or_default().as_bytes().to_vec(),
        )),
        Version::V2c => Ok(SnmpAuth::v2c(
            a.community.expose().unwrap_or_default().as_bytes().to_vec(),
        )),
        Version::V3 => {
            let cfg = UsmConfig::new(a.username.clone().into_bytes());
            let ap = |p: AuthProto| match p {
                AuthProto::Md5 => async_snmp::AuthProtocol::Md5,
                AuthProto::Sha => async_snmp::AuthProtocol::Sha1,
                AuthProto::Sha224 => async_snmp::AuthProtocol::Sha224,
                AuthProto::Sha256 => async_snmp::AuthProtocol::Sha256,
                AuthProto::Sha384 => async_snmp::AuthProtocol::Sha384,
                AuthProto::Sha512 => async_snmp::AuthProtocol::Sha512,
            };
            let pp = |p: PrivProto| match p {
                PrivProto::Des => async_snmp::PrivProtocol::Des,
                PrivProto::Aes => async_snmp::PrivProtocol::Aes128,
                PrivProto::Aes192 => async_snmp::PrivProtocol::Aes192Blumenthal,
                PrivProto::Aes256 => async_snmp::PrivProtocol::Aes256Blumenthal,
                PrivProto::Aes192c => async_snmp::PrivProtocol::Aes192Reeder,
                PrivProto::Aes256c => async_snmp::PrivProtocol::Aes256Reeder,
            };
            let bad = |_| {
                ClientError::Other(
                    "invalid v3 credentials (passwords need at least 8 characters)".into(),
                )
            };
            let cfg = match a.security_level {
                SecurityLevel::NoAuthNoPriv => cfg,
                SecurityLevel::AuthNoPriv => cfg
                    .auth(
                        ap(a.auth_protocol),
                        a.password.expose().unwrap_or_default().as_bytes(),
                    )
                    .map_err(bad)?,
                SecurityLevel::AuthPriv => cfg
                    .auth_priv(
                        ap(a.auth_protocol),
                        a.password.expose().unwrap_or_default().as_bytes(),
                        pp(a.priv_protocol),
                        a.priv_password.expose().unwrap_or_default().as_bytes(),
                    )
                    .map_err(bad)?,
            };
            let cfg = if a.context_name.is_empty() {
                cfg
            } else {
                cfg.context_name(a.context_name.clone().into_bytes())
            };
            Ok(SnmpAuth::from(cfg))
        }
    }
}

fn oids(v: &[Vec<u32>]) -> Vec<async_snmp::Oid> {
    v.iter().map(|o| async_snmp::Oid::from_slice(o)).collect()
}

fn convert(v: &[async_snmp::VarBind]) -> Vec<VarBind> {
    v.iter()
        .map(|vb| VarBind {
            oid: vb.oid.arcs().to_vec(),
            value: SnmpValue::from(&vb.value),
        })
        .collect()
}

async fn bounded<T>(
    timeout: Duration,
    f: impl std::future::Future<Output = async_snmp::Result<T>>,
) -> Result<T, ClientError> {
    match tokio::time::timeout(timeout, f).await {
        Err(_) => Err(ClientError::Timeout),
        Ok(Err(e)) => Err(map_err(&e)),
        Ok(Ok(v)) => Ok(v),
    }
}

impl SnmpClient for AsyncSnmp {
    fn get<'a>(
        &'a self,
        o: &'a [Vec<u32>],
        timeout: Duration,
    ) -> rtmon::app::BoxFuture<'a, Result<Vec<VarBind>, ClientError>> {
        Box::pin(async move {
            let r = self.classify(self.exchange(timeout, self.client.get_many(&oids(o))).await)?;
            Ok(convert(&r.varbinds))
        })
    }

    fn get_next<'a>(
        &'a self,
        o: &'a [Vec<u32>],
        timeout: Duration,
    ) -> rtmon::app::BoxFuture<'a, Result<Vec<VarBind>, ClientError>> {
        Box::pin(async move {
            let r = self.classify(
                self.exchange(timeout, self.client.get_next_many(&oids(o)))
                    .await,
            )?;
            Ok(convert(&r.varbinds))
        })
    }

    fn get_bulk<'a>(
        &'a self,
        o: &'a [Vec<u32>],
        max_repetitions: u32,
        timeout: Duration,
    ) -> rtmon::app::BoxFuture<'a, Result<Vec<VarBind>, ClientError>> {
        Box::pin(async move {
            let r = self.classify(
                self.exchange(timeout, self.client.get_bulk(&oids(o), 0, max_repetitions))
                    .await,
            )?;
            Ok(convert(&r))
        })
    }

    fn bulk_capable(&self) -> bool {
        self.bulk
    }
}

/// Decodes one SNMP message received from the network (any version), as the client
/// does. Used by the fuzz target and the corpus test: it must never panic, whatever
/// the bytes. Returns whether the message decoded.
pub fn decode_untrusted(data: &[u8]) -> bool {
    let bytes = bytes::Bytes::copy_from_slice(data);
    async_snmp::message::Message::decode(bytes, async_snmp::DecodeConfig::default()).is_ok()
}
