//! ICMP sockets: unprivileged ping (datagram) sockets when `net.ipv4.ping_group_range`
//! allows, raw sockets otherwise, with the reply TTL read from `IP_RECVTTL` /
//! `IPV6_RECVHOPLIMIT` ancillary data. This is the I/O edge; parsing is in
//! [`crate::packet`].

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::packet::Family;

/// Which socket type to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Mode {
    /// Datagram (ping) socket if allowed, raw socket otherwise.
    Auto,
    /// Only an unprivileged datagram socket.
    Dgram,
    /// Only a raw socket (root or CAP_NET_RAW).
    Raw,
}

/// Options that need a socket of their own.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Options {
    /// Address family.
    pub family: Family,
    /// Source address to bind.
    pub source: Option<IpAddr>,
    /// Interface to bind (SO_BINDTODEVICE).
    pub interface: Option<String>,
    /// Outgoing TTL / hop limit.
    pub ttl: Option<u32>,
}

/// An open ICMP socket.
#[derive(Debug)]
pub struct IcmpSocket {
    fd: AsyncFd<Socket>,
    /// True for a raw socket (IPv4 raw sockets return the IP header).
    pub raw: bool,
    /// Family.
    pub family: Family,
}

fn describe_permission_problem(family: Family, mode: Mode) -> String {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unreadable".into());
    // SAFETY: getegid has no preconditions.
    let gid = unsafe { libc::getegid() };
    let dgram = format!(
        "an unprivileged {} ping socket needs the process group (gid {gid}) inside \
         net.ipv4.ping_group_range (now \"{range}\"; e.g. sysctl -w net.ipv4.ping_group_range=\"0 2147483647\")",
        family.name()
    );
    let raw = "a raw ICMP socket needs CAP_NET_RAW (run as root, setcap cap_net_raw+ep on the \
               binary, or AmbientCapabilities=CAP_NET_RAW in the systemd unit)";
    match mode {
        Mode::Auto => format!("cannot open an ICMP socket: {dgram}; {raw}"),
        Mode::Dgram => format!("cannot open an ICMP socket (--ping.socket=dgram): {dgram}"),
        Mode::Raw => format!("cannot open an ICMP socket (--ping.socket=raw): {raw}"),
    }
}

fn is_permission(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM))
}

