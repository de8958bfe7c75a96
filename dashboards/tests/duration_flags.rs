//! Out-of-range duration flags are usage errors naming the flag, never a panic.

use std::process::Command;

#[test]
fn huge_stale_after_and_lookback_are_refused() {
    for flag in ["--stale-after=1e30", "--lookback=99999999999999999999s"] {
        let out = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
            .args(["status", flag, "flow.yml"])
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        assert!(
            code.is_some_and(|c| c != 0 && c != 101),
            "{flag}: {code:?} {err}"
        );
        assert!(
            err.contains(flag.split('=').next().unwrap_or(flag)) && err.contains("at most"),
            "{flag}: {err}"
        );
    }
}
