//! The prober: background probing of every target, paced across the interval, on one
//! shared socket per (family, source, interface, TTL); a receiver task per socket
//! that matches replies to requests by (socket, sequence, address); a timeout sweeper;
//! one-shot probes for `/probe`; and the snapshot written on `/metrics`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rtmon::expo::{MetricSet, MetricType};
use tokio::sync::{mpsc, Notify};

use crate::packet::{self, Family, Received};
use crate::socket::{IcmpSocket, Mode, Options, Recv};
use crate::stats::{Settings, State, Stats};
use crate::targets::TargetSpec;

/// Which address family to use for host names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IpProtocol {
    /// The first address the resolver returns.
    Auto,
    /// IPv4 only.
    Ip4,
    /// IPv6 only.
    Ip6,
}

/// Probe settings (from flags).
#[derive(Clone, Debug)]
pub struct Config {
    /// Time between two probes of one target.
    pub interval: Duration,
    /// Time after which a request counts as lost.
    pub timeout: Duration,
    /// Payload bytes.
    pub size: usize,
    /// Outgoing TTL / hop limit (kernel default if None).
    pub ttl: Option<u32>,
    /// Window and down-after settings.
    pub settings: Settings,
    /// Socket type choice.
    pub mode: Mode,
    /// SO_RCVBUF to ask for.
    pub recv_buffer: usize,
    /// Default source address.
    pub source: Option<IpAddr>,
    /// Default interface.
    pub interface: Option<String>,
    /// Family choice for host names.
    pub ip_protocol: IpProtocol,
}

struct Sock {
    id: usize,
    sock: IcmpSocket,
    ident: u16,
    seq: AtomicU16,
}

enum Owner {
    Target(u64),
    Probe(mpsc::UnboundedSender<ProbeEvent>),
}

struct Pending {
    ip: IpAddr,
    sent: Instant,
    owner: Owner,
}

struct Answered {
    ip: IpAddr,
    at: Instant,
    target: Option<u64>,
}

enum ProbeEvent {
    Reply(Duration, Option<u8>),
    Error,
}

struct Target {
    spec: TargetSpec,
    ip: Option<IpAddr>,
    sock: Option<Arc<Sock>>,
    stats: Stats,
}

#[derive(Default)]
struct Inner {
    targets: BTreeMap<u64, Target>,
    by_spec: HashMap<TargetSpec, u64>,
    pending: HashMap<(usize, u16), Pending>,
    answered: HashMap<(usize, u16), Answered>,
    socket_errors: BTreeMap<(Family, &'static str), u64>,
    late_replies: u64,
    next_id: u64,
    reloads_ok: u64,
    reloads_failed: u64,
    last_reload_ok: bool,
}

/// The prober. Cheap to share (`Arc<Engine>`).
pub struct Engine {
    cfg: Config,
    inner: Mutex<Inner>,
    sockets: tokio::sync::Mutex<BTreeMap<Options, Arc<Sock>>>,
    changed: Arc<Notify>,
    wake: Notify,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding the lock leaves plain counters behind: keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Resolves a host name or address to one IP of the wanted family.
pub async fn resolve(host: &str, proto: IpProtocol) -> Result<IpAddr, String> {
    let want = |ip: &IpAddr| match proto {
        IpProtocol::Auto => true,
        IpProtocol::Ip4 => ip.is_ipv4(),
        IpProtocol::Ip6 => ip.is_ipv6(),
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return if want(&ip) {
            Ok(ip)
        } else {
            Err(format!(
                "{host} is not of the family asked by --ping.ip-protocol"
            ))
        };
    }
    let h = host.to_string();
    let addrs = tokio::task::spawn_blocking(move || {
        use std::net::ToSocketAddrs;
        (h.as_str(), 0u16)
            .to_socket_addrs()
            .map(|a| a.collect::<Vec<_>>())
    })
    .await
    .map_err(|e| format!("cannot resolve {host}: {e}"))?
    .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    addrs
        .iter()
        .map(|a| a.ip())
        .find(want)
        .ok_or_else(|| format!("{host} has no address of the wanted family"))
}

impl Engine {
    /// A new engine with no targets; `changed` is notified when a target goes up or down.
    pub fn new(cfg: Config, changed: Arc<Notify>) -> Arc<Engine> {
        Arc::new(Engine {
            cfg,
            inner: Mutex::new(Inner {
                last_reload_ok: true,
                ..Default::default()
            }),
            sockets: tokio::sync::Mutex::new(BTreeMap::new()),
            changed,
            wake: Notify::new(),
        })
    }

