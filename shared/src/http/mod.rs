//! The HTTP server every rtmon exporter runs in (tokio + hyper 1, HTTP/1.1). It serves
//! a [`Service`] — a metrics [`Source`], extra [`Route`]s, an optional reload hook and a
//! readiness flag — and knows nothing of pushing, signals or the process lifetime: the
//! runtime ([`crate::app`]) binds a [`Server`], starts it with [`Server::serve`] and
//! stops it with [`Serving::shutdown`].
//!
//! [`listen_addresses`] checks every `--web.listen-address` and `--web.telemetry-path`;
//! [`Server::bind`] applies `--web.config.file` (TLS, bcrypt basic auth, extra headers)
//! and binds the listeners; the server answers `--web.telemetry-path` from the source,
//! the extra routes, a landing page at `/`, `/-/healthy`, `/-/ready` and
//! `POST /-/reload` (through the service's hook); limits concurrency
//! (`--web.max-requests`, 503 beyond) and request bodies (1 MiB, 413 beyond); and on
//! shutdown lets in-flight requests finish within [`SHUTDOWN_GRACE`].
//!
//! Under overload it degrades gracefully: collection runs on the blocking pool (the
//! async workers only accept, route and answer), so `--web.max-requests` answers 503 at
//! once beyond the limit and `/-/healthy` and `/-/ready` stay prompt whatever the scrape
//! load; the soft `RLIMIT_NOFILE` is raised to the hard limit at start (as Go does);
//! client connections are capped below the open-files limit (beyond the cap they wait in
//! the listen backlog); a connection idle for 30 s (no request, or none after the last
//! answer) is closed; plain HTTP on a TLS port gets Go's 400 "Client sent an HTTP
//! request to an HTTPS server".
//!
//! Expositions are negotiated on `Accept` (text 0.0.4 or OpenMetrics 1.0.0), always with
//! an explicit `Content-Type`, gzipped when `Accept-Encoding` allows it, with
//! `Vary: Accept-Encoding`. The scrape deadline is `now +
//! X-Prometheus-Scrape-Timeout-Seconds - --web.timeout-offset`.

pub mod auth;
pub mod listen;
pub mod webconfig;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::cli::WebArgs;
use crate::expo::{encode, Format, MetricSet};
use crate::source::{BoxFuture, ReloadFn, Scrape, Source};

use self::auth::BasicAuth;
use self::listen::ListenAddr;
use self::webconfig::WebConfig;

/// Largest accepted request body; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// An oversized body is read and discarded up to this size before the 413 is sent.
pub const DRAIN_MAX_BYTES: usize = 8 << 20;
/// Time allowed for reading a request body.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);
/// How long in-flight requests may run on after SIGTERM/SIGINT.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Time allowed for a client to send its request headers (and for a TLS handshake).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// File descriptors kept free for everything but client connections (listeners, push
/// client, config files, `/proc` reads, scripts' pipes, SNMP sockets).
const FD_RESERVE: u64 = 128;
/// Most client connections at once when the file-descriptor limit allows more. Beyond
/// the cap, new connections wait in the listen backlog until one closes; idle ones
/// close after [`HEADER_TIMEOUT`] (hyper's header-read timeout also bounds the wait for
/// the next request on a keep-alive connection).
const MAX_CONNECTIONS: u64 = 16_384;
/// What Go's net/http answers to plain HTTP on a TLS port.
const HTTP_ON_TLS_PORT: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
/// Header carrying Prometheus' scrape timeout.
pub const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

type Body = Full<Bytes>;
type Response = hyper::Response<Body>;

/// An HTTP request as seen by an extra route.
#[derive(Clone, Debug)]
pub struct Request {
    /// HTTP method, upper case.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    /// Request headers, names lower-cased (last value wins).
    pub headers: HashMap<String, String>,
    /// Scrape deadline, as in [`Scrape::deadline`].
    pub deadline: Option<Instant>,
    /// Request body (bounded by the server).
    pub body: bytes::Bytes,
}

impl Request {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A [`Scrape`] carrying this request's deadline and query.
    pub fn scrape(&self) -> Scrape {
        Scrape {
            deadline: self.deadline,
            query: self.query.clone(),
            push: false,
        }
    }
}

