//! Out-of-range duration flags exit 1 naming the flag, never a panic (exit 101).

use std::process::Command;

#[test]
fn huge_durations_exit_1_naming_the_flag() {
    for flag in [
        "--ping.interval=1e30",
        "--push.interval=1e30",
        "--web.timeout-offset=1e30",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_rtmon-ping-exporter"))
            .args([flag, "--web.listen-address=127.0.0.1:0"])
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flag}: {err}");
        assert!(
            err.contains(flag.split('=').next().unwrap_or(flag)) && err.contains("at most"),
            "{flag}: {err}"
        );
    }
}