    /// The socket for `opts`, opened on first use (with its receiver task).
    async fn socket(self: &Arc<Self>, opts: Options) -> Result<Arc<Sock>, String> {
        let mut socks = self.sockets.lock().await;
        if let Some(s) = socks.get(&opts) {
            return Ok(s.clone());
        }
        let sock = IcmpSocket::open(&opts, self.cfg.mode, self.cfg.recv_buffer)?;
        let id = socks.len();
        let ident = (std::process::id() as u16).wrapping_add((id as u16).wrapping_mul(7919));
        tracing::info!(
            family = opts.family.name(),
            kind = sock.kind(),
            source = ?opts.source,
            interface = ?opts.interface,
            "opened ICMP socket"
        );
        let s = Arc::new(Sock {
            id,
            sock,
            ident,
            seq: AtomicU16::new(0),
        });
        socks.insert(opts, s.clone());
        let me = Arc::downgrade(self);
        let rx = s.clone();
        tokio::spawn(async move { receive_loop(me, rx).await });
        Ok(s)
    }

    fn options(&self, family: Family, spec: Option<&TargetSpec>) -> Options {
        Options {
            family,
            source: spec
                .and_then(|s| s.source)
                .or(self.cfg.source)
                .filter(|ip| Family::of(ip) == family),
            interface: spec
                .and_then(|s| s.interface.clone())
                .or_else(|| self.cfg.interface.clone()),
            ttl: self.cfg.ttl,
        }
    }

    /// Opens the default sockets for the families in use, so that permission problems
    /// show at startup.
    pub async fn check_sockets(self: &Arc<Self>, families: &[Family]) -> Result<(), String> {
        for &f in families {
            self.socket(self.options(f, None)).await?;
        }
        Ok(())
    }

    /// Replaces the target list. Unchanged targets keep their counters; new ones are
    /// resolved and get their socket. A socket that cannot be opened fails the whole
    /// call and leaves the old list in place. Unresolvable names are kept as targets
    /// that are down (every probe is a send error).
    pub async fn set_targets(self: &Arc<Self>, specs: Vec<TargetSpec>) -> Result<(), String> {
        let specs = crate::targets::dedup(specs);
        let new: Vec<TargetSpec> = {
            let inner = lock(&self.inner);
            specs
                .iter()
                .filter(|s| !inner.by_spec.contains_key(*s))
                .cloned()
                .collect()
        };
        let mut prepared = Vec::with_capacity(new.len());
        for spec in new {
            match resolve(&spec.host, self.cfg.ip_protocol).await {
                Ok(ip) => {
                    let sock = self
                        .socket(self.options(Family::of(&ip), Some(&spec)))
                        .await?;
                    prepared.push((spec, Some(ip), Some(sock)));
                }
                Err(e) => {
                    tracing::warn!(target = %spec.host, error = %e, "target will be reported down");
                    prepared.push((spec, None, None));
                }
            }
        }
        let mut inner = lock(&self.inner);
        let keep: std::collections::HashSet<&TargetSpec> = specs.iter().collect();
        let gone: Vec<(TargetSpec, u64)> = inner
            .by_spec
            .iter()
            .filter(|(s, _)| !keep.contains(s))
            .map(|(s, id)| (s.clone(), *id))
            .collect();
        for (s, id) in gone {
            inner.by_spec.remove(&s);
            inner.targets.remove(&id);
        }
        for (spec, ip, sock) in prepared {
            let id = inner.next_id;
            inner.next_id += 1;
            inner.by_spec.insert(spec.clone(), id);
            inner.targets.insert(
                id,
                Target {
                    spec,
                    ip,
                    sock,
                    stats: Stats::new(self.cfg.settings),
                },
            );
        }
        drop(inner);
        self.wake.notify_one();
        Ok(())
    }

    /// Records the outcome of a reload for the self-metrics.
    pub fn note_reload(&self, ok: bool) {
        let mut inner = lock(&self.inner);
        inner.last_reload_ok = ok;
        if ok {
            inner.reloads_ok += 1;
        } else {
            inner.reloads_failed += 1;
        }
    }

