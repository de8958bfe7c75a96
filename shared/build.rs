//! Build information for `--version` and `rtmon_build_info`: the git revision the
//! binaries were built from, as `RTMON_GIT_REVISION`.
//!
//! `RTMON_GIT_REVISION` in the build environment wins (scripts/release.sh sets it, with
//! `-dirty` when the work tree differs from HEAD; a build from a source tarball without
//! `.git` can set it too); otherwise `git rev-parse HEAD` of this checkout (committed
//! state: uncommitted edits are not noticed here); `unknown` without git.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=RTMON_GIT_REVISION");
    if let Some(rev) = std::env::var("RTMON_GIT_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
    {
        println!("cargo:rustc-env=RTMON_GIT_REVISION={}", rev.trim());
        return;
    }
    let Some(head) = git(&["rev-parse", "HEAD"]) else {
        println!("cargo:rustc-env=RTMON_GIT_REVISION=unknown");
        return;
    };
    // Rebuild when HEAD moves: the HEAD file (branch switch, detached checkout), the
    // branch's ref (a commit) and packed-refs, in this worktree's and the common git dir.
    if let (Some(dir), Some(common)) = (
        git(&["rev-parse", "--absolute-git-dir"]),
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            let loose = PathBuf::from(&common).join(&r);
            if loose.exists() {
                println!("cargo:rerun-if-changed={}", loose.display());
            }
        }
        if PathBuf::from(&common).join("packed-refs").exists() {
            println!("cargo:rerun-if-changed={common}/packed-refs");
        }
    }
    println!("cargo:rustc-env=RTMON_GIT_REVISION={head}");
}