/// What a route answers. [`Reply::Metrics`] is encoded in the negotiated format and
/// gzipped when asked, like `/metrics`.
#[derive(Debug)]
pub enum Reply {
    /// A metrics exposition (status 200).
    Metrics(MetricSet),
    /// A JSON document with a status code.
    Json(u16, serde_json::Value),
    /// Plain text with a status code (errors: one line, ending in a newline).
    Text(u16, String),
    /// An HTML page (status 200).
    Html(String),
}

impl Reply {
    /// 400 with a one-line reason.
    pub fn bad_request(reason: impl std::fmt::Display) -> Reply {
        Reply::Text(400, format!("{reason}\n"))
    }
    /// 404 with a one-line reason.
    pub fn not_found(reason: impl std::fmt::Display) -> Reply {
        Reply::Text(404, format!("{reason}\n"))
    }
}

/// Handler of an extra route.
pub type Handler = Arc<dyn Fn(Request) -> BoxFuture<'static, Reply> + Send + Sync>;

/// An extra HTTP route.
#[derive(Clone)]
pub struct Route {
    /// Exact path, e.g. `/probe`.
    pub path: &'static str,
    /// One line for the landing page.
    pub description: &'static str,
    /// The handler.
    pub handler: Handler,
}

impl Route {
    /// Builds a route from an async closure.
    pub fn new<F, Fut>(path: &'static str, description: &'static str, f: F) -> Route
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        Route {
            path,
            description,
            handler: Arc::new(move |r| Box::pin(f(r))),
        }
    }
}

/// What the server answers.
#[derive(Clone)]
pub struct Service {
    /// Binary name, e.g. `rtmon-node-exporter` (landing page, messages).
    pub name: &'static str,
    /// Answers `--web.telemetry-path`.
    pub source: Arc<dyn Source>,
    /// Extra routes.
    pub routes: Vec<Route>,
    /// Called on `POST /-/reload` (404 without one). Its `Err` is the whole one-line
    /// answer of a 500.
    pub reload: Option<ReloadFn>,
    /// Readiness: `/-/ready` answers 503 until this is true.
    pub ready: Arc<AtomicBool>,
}

/// Everything a request handler needs.
struct State {
    service: Service,
    telemetry_path: String,
    timeout_offset: Duration,
    max_requests: usize,
    limit: Option<Arc<Semaphore>>,
    auth: Option<Arc<BasicAuth>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Collections running at once on the blocking pool: one per CPU (they are CPU
    /// bound); further admitted scrapes wait for a turn, beyond `--web.max-requests`
    /// they get 503.
    collections: Arc<Semaphore>,
}

/// Checks `--web.telemetry-path` and parses every non-empty `--web.listen-address`
/// (no socket yet): `(as given, parsed)` pairs, empty when nothing is to be served.
pub fn listen_addresses(web: &WebArgs) -> Result<Vec<(String, ListenAddr)>, String> {
    if !web.telemetry_path.starts_with('/') {
        return Err(format!(
            "--web.telemetry-path {:?}: must start with '/'",
            web.telemetry_path
        ));
    }
    web.listen_addresses
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| Ok((s.to_string(), listen::parse(s)?)))
        .collect()
}

/// Bound listeners with their `--web.config.file` settings, not serving yet.
pub struct Server {
    listeners: Vec<TcpListener>,
    tls: Option<Arc<rustls::ServerConfig>>,
    auth: Option<Arc<BasicAuth>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    conn_slots: Arc<Semaphore>,
    telemetry_path: String,
    timeout_offset: Duration,
    max_requests: usize,
}

