//! The state file: the engine's [`Snapshot`] as JSON, written atomically (temp file in
//! the same directory, fsync, rename, fsync of the directory).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::Snapshot;

/// Format version written to the file.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    saved_at: f64,
    #[serde(flatten)]
    snapshot: Snapshot,
}

/// What loading found.
#[derive(Debug)]
pub enum Loaded {
    /// No file yet.
    Missing,
    /// A valid snapshot.
    Ok(Snapshot),
    /// A file that could not be used; it was moved aside to `moved_to` (if possible).
    Corrupt {
        /// Why.
        reason: String,
        /// Where the bad file now is.
        moved_to: Option<PathBuf>,
    },
}

/// Parses the file content (pure).
pub fn parse(bytes: &[u8]) -> Result<Snapshot, String> {
    let f: File = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if f.version != VERSION {
        return Err(format!(
            "unsupported version {} (expected {VERSION})",
            f.version
        ));
    }
    Ok(f.snapshot)
}

/// Serialises a snapshot (pure).
pub fn render(snap: &Snapshot, saved_at: f64) -> Result<Vec<u8>, String> {
    let f = File {
        version: VERSION,
        saved_at,
        snapshot: snap.clone(),
    };
    serde_json::to_vec(&f).map_err(|e| e.to_string())
}

/// Loads the state file. A corrupt file is renamed to `<file>.corrupt` so that the
/// next save replaces it; never fatal.
pub fn load(path: &Path) -> Loaded {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Missing,
        Err(e) => {
            return Loaded::Corrupt {
                reason: format!("cannot read {}: {e}", path.display()),
                moved_to: None,
            }
        }
    };
    match parse(&bytes) {
        Ok(s) => Loaded::Ok(s),
        Err(e) => {
            let mut aside = path.as_os_str().to_owned();
            aside.push(".corrupt");
            let aside = PathBuf::from(aside);
            let moved_to = std::fs::rename(path, &aside).ok().map(|_| aside);
            Loaded::Corrupt {
                reason: format!("{}: {e}", path.display()),
                moved_to,
            }
        }
    }
}

/// Writes the file atomically.
pub fn save(path: &Path, snap: &Snapshot, saved_at: f64) -> Result<(), String> {
    let data = render(snap, saved_at)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file path", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write state file {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ChangeKind, Engine, EngineConfig};
    use crate::model::{Key, Neighbour, NudState};

    #[test]
    fn round_trip_and_corrupt_file_moved_aside() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("arp-state.json");
        assert!(matches!(load(&path), Loaded::Missing));
        let mut e = Engine::new(EngineConfig::default());
        e.upsert(
            Neighbour {
                key: Key {
                    device: "eth0".into(),
                    ip: "10.0.0.2".parse().expect("ip"),
                },
                mac: Some("02:00:00:00:00:01".into()),
                state: NudState::Reachable,
            },
            5.0,
        );
        save(&path, &e.snapshot(), 6.0).expect("save");
        match load(&path) {
            Loaded::Ok(s) => {
                assert_eq!(s, e.snapshot());
                assert_eq!(s.last_change.get(&ChangeKind::New), Some(&5.0));
            }
            other => panic!("expected Ok, got {other:?}"),
        }
        std::fs::write(&path, b"{\"version\":1,\"entries\":[tru").expect("write");
        match load(&path) {
            Loaded::Corrupt { reason, moved_to } => {
                assert!(reason.contains("arp-state.json"), "{reason}");
                assert!(moved_to.is_some_and(|p| p.exists()));
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(!path.exists());
        assert!(parse(
            b"{\"version\":9,\"saved_at\":1,\"entries\":[],\"history\":[],\"last_change\":{}}"
        )
        .expect_err("version")
        .contains("version 9"));
        // no temp files left behind
        save(&path, &e.snapshot(), 7.0).expect("save");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn save_into_missing_directory_is_an_error_naming_the_file() {
        let e = save(
            Path::new("/nonexistent-dir-rtmon/x.json"),
            &Snapshot::default(),
            1.0,
        )
        .expect_err("must fail");
        assert!(e.contains("/nonexistent-dir-rtmon/x.json"), "{e}");
    }
}
