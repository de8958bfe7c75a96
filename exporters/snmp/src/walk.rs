//! Table walks and GETs with retries, max-repetitions back-off, a deadline and
//! per-scrape statistics.
//!
//! A *multi-column* walk sends one GETBULK for several table columns at once (the
//! answer is row-major: varbind `i` belongs to column `i % n`), so a table of `c`
//! columns and `r` rows costs about `r / max_repetitions` packets instead of
//! `c × r / max_repetitions` for column-by-column walks like snmp_exporter's.
//!
//! Hostile agents: OIDs must strictly increase within each column (else the walk
//! fails with [`WalkError::NonIncreasing`]) and a column stops at [`ROW_CAP`] rows.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::client::{ClientError, SnmpClient, SnmpValue, VarBind};

/// Maximum rows per column in one walk.
pub const ROW_CAP: usize = 200_000;

/// Statistics of one scrape (snmp_exporter's `snmp_scrape_*`).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Requests sent (including retries).
    pub packets_sent: u64,
    /// Requests re-sent after a timeout or an error.
    pub packets_retried: u64,
    /// Varbinds received.
    pub pdus_returned: u64,
    /// Time spent in requests.
    pub walk_duration: Duration,
    /// Failed exchanges by reason.
    pub errors: BTreeMap<&'static str, u64>,
    /// The slowest answered exchange (None: the agent has not answered yet).
    pub slowest_answer: Option<Duration>,
    /// Walk steps that failed for their size (timeout, tooBig, genErr) and were
    /// fetched again in smaller requests.
    pub size_failures: u64,
    /// The smallest request (varbinds) that failed so.
    pub smallest_failed: Option<u32>,
    /// Walk steps that failed at a column's end (the varbinds beyond it made the answer
    /// too big) and were fetched again smaller; they do not shrink the request size.
    pub end_overflows: u64,
}

/// Why a walk or a GET failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    /// The request failed after retries.
    #[error("{0}")]
    Client(#[from] ClientError),
    /// The scrape deadline passed.
    #[error("scrape deadline reached")]
    Deadline,
    /// The agent returned OIDs out of order.
    #[error("agent returned non-increasing OIDs")]
    NonIncreasing,
}

impl WalkError {
    /// Stable reason label.
    pub fn reason(&self) -> &'static str {
        match self {
            WalkError::Client(c) => c.reason(),
            WalkError::Deadline => "deadline",
            WalkError::NonIncreasing => "non_increasing_oids",
        }
    }
}

/// Request policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// GETBULK max-repetitions per column (upper bound).
    pub max_repetitions: u32,
    /// Upper bound of varbinds asked for in one GETBULK (halved on tooBig, genErr or a
    /// timeout, down to 1; the value that worked is kept per target). v3 agents answer
    /// at most the 1472 bytes async-snmp advertises as msgMaxSize: start near 40 there.
    pub varbind_budget: u32,
    /// Retries after a failed exchange.
    pub retries: u32,
    /// Timeout of one exchange.
    pub timeout: Duration,
    /// Nothing is sent after this instant.
    pub deadline: Option<Instant>,
}

