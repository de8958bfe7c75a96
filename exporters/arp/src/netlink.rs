//! rtnetlink reader: a full dump at start and every resync interval, plus
//! RTM_NEWNEIGH / RTM_DELNEIGH events as they happen. I/O edge: the conversion from a
//! netlink message to a [`Neighbour`] is pure ([`to_neighbour`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{StreamExt, TryStreamExt};
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::{new_connection, new_multicast_connection, Handle, MulticastGroup};

use crate::model::{format_mac, Key, Neighbour, NudState};
use crate::monitor::Monitor;

/// Interface index → name, resolved with `if_indextoname` and remembered (a DEL for
/// an interface that is already gone still gets its name).
#[derive(Debug, Default)]
pub struct IfNames {
    cache: HashMap<u32, String>,
}

impl IfNames {
    /// The name of interface `index` (`if<index>` if unknown).
    pub fn name(&mut self, index: u32) -> String {
        let mut buf = [0u8; libc::IF_NAMESIZE];
        // SAFETY: buf holds IF_NAMESIZE bytes as if_indextoname requires.
        let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr().cast()) };
        if !p.is_null() {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]).into_owned();
            self.cache.insert(index, name.clone());
            return name;
        }
        self.cache
            .get(&index)
            .cloned()
            .unwrap_or_else(|| format!("if{index}"))
    }
}

/// Converts a neighbour message; `None` for non-IP entries (bridge FDB, …).
pub fn to_neighbour(
    msg: &NeighbourMessage,
    device: impl FnOnce(u32) -> String,
) -> Option<Neighbour> {
    let mut ip = None;
    let mut mac = None;
    for a in &msg.attributes {
        match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => ip = Some((*v4).into()),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => ip = Some((*v6).into()),
            NeighbourAttribute::LinkLayerAddress(b) => mac = format_mac(b),
            _ => {}
        }
    }
    let ip = ip?;
    Some(Neighbour {
        key: Key {
            device: device(msg.header.ifindex),
            ip,
        },
        mac,
        state: NudState::from_bits(u16::from(msg.header.state)),
    })
}

async fn dump(handle: &Handle, names: &mut IfNames) -> Result<Vec<Neighbour>, String> {
    let msgs: Vec<NeighbourMessage> = handle
        .neighbours()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(|e| format!("netlink neighbour dump: {e}"))?;
    Ok(msgs
        .iter()
        .filter_map(|m| to_neighbour(m, |i| names.name(i)))
        .collect())
}

/// Runs the netlink reader until the process ends; reconnects after errors.
pub async fn run(mon: Arc<Monitor>, resync: Duration) {
    loop {
        let err = session(&mon, resync).await;
        tracing::warn!(error = %err, "neighbour table reader failed; retrying in 1s");
        mon.sync_failed(&err);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One session: subscribe, dump, then events and periodic resyncs. Returns why it ended.
async fn session(mon: &Monitor, resync: Duration) -> String {
    let mut names = IfNames::default();
    // Subscribe before dumping so that nothing between the two is missed.
    let (mconn, _mhandle, mut events) = match new_multicast_connection(&[MulticastGroup::Neigh]) {
        Ok(x) => x,
        Err(e) => return format!("netlink event socket: {e}"),
    };
    let events_task = tokio::spawn(mconn);
    let (conn, handle, _) = match new_connection() {
        Ok(x) => x,
        Err(e) => {
            events_task.abort();
            return format!("netlink socket: {e}");
        }
    };
    let conn_task = tokio::spawn(conn);
    let err = async {
        match dump(&handle, &mut names).await {
            Ok(d) => {
                mon.apply_sync(d);
            }
            Err(e) => return e,
        }
        let mut tick = tokio::time::interval(resync);
        tick.reset();
        loop {
            let mut want_dump = false;
            tokio::select! {
                ev = events.next() => {
                    let Some((msg, _)) = ev else { return "netlink event stream closed".to_string() };
                    match msg.payload {
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(m)) => {
                            if let Some(n) = to_neighbour(&m, |i| names.name(i)) {
                                mon.apply_new(n);
                            }
                        }
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelNeighbour(m)) => {
                            if let Some(n) = to_neighbour(&m, |i| names.name(i)) {
                                mon.apply_del(&n.key);
                            }
                        }
                        NetlinkPayload::Overrun(_) => {
                            tracing::warn!("netlink event socket overrun: events lost, resyncing");
                            mon.overrun();
                            want_dump = true;
                        }
                        _ => {}
                    }
                }
                _ = tick.tick() => want_dump = true,
                _ = mon.resync.notified() => want_dump = true,
            }
            if want_dump {
                match dump(&handle, &mut names).await {
                    Ok(d) => {
                        mon.apply_sync(d);
                    }
                    Err(e) => return e,
                }
            }
        }
    }
    .await;
    events_task.abort();
    conn_task.abort();
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::neighbour::NeighbourState;
    use netlink_packet_route::AddressFamily;

    #[test]
    fn converts_messages() {
        let mut m = NeighbourMessage::default();
        m.header.family = AddressFamily::Inet6;
        m.header.ifindex = 7;
        m.header.state = NeighbourState::Stale;
        m.attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::Inet6(
                "fe80::2".parse().expect("ip"),
            )));
        m.attributes.push(NeighbourAttribute::LinkLayerAddress(vec![
            2, 0, 0, 0, 0, 0x22,
        ]));
        let n = to_neighbour(&m, |i| format!("dev{i}")).expect("ip entry");
        assert_eq!(n.key.device, "dev7");
        assert_eq!(n.key.ip.to_string(), "fe80::2");
        assert_eq!(n.mac.as_deref(), Some("02:00:00:00:00:22"));
        assert_eq!(n.state, NudState::Stale);
        let mut fdb = NeighbourMessage::default();
        fdb.header.family = AddressFamily::Bridge;
        fdb.attributes
            .push(NeighbourAttribute::LinkLayerAddress(vec![
                2, 0, 0, 0, 0, 0x22,
            ]));
        assert!(to_neighbour(&fdb, |_| String::new()).is_none());
    }
}
