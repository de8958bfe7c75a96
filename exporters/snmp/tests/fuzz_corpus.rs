//! Stable-Rust companion of the cargo-fuzz target `decode_message`: runs the committed
//! corpus (real packets captured from snmpd: v1, v2c, v3 authPriv, a wrong-password
//! Report) and a few thousand deterministic mutations of it through the decoder.
//! Hostile BER must never panic.

use rtmon_snmp::client::decode_untrusted;

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decode_message");
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path()).ok())
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
fn corpus_decodes() {
    let c = corpus();
    assert!(c.len() >= 10, "corpus too small: {}", c.len());
    // Real agent packets decode (requests and responses alike).
    let ok = c.iter().filter(|p| decode_untrusted(p)).count();
    assert!(
        ok * 2 >= c.len(),
        "only {ok} of {} captured packets decode",
        c.len()
    );
}

#[test]
fn mutations_never_panic() {
    let c = corpus();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut decoded = 0;
    for i in 0..5000 {
        let mut p = c[i % c.len()].clone();
        for _ in 0..=rng.below(4) {
            match rng.below(6) {
                0 if !p.is_empty() => {
                    let k = rng.below(p.len());
                    p[k] = rng.next() as u8;
                }
                1 if !p.is_empty() => {
                    // length bytes: force large or indefinite lengths
                    let k = rng.below(p.len());
                    p[k] = [0x80, 0x81, 0x84, 0xff, 0x00, 0x7f][rng.below(6)];
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
                    let n = rng.below(64);
                    p = (0..n).map(|_| rng.next() as u8).collect();
                }
            }
        }
        decoded += usize::from(decode_untrusted(&p));
    }
    // Some mutations stay valid; most don't. Either way nothing panicked.
    assert!(
        decoded < 5000,
        "every mutation decoded: the decoder accepts anything?"
    );
}

#[test]
fn hostile_lengths_and_nesting() {
    let mut deep = Vec::new();
    for _ in 0..10_000 {
        deep.extend([0x30, 0x80]);
    }
    for p in [
        vec![],
        vec![0x30],
        vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        vec![0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        vec![
            0x02, 0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
        deep,
    ] {
        assert!(!decode_untrusted(&p));
    }
}