impl Server {
    /// Loads `--web.config.file`, raises the open-files limit and binds every address
    /// from [`listen_addresses`]. Errors name the file or the address.
    pub async fn bind(web: &WebArgs, addrs: &[(String, ListenAddr)]) -> Result<Server, String> {
        let (users, headers, tls) = match &web.config_file {
            None => (Default::default(), Vec::new(), None),
            Some(file) => {
                let wc = WebConfig::load(file).map_err(|e| e.to_string())?;
                let tls = wc.server_config(file).map_err(|e| e.to_string())?;
                let headers = wc
                    .headers
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((
                            HeaderName::from_bytes(k.as_bytes()).ok()?,
                            HeaderValue::from_str(v).ok()?,
                        ))
                    })
                    .collect();
                (wc.users, headers, tls)
            }
        };
        let auth = (!users.is_empty()).then(|| Arc::new(BasicAuth::new(users)));

        let nofile = raise_nofile_limit();
        let max_conns = connection_cap(nofile);
        tracing::debug!(nofile = ?nofile, max_connections = max_conns, "limits");

        let mut listeners = Vec::new();
        for (spec, addr) in addrs {
            listeners.push(listen::bind(spec, addr).await?);
        }
        Ok(Server {
            listeners,
            tls,
            auth,
            headers,
            conn_slots: Arc::new(Semaphore::new(max_conns)),
            telemetry_path: web.telemetry_path.clone(),
            timeout_offset: web.timeout_offset,
            max_requests: web.max_requests,
        })
    }

    /// Starts one accept loop per listener, serving `service`. Must be called inside a
    /// tokio runtime.
    pub fn serve(self, service: Service) -> Serving {
        let state = Arc::new(State {
            telemetry_path: self.telemetry_path,
            timeout_offset: self.timeout_offset,
            max_requests: self.max_requests,
            limit: (self.max_requests > 0).then(|| Arc::new(Semaphore::new(self.max_requests))),
            auth: self.auth,
            headers: self.headers,
            collections: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8)),
            )),
            service,
        });

        // One accept loop per listener. Each connection holds a clone of `conn_tx`; all
        // dropped = all connections done.
        let (stop_tx, stop_rx) = watch::channel(false);
        let (conn_tx, conn_rx) = mpsc::channel::<()>(1);
        let acceptor = self.tls.map(tokio_rustls::TlsAcceptor::from);
        let mut accept_tasks = Vec::new();
        for l in self.listeners {
            let local = l
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "?".into());
            tracing::info!(
                address = %local,
                tls = acceptor.is_some(),
                basic_auth = state.auth.is_some(),
                "Listening on"
            );
            accept_tasks.push(tokio::spawn(accept_loop(
                l,
                acceptor.clone(),
                state.clone(),
                stop_rx.clone(),
                conn_tx.clone(),
                self.conn_slots.clone(),
            )));
        }
        Serving {
            stop_tx,
            accept_tasks,
            conn_rx,
        }
    }
}

/// A server that is answering requests.
pub struct Serving {
    stop_tx: watch::Sender<bool>,
    accept_tasks: Vec<tokio::task::JoinHandle<()>>,
    conn_rx: mpsc::Receiver<()>,
}

impl Serving {
    /// Stops accepting and lets in-flight requests finish, for at most
    /// [`SHUTDOWN_GRACE`]; connections still open then are closed.
    pub async fn shutdown(mut self) {
        let _ = self.stop_tx.send(true);
        for t in self.accept_tasks {
            let _ = t.await;
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, self.conn_rx.recv())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "requests still running after the grace period; closing them");
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
    conn_tx: mpsc::Sender<()>,
    slots: Arc<Semaphore>,
) {
    let mut warned_full = false;
    loop {
        // A connection slot first: at the cap, new connections wait in the backlog.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(s) => s,
            Err(_) => {
                if !warned_full {
                    tracing::warn!(
                        "connection limit reached; new connections wait until one closes"
                    );
                    warned_full = true;
                }
                tokio::select! {
                    s = slots.clone().acquire_owned() => match s {
                        Ok(s) => s,
                        Err(_) => return,
                    },
                    _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
                }
            }
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
        };
        let _ = tcp.set_nodelay(true);
        let state = state.clone();
        let stop = stop.clone();
        let guard = conn_tx.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _guard = guard;
            let _slot = slot;
            match tls {
                None => serve_conn(tcp, peer, state, stop).await,
                Some(acc) => {
                    match tokio::time::timeout(HEADER_TIMEOUT, plain_http_on_tls(&tcp)).await {
                        Ok(true) => {
                            answer_plain_http_on_tls(tcp).await;
                            return;
                        }
                        Ok(false) => {}
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    }
                    tls_conn(acc, tcp, peer, state, stop).await
                }
            }
        });
    }
}

/// Whether the client's first bytes look like plain HTTP rather than a TLS handshake
/// (which starts with the record type 0x16). Waits for the first byte.
async fn plain_http_on_tls(tcp: &tokio::net::TcpStream) -> bool {
    let mut b = [0u8; 1];
    match tcp.peek(&mut b).await {
        Ok(1) => b[0].is_ascii_uppercase(),
        _ => false,
    }
}

/// Go's answer to plain HTTP on a TLS port, then close.
async fn answer_plain_http_on_tls(mut tcp: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = tcp.write_all(HTTP_ON_TLS_PORT).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}