impl Policy {
    fn exchange_timeout(&self) -> Result<Duration, WalkError> {
        match self.deadline {
            None => Ok(self.timeout),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left < Duration::from_millis(5) {
                    Err(WalkError::Deadline)
                } else {
                    Ok(self.timeout.min(left))
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Op<'a> {
    Get(&'a [Vec<u32>]),
    Next(&'a [Vec<u32>]),
    Bulk(&'a [Vec<u32>]),
}

/// A GET with plain retries after a timeout, tooBig or genErr (same request).
async fn get_exchange(
    c: &dyn SnmpClient,
    oids: &[Vec<u32>],
    p: &Policy,
    st: &mut Stats,
) -> Result<Vec<VarBind>, WalkError> {
    let mut attempt = 0;
    loop {
        if attempt > 0 {
            st.packets_retried += 1;
        }
        match exchange_once(c, Op::Get(oids), 1, p.timeout, p, st).await {
            Ok(v) => return Ok(v),
            Err(WalkError::Client(e)) => {
                let deadline_hit = p
                    .deadline
                    .is_some_and(|d| Instant::now() + Duration::from_millis(5) >= d);
                // At the deadline an unanswered request is a timeout (a wrong community
                // looks the same); other errors keep their reason.
                let retriable = matches!(e, ClientError::Timeout) || e.suggests_smaller();
                if deadline_hit || !retriable || attempt >= p.retries {
                    return Err(e.into());
                }
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn dotted(oid: &[u32]) -> String {
    oid.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// Rows of one walked column: index suffix → value.
pub type Column = BTreeMap<Vec<u32>, SnmpValue>;

/// What a multi-column walk brought back: every column's rows, and the columns that
/// failed (their rows are left out, never half a table).
#[derive(Clone, Debug, Default)]
pub struct Walked {
    /// One [`Column`] per requested prefix (empty for a failed column).
    pub cols: Vec<Column>,
    /// Failed columns: (column number, why).
    pub failed: Vec<(usize, WalkError)>,
    /// The scrape deadline stopped the walk before every column was read.
    pub deadline: bool,
}

impl Walked {
    /// Whether every column failed (and there was at least one).
    pub fn all_failed(&self) -> bool {
        !self.cols.is_empty() && self.failed.len() == self.cols.len()
    }

    /// Whether column `i` failed.
    pub fn is_failed(&self, i: usize) -> bool {
        self.failed.iter().any(|(j, _)| *j == i)
    }
}

/// What the walks of one target remember between scrapes, per column OID: how many rows
/// the column had (so the last request of a column asks for little more than what is
/// left, instead of many varbinds beyond its end — which on some agents are large
/// PortLists that make the answer too big to send), and whether it failed last time
/// (then it is walked alone, after the others, so it cannot take them down with it).
#[derive(Clone, Debug, Default)]
pub struct ColumnMemory {
    /// Rows of each column in its last complete walk.
    pub rows: HashMap<Vec<u32>, usize>,
    /// Columns whose last walk failed, and why.
    pub failing: HashMap<Vec<u32>, WalkError>,
}

/// Whether a failed exchange may have failed because of the answer's size (or one bad
/// column in it), so that a smaller request might get through.
fn size_like(e: &ClientError) -> bool {
    e.suggests_smaller() || matches!(e, ClientError::Decode(_))
}

/// The timeout of an exchange retried at a smaller size: the agent has answered in this
/// scrape, so a silence much longer than its slowest answer means the request, not the
/// agent. At least [`SMALLER_RETRY_TIMEOUT_MIN`], at most the module's `timeout`.
fn smaller_retry_timeout(p: &Policy, st: &Stats) -> Duration {
    let slowest = st.slowest_answer.unwrap_or(p.timeout);
    (slowest * 4).max(SMALLER_RETRY_TIMEOUT_MIN).min(p.timeout)
}

/// The floor of [`smaller_retry_timeout`].
pub const SMALLER_RETRY_TIMEOUT_MIN: Duration = Duration::from_secs(1);

/// One exchange, counted in `st`; no retry.
async fn exchange_once(
    c: &dyn SnmpClient,
    op: Op<'_>,
    reps: u32,
    timeout: Duration,
    p: &Policy,
    st: &mut Stats,
) -> Result<Vec<VarBind>, WalkError> {
    let t = p.exchange_timeout()?.min(timeout);
    st.packets_sent += 1;
    let start = Instant::now();
    let r = match op {
        Op::Get(o) => c.get(o, t).await,
        Op::Next(o) => c.get_next(o, t).await,
        Op::Bulk(o) => c.get_bulk(o, reps, t).await,
    };
    let took = start.elapsed();
    st.walk_duration += took;
    match r {
        Ok(v) => {
            st.pdus_returned += v.len() as u64;
            st.slowest_answer = Some(st.slowest_answer.map_or(took, |s| s.max(took)));
            Ok(v)
        }
        Err(e) => {
            *st.errors.entry(e.reason()).or_default() += 1;
            Err(e.into())
        }
    }
}

/// A column being walked.
struct Col {
    prefix: Vec<u32>,
    last: Vec<u32>,
    rows: Column,
    done: bool,
    failed: Option<WalkError>,
}

impl Col {
    fn active(&self) -> bool {
        !self.done && self.failed.is_none()
    }
}

/// Puts a (row-major) answer for `group` into the columns; returns the rows each column
/// of the group advanced. A column whose OIDs do not increase fails alone.
fn apply(cols: &mut [Col], group: &[usize], vbs: Vec<VarBind>) -> Vec<u32> {
    let n = group.len();
    let mut advanced = vec![0u32; n];
    if vbs.is_empty() {
        // An empty answer ends the walk of these columns (agents at the end of the MIB).
        for &g in group {
            cols[g].done = true;
        }
        return advanced;
    }
    let mut stop = vec![false; n];
    for (i, vb) in vbs.into_iter().enumerate() {
        let slot = i % n;
        if stop[slot] {
            continue;
        }
        let col = &mut cols[group[slot]];
        if vb.value == SnmpValue::EndOfMib
            || !vb.oid.starts_with(&col.prefix)
            || vb.oid.len() == col.prefix.len()
        {
            col.done = true;
            stop[slot] = true;
            continue;
        }
        if vb.oid <= col.last {
            col.failed = Some(WalkError::NonIncreasing);
            stop[slot] = true;
            continue;
        }
        let idx = vb.oid[col.prefix.len()..].to_vec();
        col.last.clone_from(&vb.oid);
        col.rows.insert(idx, vb.value);
        advanced[slot] += 1;
        if col.rows.len() >= ROW_CAP {
            col.done = true;
            stop[slot] = true;
        }
    }
    advanced
}

/// A step that failed and is being fetched again: the same columns with half the
/// repetitions (also the retry of a lost packet), then with one repetition, then column
/// by column, each for the rows the failed step would have brought.
struct Rescue {
    /// Columns of the failed step, with the rows each still owes.
    owed: Vec<(usize, u32)>,
    /// 0: the columns together, half the repetitions; 1: the columns together, one
    /// repetition; 2: one column at a time.
    level: u8,
    /// Repetitions of the failed request.
    reps: u32,
    /// Varbinds the failed request asked for.
    sent: u32,
    /// A column of the step ended within the rows it owed.
    ended: bool,
    /// Columns in the failed request.
    width: u32,
}

impl Rescue {
    /// The failed step has been fetched. A step in which a column ended most likely
    /// failed for the varbinds beyond that end (whatever follows the column in the MIB,
    /// often large PortLists): the next walk asks for at most one row beyond the end it
    /// now knows, so the request size is kept. Otherwise the size is halved, and the
    /// failed size remembered.
    fn finish(self, p: &mut Policy, st: &mut Stats) {
        if self.ended {
            st.end_overflows += 1;
        } else {
            // What worked: half the request, one repetition of the columns, or (when
            // even that did not fit) half as many columns at a time. It grows back
            // scrape by scrape.
            let size = match self.level {
                0 => self.sent / 2,
                1 => self.width,
                _ => self.width / 2,
            };
            p.varbind_budget = p.varbind_budget.min(size.max(1));
            st.size_failures += 1;
            // Level 2 means one repetition of all the columns failed too.
            let failed = match self.level {
                0 => self.sent,
                1 => self.width.saturating_mul((self.reps / 2).max(1)),
                _ => self.width,
            };
            st.smallest_failed = Some(st.smallest_failed.map_or(failed, |s| s.min(failed)));
        }
    }
}

/// Walks several table columns at once (one GETBULK carries them all) and adapts to
/// what the agent can answer:
///
/// - the request size is `p.varbind_budget` varbinds (`max_repetitions` per column at
///   most; with a budget below the number of columns, that many columns at a time);
/// - the last request of a column whose row count is known from the last walk
///   (`mem`) asks for at most one row beyond its expected end: varbinds past a column's
///   end belong to whatever follows it in the MIB (often large PortLists);
/// - a step that fails with a timeout, tooBig, genErr or an undecodable answer while the
///   agent is answering is fetched again in smaller requests — the same columns with one
///   repetition, then column by column — waiting at most [`smaller_retry_timeout`] each;
///   the budget is halved (remembered by the caller);
/// - a column that fails even alone (after `retries`) is reported in
///   [`Walked::failed`] and the others go on; columns that failed last time are walked
///   alone, after the others;
/// - nothing is sent after `p.deadline`; an agent that never answered in this scrape
///   gets plain retries of the same request, then fails the whole walk.
pub async fn walk_columns(
    c: &dyn SnmpClient,
    prefixes: &[Vec<u32>],
    p: &mut Policy,
    st: &mut Stats,
    mem: &mut ColumnMemory,
) -> Walked {
    let mut cols: Vec<Col> = prefixes
        .iter()
        .map(|pf| Col {
            prefix: pf.clone(),
            last: pf.clone(),
            rows: Column::new(),
            done: false,
            failed: None,
        })
        .collect();
    let (suspect, healthy): (Vec<usize>, Vec<usize>) =
        (0..cols.len()).partition(|&i| mem.failing.contains_key(&cols[i].prefix));
    let deadline = walk_set(c, &mut cols, &healthy, p, st, mem, false).await;
    for i in suspect {
        // A column that failed last time waits no longer than a smaller retry, retries
        // once, and if time runs out on it, it has failed again (the others are read).
        if !deadline {
            walk_set(c, &mut cols, &[i], p, st, mem, true).await;
        }
        if cols[i].active() {
            cols[i].failed = Some(
                mem.failing
                    .get(&cols[i].prefix)
                    .cloned()
                    .unwrap_or(WalkError::Client(ClientError::Timeout)),
            );
        }
    }
    let mut out = Walked {
        deadline,
        ..Walked::default()
    };
    for (i, col) in cols.into_iter().enumerate() {
        match col.failed {
            Some(e) => {
                if !deadline {
                    mem.failing.insert(col.prefix.clone(), e.clone());
                }
                out.failed.push((i, e));
                out.cols.push(Column::new());
            }
            None if !col.done => {
                out.failed.push((i, WalkError::Deadline));
                out.cols.push(Column::new());
            }
            None => {
                mem.failing.remove(&col.prefix);
                mem.rows.insert(col.prefix, col.rows.len());
                out.cols.push(col.rows);
            }
        }
    }
    out
}

/// Walks the columns `idxs` to their ends (see [`walk_columns`]). Returns whether the
/// deadline (or a failure of the whole agent) stopped it.
async fn walk_set(
    c: &dyn SnmpClient,
    cols: &mut [Col],
    idxs: &[usize],
    p: &mut Policy,
    st: &mut Stats,
    mem: &ColumnMemory,
    suspect: bool,
) -> bool {
    let bulk = c.bulk_capable();
    let mut rescue: Option<Rescue> = None;
    loop {
        let active: Vec<usize> = idxs.iter().copied().filter(|&i| cols[i].active()).collect();
        if let Some(r) = &mut rescue {
            r.owed.retain(|(i, owed)| cols[*i].active() && *owed > 0);
        }
        if rescue.as_ref().is_some_and(|r| r.owed.is_empty()) || active.is_empty() {
            if let Some(r) = rescue.take() {
                r.finish(p, st);
            }
        }
        if active.is_empty() {
            return false;
        }
        // What to ask for.
        let (group, reps, timeout): (Vec<usize>, u32, Duration) = match &rescue {
            Some(r) if r.level == 0 => (
                r.owed.iter().map(|(i, _)| *i).collect(),
                (r.reps / 2).max(1),
                smaller_retry_timeout(p, st),
            ),
            Some(r) if r.level == 1 => (
                r.owed.iter().map(|(i, _)| *i).collect(),
                1,
                smaller_retry_timeout(p, st),
            ),
            Some(r) => (vec![r.owed[0].0], 1, smaller_retry_timeout(p, st)),
            None => {
                let budget = p.varbind_budget.max(1);
                let g = active
                    .len()
                    .min(usize::try_from(budget).unwrap_or(usize::MAX));
                let group: Vec<usize> = active[..g].to_vec();
                let per = budget / u32::try_from(g).unwrap_or(u32::MAX).max(1);
                let mut reps = per.clamp(1, p.max_repetitions.max(1));
                // Ask for little beyond the expected end of the first column to end; a
                // column that has grown since is then read in doubling steps (1, 2, 4…
                // rows), so a step past its new end still carries few varbinds beyond it.
                let cap = group
                    .iter()
                    .map(|&i| {
                        mem.rows.get(&cols[i].prefix).map(|&n| {
                            let read = cols[i].rows.len();
                            let step = n.abs_diff(read);
                            u32::try_from(step).unwrap_or(u32::MAX).saturating_add(1)
                        })
                    })
                    .collect::<Option<Vec<u32>>>()
                    .and_then(|v| v.into_iter().min());
                if let Some(cap) = cap {
                    reps = reps.min(cap).max(1);
                }
                // Once the agent has dropped an answer too big in this scrape, a silence
                // is most likely that again: wait no longer than for a smaller retry.
                let timeout = if suspect || st.size_failures + st.end_overflows > 0 {
                    smaller_retry_timeout(p, st)
                } else {
                    p.timeout
                };
                (group, reps, timeout)
            }
        };
        let oids: Vec<Vec<u32>> = group.iter().map(|&i| cols[i].last.clone()).collect();
        let op = if bulk {
            Op::Bulk(&oids)
        } else {
            Op::Next(&oids)
        };
        let answered_before = st.slowest_answer.is_some();
        match exchange_once(c, op, reps, timeout, p, st).await {
            Ok(vbs) => {
                let adv = apply(cols, &group, vbs);
                if let Some(r) = &mut rescue {
                    for (slot, &g) in group.iter().enumerate() {
                        if let Some(o) = r.owed.iter_mut().find(|(i, _)| *i == g) {
                            o.1 = o.1.saturating_sub(adv[slot].max(1));
                        }
                        r.ended |= cols[g].done;
                    }
                }
            }
            Err(WalkError::Deadline) => {
                if let Some(r) = rescue.take() {
                    r.finish(p, st);
                }
                return true;
            }
            Err(e) => {
                let deadline_hit = p
                    .deadline
                    .is_some_and(|d| Instant::now() + Duration::from_millis(5) >= d);
                let ce = match &e {
                    WalkError::Client(ce) => Some(ce.clone()),
                    _ => None,
                };
                let smaller = ce.as_ref().is_some_and(size_like) && answered_before;
                if deadline_hit || !smaller {
                    // The agent as a whole: never answered, refuses us, or time is up.
                    // Plain retries of the same request (timeouts only), then give up on
                    // every column still open.
                    let retriable = matches!(ce, Some(ClientError::Timeout));
                    let mut last = e;
                    let mut attempt = 0;
                    let mut recovered = false;
                    while retriable && !deadline_hit && attempt < p.retries {
                        attempt += 1;
                        st.packets_retried += 1;
                        match exchange_once(c, op, reps, timeout, p, st).await {
                            Ok(vbs) => {
                                apply(cols, &group, vbs);
                                recovered = true;
                                break;
                            }
                            Err(e2) => last = e2,
                        }
                        if p.deadline
                            .is_some_and(|d| Instant::now() + Duration::from_millis(5) >= d)
                        {
                            break;
                        }
                    }
                    if recovered {
                        continue;
                    }
                    let cut = deadline_hit
                        || last == WalkError::Deadline
                        || p.deadline
                            .is_some_and(|d| Instant::now() + Duration::from_millis(5) >= d);
                    for &i in idxs {
                        if cols[i].active() {
                            cols[i].failed = Some(last.clone());
                        }
                    }
                    if let Some(r) = rescue.take() {
                        r.finish(p, st);
                    }
                    return cut;
                }
                match &mut rescue {
                    None => {
                        let sent = reps.saturating_mul(u32::try_from(group.len()).unwrap_or(1));
                        if sent <= 1 {
                            // One column, one varbind: nothing smaller to ask; the column
                            // itself fails (after its retries).
                            let i = group[0];
                            if let Some(e) = retry_alone(c, cols, i, p, st, suspect).await {
                                cols[i].failed = Some(e);
                            }
                        } else {
                            // Fetch this step again: the same request once more after a
                            // silence (a packet may have been lost), then smaller.
                            st.packets_retried += 1;
                            tracing::debug!(column = %dotted(&cols[group[0]].prefix), columns = group.len(), reps, rows = cols[group[0]].rows.len(), error = %e, "walk step failed, fetching it again");
                            rescue = Some(Rescue {
                                owed: group.iter().map(|&i| (i, reps)).collect(),
                                level: if reps > 3 {
                                    0
                                } else if reps > 1 {
                                    1
                                } else {
                                    2
                                },
                                reps,
                                sent,
                                ended: false,
                                width: u32::try_from(group.len()).unwrap_or(u32::MAX),
                            });
                        }
                    }
                    Some(r) if r.level == 0 => {
                        tracing::debug!(columns = group.len(), reps, error = %e, "half the repetitions failed too: one repetition");
                        st.packets_retried += 1;
                        r.level = if r.reps > 1 { 1 } else { 2 };
                    }
                    Some(r) if r.level == 1 && group.len() > 1 => {
                        tracing::debug!(columns = group.len(), error = %e, "one repetition failed: column by column");
                        st.packets_retried += 1;
                        r.level = 2;
                    }
                    Some(_) => {
                        // One column alone, one repetition: retries, then it fails.
                        let i = group[0];
                        if let Some(e) = retry_alone(c, cols, i, p, st, suspect).await {
                            cols[i].failed = Some(e);
                        }
                    }
                }
            }
        }
    }
}

/// Retries one column's next varbind alone, `p.retries` times (timeouts only count as
/// retriable; an undecodable answer or an agent error does not change by asking again).
/// `None`: it got through (and was applied); `Some(e)`: the column failed.
async fn retry_alone(
    c: &dyn SnmpClient,
    cols: &mut [Col],
    i: usize,
    p: &Policy,
    st: &mut Stats,
    suspect: bool,
) -> Option<WalkError> {
    let mut last = WalkError::Client(ClientError::Timeout);
    let retries = if suspect { p.retries.min(1) } else { p.retries };
    for _ in 0..retries {
        let oids = [cols[i].last.clone()];
        let op = if c.bulk_capable() {
            Op::Bulk(&oids)
        } else {
            Op::Next(&oids)
        };
        st.packets_retried += 1;
        match exchange_once(c, op, 1, smaller_retry_timeout(p, st), p, st).await {
            Ok(vbs) => {
                apply(cols, &[i], vbs);
                return None;
            }
            Err(e @ WalkError::Client(ClientError::Timeout)) => last = e,
            Err(e) => return Some(e),
        }
    }
    Some(last)
}

/// The request size for the next scrape of a module: after a scrape without a size
/// failure it grows by a quarter (at least one) towards `default`, staying below
/// `ceiling` (the smallest size that failed recently); otherwise the halved `budget`.
pub fn next_budget(budget: u32, default: u32, ceiling: Option<u32>, clean: bool) -> u32 {
    if !clean {
        return budget.max(1);
    }
    let grown = budget.saturating_add((budget / 4).max(1));
    let cap = ceiling.map_or(default, |c| default.min(c.saturating_sub(1)));
    grown.min(cap.max(budget)).max(1)
}

/// GETs exact OIDs in batches (`batch` per request). Missing objects are left out.
pub async fn get_many(
    c: &dyn SnmpClient,
    oids: &[Vec<u32>],
    batch: usize,
    p: &mut Policy,
    st: &mut Stats,
) -> Result<BTreeMap<Vec<u32>, SnmpValue>, WalkError> {
    let mut out = BTreeMap::new();
    for chunk in oids.chunks(batch.max(1)) {
        for vb in get_exchange(c, chunk, p, st).await? {
            if !matches!(vb.value, SnmpValue::Missing | SnmpValue::EndOfMib) {
                out.insert(vb.oid, vb.value);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// An in-memory agent that, like snmpsim and the switches of issue 31, stays silent
    /// when its answer would exceed `max_bytes` (or answers tooBig, with `too_big`), and
    /// caps a GETBULK at 64 varbinds as pysnmp does.
    struct Agent {
        mib: BTreeMap<Vec<u32>, SnmpValue>,
        max_bytes: usize,
        too_big: bool,
        dead: bool,
        sent: AtomicU64,
    }

    fn size(vb: &VarBind) -> usize {
        let v = match &vb.value {
            SnmpValue::Bytes(b) => b.len(),
            _ => 5,
        };
        vb.oid.len() + v + 4
    }

    impl Agent {
        fn next(&self, oid: &[u32]) -> VarBind {
            match self
                .mib
                .range::<[u32], _>((std::ops::Bound::Excluded(oid), std::ops::Bound::Unbounded))
                .next()
            {
                Some((o, v)) => VarBind {
                    oid: o.clone(),
                    value: v.clone(),
                },
                None => VarBind {
                    oid: oid.to_vec(),
                    value: SnmpValue::EndOfMib,
                },
            }
        }

        fn answer(&self, vbs: Vec<VarBind>) -> Result<Vec<VarBind>, ClientError> {
            self.sent.fetch_add(1, Ordering::Relaxed);
            if self.dead {
                return Err(ClientError::Timeout);
            }
            if vbs.iter().map(size).sum::<usize>() + 30 > self.max_bytes {
                return Err(if self.too_big {
                    ClientError::Status("tooBig".into())
                } else {
                    ClientError::Timeout
                });
            }
            Ok(vbs)
        }
    }

    impl SnmpClient for Agent {
        fn get<'a>(
            &'a self,
            oids: &'a [Vec<u32>],
            _: Duration,
        ) -> rtmon::app::BoxFuture<'a, Result<Vec<VarBind>, ClientError>> {
            Box::pin(async move {
                self.answer(
                    oids.iter()
                        .map(|o| VarBind {
                            oid: o.clone(),
                            value: self.mib.get(o).cloned().unwrap_or(SnmpValue::Missing),
                        })
                        .collect(),
                )
            })
        }
        fn get_next<'a>(
            &'a self,
            oids: &'a [Vec<u32>],
            _: Duration,
        ) -> rtmon::app::BoxFuture<'a, Result<Vec<VarBind>, ClientError>> {
            Box::pin(async move { self.answer(oids.iter().map(|o| self.next(o)).collect()) })
        }
        fn get_bulk<'a>(
            &'a self,
            oids: &'a [Vec<u32>],
            reps: u32,
            _: Duration,
        ) -> rtmon::app::BoxFuture<'a, Result<Vec<VarBind>, ClientError>> {
            Box::pin(async move {
                let r = oids.len().max(1);
                let m = (reps as usize).min(64 / r).max(1);
                let mut cur: Vec<Vec<u32>> = oids.to_vec();
                let mut out = Vec::new();
                for _ in 0..m {
                    for c in &mut cur {
                        let vb = self.next(c);
                        c.clone_from(&vb.oid);
                        out.push(vb);
                    }
                }
                self.answer(out)
            })
        }
        fn bulk_capable(&self) -> bool {
            true
        }
    }

    const FDB_PORT: [u32; 4] = [1, 7, 2, 2];
    const FDB_STATUS: [u32; 4] = [1, 7, 2, 3];
    const BASE_PORT: [u32; 3] = [1, 1, 4];
    /// PortLists right after the FDB columns, as dot1qVlanCurrentTable follows
    /// dot1qTpFdbTable.
    const PORTLISTS: [u32; 4] = [1, 7, 4, 4];

    /// An FDB of `rows` entries, 48 ports, and 48 PortLists of 2,300 octets after it.
    fn fdb_agent(rows: u32) -> Agent {
        let mut mib = BTreeMap::new();
        for p in 1..=48u32 {
            let mut o = BASE_PORT.to_vec();
            o.push(p);
            mib.insert(o, SnmpValue::Integer(i64::from(p)));
        }
        for r in 0..rows {
            for (col, v) in [(FDB_PORT, i64::from(r % 48 + 1)), (FDB_STATUS, 3)] {
                let mut o = col.to_vec();
                o.extend([1000, 0, 27, 33, r / 256, r % 256, 7]);
                mib.insert(o, SnmpValue::Integer(v));
            }
        }
        for v in 1..=48u32 {
            let mut o = PORTLISTS.to_vec();
            o.push(v);
            mib.insert(o, SnmpValue::Bytes(vec![0xff; 2300]));
        }
        Agent {
            mib,
            max_bytes: 4096,
            too_big: false,
            dead: false,
            sent: AtomicU64::new(0),
        }
    }

    fn policy() -> Policy {
        Policy {
            max_repetitions: 25,
            varbind_budget: 400,
            retries: 3,
            timeout: Duration::from_secs(5),
            deadline: Some(Instant::now() + Duration::from_secs(60)),
        }
    }

    fn answered() -> Stats {
        Stats {
            slowest_answer: Some(Duration::from_millis(1)),
            ..Stats::default()
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn a_bulk_answer_too_big_to_send_is_fetched_again_smaller_and_the_walk_completes() {
        for too_big in [false, true] {
            let mut agent = fdb_agent(918);
            agent.too_big = too_big;
            let cols = vec![BASE_PORT.to_vec(), FDB_PORT.to_vec(), FDB_STATUS.to_vec()];
            let mut p = policy();
            let mut st = answered();
            let mut mem = ColumnMemory::default();
            let w = block_on(walk_columns(&agent, &cols, &mut p, &mut st, &mut mem));
            assert!(w.failed.is_empty(), "{too_big}: {:?}", w.failed);
            assert!(!w.deadline);
            assert_eq!(
                w.cols.iter().map(Column::len).collect::<Vec<_>>(),
                vec![48, 918, 918]
            );
            // The end of the FDB overflowed: fetched again smaller, size kept.
            assert!(st.end_overflows >= 1, "{too_big}: {st:?}");
            assert_eq!(st.size_failures, 0, "{too_big}: {st:?}");
            assert_eq!(p.varbind_budget, 400);
            assert_eq!(mem.rows.get(FDB_PORT.as_slice()), Some(&918));
            // The next walk knows where the columns end: no answer too big any more.
            let mut st2 = answered();
            let w2 = block_on(walk_columns(&agent, &cols, &mut p, &mut st2, &mut mem));
            assert!(w2.failed.is_empty());
            assert_eq!(w2.cols, w.cols);
            assert_eq!(st2.size_failures, 0, "{too_big}");
            eprintln!(
                "walk 1: {} packets, walk 2: {} packets, budget {}",
                st.packets_sent, st2.packets_sent, p.varbind_budget
            );
            // A grown table: still complete, still no overflow beyond one row per column.
            let bigger = fdb_agent(1000);
            let mut st3 = answered();
            let w3 = block_on(walk_columns(&bigger, &cols, &mut p, &mut st3, &mut mem));
            assert!(w3.failed.is_empty());
            assert_eq!(w3.cols[1].len(), 1000);
            assert_eq!(st3.size_failures, 0, "{too_big}");
            // 82 rows more read in doubling steps, not one request per row.
            assert!(st3.packets_sent < st2.packets_sent + 20, "{st2:?} {st3:?}");
        }
    }

    #[test]
    fn portlist_columns_too_big_together_are_walked_column_by_column() {
        let mut mib = BTreeMap::new();
        for col in [4u32, 5] {
            for v in 1..=48u32 {
                mib.insert(vec![1, 7, 4, col, v], SnmpValue::Bytes(vec![0x0f; 2300]));
            }
        }
        let agent = Agent {
            mib,
            max_bytes: 4096,
            too_big: false,
            dead: false,
            sent: AtomicU64::new(0),
        };
        let cols = vec![vec![1, 7, 4, 4], vec![1, 7, 4, 5]];
        let mut p = policy();
        let mut st = answered();
        let mut mem = ColumnMemory::default();
        let w = block_on(walk_columns(&agent, &cols, &mut p, &mut st, &mut mem));
        assert!(w.failed.is_empty(), "{:?}", w.failed);
        assert_eq!(w.cols[0].len(), 48);
        assert_eq!(w.cols[1].len(), 48);
        assert_eq!(st.size_failures, 1, "{st:?}");
        assert_eq!(st.smallest_failed, Some(2), "two PortLists in one answer");
        assert_eq!(p.varbind_budget, 1, "one PortList per request");
        let mut st2 = answered();
        let w2 = block_on(walk_columns(&agent, &cols, &mut p, &mut st2, &mut mem));
        assert_eq!(w2.cols, w.cols);
        assert_eq!(st2.size_failures + st2.end_overflows, 0, "{st2:?}");
    }

    #[test]
    fn a_column_that_cannot_be_answered_fails_alone() {
        let mut agent = fdb_agent(100);
        // One FDB status row is too large to send even alone.
        let mut o = FDB_STATUS.to_vec();
        o.extend([1000, 0, 27, 33, 0, 50, 7]);
        agent.mib.insert(o, SnmpValue::Bytes(vec![0; 5000]));
        let cols = vec![BASE_PORT.to_vec(), FDB_PORT.to_vec(), FDB_STATUS.to_vec()];
        let mut p = policy();
        let mut st = answered();
        let mut mem = ColumnMemory::default();
        let w = block_on(walk_columns(&agent, &cols, &mut p, &mut st, &mut mem));
        assert_eq!(
            w.failed,
            vec![(2, WalkError::Client(ClientError::Timeout))],
            "{:?}",
            w.failed
        );
        assert!(!w.deadline);
        assert_eq!(w.cols[0].len(), 48);
        assert_eq!(w.cols[1].len(), 100);
        assert!(w.cols[2].is_empty(), "a failed column is left out whole");
        assert_eq!(
            mem.failing.get(FDB_STATUS.as_slice()),
            Some(&WalkError::Client(ClientError::Timeout))
        );
        // Next time the failing column is walked alone, after the others.
        let mut st2 = answered();
        let w2 = block_on(walk_columns(&agent, &cols, &mut p, &mut st2, &mut mem));
        assert_eq!(w2.failed.len(), 1);
        assert_eq!(w2.cols[1].len(), 100);
    }

    #[test]
    fn an_agent_that_never_answered_gets_plain_retries_then_every_column_fails() {
        let mut agent = fdb_agent(10);
        agent.dead = true;
        let cols = vec![BASE_PORT.to_vec(), FDB_PORT.to_vec()];
        let mut p = policy();
        let mut st = Stats::default();
        let mut mem = ColumnMemory::default();
        let w = block_on(walk_columns(&agent, &cols, &mut p, &mut st, &mut mem));
        assert!(w.all_failed());
        assert_eq!(
            agent.sent.load(Ordering::Relaxed),
            4,
            "one request + 3 retries"
        );
        assert_eq!(p.varbind_budget, 400, "no size adaptation for a dead agent");
    }

    #[test]
    fn the_remembered_size_grows_back_below_what_failed() {
        assert_eq!(next_budget(30, 400, Some(60), false), 30);
        assert_eq!(next_budget(30, 400, Some(60), true), 37);
        assert_eq!(next_budget(56, 400, Some(60), true), 59);
        assert_eq!(next_budget(59, 400, Some(60), true), 59);
        assert_eq!(next_budget(350, 400, None, true), 400);
        assert_eq!(next_budget(1, 400, None, true), 2);
        assert_eq!(next_budget(0, 400, None, false), 1);
    }
}
