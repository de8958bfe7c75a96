//! Stable-Rust companion of the cargo-fuzz target `parse_frame` (exporters/arp/fuzz):
//! runs the committed corpus (frames captured from Debian's lldpd 1.0.16 over a veth —
//! interface-name, MAC and locally assigned ids, IPv4 + IPv6 management addresses, the
//! TTL-0 shutdown frame — plus an 802.1Q-tagged frame, one without End TLV and one with
//! ~1,500 bytes of TLVs) and a few thousand deterministic mutations of it through the
//! parser and the neighbour table. Hostile frames must never panic.

use rtmon_arp::lldp::{parse_frame, ParseError, Table};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse_frame");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            std::fs::read(e.path()).ok().map(|b| (name, b))
        })
        .collect();
    v.sort();
    v
}

/// xorshift64*: deterministic pseudo-random numbers.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn corpus_parses() {
    let c = corpus();
    assert!(c.len() >= 8, "corpus too small: {}", c.len());
    for (name, f) in &c {
        let p = parse_frame(f).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!p.chassis_id.value.is_empty(), "{name}");
        if name.contains("shutdown") {
            assert_eq!(p.ttl, 0, "{name}");
        } else {
            assert!(p.ttl > 0, "{name}");
        }
    }
    let by = |n: &str| {
        c.iter()
            .find(|(k, _)| k.contains(n))
            .and_then(|(_, f)| parse_frame(f).ok())
            .expect(n)
    };
    let m = by("mgmt-v4-v6");
    assert_eq!(m.system_name.as_deref(), Some("leaf-1.example.net"));
    let addrs: Vec<&str> = m.mgmt_addrs.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(addrs, ["172.16.9.1", "2001:db8:9::1"]);
    let l = by("local-ids");
    assert_eq!(
        (l.chassis_id.value.as_str(), l.port_id.value.as_str()),
        ("42", "27")
    );
    assert_eq!(by("tagged").port_id.value, "Ethernet1/27");
}

#[test]
fn mutations_never_panic() {
    let c = corpus();
    let mut rng = Rng(0x11d9_88cc_abcd_ef01);
    let mut parsed = 0;
    let mut table = Table::new(16);
    for i in 0..8000 {
        let mut p = c[i % c.len()].1.clone();
        for _ in 0..=rng.below(4) {
            match rng.below(6) {
                0 if !p.is_empty() => {
                    let k = rng.below(p.len());
                    p[k] = rng.next() as u8;
                }
                1 if p.len() > 15 => {
                    // TLV length bytes: force lengths past the end or zero
                    let k = 14 + rng.below(p.len() - 14);
                    p[k] = [0x00, 0x01, 0xff, 0xfe, 0x7f, 0x02][rng.below(6)];
                }
                2 if !p.is_empty() => {
                    let n = rng.below(p.len());
                    p.truncate(n);
                }
                3 => {
                    let k = rng.below(p.len() + 1);
                    p.insert(k, rng.next() as u8);
                }
                4 if p.len() > 2 => {
                    let a = rng.below(p.len());
                    let b = rng.below(p.len());
                    let (a, b) = (a.min(b), a.max(b));
                    let chunk = p[a..b].to_vec();
                    p.splice(a..a, chunk);
                }
                _ => {
                    let n = rng.below(1600);
                    p = (0..n).map(|_| rng.next() as u8).collect();
                }
            }
        }
        match parse_frame(&p) {
            Ok(pdu) => {
                parsed += 1;
                table.update("eth0", pdu, i as f64);
            }
            Err(e) => assert!(ParseError::REASONS.contains(&e.reason())),
        }
        table.expire(i as f64);
    }
    assert!(
        parsed > 0 && parsed < 8000,
        "{parsed} of 8000 mutations parsed"
    );
    assert!(table.len() <= 16);
}
