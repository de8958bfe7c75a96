//! Background tasks: the table reader (netlink or `/proc/net/arp` polling) and the
//! state-file saver. Spawned in the current tokio runtime.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::monitor::{now, Monitor};
use crate::statefile;

/// Where neighbour entries come from.
#[derive(Clone, Debug)]
pub enum Reader {
    /// rtnetlink dump + events, full resync every interval.
    Netlink {
        /// Resync interval.
        resync: Duration,
    },
    /// Poll a `/proc/net/arp` file (IPv4 only).
    Proc {
        /// The file, e.g. `/proc/net/arp`.
        path: PathBuf,
        /// Poll interval.
        interval: Duration,
    },
}

/// Polls `/proc/net/arp`.
pub async fn run_proc(mon: Arc<Monitor>, path: PathBuf, interval: Duration) {
    let name = path.display().to_string();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = mon.resync.notified() => {}
        }
        let res = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| format!("cannot read {name}: {e}"))
            .and_then(|t| crate::procarp::parse(&t, &name));
        match res {
            Ok(v) => {
                mon.apply_sync(v);
            }
            Err(e) => {
                tracing::warn!(error = %e, "neighbour table read failed");
                mon.sync_failed(&e);
            }
        }
    }
}

/// Saves the state file after changes, at most every `debounce`.
pub async fn run_saver(mon: Arc<Monitor>, path: PathBuf, debounce: Duration) {
    loop {
        mon.dirty.notified().await;
        tokio::time::sleep(debounce).await;
        save_now(&mon, &path).await;
    }
}

/// Saves the state file now (errors are logged and counted).
pub async fn save_now(mon: &Monitor, path: &std::path::Path) {
    let snap = mon.snapshot();
    let p = path.to_path_buf();
    let res = tokio::task::spawn_blocking(move || statefile::save(&p, &snap, now()))
        .await
        .unwrap_or_else(|e| Err(format!("state save task: {e}")));
    if let Err(e) = res {
        tracing::warn!(error = %e, "state file not saved");
        mon.state_error(false);
    }
}

/// Spawns the reader (and the saver, when a state file is configured).
pub fn spawn(mon: &Arc<Monitor>, reader: Reader, state_file: Option<PathBuf>) {
    match reader {
        Reader::Netlink { resync } => {
            tokio::spawn(crate::netlink::run(mon.clone(), resync));
        }
        Reader::Proc { path, interval } => {
            tokio::spawn(run_proc(mon.clone(), path, interval));
        }
    }
    if let Some(p) = state_file {
        tokio::spawn(run_saver(mon.clone(), p, Duration::from_millis(250)));
    }
}