    /// Number of targets.
    pub fn target_count(&self) -> usize {
        lock(&self.inner).targets.len()
    }

    /// Starts the scheduler and the timeout sweeper.
    pub fn start(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move { me.schedule_loop().await });
        let me = Arc::downgrade(self);
        let tick =
            (self.cfg.timeout / 10).clamp(Duration::from_millis(10), Duration::from_millis(100));
        tokio::spawn(async move {
            let mut iv = tokio::time::interval(tick);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                iv.tick().await;
                match me.upgrade() {
                    Some(e) => e.sweep(Instant::now()),
                    None => return,
                }
            }
        });
    }

    /// Sends one probe to every target per interval, each at its own offset so the
    /// sends (and replies) are spread evenly instead of arriving as one burst.
    async fn schedule_loop(self: Arc<Self>) {
        let interval = self.cfg.interval;
        let mut start = tokio::time::Instant::now();
        loop {
            let ids: Vec<u64> = lock(&self.inner).targets.keys().copied().collect();
            if ids.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(interval) => {}
                }
                start = tokio::time::Instant::now();
                continue;
            }
            let n = ids.len() as u32;
            // Wake up at most every `grain` and send what is due by then: 1,000 targets
            // a second cost 200 wake-ups instead of 1,000, still spread evenly.
            let grain = (interval / 10).min(Duration::from_millis(5));
            let mut now = tokio::time::Instant::now();
            for (i, id) in ids.into_iter().enumerate() {
                let at = start + interval * i as u32 / n;
                if at > now + grain {
                    tokio::time::sleep_until(at).await;
                    now = tokio::time::Instant::now();
                }
                self.send_probe(id);
            }
            start += interval;
            let now = tokio::time::Instant::now();
            if start + interval < now {
                // Fell behind (suspended, overloaded): restart the cycle instead of bursting.
                start = now;
            }
            tokio::time::sleep_until(start).await;
        }
    }

    fn send_probe(&self, id: u64) {
        let now = Instant::now();
        let (sock, ip, seq) = {
            let mut inner = lock(&self.inner);
            let t = match inner.targets.get_mut(&id) {
                Some(t) => t,
                None => return, // removed by a reload
            };
            t.stats.on_sent();
            let (sock, ip) = match (&t.sock, t.ip) {
                (Some(s), Some(ip)) => (s.clone(), ip),
                _ => {
                    if t.stats.on_send_error(now) {
                        self.changed.notify_one();
                    }
                    return;
                }
            };
            let seq = sock.seq.fetch_add(1, Ordering::Relaxed);
            inner.pending.insert(
                (sock.id, seq),
                Pending {
                    ip,
                    sent: now,
                    owner: Owner::Target(id),
                },
            );
            (sock, ip, seq)
        };
        let pkt = packet::echo_request(sock.sock.family, sock.ident, seq, self.cfg.size);
        if let Err(e) = sock.sock.try_send_to(&pkt, ip) {
            tracing::debug!(%ip, error = %e, "send failed");
            let mut inner = lock(&self.inner);
            inner.pending.remove(&(sock.id, seq));
            if let Some(t) = inner.targets.get_mut(&id) {
                if t.stats.on_send_error(now) {
                    self.changed.notify_one();
                }
            }
        }
    }

    fn sweep(&self, now: Instant) {
        let timeout = self.cfg.timeout;
        let mut inner = lock(&self.inner);
        let expired: Vec<(usize, u16)> = inner
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.sent) >= timeout)
            .map(|(k, _)| *k)
            .collect();
        let mut changed = false;
        for k in expired {
            if let Some(p) = inner.pending.remove(&k) {
                if let Owner::Target(id) = p.owner {
                    if let Some(t) = inner.targets.get_mut(&id) {
                        changed |= t.stats.on_lost(p.sent);
                    }
                }
                // Probe owners wait for their own deadline; dropping the sender is enough.
            }
        }
        let keep = timeout.max(Duration::from_secs(1)) * 3;
        inner
            .answered
            .retain(|_, a| now.saturating_duration_since(a.at) < keep);
        drop(inner);
        if changed {
            self.changed.notify_one();
        }
    }

    fn on_packet(&self, sock: &Sock, pkt: Received, from: IpAddr, cmsg_ttl: Option<u8>) {
        let now = Instant::now();
        // Replies are matched on their sender, errors on the quoted destination.
        let (ident, seq, reply_ttl, from) = match pkt {
            Received::Reply { ident, seq, ttl } => (ident, seq, Some(ttl.or(cmsg_ttl)), from),
            Received::Error {
                ident, seq, dst, ..
            } => (ident, seq, None, dst),
            Received::Other => return,
        };
        // Ping sockets get only their own replies (the kernel owns the identifier);
        // raw sockets see everyone's.
        if sock.sock.raw && ident != sock.ident {
            return;
        }
        let key = (sock.id, seq);
        let mut inner = lock(&self.inner);
        let mut changed = false;
        let is_ours = inner.pending.get(&key).map(|p| p.ip == from);
        match (is_ours, reply_ttl) {
            (Some(true), Some(ttl)) => {
                if let Some(p) = inner.pending.remove(&key) {
                    let rtt = now.saturating_duration_since(p.sent);
                    let target = match p.owner {
                        Owner::Target(id) => {
                            if let Some(t) = inner.targets.get_mut(&id) {
                                changed = t.stats.on_reply(rtt, ttl, now);
                            }
                            Some(id)
                        }
                        Owner::Probe(tx) => {
                            let _ = tx.send(ProbeEvent::Reply(rtt, ttl));
                            None
                        }
                    };
                    inner.answered.insert(
                        key,
                        Answered {
                            ip: from,
                            at: now,
                            target,
                        },
                    );
                }
            }
            (Some(false), _) => {}
            (Some(true), None) => {
                // An ICMP error for a pending request: the probe failed now.
                if let Some(p) = inner.pending.remove(&key) {
                    match p.owner {
                        Owner::Target(id) => {
                            if let Some(t) = inner.targets.get_mut(&id) {
                                t.stats.on_receive_error();
                                changed = t.stats.on_lost(p.sent);
                            }
                        }
                        Owner::Probe(tx) => {
                            let _ = tx.send(ProbeEvent::Error);
                        }
                    }
                }
            }
            (None, Some(_)) => {
                let dup = inner
                    .answered
                    .get(&key)
                    .filter(|a| a.ip == from)
                    .map(|a| a.target);
                match dup {
                    Some(Some(id)) => {
                        if let Some(t) = inner.targets.get_mut(&id) {
                            t.stats.on_duplicate();
                        }
                    }
                    Some(None) => {}
                    None => inner.late_replies += 1,
                }
            }
            (None, None) => {}
        }
        drop(inner);
        if changed {
            self.changed.notify_one();
        }
    }

    fn on_socket_error(&self, sock: &Sock) {
        let mut inner = lock(&self.inner);
        *inner
            .socket_errors
            .entry((sock.sock.family, sock.sock.kind()))
            .or_default() += 1;
    }

    /// One-shot probe for `/probe`: `count` echoes to `host` on the default socket of
    /// its family, waiting at most `timeout`.
    pub async fn probe(self: &Arc<Self>, host: &str, count: u16, timeout: Duration) -> MetricSet {
        let started = Instant::now();
        let mut out = MetricSet::new();
        let mut result = ProbeResult::default();
        match resolve(host, self.cfg.ip_protocol).await {
            Err(e) => {
                tracing::debug!(target = host, error = %e, "probe: cannot resolve");
            }
            Ok(ip) => {
                result.protocol = match ip {
                    IpAddr::V4(_) => 4,
                    IpAddr::V6(_) => 6,
                };
                match self.socket(self.options(Family::of(&ip), None)).await {
                    Err(e) => tracing::warn!(error = %e, "probe: no socket"),
                    Ok(sock) => self.run_probe(&sock, ip, count, timeout, &mut result).await,
                }
            }
        }
        let g = |out: &mut MetricSet, name: &str, help: &str, v: f64| {
            out.gauge(name, help, &[], v);
        };
        g(
            &mut out,
            "rtmon_ping_probe_success",
            "1 if at least one echo reply came back.",
            if result.replies > 0 { 1.0 } else { 0.0 },
        );
        g(
            &mut out,
            "rtmon_ping_probe_duration_seconds",
            "How long the probe took.",
            started.elapsed().as_secs_f64(),
        );
        g(
            &mut out,
            "rtmon_ping_probe_ip_protocol",
            "IP version probed (4 or 6; 0 if the target did not resolve).",
            f64::from(result.protocol),
        );
        g(
            &mut out,
            "rtmon_ping_probe_requests",
            "Echo requests sent by this probe.",
            f64::from(result.requests),
        );
        g(
            &mut out,
            "rtmon_ping_probe_replies",
            "Echo replies received by this probe.",
            f64::from(result.replies),
        );
        g(
            &mut out,
            "rtmon_ping_probe_errors",
            "ICMP errors or send failures of this probe.",
            f64::from(result.errors),
        );
        if result.replies > 0 {
            g(
                &mut out,
                "rtmon_ping_probe_rtt_seconds",
                "Mean round-trip time of the replies.",
                result.rtt_sum / f64::from(result.replies),
            );
        }
        if let Some(ttl) = result.ttl {
            g(
                &mut out,
                "rtmon_ping_probe_reply_ttl",
                "TTL (hop limit) of the last reply.",
                f64::from(ttl),
            );
        }
        out
    }

    async fn run_probe(
        &self,
        sock: &Arc<Sock>,
        ip: IpAddr,
        count: u16,
        timeout: Duration,
        r: &mut ProbeResult,
    ) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seqs = Vec::new();
        for _ in 0..count {
            let seq = sock.seq.fetch_add(1, Ordering::Relaxed);
            lock(&self.inner).pending.insert(
                (sock.id, seq),
                Pending {
                    ip,
                    sent: Instant::now(),
                    owner: Owner::Probe(tx.clone()),
                },
            );
            r.requests += 1;
            let pkt = packet::echo_request(sock.sock.family, sock.ident, seq, self.cfg.size);
            if sock.sock.try_send_to(&pkt, ip).is_err() {
                lock(&self.inner).pending.remove(&(sock.id, seq));
                r.errors += 1;
            } else {
                seqs.push(seq);
            }
        }
        drop(tx);
        let mut outstanding = seqs.len();
        while outstanding > 0 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(ProbeEvent::Reply(rtt, ttl))) => {
                    r.replies += 1;
                    r.rtt_sum += rtt.as_secs_f64();
                    if ttl.is_some() {
                        r.ttl = ttl;
                    }
                    outstanding -= 1;
                }
                Ok(Some(ProbeEvent::Error)) => {
                    r.errors += 1;
                    outstanding -= 1;
                }
                Ok(None) | Err(_) => break,
            }
        }
        let mut inner = lock(&self.inner);
        for seq in seqs {
            if let Some(p) = inner.pending.get(&(sock.id, seq)) {
                if matches!(p.owner, Owner::Probe(_)) {
                    inner.pending.remove(&(sock.id, seq));
                }
            }
        }
    }

    /// Writes every target's metrics and the exporter's own.
    pub fn write(&self, out: &mut MetricSet) {
        let now = Instant::now();
        // Copy what is needed and let go of the lock before encoding, so replies are
        // not held up by a large scrape.
        struct Snap {
            spec: TargetSpec,
            ip: Option<IpAddr>,
            stats: Stats,
        }
        let (snaps, late, sock_errs, reload_ok, reloads_ok, reloads_failed) = {
            let inner = lock(&self.inner);
            let snaps: Vec<Snap> = inner
                .targets
                .values()
                .map(|t| Snap {
                    spec: t.spec.clone(),
                    ip: t.ip,
                    stats: t.stats.clone(),
                })
                .collect();
            (
                snaps,
                inner.late_replies,
                inner.socket_errors.clone(),
                inner.last_reload_ok,
                inner.reloads_ok,
                inner.reloads_failed,
            )
        };
        let fam = |out: &mut MetricSet, name: &str, help: &str, kind| {
            out.family(name, help, kind);
        };
        // Declare families in a fixed order, so the output is stable and families of
        // optional values still exist.
        const F: &[(&str, &str, MetricType)] = &[
            ("rtmon_ping_up", "1 if the target answered at least one of the last --ping.down-after probes, 0 if it is down or not probed yet.", MetricType::Gauge),
            ("rtmon_ping_requests_total", "Echo requests sent (or attempted).", MetricType::Counter),
            ("rtmon_ping_replies_total", "Echo replies matched to a request.", MetricType::Counter),
            ("rtmon_ping_rtt_seconds", "Round-trip time of echo replies.", MetricType::Histogram),
            ("rtmon_ping_last_rtt_seconds", "Round-trip time of the last reply.", MetricType::Gauge),
            ("rtmon_ping_rtt_min_seconds", "Smallest round-trip time in the window.", MetricType::Gauge),
            ("rtmon_ping_rtt_max_seconds", "Largest round-trip time in the window.", MetricType::Gauge),
            ("rtmon_ping_rtt_jitter_seconds", "Mean absolute difference of consecutive round-trip times in the window.", MetricType::Gauge),
            ("rtmon_ping_loss_ratio", "Share of lost probes in the window (0 to 1).", MetricType::Gauge),
            ("rtmon_ping_window_probes", "Completed probes in the window (at most --ping.window).", MetricType::Gauge),
            ("rtmon_ping_reply_ttl", "TTL (IPv4) or hop limit (IPv6) of the last reply.", MetricType::Gauge),
            ("rtmon_ping_duplicates_total", "Duplicate echo replies.", MetricType::Counter),
            ("rtmon_ping_send_errors_total", "Echo requests that could not be sent (no route, interface down, unresolvable name).", MetricType::Counter),
            ("rtmon_ping_receive_errors_total", "ICMP errors (unreachable, time exceeded) received for echo requests.", MetricType::Counter),
            ("rtmon_ping_down_seconds_total", "Seconds the target has been down, counted from its first lost probe, so short outages between scrapes still show.", MetricType::Counter),
            ("rtmon_ping_state_changes_total", "Up/down transitions of the target.", MetricType::Counter),
        ];
        for (n, h, k) in F {
            fam(out, n, h, *k);
        }
        for t in &snaps {
            let ip = t.ip.map(|i| i.to_string()).unwrap_or_default();
            let labels: [(&'static str, &str); 2] = [("target", &t.spec.host), ("ip", &ip)];
            // User label names are dynamic, so they are added as owned labels.
            let extra: Vec<(String, String)> = t
                .spec
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let s = &t.stats;
            let put = |out: &mut MetricSet, name: &str, v: rtmon::expo::Value| {
                let l = owned(&labels, &extra);
                out.family(name, "", MetricType::Gauge).add_owned(l, v);
            };
            put(
                out,
                "rtmon_ping_up",
                u64::from(s.state() == State::Up).into(),
            );
            put(out, "rtmon_ping_requests_total", s.requests.into());
            put(out, "rtmon_ping_replies_total", s.replies.into());
            {
                let l = owned(&labels, &extra);
                push_histogram(out, l, &s.cumulative_buckets(), s.rtt_sum, s.replies);
            }
            if let Some(v) = s.last_rtt {
                put(out, "rtmon_ping_last_rtt_seconds", v.into());
            }
            if let Some(v) = s.rtt_min() {
                put(out, "rtmon_ping_rtt_min_seconds", v.into());
            }
            if let Some(v) = s.rtt_max() {
                put(out, "rtmon_ping_rtt_max_seconds", v.into());
            }
            if let Some(v) = s.jitter() {
                put(out, "rtmon_ping_rtt_jitter_seconds", v.into());
            }
            if let Some(v) = s.loss_ratio() {
                put(out, "rtmon_ping_loss_ratio", v.into());
            }
            put(out, "rtmon_ping_window_probes", s.window_len().into());
            if let Some(v) = s.last_ttl {
                put(out, "rtmon_ping_reply_ttl", u64::from(v).into());
            }
            put(out, "rtmon_ping_duplicates_total", s.duplicates.into());
            put(out, "rtmon_ping_send_errors_total", s.send_errors.into());
            put(
                out,
                "rtmon_ping_receive_errors_total",
                s.receive_errors.into(),
            );
            put(
                out,
                "rtmon_ping_down_seconds_total",
                s.down_seconds(now).into(),
            );
            put(
                out,
                "rtmon_ping_state_changes_total",
                s.state_changes.into(),
            );
        }
        out.gauge(
            "rtmon_ping_targets",
            "Number of configured targets.",
            &[],
            snaps.len(),
        );
        out.counter(
            "rtmon_ping_late_replies_total",
            "Echo replies that arrived after their request had timed out.",
            &[],
            late,
        );
        for ((family, kind), n) in &sock_errs {
            out.counter(
                "rtmon_ping_socket_receive_errors_total",
                "Errors reading an ICMP socket.",
                &[("family", family.name()), ("type", kind)],
                *n,
            );
        }
        out.gauge(
            "rtmon_ping_config_last_reload_successful",
            "1 if the last configuration reload succeeded.",
            &[],
            u64::from(reload_ok),
        );
        out.counter(
            "rtmon_ping_config_reloads_total",
            "Configuration reloads by result.",
            &[("result", "success")],
            reloads_ok,
        );
        out.counter(
            "rtmon_ping_config_reloads_total",
            "Configuration reloads by result.",
            &[("result", "failure")],
            reloads_failed,
        );
        if let Ok(socks) = self.sockets.try_lock() {
            for o in socks.keys() {
                if let Some(s) = socks.get(o) {
                    out.info(
                        "rtmon_ping_socket_info",
                        "Open ICMP sockets: family, type (dgram = unprivileged ping socket, raw), interface.",
                        &[
                            ("family", o.family.name()),
                            ("type", s.sock.kind()),
                            ("interface", o.interface.as_deref().unwrap_or("")),
                            ("source", &o.source.map(|i| i.to_string()).unwrap_or_default()),
                        ],
                    );
                }
            }
        }
    }
}

fn owned(labels: &[(&'static str, &str)], extra: &[(String, String)]) -> Vec<rtmon::expo::Label> {
    let mut l: Vec<rtmon::expo::Label> = labels
        .iter()
        .map(|(k, v)| (std::borrow::Cow::Borrowed(*k), (*v).to_string()))
        .collect();
    l.extend(
        extra
            .iter()
            .map(|(k, v)| (std::borrow::Cow::Owned(k.clone()), v.clone())),
    );
    l
}

fn push_histogram(
    out: &mut MetricSet,
    base: Vec<rtmon::expo::Label>,
    buckets: &[(f64, u64)],
    sum: f64,
    count: u64,
) {
    let f = out.family("rtmon_ping_rtt_seconds", "", MetricType::Histogram);
    let sample = |suffix, labels, value| rtmon::expo::Sample {
        suffix,
        labels,
        value,
        timestamp_ms: None,
        created: None,
    };
    for &(le, c) in buckets {
        let mut l = base.clone();
        let mut s = String::new();
        rtmon::expo::write_f64(le, &mut s);
        l.push((std::borrow::Cow::Borrowed("le"), s));
        f.push(sample("_bucket", l, rtmon::expo::Value::U64(c)));
    }
    let mut l = base.clone();
    l.push((std::borrow::Cow::Borrowed("le"), "+Inf".into()));
    f.push(sample("_bucket", l, rtmon::expo::Value::U64(count)));
    f.push(sample("_sum", base.clone(), rtmon::expo::Value::F64(sum)));
    f.push(sample("_count", base, rtmon::expo::Value::U64(count)));
}

#[derive(Default)]
struct ProbeResult {
    protocol: u8,
    requests: u16,
    replies: u16,
    errors: u16,
    rtt_sum: f64,
    ttl: Option<u8>,
}

async fn receive_loop(engine: std::sync::Weak<Engine>, sock: Arc<Sock>) {
    let mut buf = vec![0u8; 65536];
    let family = sock.sock.family;
    loop {
        let r = sock.sock.recv(&mut buf).await;
        let e = match engine.upgrade() {
            Some(e) => e,
            None => return,
        };
        let parsed = match r {
            Ok(Recv::Data { len, from, ttl }) => {
                packet::parse(family, sock.sock.raw, &buf[..len]).map(|p| (p, from, ttl))
            }
            Ok(Recv::Error { len, dst, kind }) => {
                packet::parse_error_queue(family, &buf[..len], dst, kind).map(|p| (p, dst, None))
            }
            Err(err) => Err(packet::ParseError::Io(err.to_string())),
        };
        match parsed {
            Ok((p, from, ttl)) => e.on_packet(&sock, p, from, ttl),
            Err(packet::ParseError::Io(err)) => {
                // Pending socket errors (e.g. an ICMP error on a ping socket) surface
                // here once; don't spin if the socket keeps failing.
                tracing::debug!(error = %err, "ICMP receive error");
                e.on_socket_error(&sock);
                drop(e);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(err) => {
                tracing::debug!(error = %err, "malformed ICMP packet");
                e.on_socket_error(&sock);
            }
        }
    }
}
