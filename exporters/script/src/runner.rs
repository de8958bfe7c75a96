//! Runs one script process: no shell, its own process group, bounded output, a hard
//! deadline.
//!
//! The child is started with `process_group(0)`, so the script and everything it forks
//! (unless it calls `setsid`) share one group, and with exactly the environment of
//! [`RunSpec::env`] (nothing inherited). At the deadline, when stdout exceeds its bound,
//! and after every run (to reap strays), the whole group gets `SIGKILL`.
//!
//! The outcome is the script's own exit: once it has exited, stdout gets
//! [`STRAY_GRACE`] to reach end-of-file; a background child still holding it open after
//! that is killed with the group, and the output read so far counts. Reading stops at
//! the deadline even if a grandchild still holds stdout open, so the caller always gets
//! an answer in time.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// What to run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The program (no shell).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The script's whole environment (the exporter's own is not inherited).
    pub env: Vec<(String, String)>,
    /// When the process is killed.
    pub deadline: Instant,
    /// Most stdout bytes kept; more kills the process.
    pub max_output_bytes: usize,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The process exited (status in [`RunOutcome::exit_code`]; `None` if by a signal).
    Exited,
    /// Killed at the deadline.
    TimedOut,
    /// Killed because stdout exceeded the bound.
    OutputTooLarge,
    /// Could not be started.
    SpawnFailed(String),
    /// Not started: no concurrency slot was free before the deadline.
    ConcurrencyLimit,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// How it ended.
    pub ending: Ending,
    /// Exit code if the process exited normally.
    pub exit_code: Option<i32>,
    /// stdout (at most `max_output_bytes`).
    pub stdout: Vec<u8>,
    /// The first bytes of stderr (for logs).
    pub stderr_head: String,
    /// Wall time from spawn to end.
    pub duration: Duration,
}

impl RunOutcome {
    /// True when the process exited with status 0 in time.
    pub fn success(&self) -> bool {
        self.ending == Ending::Exited && self.exit_code == Some(0)
    }

    /// script_exporter's `script_exit_code`: the status, or −1 when killed or not started.
    pub fn exit_code_metric(&self) -> i64 {
        match (&self.ending, self.exit_code) {
            (Ending::Exited, Some(c)) => i64::from(c),
            _ => -1,
        }
    }
}

const STDERR_KEEP: usize = 2048;

/// How long stdout may stay open after the script itself exited (a background child
/// holding it) before the rest of the process group is killed.
pub const STRAY_GRACE: Duration = Duration::from_millis(250);

