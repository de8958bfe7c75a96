//! The rooms of `dashboards/src` (ARCHITECTURE.md, "dashboards/"): the check engine
//! imports nothing of Grafana or the services, the Grafana outputs nothing of the
//! services, and the shared root modules none of the three; inside `src` every path
//! names the room (`crate::engine::rules`), not the root re-exports kept for users of
//! the crate (`crate::rules`), so this reading of the code sees every edge.
//!
//! Only code counts: comment lines (doc links included) are skipped.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The room of a file: `engine`, `grafana`, `services`, or `root`.
fn room(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts = rel.components();
    let first = parts.next().expect("path").as_os_str().to_string_lossy();
    if parts.next().is_some() {
        first.into_owned()
    } else {
        "root".into()
    }
}

/// `crate::X` paths in the code of `text` (X = the first segment).
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let word = |s: &str| -> String {
                s.trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect()
            };
            if let Some(group) = after.strip_prefix('{') {
                // `crate::{a::b, c}`: each item's first segment.
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let w = word(item);
                    if !w.is_empty() {
                        out.push((n + 1, w));
                    }
                }
            } else {
                out.push((n + 1, word(after)));
            }
            rest = after;
        }
    }
    out
}

/// Root re-exports of the rooms' modules (`jv` is left out: `crate::jv!` is the macro,
/// which `#[macro_export]` puts at the root).
const ROOT_ALIASES: &[&str] = &[
    "alertmanager",
    "checks",
    "rules",
    "status",
    "topology",
    "check",
    "dashboard",
    "fleet",
    "layout",
    "panels",
    "preview",
    "provision",
    "upload",
    "sync",
    "targets",
];

#[test]
fn rooms_import_only_the_rooms_before_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for f in &files {
        let name = f
            .strip_prefix(&src)
            .expect("under src")
            .display()
            .to_string();
        if name == "lib.rs" || name == "main.rs" {
            continue;
        }
        let r = room(&src, f);
        let forbidden: &[&str] = match r.as_str() {
            "engine" => &["grafana", "services"],
            "grafana" => &["services"],
            "services" => &[],
            _ => &["engine", "grafana", "services"],
        };
        let text = std::fs::read_to_string(f).expect("read");
        for (line, seg) in crate_paths(&text) {
            if forbidden.contains(&seg.as_str()) {
                bad.push(format!("{name}:{line}: the {r} room uses crate::{seg}"));
            }
            if ROOT_ALIASES.contains(&seg.as_str()) {
                bad.push(format!(
                    "{name}:{line}: crate::{seg} is a root re-export; name the room"
                ));
            }
        }
    }
    assert!(bad.is_empty(), "layering broken:\n{}", bad.join("\n"));
}

#[test]
fn the_check_detects_a_forbidden_edge() {
    let text = "// crate::grafana in a comment is fine\nuse crate::grafana::dashboard;\nlet x = crate::{rules, Options};\n";
    let segs: Vec<String> = crate_paths(text).into_iter().map(|(_, s)| s).collect();
    assert_eq!(segs, ["grafana", "rules", "Options"]);
    let text = "use crate::engine::rules::q;\n";
    assert_eq!(crate_paths(text), [(1, "engine".to_string())]);
}