async fn tls_conn(
    acc: tokio_rustls::TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    state: Arc<State>,
    stop: watch::Receiver<bool>,
) {
    match tokio::time::timeout(HEADER_TIMEOUT, acc.accept(tcp)).await {
        Ok(Ok(s)) => serve_conn(s, peer, state, stop).await,
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (as Go does at start), so that the
/// systemd default soft limit of 1024 does not make a busy exporter fail with "Too many
/// open files". Returns the soft limit in force afterwards, `None` if it is unknown.
pub fn raise_nofile_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let want = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
            tracing::debug!(
                from = lim.rlim_cur,
                to = lim.rlim_max,
                "raised the open-files limit"
            );
            lim.rlim_cur = lim.rlim_max;
        } else {
            tracing::warn!(
                soft = lim.rlim_cur,
                hard = lim.rlim_max,
                "cannot raise the open-files limit to the hard limit"
            );
        }
    }
    Some(lim.rlim_cur)
}

/// Most client connections at once for a soft open-files limit.
fn connection_cap(nofile: Option<u64>) -> usize {
    let n = nofile
        .unwrap_or(1024)
        .saturating_sub(FD_RESERVE)
        .clamp(16, MAX_CONNECTIONS);
    usize::try_from(n).unwrap_or(16)
}

async fn serve_conn<I>(io: I, peer: SocketAddr, state: Arc<State>, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(&state, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let res = tokio::select! {
        r = conn.as_mut() => r,
        _ = async { let _ = stop.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = res {
        tracing::debug!(%peer, error = %e, "connection error");
    }
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body.into())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut r = text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed (use {allow})\n"),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

fn header_str<'a>(req: &'a hyper::Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn handle(state: &Arc<State>, req: hyper::Request<Incoming>) -> Response {
    let mut resp = route(state, req).await;
    for (k, v) in &state.headers {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    resp
}

async fn route(state: &Arc<State>, req: hyper::Request<Incoming>) -> Response {
    if let Some(auth) = &state.auth {
        let presented = header_str(&req, "authorization").map(str::to_string);
        let a = auth.clone();
        let ok = tokio::task::spawn_blocking(move || a.check(presented.as_deref()))
            .await
            .unwrap_or(false);
        if !ok {
            let mut r = text(StatusCode::UNAUTHORIZED, "unauthorized\n");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"rtmon\""),
            );
            return r;
        }
    }
    let path = req.uri().path().to_string();
    let get_like = req.method() == Method::GET || req.method() == Method::HEAD;

    if path == state.telemetry_path {
        if !get_like {
            return method_not_allowed("GET, HEAD");
        }
        let _permit = match acquire(state) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        let query = match parse_query(req.uri().query().unwrap_or("")) {
            Ok(q) => q,
            Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
        };
        let scrape = Scrape {
            deadline: deadline(
                header_str(&req, SCRAPE_TIMEOUT_HEADER),
                state.timeout_offset,
                Instant::now(),
            ),
            query,
            push: false,
        };
        if let Err(e) = state.service.source.validate(&scrape) {
            return text(StatusCode::BAD_REQUEST, format!("{e}\n"));
        }
        return collect_off_workers(
            state,
            scrape,
            _permit,
            header_str(&req, "accept").map(str::to_string),
            header_str(&req, "accept-encoding").map(str::to_string),
        )
        .await;
    }
    match path.as_str() {
        "/" if get_like => return landing(state),
        "/-/healthy" if get_like => return text(StatusCode::OK, "Healthy.\n"),
        "/-/ready" if get_like => {
            return if state.service.ready.load(Ordering::Relaxed) {
                text(StatusCode::OK, "Ready.\n")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "Not ready.\n")
            };
        }
        "/" | "/-/healthy" | "/-/ready" => return method_not_allowed("GET, HEAD"),
        "/-/reload" => {
            if req.method() != Method::POST && req.method() != Method::PUT {
                return method_not_allowed("POST, PUT");
            }
            return match reload(state).await {
                Ok(()) => {
                    tracing::info!("configuration reloaded (HTTP)");
                    text(StatusCode::OK, "Reloaded.\n")
                }
                Err((code, msg)) => {
                    tracing::error!(error = %msg, "reload failed (HTTP), keeping the running configuration");
                    text(code, format!("{msg}\n"))
                }
            };
        }
        _ => {}
    }
    let Some(r) = state.service.routes.iter().find(|r| r.path == path) else {
        return text(StatusCode::NOT_FOUND, format!("not found: {path}\n"));
    };
    let handler = r.handler.clone();
    let _permit = match acquire(state) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let query = match parse_query(req.uri().query().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let headers = req
        .headers()
        .iter()
        // Credentials stay in the server: handlers never see them.
        .filter(|(k, _)| *k != header::AUTHORIZATION)
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let dl = deadline(
        header_str(&req, SCRAPE_TIMEOUT_HEADER),
        state.timeout_offset,
        Instant::now(),
    );
    let (parts, body) = req.into_parts();
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return body_too_large(),
        Err(BodyError::Slow) => {
            return text(
                StatusCode::REQUEST_TIMEOUT,
                format!("request body not received within {DRAIN_TIME:?}\n"),
            )
        }
        Err(BodyError::Read(e)) => {
            tracing::debug!(error = %e, "cannot read request body");
            return text(StatusCode::BAD_REQUEST, "cannot read the request body\n");
        }
    };
    let request = Request {
        method: parts.method.as_str().to_string(),
        path,
        query,
        headers,
        deadline: dl,
        body,
    };
    let reply = handler(request).await;
    reply_response(reply, &parts.headers)
}

/// Runs the exporter's collection on the blocking pool (the node exporter's collectors
/// read `/proc` and `/sys` synchronously): the async workers stay free to accept, answer
/// health checks and refuse scrapes beyond `--web.max-requests` with 503. The permit
/// moves along, so a slot is only freed when the collection really ends (even if the
/// client left). `None` if the collection panicked.
async fn collect_off_workers(
    state: &Arc<State>,
    scrape: Scrape,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    accept: Option<String>,
    accept_encoding: Option<String>,
) -> Response {
    let st = Arc::clone(state);
    let rt = tokio::runtime::Handle::current();
    let Ok(turn) = state.collections.clone().acquire_owned().await else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    };
    // Collection, encoding and compression on one thread: the metric set is built and
    // freed where it is used; only the finished body crosses threads.
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _turn = turn;
        lower_thread_priority();
        let set = rt.block_on(st.service.source.collect(&scrape));
        encode_metrics(&set, accept.as_deref(), accept_encoding.as_deref())
    });
    match task.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "collection failed");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error while collecting metrics\n",
            )
        }
    }
}

