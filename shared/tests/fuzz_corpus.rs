//! Stable-Rust companion of the cargo-fuzz targets in shared/fuzz: runs the committed
//! corpora and a few thousand deterministic mutations of them through the exposition
//! parser, the flow config loader and the duration parser. Hostile input must never
//! panic; valid corpus entries must still parse.

use std::path::{Path, PathBuf};

use rtmon::expo::parse::{parse_text, ParseOptions};

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    v.sort();
    assert!(v.len() >= 3, "{target}: corpus too small");
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

/// Byte-level mutations plus splices of syntax-relevant tokens.
fn mutate(rng: &mut Rng, mut p: Vec<u8>, tokens: &[&[u8]]) -> Vec<u8> {
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !p.is_empty() => {
                let k = rng.below(p.len());
                p[k] = rng.next() as u8;
            }
            1 if !p.is_empty() => {
                let k = rng.below(p.len());
                p.truncate(k);
            }
            2 => {
                let t = tokens[rng.below(tokens.len())];
                let k = rng.below(p.len() + 1);
                p.splice(k..k, t.iter().copied());
            }
            3 if p.len() > 2 => {
                let a = rng.below(p.len());
                let b = rng.below(p.len());
                let (a, b) = (a.min(b), a.max(b));
                let chunk = p[a..b].to_vec();
                p.extend_from_slice(&chunk);
            }
            4 if !p.is_empty() => {
                let k = rng.below(p.len());
                p.remove(k);
            }
            _ => p.push(rng.next() as u8),
        }
    }
    p
}

#[test]
fn exposition_corpus_parses_and_mutations_never_panic() {
    let c = corpus("parse_exposition");
    let opts = ParseOptions {
        max_lines: 10_000,
        reject_timestamps: false,
        reserved_prefixes: vec!["script_".into()],
    };
    for p in &c {
        let parsed = parse_text(&String::from_utf8_lossy(p), &opts);
        assert!(!parsed.set.is_empty(), "{}", String::from_utf8_lossy(p));
    }
    let tokens: &[&[u8]] = &[
        b"{",
        b"}",
        b"=\"",
        b"\\",
        b"\n",
        b"# TYPE x histogram\n",
        b"# HELP ",
        b"le=\"+Inf\"",
        b"_bucket",
        b"NaN",
        b"1e308",
        b" 9999999999999999999999",
        b"\xff",
        b"# EOF\n",
    ];
    let mut rng = Rng(0x0e8b_05e1_7101_2345);
    for i in 0..2000 {
        let p = mutate(&mut rng, c[i % c.len()].clone(), tokens);
        let parsed = parse_text(&String::from_utf8_lossy(&p), &opts);
        let _ = rtmon::expo::encode_text(&parsed.set);
        let _ = rtmon::expo::encode_openmetrics(&parsed.set);
    }
}

#[test]
fn flow_config_corpus_loads_and_mutations_never_panic() {
    let c = corpus("flow_config");
    let file = Path::new("fuzz.yml");
    let ok = c
        .iter()
        .filter(|p| {
            std::str::from_utf8(p).is_ok_and(|t| rtmon::flow::validate_str(file, t).is_ok())
        })
        .count();
    assert!(
        ok >= 3,
        "only {ok} of {} corpus flow files are valid",
        c.len()
    );
    let tokens: &[&[u8]] = &[
        b": ",
        b"\n  - ",
        b"{",
        b"[",
        b"&a ",
        b"*a",
        b"<<: *a\n",
        b"\t",
        b"'",
        b"\"",
        b"vlan: 99999999999999999999\n",
        b"timeout: 1e30\n",
        b"---\n",
        b"community: x\n",
        b"!!binary ",
        b"? ",
        b"|\n",
    ];
    let mut rng = Rng(0xf10c_0de5_0000_0001);
    for i in 0..500 {
        let p = mutate(&mut rng, c[i % c.len()].clone(), tokens);
        let Ok(text) = std::str::from_utf8(&p) else {
            continue;
        };
        if let Err(e) = rtmon::flow::from_str(file, text) {
            let _ = e.with_source(text).render();
        }
        if let Err(errs) = rtmon::flow::validate_str(file, text) {
            for e in errs {
                let _ = e.with_source(text).render();
            }
        }
        let _ = rtmon::flow::warnings(file, text);
    }
}

#[test]
fn durations_never_panic() {
    let seeds = [
        "15s",
        "1h30m",
        "500ms",
        "1e30",
        "99999999999999999999h",
        "10y",
        "1.5.5s",
        "NaN",
        "inf",
        "-0",
        "0.0000000001ms",
        "9y364d23h59m59s999ms",
    ];
    let tokens: &[&[u8]] = &[b"e", b"9999999999", b".", b"y", b"ms", b"-", b"+", b"inf"];
    let mut rng = Rng(0xd00a_7104);
    for i in 0..5_000 {
        let p = mutate(&mut rng, seeds[i % seeds.len()].as_bytes().to_vec(), tokens);
        if let Ok(d) = rtmon::duration::parse(&String::from_utf8_lossy(&p)) {
            assert!(d <= rtmon::duration::MAX, "{p:?}");
            let _ = rtmon::duration::deadline_in(d);
            assert_eq!(
                rtmon::duration::parse(&rtmon::duration::format(d)).map(|x| x.as_millis()),
                Ok(d.as_millis())
            );
        }
    }
}
