//! The passive LLDP listener (I/O edge): one `AF_PACKET` socket per interface, bound to
//! the LLDP ethertype and joined to the LLDP group addresses, feeding the neighbour
//! [`Table`]; plus the shared state rendered as `rtmon_lldp_*` metrics.
//!
//! A VLAN subinterface (`ens2f0.1000`) hears no LLDP — agents send untagged frames on
//! the physical port — so the listener follows `/sys/class/net/<if>/lower_*` down to
//! the physical interface(s) (`ens2f0`; both slaves of a bond). Frames this host sends
//! itself (an lldpd running here) are not heard: the kernel hands outgoing frames only
//! to ETH_P_ALL sockets, and any that still come in as PACKET_OUTGOING are skipped. A socket error (link down, interface
//! deleted) forgets that interface's neighbours and reopens the socket every
//! [`RETRY`], so a re-cabled or re-created interface is picked up on its own.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rtmon::app::{BoxFuture, Scrape, Source};
use rtmon::expo::{MetricSet, MetricType};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::lldp::{
    chassis_subtype_name, parse_frame, port_subtype_name, ParseError, Table, Update,
    ETHERTYPE_LLDP, NEAREST_BRIDGE, OTHER_GROUPS,
};
use crate::monitor::{now, Monitor};

/// How long to wait before reopening a failed socket.
pub const RETRY: Duration = Duration::from_secs(1);
/// How often expired neighbours are swept.
pub const SWEEP: Duration = Duration::from_millis(250);