/// Gives the calling blocking-pool thread a lower CPU priority (nice +5), once per
/// thread: under overload the async workers, which answer health checks and refuse
/// excess scrapes, then win the CPU over collections. (On Linux the nice value is per
/// thread.)
fn lower_thread_priority() {
    thread_local! {
        static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    DONE.with(|d| {
        if !d.get() {
            d.set(true);
            // SAFETY: plain syscalls on the calling thread's own id.
            unsafe {
                let tid = libc::gettid();
                let cur = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
                libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, (cur + 5).min(19));
            }
        }
    });
}

/// Why a request body is unusable.
enum BodyError {
    /// Larger than [`MAX_BODY_BYTES`] (413).
    TooLarge,
    /// Not received within [`DRAIN_TIME`] (408).
    Slow,
    /// The connection failed while reading (400).
    Read(hyper::Error),
}

/// Reads a request body of at most [`MAX_BODY_BYTES`]. For a larger one, reads and
/// discards the rest (up to [`DRAIN_MAX_BYTES`] within [`DRAIN_TIME`]) so that the client
/// finishes sending and sees the 413 rather than a connection reset.
async fn read_body(mut body: Incoming) -> Result<Bytes, BodyError> {
    let mut buf = bytes::BytesMut::new();
    let mut too_big = false;
    let mut seen = 0usize;
    let read = async {
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            seen = seen.saturating_add(data.len());
            if seen > MAX_BODY_BYTES {
                too_big = true;
                buf.clear();
                if seen > DRAIN_MAX_BYTES {
                    break;
                }
            } else {
                buf.extend_from_slice(&data);
            }
        }
        Ok::<(), hyper::Error>(())
    };
    let res = tokio::time::timeout(DRAIN_TIME, read).await;
    if too_big {
        return Err(BodyError::TooLarge);
    }
    match res {
        Ok(Ok(())) => Ok(buf.freeze()),
        Ok(Err(e)) => Err(BodyError::Read(e)),
        Err(_) => Err(BodyError::Slow),
    }
}

