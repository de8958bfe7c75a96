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

use std::collections::BTreeMap;
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

enum Op<'a> {
    Get(&'a [Vec<u32>]),
    Next(&'a [Vec<u32>]),
    Bulk(&'a [Vec<u32>]),
}

async fn exchange(
    c: &dyn SnmpClient,
    op: Op<'_>,
    p: &mut Policy,
    st: &mut Stats,
) -> Result<Vec<VarBind>, WalkError> {
    let mut attempt = 0;
    loop {
        let t = p.exchange_timeout()?;
        st.packets_sent += 1;
        if attempt > 0 {
            st.packets_retried += 1;
        }
        let start = Instant::now();
        let r = match op {
            Op::Get(o) => c.get(o, t).await,
            Op::Next(o) => c.get_next(o, t).await,
            Op::Bulk(o) => {
                let n = u32::try_from(o.len()).unwrap_or(u32::MAX).max(1);
                let reps = (p.varbind_budget / n).clamp(1, p.max_repetitions.max(1));
                c.get_bulk(o, reps, t).await
            }
        };
        st.walk_duration += start.elapsed();
        match r {
            Ok(v) => {
                st.pdus_returned += v.len() as u64;
                return Ok(v);
            }
            Err(e) => {
                *st.errors.entry(e.reason()).or_default() += 1;
                let deadline_hit = p
                    .deadline
                    .is_some_and(|d| Instant::now() + Duration::from_millis(5) >= d);
                if deadline_hit {
                    // The agent did not answer before the deadline: that is a timeout
                    // (a wrong community looks the same); other errors keep their reason.
                    return Err(e.into());
                }
                let retriable = matches!(e, ClientError::Timeout) || e.suggests_smaller();
                if !retriable || attempt >= p.retries {
                    return Err(e.into());
                }
                if matches!(op, Op::Bulk(_)) && e.suggests_smaller() && p.varbind_budget > 1 {
                    p.varbind_budget = (p.varbind_budget / 2).max(1);
                }
                attempt += 1;
            }
        }
    }
}

/// Rows of one walked column: index suffix → value.
pub type Column = BTreeMap<Vec<u32>, SnmpValue>;

/// Walks several table columns at once. Returns one [`Column`] per requested prefix.
pub async fn walk_columns(
    c: &dyn SnmpClient,
    prefixes: &[Vec<u32>],
    p: &mut Policy,
    st: &mut Stats,
) -> Result<Vec<Column>, WalkError> {
    let mut out: Vec<Column> = vec![Column::new(); prefixes.len()];
    // (column number, last OID seen)
    let mut active: Vec<(usize, Vec<u32>)> = prefixes.iter().cloned().enumerate().collect();
    while !active.is_empty() {
        let req: Vec<Vec<u32>> = active.iter().map(|(_, o)| o.clone()).collect();
        let bulk = c.bulk_capable();
        let vbs = if bulk {
            exchange(c, Op::Bulk(&req), p, st).await?
        } else {
            exchange(c, Op::Next(&req), p, st).await?
        };
        if vbs.is_empty() {
            break;
        }
        let n = active.len();
        let mut done = vec![false; n];
        for (i, vb) in vbs.into_iter().enumerate() {
            let slot = i % n;
            if done[slot] {
                continue;
            }
            let (col, last) = &mut active[slot];
            let prefix = &prefixes[*col];
            if vb.value == SnmpValue::EndOfMib
                || !vb.oid.starts_with(prefix)
                || vb.oid.len() == prefix.len()
            {
                done[slot] = true;
                continue;
            }
            if vb.oid <= *last {
                return Err(WalkError::NonIncreasing);
            }
            let idx = vb.oid[prefix.len()..].to_vec();
            last.clone_from(&vb.oid);
            out[*col].insert(idx, vb.value);
            if out[*col].len() >= ROW_CAP {
                done[slot] = true;
            }
        }
        let mut k = 0;
        active.retain(|_| {
            let keep = !done[k];
            k += 1;
            keep
        });
    }
    Ok(out)
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
        for vb in exchange(c, Op::Get(chunk), p, st).await? {
            if !matches!(vb.value, SnmpValue::Missing | SnmpValue::EndOfMib) {
                out.insert(vb.oid, vb.value);
            }
        }
    }
    Ok(out)
}
