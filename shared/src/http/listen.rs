//! `--web.listen-address` values: `:PORT` (all interfaces, dual-stack when the host has
//! IPv6), `HOST:PORT`, `[V6]:PORT`; empty values mean "do not serve".

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::{TcpListener, TcpSocket};

/// A parsed listen address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// `:PORT`: every interface (IPv6 wildcard accepting IPv4 too, or 0.0.0.0).
    Any(u16),
    /// A literal IP and port.
    Ip(SocketAddr),
    /// A host name to resolve, and a port.
    Host(String, u16),
}

/// Parses one `--web.listen-address` value (non-empty).
pub fn parse(s: &str) -> Result<ListenAddr, String> {
    let bad = |why: &str| format!("--web.listen-address {s:?}: {why}");
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| bad("expected [HOST]:PORT"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| bad("the port must be a number from 0 to 65535"))?;
    if host.is_empty() {
        return Ok(ListenAddr::Any(port));
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: Ipv6Addr = v6.parse().map_err(|_| bad("invalid IPv6 address"))?;
        return Ok(ListenAddr::Ip(SocketAddr::new(IpAddr::V6(ip), port)));
    }
    if host.contains(':') {
        return Err(bad("write IPv6 addresses in brackets, e.g. [::1]:9100"));
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(ListenAddr::Ip(SocketAddr::new(IpAddr::V4(ip), port)));
    }
    Ok(ListenAddr::Host(host.to_string(), port))
}

fn bind_one(addr: SocketAddr, dual_stack: bool) -> std::io::Result<TcpListener> {
    let sock = if addr.is_ipv6() {
        TcpSocket::new_v6()?
    } else {
        TcpSocket::new_v4()?
    };
    sock.set_reuseaddr(true)?;
    if addr.is_ipv6() {
        set_v6only(&sock, !dual_stack)?;
    }
    sock.bind(addr)?;
    sock.listen(1024)
}

fn set_v6only(sock: &TcpSocket, only: bool) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let v: libc::c_int = i32::from(only);
    // SAFETY: setsockopt on a valid, owned socket fd with a correctly sized int option.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Binds a parsed address. `:PORT` tries `[::]` dual-stack first, then `0.0.0.0`.
pub async fn bind(spec: &str, addr: &ListenAddr) -> Result<TcpListener, String> {
    let fail = |e: std::io::Error| format!("cannot listen on {spec:?}: {e}");
    match addr {
        ListenAddr::Any(port) => {
            let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), *port);
            match bind_one(v6, true) {
                Ok(l) => Ok(l),
                Err(e6) => {
                    tracing::debug!(error = %e6, "IPv6 wildcard unavailable, using 0.0.0.0");
                    bind_one(
                        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), *port),
                        false,
                    )
                    .map_err(fail)
                }
            }
        }
        ListenAddr::Ip(sa) => bind_one(*sa, false).map_err(fail),
        ListenAddr::Host(h, port) => {
            let mut addrs = tokio::net::lookup_host((h.as_str(), *port))
                .await
                .map_err(|e| format!("cannot listen on {spec:?}: cannot resolve {h:?}: {e}"))?;
            let sa = addrs
                .next()
                .ok_or_else(|| format!("cannot listen on {spec:?}: {h:?} has no address"))?;
            bind_one(sa, false).map_err(fail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(parse(":9100"), Ok(ListenAddr::Any(9100)));
        assert_eq!(
            parse("127.0.0.1:9100"),
            Ok(ListenAddr::Ip("127.0.0.1:9100".parse().expect("sa")))
        );
        assert_eq!(
            parse("[::1]:9100"),
            Ok(ListenAddr::Ip("[::1]:9100".parse().expect("sa")))
        );
        assert_eq!(
            parse("localhost:1"),
            Ok(ListenAddr::Host("localhost".into(), 1))
        );
        for bad in ["9100", "host:99999", "::1:9100", "[zz]:1", "a:b"] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains("--web.listen-address"), "{e}");
        }
    }

    #[tokio::test]
    async fn any_is_dual_stack_when_possible_and_busy_port_fails() {
        let l = bind(":0", &ListenAddr::Any(0)).await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        // IPv4 connects to the wildcard listener whether it is [::] (dual) or 0.0.0.0.
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("ipv4 connect");
        // And IPv6 too when the wildcard is dual-stack.
        if l.local_addr().expect("addr").is_ipv6() {
            tokio::net::TcpStream::connect(("::1", port))
                .await
                .expect("ipv6 connect");
        }
        let taken = ListenAddr::Ip(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
        let e = bind("127.0.0.1:x", &taken).await.expect_err("in use");
        assert!(e.contains("cannot listen"), "{e}");
    }
}
