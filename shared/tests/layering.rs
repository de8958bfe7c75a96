//! The layering of the shared library (ARCHITECTURE.md, "shared/"): the `crate::…`
//! paths in the code of every file under `shared/src` form a module dependency graph
//! that must have no cycle, and the serving and pushing layers must not know about each
//! other or about the runtime on top of them (`app`).
//!
//! Only code counts: comments (doc links included) are stripped before parsing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module of a file under `shared/src` (`http/auth.rs` → `http`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("file under src");
    let first = rel
        .components()
        .next()
        .expect("non-empty path")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read shared/src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The text without `//` comments (line, doc and inner-doc) and `/* */` blocks; string
/// literals are kept as they are (a `//` inside one is not a comment).
fn strip_comments(text: &str) -> String {
    let b = text.as_bytes();
    let find = |from: usize, pat: &[u8]| {
        b.get(from..)
            .and_then(|rest| rest.windows(pat.len()).position(|w| w == pat))
            .map(|p| from + p)
    };
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            out.push(c);
            if c == b'\\' && i + 1 < b.len() {
                out.push(b[i + 1]);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        let rest = &b[i..];
        let keep_to = |end: usize, out: &mut Vec<u8>| {
            out.extend_from_slice(&b[i..end]);
            end
        };
        if c == b'"' {
            in_str = true;
            out.push(c);
            i += 1;
        } else if rest.starts_with(b"//") {
            i = find(i, b"\n").unwrap_or(b.len());
        } else if rest.starts_with(b"/*") {
            i = find(i + 2, b"*/").map_or(b.len(), |e| e + 2);
        } else if rest.starts_with(b"r#\"") {
            // A raw string may hold quotes: keep it whole.
            i = keep_to(find(i + 3, b"\"#").map_or(b.len(), |e| e + 2), &mut out);
        } else if c == b'\'' && rest.get(1) == Some(&b'\\') {
            // An escaped character literal ('\'', '\"', '\u{…}').
            i = keep_to(find(i + 3, b"'").map_or(b.len(), |e| e + 1), &mut out);
        } else if c == b'\'' && rest.get(2) == Some(&b'\'') {
            // A one-character literal such as '"' must not open a string.
            i = keep_to(i + 3, &mut out);
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The top-level modules named by `crate::x…` and `crate::{x…, y…}` paths in `code`.
fn crate_modules(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `$crate::` and identifiers ending in `crate` are not the crate root.
        if before.is_some_and(|c| c == '$' || c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1usize;
            let mut item_start = true;
            for (i, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        item_start = true;
                        continue;
                    }
                    _ => {}
                }
                if item_start && depth == 1 && !ch.is_whitespace() {
                    item_start = false;
                    let name = ident(&group[i..]);
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Module → modules it names (itself excluded, crate-root items such as `VERSION`
/// excluded).
fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    modules.remove("lib");
    let mut g: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for f in &files {
        let m = module_of(&src, f);
        if m == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(f).expect("read source");
        let code = strip_comments(&text);
        for dep in crate_modules(&code) {
            if dep != m && modules.contains(&dep) {
                g.get_mut(&m).expect("module").insert(dep);
            }
        }
    }
    g
}

fn render(g: &Graph) -> String {
    g.iter()
        .map(|(m, deps)| {
            let d: Vec<&str> = deps.iter().map(String::as_str).collect();
            format!("  {m} -> {}\n", d.join(", "))
        })
        .collect()
}

/// A cycle, as the list of modules along it, if there is one.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    // 0 unvisited, 1 on the stack, 2 done.
    fn visit(
        m: &str,
        g: &Graph,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(m.to_string(), 1);
        stack.push(m.to_string());
        for d in g.get(m).into_iter().flatten() {
            match state.get(d.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == d).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(d.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(d, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in g.keys() {
        if state.get(m.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(m, g, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_parser_sees_grouped_paths_and_skips_comments() {
    let code = strip_comments(
        "use crate::{expo::{self, MetricSet}, cli::PushArgs};\n\
         // use crate::app::Exporter;\n\
         /// [`Source`](crate::app::Source)\n\
         let s = \"// not a comment\"; let q = '\"'; let e = '\\''; crate::duration::parse(x);\n\
         $crate::log::x; let notcrate::y = 1;\n",
    );
    assert_eq!(
        crate_modules(&code),
        ["cli", "duration", "expo"]
            .into_iter()
            .map(String::from)
            .collect::<BTreeSet<_>>(),
        "{code}"
    );
}

#[test]
fn shared_modules_form_no_cycle() {
    let g = graph();
    // The graph is not empty: the parser found the library's real imports.
    assert!(
        g.get("push").is_some_and(|d| d.contains("expo")),
        "push -> expo not found; graph:\n{}",
        render(&g)
    );
    if let Some(c) = find_cycle(&g) {
        panic!(
            "import cycle among shared/src modules: {}\ngraph:\n{}",
            c.join(" -> "),
            render(&g)
        );
    }
}

#[test]
fn serving_and_pushing_do_not_know_each_other_or_the_runtime() {
    let g = graph();
    for (layer, forbidden) in [("http", ["push", "app"]), ("push", ["http", "app"])] {
        let deps = g.get(layer).cloned().unwrap_or_default();
        for f in forbidden {
            assert!(
                !deps.contains(f),
                "`{layer}` uses crate::{f}; graph:\n{}",
                render(&g)
            );
        }
    }
    // Nothing below the runtime depends on it.
    for (m, deps) in &g {
        assert!(
            !deps.contains("app"),
            "`{m}` uses crate::app (only the binaries use the runtime); graph:\n{}",
            render(&g)
        );
    }
}

/// The layers of ARCHITECTURE.md ("Inside `shared/src`"): a module may use only modules
/// of a lower layer. A new module must be placed here.
const LAYERS: &[(&str, u8)] = &[
    ("duration", 0),
    ("expo", 0),
    ("config", 0),
    ("cli", 1),
    ("source", 1),
    ("log", 2),
    ("flow", 2),
    ("http", 2),
    ("push", 2),
    ("app", 3),
];

#[test]
fn every_import_goes_down_a_layer() {
    let g = graph();
    let layer = |m: &str| LAYERS.iter().find(|(n, _)| *n == m).map(|(_, l)| *l);
    for (m, deps) in &g {
        let Some(lm) = layer(m) else {
            panic!(
                "module `{m}` has no layer in tests/layering.rs (and ARCHITECTURE.md); graph:\n{}",
                render(&g)
            );
        };
        for d in deps {
            let ld = layer(d).unwrap_or(u8::MAX);
            assert!(
                ld < lm,
                "`{m}` (layer {lm}) uses `{d}` (layer {ld}): imports must go down; graph:\n{}",
                render(&g)
            );
        }
    }
}