/// The physical interface(s) under `iface`: follows `lower_*` links in `sys`
/// (`/sys/class/net`) through VLANs, macvlans and bonds; `iface` itself when it has none.
pub fn physical_interfaces(sys: &Path, iface: &str) -> Vec<String> {
    fn walk(sys: &Path, iface: &str, depth: usize, out: &mut Vec<String>) {
        let lowers: Vec<String> = std::fs::read_dir(sys.join(iface))
            .map(|d| {
                let mut v: Vec<String> = d
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|n| n.strip_prefix("lower_"))
                            .map(str::to_string)
                    })
                    .collect();
                v.sort();
                v
            })
            .unwrap_or_default();
        if lowers.is_empty() || depth >= 4 {
            if !out.iter().any(|o| o == iface) {
                out.push(iface.to_string());
            }
            return;
        }
        for l in lowers {
            walk(sys, &l, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(sys, iface, 0, &mut out);
    out
}

#[derive(Debug, Default)]
struct IfStats {
    listening: bool,
    frames: u64,
    socket_errors: u64,
    kernel_drops: u64,
    parse_errors: BTreeMap<&'static str, u64>,
    last_error: Option<String>,
}

#[derive(Debug)]
struct Inner {
    table: Table,
    ifaces: BTreeMap<String, IfStats>,
    tasks: BTreeMap<String, JoinHandle<()>>,
    flow: Option<String>,
}

/// Shared LLDP state: the neighbour table, per-interface statistics and the listeners.
#[derive(Debug)]
pub struct LldpMonitor {
    inner: Mutex<Inner>,
    /// Notified when a neighbour appears, changes or goes (push on change).
    pub changed: Arc<Notify>,
}

impl LldpMonitor {
    /// A monitor holding at most `max` neighbours, notifying `changed`.
    pub fn new(max: usize, changed: Arc<Notify>) -> LldpMonitor {
        LldpMonitor {
            inner: Mutex::new(Inner {
                table: Table::new(max),
                ifaces: BTreeMap::new(),
                tasks: BTreeMap::new(),
                flow: None,
            }),
            changed,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a frame received on `iface`.
    pub fn frame(&self, iface: &str, frame: &[u8]) -> Result<Update, ParseError> {
        let res = parse_frame(frame);
        let mut g = self.lock();
        let upd = match res {
            Ok(pdu) => {
                g.ifaces.entry(iface.to_string()).or_default().frames += 1;
                Ok(g.table.update(iface, pdu, now()))
            }
            Err(e) => {
                let st = g.ifaces.entry(iface.to_string()).or_default();
                *st.parse_errors.entry(e.reason()).or_default() += 1;
                Err(e)
            }
        };
        drop(g);
        match &upd {
            Ok(Update::New | Update::Changed | Update::Removed) => self.changed.notify_one(),
            Ok(_) => {}
            Err(e) => tracing::debug!(interface = iface, error = %e, "bad LLDP frame"),
        }
        upd
    }

    fn dropped(&self, iface: &str, n: u64) {
        if n > 0 {
            self.lock()
                .ifaces
                .entry(iface.to_string())
                .or_default()
                .kernel_drops += n;
        }
    }

    fn listening(&self, iface: &str, on: bool, err: Option<String>) {
        let cleared = {
            let mut g = self.lock();
            let st = g.ifaces.entry(iface.to_string()).or_default();
            st.listening = on;
            if err.is_some() {
                st.socket_errors += 1;
                st.last_error = err;
            }
            if on {
                0
            } else {
                g.table.clear_interface(iface)
            }
        };
        if cleared > 0 {
            self.changed.notify_one();
        }
    }

    /// Forgets the neighbours of an interface that lost its carrier.
    pub fn carrier_lost(&self, iface: &str) -> usize {
        let n = self.lock().table.clear_interface(iface);
        if n > 0 {
            tracing::info!(
                interface = iface,
                neighbours = n,
                "carrier lost; LLDP neighbours forgotten"
            );
            self.changed.notify_one();
        }
        n
    }

    /// Removes neighbours whose TTL ran out.
    pub fn expire(&self) -> usize {
        let n = self.lock().table.expire(now());
        if n > 0 {
            self.changed.notify_one();
        }
        n
    }

    /// Sets the flow label added to every series.
    pub fn set_flow(&self, flow: Option<String>) {
        self.lock().flow = flow;
    }

    /// The interfaces listened on.
    pub fn interfaces(&self) -> Vec<String> {
        self.lock().tasks.keys().cloned().collect()
    }

    /// Listens on exactly these (physical) interfaces: starts listeners for new ones,
    /// stops the others and forgets their neighbours. Needs a tokio runtime.
    pub fn set_interfaces(self: &Arc<Self>, ifaces: &[String]) {
        let mut g = self.lock();
        let old: Vec<String> = g.tasks.keys().cloned().collect();
        for i in old.iter().filter(|i| !ifaces.contains(i)) {
            if let Some(t) = g.tasks.remove(i) {
                t.abort();
            }
            g.ifaces.remove(i);
        }
        g.table.retain_interfaces(ifaces);
        for i in ifaces {
            if !g.tasks.contains_key(i) {
                g.ifaces.entry(i.clone()).or_default();
                let h = tokio::spawn(listen(self.clone(), i.clone()));
                g.tasks.insert(i.clone(), h);
            }
        }
    }

    /// Renders the `rtmon_lldp_*` metrics.
    pub fn render(&self) -> MetricSet {
        let g = self.lock();
        let mut m = MetricSet::new();
        if g.ifaces.is_empty() {
            return m;
        }
        {
            let f = m.family(
                "rtmon_lldp_neighbor_info",
                "An LLDP neighbour heard on an interface (until its TTL runs out): its chassis id and port id (MAC rendered aa:bb:…, with their LLDP-MIB subtypes), port description, system name and first management address.",
                MetricType::Gauge,
            );
            for ((iface, _, _), n) in g.table.iter() {
                let p = &n.pdu;
                f.add(
                    &[
                        ("interface", iface.as_str()),
                        ("chassis_id", p.chassis_id.value.as_str()),
                        (
                            "chassis_id_subtype",
                            chassis_subtype_name(p.chassis_id.subtype),
                        ),
                        ("port_id", p.port_id.value.as_str()),
                        ("port_id_subtype", port_subtype_name(p.port_id.subtype)),
                        ("port_desc", p.port_desc.as_deref().unwrap_or("")),
                        ("system_name", p.system_name.as_deref().unwrap_or("")),
                        (
                            "mgmt_address",
                            p.mgmt_addrs
                                .first()
                                .map(|a| a.address.as_str())
                                .unwrap_or(""),
                        ),
                    ],
                    1u64,
                );
            }
        }
        {
            let f = m.family(
                "rtmon_lldp_neighbor_last_seen_timestamp_seconds",
                "When the neighbour's last LLDPDU was received.",
                MetricType::Gauge,
            );
            for ((iface, c, p), n) in g.table.iter() {
                f.add(
                    &[
                        ("interface", iface.as_str()),
                        ("chassis_id", c.value.as_str()),
                        ("port_id", p.value.as_str()),
                    ],
                    n.last_seen,
                );
            }
        }
        {
            let f = m.family(
                "rtmon_lldp_neighbor_ttl_seconds",
                "The TTL the neighbour announced: it is forgotten this long after its last LLDPDU.",
                MetricType::Gauge,
            );
            for ((iface, c, p), n) in g.table.iter() {
                f.add(
                    &[
                        ("interface", iface.as_str()),
                        ("chassis_id", c.value.as_str()),
                        ("port_id", p.value.as_str()),
                    ],
                    u64::from(n.pdu.ttl),
                );
            }
        }
        per_iface(
            &mut m,
            &g.ifaces,
            "rtmon_lldp_listening",
            "1 if the LLDP socket of the interface is open (0: interface missing, down, or no CAP_NET_RAW).",
            MetricType::Gauge,
            |s| u64::from(s.listening),
        );
        per_iface(
            &mut m,
            &g.ifaces,
            "rtmon_lldp_frames_total",
            "Valid LLDP frames received per interface (frames this host sent itself are not counted).",
            MetricType::Counter,
            |s| s.frames,
        );
        per_iface(
            &mut m,
            &g.ifaces,
            "rtmon_lldp_frames_dropped_total",
            "LLDP frames the kernel dropped before the exporter read them (socket buffer full: a flood), per interface; read every second.",
            MetricType::Counter,
            |s| s.kernel_drops,
        );
        {
            let f = m.family(
                "rtmon_lldp_frame_errors_total",
                "LLDP frames rejected per interface and reason: truncated, not_lldp, missing_mandatory_tlv, bad_tlv_length.",
                MetricType::Counter,
            );
            for (i, s) in &g.ifaces {
                for r in ParseError::REASONS {
                    f.add(
                        &[("interface", i.as_str()), ("reason", r)],
                        s.parse_errors.get(r).copied().unwrap_or(0),
                    );
                }
            }
        }
        per_iface(
            &mut m,
            &g.ifaces,
            "rtmon_lldp_socket_errors_total",
            "LLDP socket failures per interface (open, bind or receive; the socket is reopened).",
            MetricType::Counter,
            |s| s.socket_errors,
        );
        m.counter(
            "rtmon_lldp_neighbors_dropped_total",
            "LLDP neighbours not tracked because --lldp.max-neighbors was reached.",
            &[],
            g.table.dropped(),
        );
        m.prune_empty();
        if let Some(flow) = &g.flow {
            m.add_label_to_all("flow", flow);
        }
        m
    }

    /// The last socket error of an interface (tests, logs).
    pub fn last_error(&self, iface: &str) -> Option<String> {
        self.lock()
            .ifaces
            .get(iface)
            .and_then(|s| s.last_error.clone())
    }
}

/// One family with a sample per listened-on interface.
fn per_iface(
    m: &mut MetricSet,
    ifaces: &BTreeMap<String, IfStats>,
    name: &str,
    help: &str,
    kind: MetricType,
    value: impl Fn(&IfStats) -> u64,
) {
    let f = m.family(name, help, kind);
    for (i, s) in ifaces {
        f.add(&[("interface", i.as_str())], value(s));
    }
}

/// Every [`SWEEP`]: removes expired neighbours, and forgets the neighbours of
/// interfaces whose carrier is down (`<sys>/<if>/carrier` reads 0: the cable was
/// pulled, the peer went down) — as lldpd does, so a re-cabled port does not show the
/// old neighbour until its TTL (often 120 s) runs out.
pub async fn run_expiry(mon: Arc<LldpMonitor>, sys: PathBuf) {
    let mut tick = tokio::time::interval(SWEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        mon.expire();
        for i in mon.interfaces() {
            let carrier = std::fs::read_to_string(sys.join(&i).join("carrier"));
            if carrier.is_ok_and(|c| c.trim() == "0") {
                mon.carrier_lost(&i);
            }
        }
    }
}

const PACKET_OUTGOING: u8 = 4;

/// The ifindex of an interface (None: no such interface).
pub fn ifindex_of(iface: &str) -> Option<i32> {
    let name = CString::new(iface).ok()?;
    // SAFETY: name is a valid C string.
    let i = unsafe { libc::if_nametoindex(name.as_ptr()) };
    i32::try_from(i).ok().filter(|&i| i > 0)
}

/// Opens a non-blocking `AF_PACKET` socket on `iface` for the LLDP ethertype, joined to
/// the three LLDP group addresses; returns it with the ifindex it is bound to.
pub fn open_socket(iface: &str) -> io::Result<(OwnedFd, i32)> {
    // SAFETY: plain FFI calls with valid arguments; the fd is owned right after.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            i32::from(ETHERTYPE_LLDP.to_be()),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a freshly opened socket we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let ifindex = ifindex_of(iface).ok_or_else(|| io::Error::other("no such interface"))?;
    // SAFETY: sockaddr_ll is plain old data; zeroed is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = ETHERTYPE_LLDP.to_be();
    sll.sll_ifindex = ifindex;
    // SAFETY: binding our socket to a properly sized sockaddr_ll.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    for group in std::iter::once(NEAREST_BRIDGE).chain(OTHER_GROUPS) {
        // SAFETY: packet_mreq is plain old data.
        let mut mr: libc::packet_mreq = unsafe { std::mem::zeroed() };
        mr.mr_ifindex = ifindex;
        mr.mr_type = libc::PACKET_MR_MULTICAST as u16;
        mr.mr_alen = 6;
        mr.mr_address[..6].copy_from_slice(&group);
        // SAFETY: setsockopt with a properly sized packet_mreq.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                (&mr as *const libc::packet_mreq).cast(),
                std::mem::size_of::<libc::packet_mreq>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok((fd, ifindex))
}

/// Frames the kernel dropped for this socket (receive buffer full) since the last
/// call (PACKET_STATISTICS resets on read).
fn kernel_drops(fd: &OwnedFd) -> u64 {
    // SAFETY: tpacket_stats is plain old data.
    let mut st: libc::tpacket_stats = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: getsockopt into a properly sized tpacket_stats.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut st as *mut libc::tpacket_stats).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        u64::from(st.tp_drops)
    } else {
        0
    }
}

/// Receives one frame: its length (possibly more than `buf`, the frame was cut) and
/// whether this host sent it.
fn recv_frame(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    // SAFETY: sockaddr_ll is plain old data.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: buf and sll are valid for the sizes given.
    let n = unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_TRUNC,
            (&mut sll as *mut libc::sockaddr_ll).cast(),
            &mut len,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((n as usize, sll.sll_pkttype == PACKET_OUTGOING))
}

/// Listens on one interface forever (reopening after errors).
pub async fn listen(mon: Arc<LldpMonitor>, iface: String) {
    let mut buf = vec![0u8; 2048];
    let mut logged = false;
    loop {
        // SAFETY: the OwnedFd is moved into the AsyncFd and stays open as long as it.
        let (fd, ifindex) = match open_socket(&iface).and_then(|(fd, i)| {
            Ok((
                unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)?,
                i,
            ))
        }) {
            Ok(x) => x,
            Err(e) => {
                if !logged {
                    tracing::warn!(interface = %iface, error = %e, "cannot listen for LLDP; retrying");
                    logged = true;
                }
                mon.listening(&iface, false, Some(format!("open: {e}")));
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        tracing::info!(interface = %iface, "listening for LLDP");
        logged = false;
        mon.listening(&iface, true, None);
        // Also look every RETRY whether the interface was deleted or re-created (a
        // socket bound to a deleted interface would wait forever).
        let mut check = tokio::time::interval(RETRY);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let err = loop {
            tokio::select! {
                r = fd.ready(Interest::READABLE | Interest::ERROR) => {
                    let mut guard = match r {
                        Ok(g) => g,
                        Err(e) => break e,
                    };
                    match guard.try_io(|inner| recv_frame(inner.get_ref(), &mut buf)) {
                        Ok(Ok((_, true))) => {} // sent by this host
                        Ok(Ok((n, false))) => {
                            let frame = &buf[..n.min(buf.len())];
                            let _ = mon.frame(&iface, frame);
                        }
                        Ok(Err(e)) => break e,
                        Err(_would_block) => {}
                    }
                }
                _ = check.tick() => {
                    mon.dropped(&iface, kernel_drops(fd.get_ref()));
                    if ifindex_of(&iface) != Some(ifindex) {
                        break io::Error::other("interface deleted or re-created");
                    }
                }
            }
        };
        tracing::warn!(interface = %iface, error = %err, "LLDP socket failed (link down or interface gone); neighbours forgotten, reopening");
        drop(fd);
        mon.listening(&iface, false, Some(format!("receive: {err}")));
        tokio::time::sleep(RETRY).await;
    }
}

/// `/sys/class/net`, where the physical interfaces are looked up.
pub fn sys_class_net() -> PathBuf {
    PathBuf::from("/sys/class/net")
}

/// [`Source`] rendering the ARP monitor and, when enabled, the LLDP monitor.
pub struct ArpLldpSource {
    /// The ARP / neighbour monitor.
    pub arp: Arc<Monitor>,
    /// The LLDP monitor (None: LLDP disabled).
    pub lldp: Option<Arc<LldpMonitor>>,
}

impl Source for ArpLldpSource {
    fn collect<'a>(&'a self, _s: &'a Scrape) -> BoxFuture<'a, MetricSet> {
        Box::pin(async move {
            let mut m = self.arp.render();
            if let Some(l) = &self.lldp {
                m.merge(l.render());
            }
            m
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lldp::{encode_frame, encode_tlvs};

    #[test]
    fn vlan_and_bond_parents_are_followed() {
        let d = tempfile::tempdir().expect("tmp");
        let s = d.path();
        for p in [
            "ens2f0.1000/lower_ens2f0",
            "ens2f0",
            "bond0.20/lower_bond0",
            "bond0/lower_eth1",
            "bond0/lower_eth2",
            "eth1",
            "eth2",
        ] {
            std::fs::create_dir_all(s.join(p)).expect("mkdir");
        }
        assert_eq!(physical_interfaces(s, "ens2f0.1000"), ["ens2f0"]);
        assert_eq!(physical_interfaces(s, "ens2f0"), ["ens2f0"]);
        assert_eq!(physical_interfaces(s, "bond0.20"), ["eth1", "eth2"]);
        assert_eq!(physical_interfaces(s, "missing0"), ["missing0"]);
    }

    #[test]
    fn renders_neighbours_errors_and_flow_label() {
        let mon = LldpMonitor::new(8, Arc::new(Notify::new()));
        mon.set_flow(Some("a-b".into()));
        mon.lock()
            .ifaces
            .entry("eth0".into())
            .or_default()
            .listening = true;
        let pdu = encode_tlvs(&[
            (1, &[4, 0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc]),
            (2, b"\x05Ethernet1/27"),
            (3, &[0, 120]),
            (4, b"to \"dtn-a\""),
            (5, b"sw-a"),
            (0, &[]),
        ]);
        let f = encode_frame([0, 0x1b, 0x21, 0xaa, 0xbb, 0xcc], &pdu);
        assert_eq!(mon.frame("eth0", &f), Ok(Update::New));
        assert!(mon.frame("eth0", &f[..20]).is_err());
        let t = rtmon::expo::encode(&mon.render(), rtmon::expo::Format::Text);
        assert!(t.contains("rtmon_lldp_neighbor_info{interface=\"eth0\",chassis_id=\"00:1b:21:aa:bb:cc\",chassis_id_subtype=\"macAddress\",port_id=\"Ethernet1/27\",port_id_subtype=\"interfaceName\",port_desc=\"to \\\"dtn-a\\\"\",system_name=\"sw-a\",mgmt_address=\"\",flow=\"a-b\"} 1\n"), "{t}");
        assert!(
            t.contains("rtmon_lldp_frame_errors_total{interface=\"eth0\",reason=\"truncated\",flow=\"a-b\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("rtmon_lldp_frames_total{interface=\"eth0\",flow=\"a-b\"} 1\n"),
            "{t}"
        );
        assert!(t.contains("rtmon_lldp_listening{interface=\"eth0\",flow=\"a-b\"} 1\n"));
        assert!(t.contains("rtmon_lldp_neighbor_ttl_seconds{interface=\"eth0\",chassis_id=\"00:1b:21:aa:bb:cc\",port_id=\"Ethernet1/27\",flow=\"a-b\"} 120\n"), "{t}");
        // Link down: neighbours of the interface are forgotten.
        mon.listening("eth0", false, Some("receive: Network is down".into()));
        let t = rtmon::expo::encode(&mon.render(), rtmon::expo::Format::Text);
        assert!(!t.contains("rtmon_lldp_neighbor_info{"), "{t}");
        assert!(t.contains("rtmon_lldp_socket_errors_total{interface=\"eth0\",flow=\"a-b\"} 1\n"));
        assert_eq!(
            mon.last_error("eth0").as_deref(),
            Some("receive: Network is down")
        );
    }
}