fn body_too_large() -> Response {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body larger than {MAX_BODY_BYTES} bytes\n"),
    )
}

/// A concurrency permit, or the 503 answer when `--web.max-requests` are running.
fn acquire(state: &State) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, Box<Response>> {
    let Some(sem) = &state.limit else {
        return Ok(None);
    };
    sem.clone().try_acquire_owned().map(Some).map_err(|_| {
        tracing::warn!(
            limit = state.max_requests,
            "too many concurrent requests, answering 503"
        );
        Box::new(text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many concurrent requests (limit --web.max-requests={})\n",
                state.max_requests
            ),
        ))
    })
}

/// Runs the service's reload hook. Err carries the status to answer with.
async fn reload(state: &State) -> Result<(), (StatusCode, String)> {
    let Some(f) = state.service.reload.clone() else {
        return Err((
            StatusCode::NOT_FOUND,
            format!("{} has no configuration to reload", state.service.name),
        ));
    };
    f().await
        .map_err(|msg| (StatusCode::INTERNAL_SERVER_ERROR, msg))
}

fn reply_response(reply: Reply, req_headers: &hyper::HeaderMap) -> Response {
    let (status, ctype, body) = match reply {
        Reply::Metrics(set) => {
            return encode_metrics(
                &set,
                req_headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok()),
                req_headers
                    .get(header::ACCEPT_ENCODING)
                    .and_then(|v| v.to_str().ok()),
            )
        }
        Reply::Json(code, v) => (
            code,
            "application/json",
            serde_json::to_vec(&v).unwrap_or_default(),
        ),
        Reply::Text(code, s) => (code, "text/plain; charset=utf-8", s.into_bytes()),
        Reply::Html(s) => (200, "text/html; charset=utf-8", s.into_bytes()),
    };
    let status = StatusCode::from_u16(status).unwrap_or_else(|_| {
        tracing::warn!(
            status,
            "handler returned an invalid status code; answering 500"
        );
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

/// Encodes a metric set for an HTTP answer: format from `accept`, gzip when
/// `accept_encoding` allows it.
fn encode_metrics(
    set: &MetricSet,
    accept: Option<&str>,
    accept_encoding: Option<&str>,
) -> Response {
    let format = Format::negotiate(accept);
    let text = encode(set, format);
    let mut gzip = accepts_gzip(accept_encoding);
    let body = if gzip {
        match gzip_bytes(text.as_bytes()) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "gzip failed; answering uncompressed");
                gzip = false;
                text.into_bytes()
            }
        }
    } else {
        text.into_bytes()
    };
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

fn gzip_bytes(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(data)?;
    enc.finish()
}

/// Whether an `Accept-Encoding` value allows gzip (`gzip`, `x-gzip` or `*` with q > 0).
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(ae) = accept_encoding else {
        return false;
    };
    let mut gzip_q: Option<f32> = None;
    let mut star_q: Option<f32> = None;
    for part in ae.split(',') {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0f32;
        for p in it {
            if let Some(v) = p.trim().strip_prefix("q=") {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip_q = Some(q),
            "*" => star_q = Some(q),
            _ => {}
        }
    }
    gzip_q.or(star_q).is_some_and(|q| q > 0.0)
}

/// The scrape deadline from `X-Prometheus-Scrape-Timeout-Seconds` (`header`) minus
/// `offset`, counted from `now`. An absent or invalid header gives `None` (invalid ones
/// are logged at debug). When the offset is not smaller than the timeout, the offset is
/// not applied.
pub fn deadline(header: Option<&str>, offset: Duration, now: Instant) -> Option<Instant> {
    let raw = header?;
    let secs: f64 = match raw.trim().parse() {
        Ok(s) if f64::is_finite(s) && s > 0.0 && s < 1e9 => s,
        _ => {
            tracing::debug!(value = raw, "ignoring invalid {SCRAPE_TIMEOUT_HEADER}");
            return None;
        }
    };
    let timeout = Duration::from_secs_f64(secs);
    let budget = if timeout > offset {
        timeout - offset
    } else {
        timeout
    };
    now.checked_add(budget)
}

