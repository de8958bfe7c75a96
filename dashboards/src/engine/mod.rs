//! The check engine: what a flow's health is, as data and as rules. Imports nothing of
//! [`crate::grafana`] or [`crate::services`] (`dashboards/tests/layering.rs` checks it).
//!
//! - [`checks`]: every check of a flow, its severity, cause rank and per-flow PromQL
//!   (what `status`, `check` and the dashboards' state timelines evaluate);
//! - [`topology`]: the flows' topology published as series (static `vector()` rules);
//! - [`rules`]: the constant recording and alerting rules over all flows, which join the
//!   exporters' series to the topology; [`per_flow`] keeps the former per-flow rules for
//!   the side-by-side benchmark (`rules --layout per-flow`);
//! - [`alertmanager`]: routes and inhibitions for the alerts;
//! - [`status`]: evaluation of a flow's checks against Prometheus, the cause first.

pub mod alertmanager;
pub mod checks;
pub mod per_flow;
pub mod rules;
pub mod status;
pub mod topology;

/// Grafana uid for a flow: `rtmon-<id>`, restricted to `[A-Za-z0-9_-]` and ≤ 40 chars
/// (a stable hash suffix keeps long ids unique). It lives in the engine because the
/// rules publish it (`rtmon:flow:info{dashboard_uid}`, alerts' `dashboard_url`).
pub fn dashboard_uid(flow_id: &str) -> String {
    let clean: String = flow_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let full = format!("rtmon-{clean}");
    if full.len() <= 40 && clean == flow_id {
        return full;
    }
    // FNV-1a of the original id: stable across runs and platforms.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in flow_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    let suffix = format!("-{:08x}", h as u32);
    let keep = 40 - suffix.len();
    let mut base: String = full.chars().take(keep).collect();
    base.push_str(&suffix);
    base
}

/// Renders `items` into `w` in parallel batches (`batch_per_worker` items per worker at a
/// time) and writes the parts in order, so the output is byte for byte that of a
/// sequential loop without holding it all in memory. A worker that panicked fails the
/// write (`what` names the item) rather than leave items out.
pub(crate) fn write_parallel<T: Sync>(
    w: &mut impl std::io::Write,
    items: &[T],
    batch_per_worker: usize,
    what: &str,
    render: impl Fn(&mut String, &T) + Sync,
) -> std::io::Result<()> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let render = &render;
    for batch in items.chunks(workers * batch_per_worker) {
        let per = batch.len().div_ceil(workers).max(1);
        let parts: Vec<Option<String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(per)
                .map(|part| {
                    scope.spawn(move || {
                        let mut y = String::new();
                        for item in part {
                            render(&mut y, item);
                        }
                        y
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().ok()).collect()
        });
        for p in parts {
            let p = p.ok_or_else(|| std::io::Error::other(format!("rendering {what} failed")))?;
            w.write_all(p.as_bytes())?;
        }
    }
    Ok(())
}
