//! A small reader for node_exporter's `ttar` archives (plain-text tar used for its sysfs
//! and udev fixtures), so the upstream fixtures are extracted at test time and never
//! committed.
//!
//! Records: `Directory: <path>`, `Path: <path>` followed by `Lines: <n>` and `n` lines of
//! content (a last line ending in `EOF` has no trailing newline; `NULLBYTE` stands for a
//! NUL byte) or by `SymlinkTo: <target>`; `Mode: <octal>` applies to the last record.
//! Lines starting with `#` separate records.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Extracts `archive` below `dest`. Errors name the archive and line.
pub fn extract(archive: &Path, dest: &Path) -> Result<(), String> {
    let bytes = std::fs::read(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    // Content lines may hold arbitrary bytes: split on '\n' without UTF-8 decoding.
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let err = |i: usize, m: &str| format!("{}:{}: {m}", archive.display(), i + 1);
    let text = |i: usize, l: &[u8]| -> Result<String, String> {
        String::from_utf8(l.to_vec()).map_err(|_| err(i, "header is not UTF-8"))
    };
    let mut last: Option<PathBuf> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = text(i, lines[i]).unwrap_or_default();
        if line.is_empty() || line.starts_with('#') {
            i += 1;
            continue;
        }
        if let Some(p) = line.strip_prefix("Directory: ") {
            let d = safe_join(dest, p).ok_or_else(|| err(i, "path leaves the archive"))?;
            std::fs::create_dir_all(&d).map_err(|e| err(i, &e.to_string()))?;
            last = Some(d);
            i += 1;
        } else if let Some(p) = line.strip_prefix("Path: ") {
            let f = safe_join(dest, p).ok_or_else(|| err(i, "path leaves the archive"))?;
            if let Some(parent) = f.parent() {
                std::fs::create_dir_all(parent).map_err(|e| err(i, &e.to_string()))?;
            }
            i += 1;
            let next = lines
                .get(i)
                .map(|l| text(i, l))
                .transpose()?
                .ok_or_else(|| err(i, "Path: without content"))?;
            if let Some(n) = next.strip_prefix("Lines: ") {
                let n: usize = n.trim().parse().map_err(|_| err(i, "bad Lines: count"))?;
                i += 1;
                let mut content = Vec::new();
                for k in 0..n {
                    let l = lines
                        .get(i + k)
                        .ok_or_else(|| err(i + k, "truncated file"))?;
                    let l = replace(l, b"NULLBYTE", b"\0");
                    if k + 1 == n && l.ends_with(b"EOF") {
                        content.extend_from_slice(&l[..l.len() - 3]);
                    } else {
                        content.extend_from_slice(&l);
                        content.push(b'\n');
                    }
                }
                i += n;
                std::fs::write(&f, content).map_err(|e| err(i, &e.to_string()))?;
                last = Some(f);
            } else if let Some(t) = next.strip_prefix("SymlinkTo: ") {
                std::os::unix::fs::symlink(t, &f).map_err(|e| err(i, &e.to_string()))?;
                i += 1;
                last = None;
            } else {
                return Err(err(i, "expected Lines: or SymlinkTo:"));
            }
        } else if let Some(m) = line.strip_prefix("Mode: ") {
            let mode = u32::from_str_radix(m.trim(), 8).map_err(|_| err(i, "bad Mode:"))?;
            if let Some(p) = &last {
                // Directories stay writable/searchable for the tempdir cleanup.
                let mode = if p.is_dir() { mode | 0o700 } else { mode };
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| err(i, &e.to_string()))?;
            }
            i += 1;
        } else {
            return Err(err(i, &format!("unexpected line {line:?}")));
        }
    }
    Ok(())
}

fn safe_join(dest: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel.trim());
    if p.is_absolute() || p.components().any(|c| c == std::path::Component::ParentDir) {
        return None;
    }
    Some(dest.join(p))
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}