/// Decodes a query string into (name, value) pairs, in order
/// (`application/x-www-form-urlencoded`: `+` is a space, `%XX` escapes), as Go's
/// `url.ParseQuery` does. Invalid escapes or UTF-8 give an error naming the parameter.
pub fn parse_query(q: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = form_decode(k).map_err(|e| format!("invalid query parameter name: {e}"))?;
        let v =
            form_decode(v).map_err(|e| format!("invalid value of query parameter {k:?}: {e}"))?;
        out.push((k, v));
    }
    Ok(out)
}

/// One form-encoded component, decoded by the `percent-encoding` crate. The crate (like
/// `form_urlencoded`) passes a malformed `%` escape through and replaces bad UTF-8;
/// both are checked here so that a mistyped query gets a 400 naming it, as Go's
/// `url.ParseQuery` reports it, instead of a guessed value.
fn form_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    if let Some(i) = (0..b.len()).find(|&i| {
        b[i] == b'%'
            && !b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    }) {
        return Err(format!("bad %-escape at byte {i}"));
    }
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| "not valid UTF-8".to_string())
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn landing(state: &State) -> Response {
    let name = html_escape(state.service.name);
    let tp = html_escape(&state.telemetry_path);
    let mut routes = String::new();
    for r in &state.service.routes {
        routes.push_str(&format!(
            "<li><a href=\"{p}\">{p}</a> — {d}</li>\n",
            p = html_escape(r.path),
            d = html_escape(r.description)
        ));
    }
    let reload = if state.service.reload.is_some() {
        "<li><code>POST /-/reload</code> — reload the configuration (also SIGHUP)</li>\n"
    } else {
        ""
    };
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{name}</title></head>\n\
         <body>\n<h1>{name}</h1>\n<p>rtmon version {version}</p>\n<ul>\n\
         <li><a href=\"{tp}\">{tp}</a> — metrics</li>\n{routes}\
         <li><a href=\"/-/healthy\">/-/healthy</a> — liveness</li>\n\
         <li><a href=\"/-/ready\">/-/ready</a> — readiness</li>\n{reload}</ul>\n</body></html>\n",
        version = crate::VERSION,
    );
    let mut r = hyper::Response::new(Full::new(Bytes::from(page)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query("collect[]=cpu&collect[]=mem&target=a%2Fb+c&flag").expect("ok"),
            vec![
                ("collect[]".into(), "cpu".into()),
                ("collect[]".into(), "mem".into()),
                ("target".into(), "a/b c".into()),
                ("flag".into(), "".into()),
            ]
        );
        assert_eq!(parse_query("").expect("ok"), vec![]);
        assert_eq!(
            parse_query("collect%5B%5D=x").expect("ok"),
            vec![("collect[]".into(), "x".into())]
        );
        let e = parse_query("target=%zz").expect_err("bad escape");
        assert!(e.contains("target"), "{e}");
        assert!(parse_query("t=%4").is_err());
        assert!(parse_query("t=%ff").is_err());
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, gzip;q=0.5")));
        assert!(accepts_gzip(Some("*")));
        assert!(accepts_gzip(Some("X-GZIP")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("gzip;q=0, *;q=1")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(None));
    }

    #[test]
    fn deadline_from_header() {
        let now = Instant::now();
        let off = Duration::from_millis(500);
        assert_eq!(
            deadline(Some("10"), off, now),
            Some(now + Duration::from_millis(9500))
        );
        assert_eq!(
            deadline(Some(" 2.5 "), off, now),
            Some(now + Duration::from_secs(2))
        );
        // Offset larger than the timeout: not applied.
        assert_eq!(
            deadline(Some("0.2"), off, now),
            Some(now + Duration::from_millis(200))
        );
        assert_eq!(deadline(None, off, now), None);
        for bad in ["", "abc", "-1", "0", "NaN", "inf", "1e30"] {
            assert_eq!(deadline(Some(bad), off, now), None, "{bad}");
        }
    }

    #[test]
    fn connection_cap_follows_the_open_files_limit() {
        assert_eq!(connection_cap(Some(1024)), 1024 - 128);
        assert_eq!(connection_cap(Some(10_000)), 10_000 - 128);
        assert_eq!(connection_cap(Some(1 << 20)), 16_384);
        assert_eq!(connection_cap(Some(10)), 16);
        assert_eq!(connection_cap(None), 1024 - 128);
        // Raising is idempotent and never lowers the limit.
        let a = raise_nofile_limit().expect("limit");
        assert_eq!(raise_nofile_limit(), Some(a));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
