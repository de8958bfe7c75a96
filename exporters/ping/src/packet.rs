//! ICMP / ICMPv6 echo packets: building requests and parsing what a socket returns.
//! Pure code (bytes in, typed values out); the socket lives in [`crate::socket`].

/// Address family of a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// ICMP over IPv4.
    V4,
    /// ICMPv6.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(ip: &std::net::IpAddr) -> Family {
        match ip {
            std::net::IpAddr::V4(_) => Family::V4,
            std::net::IpAddr::V6(_) => Family::V6,
        }
    }

    /// `ipv4` / `ipv6` (label value).
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }

    fn echo_request(self) -> u8 {
        match self {
            Family::V4 => 8,
            Family::V6 => 128,
        }
    }

    fn echo_reply(self) -> u8 {
        match self {
            Family::V4 => 0,
            Family::V6 => 129,
        }
    }
}

/// Size of the ICMP echo header (type, code, checksum, identifier, sequence).
pub const HEADER_LEN: usize = 8;

/// Builds an echo request with `size` payload bytes. The IPv4 checksum is computed
/// here (raw sockets need it; ping sockets recompute it anyway); the kernel fills the
/// ICMPv6 checksum.
pub fn echo_request(family: Family, ident: u16, seq: u16, size: usize) -> Vec<u8> {
    let mut p = vec![0u8; HEADER_LEN + size];
    p[0] = family.echo_request();
    p[4..6].copy_from_slice(&ident.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in p[HEADER_LEN..].iter_mut().enumerate() {
        *b = (i % 256) as u8;
    }
    if family == Family::V4 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// What a received datagram turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// An echo reply.
    Reply {
        /// Identifier (on ping sockets the kernel's, not ours).
        ident: u16,
        /// Sequence number.
        seq: u16,
        /// TTL / hop limit from the IPv4 header (raw IPv4 sockets only).
        ttl: Option<u8>,
    },
    /// An ICMP error (destination unreachable, time exceeded, …) quoting one of our
    /// echo requests.
    Error {
        /// ICMP type of the error.
        kind: u8,
        /// Identifier of the quoted request.
        ident: u16,
        /// Sequence number of the quoted request.
        seq: u16,
        /// Destination of the quoted request (the probed target).
        dst: std::net::IpAddr,
    },
    /// Anything else (our own requests seen on a raw socket, neighbour discovery, …).
    Other,
}

/// Why a datagram could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Shorter than the headers it claims.
    #[error("truncated packet ({0} bytes)")]
    Truncated(usize),
    /// An IPv4 header that is not one.
    #[error("bad IPv4 header")]
    BadIpHeader,
    /// The socket read itself failed.
    #[error("receive failed: {0}")]
    Io(String),
}

/// Parses a datagram read from an ICMP socket. `ip_header` is true for raw IPv4
/// sockets, which return the IP header too; ping sockets and all ICMPv6 sockets start
/// at the ICMP header.
pub fn parse(family: Family, ip_header: bool, buf: &[u8]) -> Result<Received, ParseError> {
    let (icmp, ttl) = if family == Family::V4 && ip_header {
        let ihl = ip_header_len(buf)?;
        (&buf[ihl..], Some(buf[8]))
    } else {
        (buf, None)
    };
    if icmp.len() < HEADER_LEN {
        return Err(ParseError::Truncated(buf.len()));
    }
    let (kind, ident, seq) = (
        icmp[0],
        u16::from_be_bytes([icmp[4], icmp[5]]),
        u16::from_be_bytes([icmp[6], icmp[7]]),
    );
    if kind == family.echo_reply() {
        return Ok(Received::Reply { ident, seq, ttl });
    }
    let is_error = match family {
        // Destination unreachable, source quench, redirect, time exceeded, parameter problem.
        Family::V4 => matches!(kind, 3 | 4 | 5 | 11 | 12),
        // Destination unreachable, packet too big, time exceeded, parameter problem.
        Family::V6 => matches!(kind, 1..=4),
    };
    if !is_error {
        return Ok(Received::Other);
    }
    // The error quotes the offending packet after its own 8-byte header.
    let quoted = &icmp[HEADER_LEN..];
    let (inner, dst) = match family {
        Family::V4 => {
            let ihl = ip_header_len(quoted)?;
            if quoted[9] != 1 {
                return Ok(Received::Other); // not ICMP
            }
            let d: [u8; 4] = [quoted[16], quoted[17], quoted[18], quoted[19]];
            (&quoted[ihl..], std::net::IpAddr::from(d))
        }
        Family::V6 => {
            if quoted.len() < 40 {
                return Err(ParseError::Truncated(buf.len()));
            }
            if quoted[6] != 58 {
                return Ok(Received::Other); // next header not ICMPv6
            }
            let mut d = [0u8; 16];
            d.copy_from_slice(&quoted[24..40]);
            (&quoted[40..], std::net::IpAddr::from(d))
        }
    };
    quoted_echo(family, kind, inner, dst, buf.len())
}