/// Reads `r` to EOF into `buf`, keeping at most `max` bytes; returns whether it
/// overflowed. Dropping the future keeps what was read in `buf`.
async fn read_into<R: AsyncRead + Unpin>(mut r: R, buf: &mut Vec<u8>, max: usize) -> bool {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => {
                if buf.len() + n > max {
                    let room = max.saturating_sub(buf.len());
                    buf.extend_from_slice(&chunk[..room]);
                    return true;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// Reads `r` to EOF, keeping at most `max` bytes; returns (bytes, overflowed).
async fn read_bounded<R: AsyncRead + Unpin>(r: R, max: usize) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let over = read_into(r, &mut buf, max).await;
    (buf, over)
}

/// Sends SIGKILL to process group `pgid` (ignores "no such group").
fn kill_group(pgid: u32) {
    if let Ok(pgid) = i32::try_from(pgid) {
        if pgid > 1 {
            // SAFETY: killpg has no memory-safety preconditions.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

/// Runs the script. Never panics and always returns by `deadline` (plus the few
/// milliseconds a kill and reap take).
pub async fn run(spec: &RunSpec) -> RunOutcome {
    let started = Instant::now();
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return RunOutcome {
                ending: Ending::SpawnFailed(e.to_string()),
                exit_code: None,
                stdout: Vec::new(),
                stderr_head: String::new(),
                duration: started.elapsed(),
            }
        }
    };
    let pgid = child.id().unwrap_or(0);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // stderr is drained in the background (a script blocked on a full stderr pipe would
    // otherwise hang); only its head is kept.
    let stderr_task = tokio::spawn(async move {
        match stderr {
            Some(s) => {
                let mut s = s;
                let (head, over) = read_bounded(&mut s, STDERR_KEEP).await;
                if over {
                    let _ = tokio::io::copy(&mut s, &mut tokio::io::sink()).await;
                }
                String::from_utf8_lossy(&head).into_owned()
            }
            None => String::new(),
        }
    });

    let max = spec.max_output_bytes;
    let deadline = tokio::time::Instant::from_std(spec.deadline);
    let mut out = Vec::new();
    let result = {
        let reader = async {
            match stdout {
                Some(s) => read_into(s, &mut out, max).await,
                None => false,
            }
        };
        tokio::pin!(reader);
        tokio::select! {
            // stdout closed (or overflowed) first: then wait for the exit.
            overflow = &mut reader => {
                if overflow {
                    Err(Ending::OutputTooLarge)
                } else {
                    match tokio::time::timeout_at(deadline, child.wait()).await {
                        Ok(status) => Ok(status),
                        Err(_) => Err(Ending::TimedOut),
                    }
                }
            }
            // The script exited while stdout is still open: a background child may hold
            // it. Its exit decides; stdout gets a short grace to finish.
            status = child.wait() => {
                let grace = tokio::time::Instant::now() + STRAY_GRACE;
                match tokio::time::timeout_at(grace.min(deadline), &mut reader).await {
                    Ok(true) => Err(Ending::OutputTooLarge),
                    _ => Ok(status),
                }
            }
            _ = tokio::time::sleep_until(deadline) => Err(Ending::TimedOut),
        }
    };
    // Kill whatever is left of the group: everything on timeout/overflow, strays
    // (background children) after a normal exit.
    kill_group(pgid);
    let (ending, exit_code, stdout) = match result {
        Ok(Ok(status)) => (Ending::Exited, status.code(), out),
        Ok(Err(e)) => (Ending::SpawnFailed(format!("wait: {e}")), None, out),
        Err(Ending::TimedOut) => {
            let _ = child.wait().await;
            (Ending::TimedOut, None, Vec::new())
        }
        Err(ending) => {
            let _ = child.wait().await;
            (ending, None, out)
        }
    };
    let duration = started.elapsed();
    // The group is dead, so stderr reaches EOF promptly; don't wait long regardless.
    let stderr_head = tokio::time::timeout(Duration::from_millis(100), stderr_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    RunOutcome {
        ending,
        exit_code,
        stdout,
        stderr_head,
        duration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(program: &str, args: &[&str], secs: f64) -> RunSpec {
        RunSpec {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec![],
            deadline: Instant::now() + Duration::from_secs_f64(secs),
            max_output_bytes: 1024,
        }
    }

    #[tokio::test]
    async fn exit_codes_and_output() {
        let o = run(&spec("/bin/sh", &["-c", "echo a 1; echo err >&2"], 5.0)).await;
        assert!(o.success());
        assert_eq!(o.stdout, b"a 1\n");
        assert_eq!(o.stderr_head, "err\n");
        let o = run(&spec("/bin/sh", &["-c", "exit 3"], 5.0)).await;
        assert!(!o.success());
        assert_eq!(o.exit_code_metric(), 3);
        let o = run(&spec("/nonexistent/script", &[], 5.0)).await;
        assert!(matches!(o.ending, Ending::SpawnFailed(_)));
        assert_eq!(o.exit_code_metric(), -1);
    }

    #[tokio::test]
    async fn background_child_holding_stdout_does_not_turn_success_into_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("pid");
        let script = format!(
            "sleep 1000 & echo $! > {}; echo done 1; exit 0",
            pidfile.display()
        );
        let o = run(&spec("/bin/sh", &["-c", &script], 20.0)).await;
        assert_eq!(o.ending, Ending::Exited, "{o:?}");
        assert!(o.success(), "{o:?}");
        assert_eq!(o.exit_code_metric(), 0);
        assert_eq!(o.stdout, b"done 1\n");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .expect("pid")
            .trim()
            .parse()
            .expect("pid number");
        let gone = (0..100).any(|_| {
            let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let dead = st.is_empty() || st.contains(") Z ");
            if !dead {
                std::thread::sleep(Duration::from_millis(20));
            }
            dead
        });
        assert!(gone, "stray child {pid} survived");
        // The script's own failure is still a failure.
        let o = run(&spec("/bin/sh", &["-c", "sleep 1000 & exit 4"], 20.0)).await;
        assert_eq!(o.exit_code_metric(), 4);
        assert!(!o.success());
    }

    #[tokio::test]
    async fn environment_is_exactly_the_given_one() {
        let mut s = spec("/usr/bin/env", &[], 5.0);
        s.env = vec![
            ("PATH".into(), "/usr/bin:/bin".into()),
            ("A".into(), "b".into()),
        ];
        let o = run(&s).await;
        assert!(o.success(), "{o:?}");
        let mut lines: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        assert_eq!(lines, vec!["A=b", "PATH=/usr/bin:/bin"]);
    }

    #[tokio::test]
    async fn output_bound_kills() {
        let o = run(&spec("/bin/sh", &["-c", "yes 0123456789"], 10.0)).await;
        assert_eq!(o.ending, Ending::OutputTooLarge);
        assert_eq!(o.stdout.len(), 1024);
        assert_eq!(o.exit_code_metric(), -1);
        assert!(o.duration < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn deadline_kills_group_including_grandchild() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("pid");
        let script = format!(
            "sleep 30 & echo $! > {}; echo partial 1; wait",
            pidfile.display()
        );
        let o = run(&spec("/bin/sh", &["-c", &script], 0.5)).await;
        assert_eq!(o.ending, Ending::TimedOut);
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .expect("pid")
            .trim()
            .parse()
            .expect("pid number");
        // The grandchild is gone (or a zombie about to be reaped by init).
        let gone = (0..50).any(|_| {
            let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let dead = st.is_empty() || st.contains(") Z ");
            if !dead {
                std::thread::sleep(Duration::from_millis(20));
            }
            dead
        });
        assert!(gone, "grandchild {pid} survived");
    }
}
