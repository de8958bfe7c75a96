//! Exit codes of `rtmon-dashboards` outside its verdicts: a bad flag or input is 1, like
//! the exporters, except for `status`, whose 1 and 2 mean degraded and down: there it is
//! 3 ("could not evaluate"). Help and version succeed; no subcommand is a usage error.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
        .args(args)
        .output()
        .expect("run rtmon-dashboards")
}

fn code(args: &[&str]) -> i32 {
    run(args).status.code().expect("exit code")
}

#[test]
fn bad_flags_and_inputs_exit_1_and_status_3() {
    assert_eq!(code(&["--bogus"]), 1);
    assert_eq!(code(&[]), 1, "no subcommand");
    assert_eq!(code(&["generate", "--bogus", "x.yml"]), 1);
    assert_eq!(code(&["rules", "/nonexistent/flows.yml", "--out", "-"]), 1);
    assert_eq!(code(&["status", "--bogus", "x.yml"]), 3);
    let o = run(&["status", "/nonexistent/flows.yml"]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("/nonexistent/flows.yml"),
        "the error names the file: {err}"
    );
}

#[test]
fn help_and_version_succeed() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Usage"));
    let o = run(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    let v = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        v.trim_end(),
        format!(
            "rtmon-dashboards {} (revision {})",
            env!("CARGO_PKG_VERSION"),
            rtmon::REVISION
        )
    );
    assert_eq!(code(&["status", "--help"]), 0);
}