fn quoted_echo(
    family: Family,
    kind: u8,
    inner: &[u8],
    dst: std::net::IpAddr,
    total: usize,
) -> Result<Received, ParseError> {
    if inner.len() < HEADER_LEN {
        return Err(ParseError::Truncated(total));
    }
    if inner[0] != family.echo_request() {
        return Ok(Received::Other);
    }
    Ok(Received::Error {
        kind,
        ident: u16::from_be_bytes([inner[4], inner[5]]),
        seq: u16::from_be_bytes([inner[6], inner[7]]),
        dst,
    })
}

/// Parses an entry of a ping socket's error queue (`IP_RECVERR`): `payload` is our
/// original echo request, `dst` where it was sent, `kind` the ICMP type of the error.
pub fn parse_error_queue(
    family: Family,
    payload: &[u8],
    dst: std::net::IpAddr,
    kind: u8,
) -> Result<Received, ParseError> {
    quoted_echo(family, kind, payload, dst, payload.len())
}

fn ip_header_len(buf: &[u8]) -> Result<usize, ParseError> {
    let first = *buf.first().ok_or(ParseError::Truncated(0))?;
    if first >> 4 != 4 {
        return Err(ParseError::BadIpHeader);
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 {
        return Err(ParseError::BadIpHeader);
    }
    if buf.len() < ihl {
        return Err(ParseError::Truncated(buf.len()));
    }
    Ok(ihl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_has_header_payload_and_valid_checksum() {
        let p = echo_request(Family::V4, 0x1234, 7, 56);
        assert_eq!(p.len(), 64);
        assert_eq!(&p[..2], &[8, 0]);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
        // A correct checksum makes the sum over the packet come out as 0.
        assert_eq!(checksum(&p), 0);
        let odd = echo_request(Family::V4, 1, 1, 3);
        assert_eq!(checksum(&odd), 0);
        let v6 = echo_request(Family::V6, 1, 2, 0);
        assert_eq!(v6, vec![128, 0, 0, 0, 0, 1, 0, 2]);
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 §3 example: 0001 f203 f4f5 f6f7 sums to ddf2, checksum 220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
    }

    #[test]
    fn parses_ping_socket_reply() {
        let mut p = echo_request(Family::V4, 9, 300, 4);
        p[0] = 0;
        assert_eq!(
            parse(Family::V4, false, &p),
            Ok(Received::Reply {
                ident: 9,
                seq: 300,
                ttl: None
            })
        );
    }

    fn ipv4_header(ttl: u8, proto: u8) -> Vec<u8> {
        let mut h = vec![0u8; 20];
        h[0] = 0x45;
        h[8] = ttl;
        h[9] = proto;
        h
    }

    #[test]
    fn parses_raw_reply_with_ttl_and_ignores_own_requests() {
        let mut pkt = ipv4_header(61, 1);
        let mut icmp = echo_request(Family::V4, 5, 6, 8);
        icmp[0] = 0;
        pkt.extend_from_slice(&icmp);
        assert_eq!(
            parse(Family::V4, true, &pkt),
            Ok(Received::Reply {
                ident: 5,
                seq: 6,
                ttl: Some(61)
            })
        );
        let mut req = ipv4_header(64, 1);
        req.extend_from_slice(&echo_request(Family::V4, 5, 6, 8));
        assert_eq!(parse(Family::V4, true, &req), Ok(Received::Other));
    }

    #[test]
    fn parses_quoted_request_in_unreachable() {
        let mut pkt = ipv4_header(64, 1);
        pkt.extend_from_slice(&[3, 1, 0, 0, 0, 0, 0, 0]); // host unreachable
        let mut quoted = ipv4_header(64, 1);
        quoted[16..20].copy_from_slice(&[10, 0, 0, 9]);
        pkt.extend_from_slice(&quoted);
        pkt.extend_from_slice(&echo_request(Family::V4, 0xabcd, 42, 0));
        assert_eq!(
            parse(Family::V4, true, &pkt),
            Ok(Received::Error {
                kind: 3,
                ident: 0xabcd,
                seq: 42,
                dst: "10.0.0.9".parse().expect("ip"),
            })
        );
        let mut v6 = vec![1, 3, 0, 0, 0, 0, 0, 0];
        let mut ip6 = vec![0u8; 40];
        ip6[0] = 0x60;
        ip6[6] = 58;
        ip6[39] = 2;
        v6.extend_from_slice(&ip6);
        v6.extend_from_slice(&echo_request(Family::V6, 2, 3, 0));
        assert_eq!(
            parse(Family::V6, false, &v6),
            Ok(Received::Error {
                kind: 1,
                ident: 2,
                seq: 3,
                dst: "::2".parse().expect("ip"),
            })
        );
        let q = echo_request(Family::V4, 7, 8, 56);
        let dst: std::net::IpAddr = "10.1.1.1".parse().expect("ip");
        assert_eq!(
            parse_error_queue(Family::V4, &q, dst, 3),
            Ok(Received::Error {
                kind: 3,
                ident: 7,
                seq: 8,
                dst
            })
        );
        assert!(parse_error_queue(Family::V4, &q[..5], dst, 3).is_err());
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert_eq!(
            parse(Family::V4, false, &[0, 0, 0]),
            Err(ParseError::Truncated(3))
        );
        assert_eq!(parse(Family::V4, true, &[]), Err(ParseError::Truncated(0)));
        assert_eq!(
            parse(Family::V4, true, &[0x60; 30]),
            Err(ParseError::BadIpHeader)
        );
        assert_eq!(
            parse(Family::V4, true, &[0x4f; 30]),
            Err(ParseError::Truncated(30))
        );
        assert_eq!(
            parse(Family::V4, true, &[0x41; 30]),
            Err(ParseError::BadIpHeader)
        );
        // Unreachable quoting a truncated packet.
        assert!(parse(Family::V4, false, &[3, 0, 0, 0, 0, 0, 0, 0, 0x45, 0]).is_err());
        assert!(parse(Family::V6, false, &[1, 0, 0, 0, 0, 0, 0, 0, 0x60]).is_err());
        assert_eq!(
            parse(Family::V6, false, &[135, 0, 0, 0, 0, 0, 0, 0]),
            Ok(Received::Other)
        );
        // Every prefix of a valid error packet parses or errors, never panics.
        let mut pkt = ipv4_header(64, 1);
        pkt.extend_from_slice(&[11, 0, 0, 0, 0, 0, 0, 0]);
        pkt.extend_from_slice(&ipv4_header(1, 1));
        pkt.extend_from_slice(&echo_request(Family::V4, 1, 2, 0));
        for n in 0..pkt.len() {
            let _ = parse(Family::V4, true, &pkt[..n]);
        }
    }
}