fn setsockopt_int(sock: &Socket, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: valid fd, pointer to a live i32 of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl IcmpSocket {
    /// Opens and configures a socket. Must run inside a tokio runtime.
    pub fn open(opts: &Options, mode: Mode, recv_buffer: usize) -> Result<IcmpSocket, String> {
        let (domain, proto) = match opts.family {
            Family::V4 => (Domain::IPV4, Protocol::ICMPV4),
            Family::V6 => (Domain::IPV6, Protocol::ICMPV6),
        };
        let tries: &[(Type, bool)] = match mode {
            Mode::Auto => &[(Type::DGRAM, false), (Type::RAW, true)],
            Mode::Dgram => &[(Type::DGRAM, false)],
            Mode::Raw => &[(Type::RAW, true)],
        };
        let mut last_err = None;
        let mut opened = None;
        for &(ty, raw) in tries {
            match Socket::new(domain, ty, Some(proto)) {
                Ok(s) => {
                    opened = Some((s, raw));
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let (sock, raw) = match opened {
            Some(x) => x,
            None => {
                return Err(match last_err {
                    Some(e) if is_permission(&e) => describe_permission_problem(opts.family, mode),
                    Some(e) => format!("cannot open an {} ICMP socket: {e}", opts.family.name()),
                    None => "cannot open an ICMP socket".into(),
                })
            }
        };
        let ctx =
            |what: &str, e: io::Error| format!("{} ICMP socket: {what}: {e}", opts.family.name());
        sock.set_nonblocking(true)
            .map_err(|e| ctx("non-blocking", e))?;
        // A burst of replies must not overflow the buffer; the kernel caps
        // this at net.core.rmem_max, which is fine.
        // SO_RCVBUFFORCE (CAP_NET_ADMIN) goes past net.core.rmem_max; else SO_RCVBUF.
        let want = i32::try_from(recv_buffer / 2).unwrap_or(i32::MAX);
        if setsockopt_int(&sock, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, want).is_err() {
            let _ = sock.set_recv_buffer_size(recv_buffer);
        }
        if let Some(dev) = &opts.interface {
            sock.bind_device(Some(dev.as_bytes()))
                .map_err(|e| ctx(&format!("bind to interface {dev:?}"), e))?;
        }
        if let Some(src) = opts.source {
            sock.bind(&SockAddr::from(SocketAddr::new(src, 0)))
                .map_err(|e| ctx(&format!("bind to source address {src}"), e))?;
        }
        match opts.family {
            Family::V4 => {
                if let Some(ttl) = opts.ttl {
                    sock.set_ttl_v4(ttl).map_err(|e| ctx("set TTL", e))?;
                }
                setsockopt_int(&sock, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)
                    .map_err(|e| ctx("IP_RECVTTL", e))?;
                if !raw {
                    // Ping sockets drop ICMP errors unless asked to queue them.
                    setsockopt_int(&sock, libc::IPPROTO_IP, libc::IP_RECVERR, 1)
                        .map_err(|e| ctx("IP_RECVERR", e))?;
                }
            }
            Family::V6 => {
                if let Some(ttl) = opts.ttl {
                    sock.set_unicast_hops_v6(ttl)
                        .map_err(|e| ctx("set hop limit", e))?;
                }
                setsockopt_int(&sock, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)
                    .map_err(|e| ctx("IPV6_RECVHOPLIMIT", e))?;
                if !raw {
                    setsockopt_int(&sock, libc::IPPROTO_IPV6, libc::IPV6_RECVERR, 1)
                        .map_err(|e| ctx("IPV6_RECVERR", e))?;
                }
                if raw {
                    // Let only echo replies and errors through (no neighbour discovery).
                    let _ = set_icmp6_filter(&sock);
                }
            }
        }
        // SAFETY: the Socket owns its fd, which stays open and the same until the
        // AsyncFd (which owns the Socket) is dropped.
        let fd = unsafe { AsyncFd::register(sock) }
            .map_err(|e| ctx("register with the runtime", e.into()))?;
        Ok(IcmpSocket {
            fd,
            raw,
            family: opts.family,
        })
    }

    /// The kind of socket, for logs and the info metric.
    pub fn kind(&self) -> &'static str {
        if self.raw {
            "raw"
        } else {
            "dgram"
        }
    }

    /// Sends one datagram without waiting (a full buffer is an error: sends are paced).
    pub fn try_send_to(&self, buf: &[u8], ip: IpAddr) -> io::Result<usize> {
        self.fd
            .get_ref()
            .send_to(buf, &SockAddr::from(SocketAddr::new(ip, 0)))
    }

    /// Waits for a datagram or a queued ICMP error.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Recv> {
        let fd = self.fd.get_ref().as_raw_fd();
        loop {
            let mut guard = self
                .fd
                .ready(tokio::io::Interest::READABLE | tokio::io::Interest::ERROR)
                .await?;
            // Ping sockets queue ICMP errors (IP_RECVERR), signalled as an error event.
            if !self.raw && guard.ready().is_error() {
                loop {
                    match recv_error_queue(fd, buf) {
                        Ok(Some(e)) => return Ok(e),
                        Ok(None) => continue,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
            }
            match recvmsg(fd, buf) {
                Ok((n, from, ttl)) => return Ok(Recv::Data { len: n, from, ttl }),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
                Err(e) => return Err(e),
            }
        }
    }
}

/// What [`IcmpSocket::recv`] got.
#[derive(Debug)]
pub enum Recv {
    /// A datagram of `len` bytes in the buffer.
    Data {
        /// Bytes in the buffer.
        len: usize,
        /// Sender.
        from: IpAddr,
        /// TTL / hop limit from ancillary data.
        ttl: Option<u8>,
    },
    /// An ICMP error from a ping socket's error queue; the buffer holds our request.
    Error {
        /// Bytes of our original request in the buffer.
        len: usize,
        /// Where that request went.
        dst: IpAddr,
        /// ICMP type of the error.
        kind: u8,
    },
}

fn recv_error_queue(fd: i32, buf: &mut [u8]) -> io::Result<Option<Recv>> {
    let mut kind = None;
    let flags = libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT;
    let (n, dst) = recvmsg_cmsgs::<32>(fd, buf, flags, |level, ty, data| {
        if (level == libc::IPPROTO_IP && ty == libc::IP_RECVERR)
            || (level == libc::IPPROTO_IPV6 && ty == libc::IPV6_RECVERR)
        {
            // SAFETY: the data of an IP(V6)_RECVERR message is a sock_extended_err.
            let ee: libc::sock_extended_err = unsafe { std::ptr::read_unaligned(data.cast()) };
            if ee.ee_origin == libc::SO_EE_ORIGIN_ICMP || ee.ee_origin == libc::SO_EE_ORIGIN_ICMP6 {
                kind = Some(ee.ee_type);
            }
        }
    })?;
    let Some(dst) = dst else { return Ok(None) };
    Ok(kind.map(|kind| Recv::Error { len: n, dst, kind }))
}

fn set_icmp6_filter(sock: &Socket) -> io::Result<()> {
    // struct icmp6_filter: 256 bits, a set bit BLOCKS the type.
    let mut filter = [0xffff_ffffu32; 8];
    for t in [1u8, 2, 3, 4, 129] {
        filter[usize::from(t >> 5)] &= !(1u32 << (t & 31));
    }
    const ICMP6_FILTER: i32 = 1;
    // SAFETY: valid fd, pointer to a live array of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_ICMPV6,
            ICMP6_FILTER,
            filter.as_ptr().cast(),
            std::mem::size_of_val(&filter) as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn recvmsg(fd: i32, buf: &mut [u8]) -> io::Result<(usize, IpAddr, Option<u8>)> {
    let mut ttl = None;
    let (n, from) = recvmsg_cmsgs::<16>(fd, buf, libc::MSG_DONTWAIT, |level, kind, data| {
        if (level == libc::IPPROTO_IP && kind == libc::IP_TTL)
            || (level == libc::IPPROTO_IPV6 && kind == libc::IPV6_HOPLIMIT)
        {
            // SAFETY: the data of an IP_TTL / IPV6_HOPLIMIT message is an int.
            let v = unsafe { std::ptr::read_unaligned(data.cast::<i32>()) };
            ttl = u8::try_from(v).ok();
        }
    })?;
    let from = from.ok_or_else(|| io::Error::other("reply without a source address"))?;
    Ok((n, from, ttl))
}

/// One `recvmsg(2)` into `buf` with a control buffer of `C` u64s (aligned for cmsghdr):
/// calls `on_cmsg(level, type, data)` for every control message the kernel wrote and
/// returns the length received and the sender (`None` when it has no IP address).
fn recvmsg_cmsgs<const C: usize>(
    fd: i32,
    buf: &mut [u8],
    flags: i32,
    mut on_cmsg: impl FnMut(i32, i32, *const u8),
) -> io::Result<(usize, Option<IpAddr>)> {
    let mut name = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut control = [0u64; C];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; zeroed is a valid initial value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = name.as_mut_ptr().cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: all pointers in msg point to live buffers of the stated sizes.
    let n = unsafe { libc::recvmsg(fd, &mut msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: CMSG_* walk the control buffer the kernel filled, within msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            on_cmsg((*c).cmsg_level, (*c).cmsg_type, libc::CMSG_DATA(c));
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    // SAFETY: the kernel wrote msg_namelen bytes of a sockaddr into name.
    let src = unsafe { sockaddr_to_ip(name.as_ptr(), msg.msg_namelen) };
    Ok((n as usize, src))
}

/// # Safety
/// `sa` must point to `len` initialised bytes of a socket address.
unsafe fn sockaddr_to_ip(
    sa: *const libc::sockaddr_storage,
    len: libc::socklen_t,
) -> Option<IpAddr> {
    let len = len as usize;
    match i32::from((*sa).ss_family) {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            let a = &*sa.cast::<libc::sockaddr_in>();
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            let a = &*sa.cast::<libc::sockaddr_in6>();
            Some(IpAddr::V6(Ipv6Addr::from(a.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}
