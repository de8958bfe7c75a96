//! Neighbour-table model shared by the readers (netlink, `/proc/net/arp`) and the diff
//! engine. Pure types and conversions, no I/O.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Neighbour Unreachability Detection state of an entry (the kernel's `NUD_*`), or, in
/// `/proc/net/arp` mode, what the ATF flags tell (`complete`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NudState {
    /// Resolution in progress, no link-layer address yet.
    Incomplete,
    /// Confirmed reachable recently.
    Reachable,
    /// Valid but not confirmed recently.
    Stale,
    /// Waiting before probing.
    Delay,
    /// Being probed.
    Probe,
    /// Resolution failed (no answer).
    Failed,
    /// No ARP needed (e.g. point-to-point, multicast).
    Noarp,
    /// Static entry.
    Permanent,
    /// `/proc/net/arp` only: a resolved entry (ATF_COM) whose NUD state is not known.
    Complete,
    /// No state bit set, or an unknown combination.
    None,
}

/// Kernel NUD bits (include/uapi/linux/neighbour.h).
mod nud {
    pub const INCOMPLETE: u16 = 0x01;
    pub const REACHABLE: u16 = 0x02;
    pub const STALE: u16 = 0x04;
    pub const DELAY: u16 = 0x08;
    pub const PROBE: u16 = 0x10;
    pub const FAILED: u16 = 0x20;
    pub const NOARP: u16 = 0x40;
    pub const PERMANENT: u16 = 0x80;
}

impl NudState {
    /// Every state, in label order.
    pub const ALL: [NudState; 10] = [
        NudState::Incomplete,
        NudState::Reachable,
        NudState::Stale,
        NudState::Delay,
        NudState::Probe,
        NudState::Failed,
        NudState::Noarp,
        NudState::Permanent,
        NudState::Complete,
        NudState::None,
    ];

    /// The `state` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            NudState::Incomplete => "incomplete",
            NudState::Reachable => "reachable",
            NudState::Stale => "stale",
            NudState::Delay => "delay",
            NudState::Probe => "probe",
            NudState::Failed => "failed",
            NudState::Noarp => "noarp",
            NudState::Permanent => "permanent",
            NudState::Complete => "complete",
            NudState::None => "none",
        }
    }

    /// From the kernel's `ndm_state` bits (the highest meaningful bit wins).
    pub fn from_bits(bits: u16) -> NudState {
        if bits & nud::PERMANENT != 0 {
            NudState::Permanent
        } else if bits & nud::NOARP != 0 {
            NudState::Noarp
        } else if bits & nud::FAILED != 0 {
            NudState::Failed
        } else if bits & nud::PROBE != 0 {
            NudState::Probe
        } else if bits & nud::DELAY != 0 {
            NudState::Delay
        } else if bits & nud::STALE != 0 {
            NudState::Stale
        } else if bits & nud::REACHABLE != 0 {
            NudState::Reachable
        } else if bits & nud::INCOMPLETE != 0 {
            NudState::Incomplete
        } else {
            NudState::None
        }
    }

    /// Whether an entry in this state binds its IP to a link-layer address (it is
    /// "present" for change detection). Incomplete, failed and state-less entries are
    /// not: an entry going FAILED counts as removed.
    pub fn binds(self) -> bool {
        !matches!(
            self,
            NudState::Incomplete | NudState::Failed | NudState::None
        )
    }
}

impl fmt::Display for NudState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies a neighbour entry: the device it was learnt on and its IP address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    /// Interface name.
    pub device: String,
    /// Neighbour IP (v4 or v6).
    pub ip: IpAddr,
}

/// One neighbour-table entry as read from the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// Device + IP.
    pub key: Key,
    /// Link-layer address, lower-case hex with colons; `None` when the kernel has none
    /// (or reports all zeros).
    pub mac: Option<String>,
    /// NUD state.
    pub state: NudState,
}

impl Neighbour {
    /// The MAC this entry binds its IP to, if it is "present" (see [`NudState::binds`]).
    pub fn binding(&self) -> Option<&str> {
        binding(self.mac.as_deref(), self.state)
    }
}

/// See [`Neighbour::binding`].
pub fn binding(mac: Option<&str>, state: NudState) -> Option<&str> {
    if state.binds() {
        mac
    } else {
        None
    }
}

/// Formats link-layer address bytes as lower-case `aa:bb:…`. All-zero or empty
/// addresses give `None`.
pub fn format_mac(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() || bytes.iter().all(|&b| b == 0) {
        return None;
    }
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02x}"));
    }
    Some(s)
}

/// Normalises a textual MAC (`AA-BB-…`, `aa:bb:…`) to lower-case colon form; all
/// zeros give `None`; anything else that is not hex pairs is an error.
pub fn parse_mac(s: &str) -> Result<Option<String>, String> {
    let mut bytes = Vec::with_capacity(6);
    for part in s.split([':', '-']) {
        if part.len() != 2 {
            return Err(format!("invalid MAC address {s:?}"));
        }
        let b = u8::from_str_radix(part, 16).map_err(|_| format!("invalid MAC address {s:?}"))?;
        bytes.push(b);
    }
    Ok(format_mac(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_from_kernel_bits() {
        assert_eq!(NudState::from_bits(0x02), NudState::Reachable);
        assert_eq!(NudState::from_bits(0x04), NudState::Stale);
        assert_eq!(NudState::from_bits(0x20), NudState::Failed);
        assert_eq!(NudState::from_bits(0x80), NudState::Permanent);
        assert_eq!(NudState::from_bits(0x01), NudState::Incomplete);
        assert_eq!(NudState::from_bits(0), NudState::None);
        assert!(NudState::Stale.binds());
        assert!(!NudState::Failed.binds());
        assert!(!NudState::Incomplete.binds());
    }

    #[test]
    fn macs() {
        assert_eq!(
            format_mac(&[0x02, 0, 0, 0xab, 0xcd, 0xef]).as_deref(),
            Some("02:00:00:ab:cd:ef")
        );
        assert_eq!(format_mac(&[0; 6]), None);
        assert_eq!(format_mac(&[]), None);
        assert_eq!(
            parse_mac("AA-BB-CC-00-11-22"),
            Ok(Some("aa:bb:cc:00:11:22".into()))
        );
        assert_eq!(parse_mac("00:00:00:00:00:00"), Ok(None));
        assert!(parse_mac("zz:00:00:00:00:00").is_err());
        assert!(parse_mac("0:1").is_err());
    }
}
