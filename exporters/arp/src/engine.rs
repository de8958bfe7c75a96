//! The diff engine: keeps the neighbour table, classifies changes the way arpwatch does
//! (new station, changed MAC, flip-flop back to the previous MAC, removed) and remembers
//! each neighbour's MAC history. Pure: entries and timestamps in, changes out.
//!
//! "Change" means an IP → MAC binding appearing, changing or disappearing. The kernel's
//! REACHABLE ↔ STALE ↔ DELAY churn is not a change unless
//! [`EngineConfig::count_state_changes`] is set.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::model::{binding, Key, Neighbour, NudState};

/// Kind of a change (the `kind` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A neighbour never seen before (arpwatch "new station").
    New,
    /// A known neighbour with a MAC other than its last one and other than the one
    /// before that (arpwatch "changed ethernet address").
    ChangedMac,
    /// A neighbour going back to the MAC it had before its last one (arpwatch "flip flop").
    FlipFlop,
    /// An entry disappearing (deleted, garbage-collected, or gone FAILED/INCOMPLETE).
    Removed,
    /// A known neighbour reappearing with the same MAC it had when it went away.
    Returned,
    /// NUD state changed with the same MAC (only with `count_state_changes`).
    StateChanged,
}

impl ChangeKind {
    /// All kinds, in label order.
    pub const ALL: [ChangeKind; 6] = [
        ChangeKind::New,
        ChangeKind::ChangedMac,
        ChangeKind::FlipFlop,
        ChangeKind::Removed,
        ChangeKind::Returned,
        ChangeKind::StateChanged,
    ];

    /// The `kind` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::ChangedMac => "changed_mac",
            ChangeKind::FlipFlop => "flip_flop",
            ChangeKind::Removed => "removed",
            ChangeKind::Returned => "returned",
            ChangeKind::StateChanged => "state_changed",
        }
    }
}

/// One detected change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// Which entry.
    pub key: Key,
    /// MAC before (if bound).
    pub old_mac: Option<String>,
    /// MAC after (if bound).
    pub new_mac: Option<String>,
}

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Maximum number of entries tracked (and exported as info series); further entries
    /// are counted as dropped.
    pub max_entries: usize,
    /// Maximum number of neighbours whose MAC history is remembered (least recently
    /// seen forgotten first).
    pub max_history: usize,
    /// Count NUD state changes (same MAC) as changes of kind `state_changed`.
    pub count_state_changes: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_entries: 2000,
            max_history: 10_000,
            count_state_changes: false,
        }
    }
}

/// How many MACs are remembered per neighbour.
const MACS_PER_NEIGHBOUR: usize = 4;

/// A tracked entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Link-layer address, if any.
    pub mac: Option<String>,
    /// NUD state.
    pub state: NudState,
}

/// What is remembered about a neighbour across its disappearances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// MACs seen, oldest first, the current / last one at the end (at most 4).
    pub macs: Vec<String>,
    /// When it was last seen bound (seconds since the epoch).
    pub last_seen: f64,
}

/// Persistent part of the engine (what the state file holds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Bound entries at save time.
    pub entries: Vec<(Key, Entry)>,
    /// MAC history per neighbour.
    pub history: Vec<(Key, History)>,
    /// Last change time per kind.
    pub last_change: BTreeMap<ChangeKind, f64>,
}

/// The neighbour table and its change bookkeeping.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    table: BTreeMap<Key, Entry>,
    overflow: HashMap<Key, NudState>,
    history: HashMap<Key, History>,
    changes: BTreeMap<ChangeKind, u64>,
    last_change: BTreeMap<ChangeKind, f64>,
    dropped: u64,
    last_sync: Option<f64>,
}

impl Engine {
    /// An empty engine.
    pub fn new(cfg: EngineConfig) -> Engine {
        Engine {
            cfg,
            table: BTreeMap::new(),
            overflow: HashMap::new(),
            history: HashMap::new(),
            changes: BTreeMap::new(),
            last_change: BTreeMap::new(),
            dropped: 0,
            last_sync: None,
        }
    }

    /// An engine resuming from a saved snapshot: its entries are taken as the current
    /// table, so the first sync reports only what changed while we were away.
    pub fn restore(cfg: EngineConfig, snap: Snapshot) -> Engine {
        let mut e = Engine::new(cfg);
        for (k, v) in snap.entries {
            if e.table.len() < e.cfg.max_entries && binding(v.mac.as_deref(), v.state).is_some() {
                e.table.insert(k, v);
            }
        }
        e.history = snap.history.into_iter().collect();
        e.trim_history();
        e.last_change = snap.last_change;
        e
    }

    /// The persistent part (bound entries, history, last change times).
    pub fn snapshot(&self) -> Snapshot {
        let mut history: Vec<(Key, History)> = self
            .history
            .iter()
            .map(|(k, h)| (k.clone(), h.clone()))
            .collect();
        history.sort_by(|a, b| a.0.cmp(&b.0));
        Snapshot {
            entries: self
                .table
                .iter()
                .filter(|(_, v)| binding(v.mac.as_deref(), v.state).is_some())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            history,
            last_change: self.last_change.clone(),
        }
    }

    /// Tracked entries, sorted by device then IP.
    pub fn entries(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.table.iter()
    }

    /// Entry counts per (device, state), tracked and dropped ones together.
    pub fn counts(&self) -> BTreeMap<(String, NudState), u64> {
        let mut m = BTreeMap::new();
        for (k, v) in &self.table {
            *m.entry((k.device.clone(), v.state)).or_insert(0) += 1;
        }
        for (k, s) in &self.overflow {
            *m.entry((k.device.clone(), *s)).or_insert(0) += 1;
        }
        m
    }

    /// Changes counted so far, per kind.
    pub fn change_count(&self, kind: ChangeKind) -> u64 {
        self.changes.get(&kind).copied().unwrap_or(0)
    }

    /// Time of the last change of a kind (seconds since the epoch).
    pub fn last_change(&self, kind: ChangeKind) -> Option<f64> {
        self.last_change.get(&kind).copied()
    }

    /// Entries not tracked because of `max_entries`, counted once per entry appearance.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Number of entries currently left out because of `max_entries`.
    pub fn overflowing(&self) -> usize {
        self.overflow.len()
    }

    /// Time of the last full sync.
    pub fn last_sync(&self) -> Option<f64> {
        self.last_sync
    }

    /// The engine settings.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Applies a full dump of the (already filtered) table: entries missing from it are
    /// removed, the others upserted.
    pub fn sync(&mut self, dump: Vec<Neighbour>, now: f64) -> Vec<Change> {
        let keys: HashSet<&Key> = dump.iter().map(|n| &n.key).collect();
        let gone: Vec<Key> = self
            .table
            .keys()
            .filter(|k| !keys.contains(k))
            .cloned()
            .collect();
        self.overflow.retain(|k, _| keys.contains(k));
        let mut out = Vec::new();
        for k in gone {
            out.extend(self.remove(&k, now));
        }
        let mut dump = dump;
        dump.sort_by(|a, b| a.key.cmp(&b.key));
        for n in dump {
            out.extend(self.upsert(n, now));
        }
        self.last_sync = Some(now);
        out
    }

    /// Applies an RTM_NEWNEIGH (entry added or updated).
    pub fn upsert(&mut self, n: Neighbour, now: f64) -> Vec<Change> {
        if !self.table.contains_key(&n.key) && self.table.len() >= self.cfg.max_entries {
            if self.overflow.insert(n.key, n.state).is_none() {
                self.dropped += 1;
            }
            return Vec::new();
        }
        self.overflow.remove(&n.key);
        let new = Entry {
            mac: n.mac,
            state: n.state,
        };
        let old = self.table.insert(n.key.clone(), new.clone());
        let old_bind = old
            .as_ref()
            .and_then(|o| binding(o.mac.as_deref(), o.state))
            .map(str::to_string);
        let new_bind = binding(new.mac.as_deref(), new.state).map(str::to_string);
        let kind = match (&old_bind, &new_bind) {
            (None, None) => None,
            (Some(_), None) => Some(ChangeKind::Removed),
            (None, Some(m)) => Some(self.classify_appearance(&n.key, m)),
            (Some(a), Some(b)) if a != b => Some(self.classify_mac_change(&n.key, b)),
            (Some(_), Some(_)) => match old {
                Some(o) if o.state != new.state && self.cfg.count_state_changes => {
                    Some(ChangeKind::StateChanged)
                }
                _ => None,
            },
        };
        if let Some(m) = &new_bind {
            self.remember(&n.key, m, now);
        }
        match kind {
            Some(kind) => vec![self.count(kind, n.key, old_bind, new_bind, now)],
            None => Vec::new(),
        }
    }

    /// Forgets tracked entries for which `keep` is false without counting them as
    /// removed (the filter changed: they did not disappear from the network).
    pub fn retain(&mut self, mut keep: impl FnMut(&Key, &Entry) -> bool) {
        self.table.retain(|k, e| keep(k, e));
        self.overflow.retain(|k, s| {
            keep(
                k,
                &Entry {
                    mac: None,
                    state: *s,
                },
            )
        });
    }

    /// Applies an RTM_DELNEIGH.
    pub fn remove(&mut self, key: &Key, now: f64) -> Vec<Change> {
        self.overflow.remove(key);
        match self.table.remove(key) {
            Some(old) => match binding(old.mac.as_deref(), old.state) {
                Some(m) => {
                    let m = m.to_string();
                    vec![self.count(ChangeKind::Removed, key.clone(), Some(m), None, now)]
                }
                None => Vec::new(),
            },
            None => Vec::new(),
        }
    }

    fn classify_appearance(&self, key: &Key, mac: &str) -> ChangeKind {
        match self.history.get(key).and_then(|h| h.macs.last()) {
            None => ChangeKind::New,
            Some(last) if last == mac => ChangeKind::Returned,
            Some(_) => self.classify_mac_change(key, mac),
        }
    }

    fn classify_mac_change(&self, key: &Key, mac: &str) -> ChangeKind {
        let previous = self
            .history
            .get(key)
            .and_then(|h| h.macs.len().checked_sub(2).and_then(|i| h.macs.get(i)));
        if previous.is_some_and(|p| p == mac) {
            ChangeKind::FlipFlop
        } else {
            ChangeKind::ChangedMac
        }
    }

    fn remember(&mut self, key: &Key, mac: &str, now: f64) {
        let h = self.history.entry(key.clone()).or_insert_with(|| History {
            macs: Vec::new(),
            last_seen: now,
        });
        h.last_seen = now;
        if h.macs.last().map(String::as_str) != Some(mac) {
            h.macs.retain(|m| m != mac);
            h.macs.push(mac.to_string());
            if h.macs.len() > MACS_PER_NEIGHBOUR {
                h.macs.remove(0);
            }
        }
        if self.history.len() > self.cfg.max_history {
            self.trim_history();
        }
    }

    /// Forgets the least recently seen neighbours beyond `max_history` (never ones in
    /// the table).
    fn trim_history(&mut self) {
        if self.history.len() <= self.cfg.max_history {
            return;
        }
        let mut old: Vec<(f64, Key)> = self
            .history
            .iter()
            .filter(|(k, _)| !self.table.contains_key(k))
            .map(|(k, h)| (h.last_seen, k.clone()))
            .collect();
        old.sort_by(|a, b| a.0.total_cmp(&b.0));
        let excess = self.history.len() - self.cfg.max_history;
        for (_, k) in old.into_iter().take(excess) {
            self.history.remove(&k);
        }
    }

    fn count(
        &mut self,
        kind: ChangeKind,
        key: Key,
        old_mac: Option<String>,
        new_mac: Option<String>,
        now: f64,
    ) -> Change {
        *self.changes.entry(kind).or_insert(0) += 1;
        self.last_change.insert(kind, now);
        Change {
            kind,
            key,
            old_mac,
            new_mac,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(dev: &str, ip: &str, mac: Option<&str>, state: NudState) -> Neighbour {
        Neighbour {
            key: Key {
                device: dev.into(),
                ip: ip.parse().expect("test ip"),
            },
            mac: mac.map(str::to_string),
            state,
        }
    }
    const A: &str = "02:00:00:00:00:0a";
    const B: &str = "02:00:00:00:00:0b";
    const C: &str = "02:00:00:00:00:0c";
    use NudState::{Delay, Failed, Incomplete, Reachable, Stale};

    fn kinds(c: &[Change]) -> Vec<ChangeKind> {
        c.iter().map(|c| c.kind).collect()
    }

    #[test]
    fn arpwatch_classification() {
        let mut e = Engine::new(EngineConfig::default());
        assert_eq!(
            kinds(&e.upsert(n("eth0", "10.0.0.2", Some(A), Reachable), 1.0)),
            [ChangeKind::New]
        );
        // state churn is not a change
        assert!(e
            .upsert(n("eth0", "10.0.0.2", Some(A), Stale), 2.0)
            .is_empty());
        assert!(e
            .upsert(n("eth0", "10.0.0.2", Some(A), Delay), 3.0)
            .is_empty());
        let c = e.upsert(n("eth0", "10.0.0.2", Some(B), Reachable), 4.0);
        assert_eq!(kinds(&c), [ChangeKind::ChangedMac]);
        assert_eq!(c[0].old_mac.as_deref(), Some(A));
        assert_eq!(c[0].new_mac.as_deref(), Some(B));
        assert_eq!(
            kinds(&e.upsert(n("eth0", "10.0.0.2", Some(A), Reachable), 5.0)),
            [ChangeKind::FlipFlop]
        );
        assert_eq!(
            kinds(&e.upsert(n("eth0", "10.0.0.2", Some(C), Reachable), 6.0)),
            [ChangeKind::ChangedMac]
        );
        // `ip neigh del`: NEW Failed then DEL → one removal
        assert_eq!(
            kinds(&e.upsert(n("eth0", "10.0.0.2", None, Failed), 7.0)),
            [ChangeKind::Removed]
        );
        let key = n("eth0", "10.0.0.2", None, Failed).key;
        assert!(e.remove(&key, 8.0).is_empty());
        // comes back with the same MAC
        assert_eq!(
            kinds(&e.upsert(n("eth0", "10.0.0.2", Some(C), Reachable), 9.0)),
            [ChangeKind::Returned]
        );
        assert_eq!(kinds(&e.remove(&key, 10.0)), [ChangeKind::Removed]);
        assert_eq!(e.change_count(ChangeKind::New), 1);
        assert_eq!(e.change_count(ChangeKind::ChangedMac), 2);
        assert_eq!(e.change_count(ChangeKind::FlipFlop), 1);
        assert_eq!(e.change_count(ChangeKind::Removed), 2);
        assert_eq!(e.last_change(ChangeKind::Removed), Some(10.0));
        assert_eq!(e.last_change(ChangeKind::New), Some(1.0));
        assert_eq!(e.last_change(ChangeKind::StateChanged), None);
    }

    #[test]
    fn state_changes_counted_when_asked() {
        let mut e = Engine::new(EngineConfig {
            count_state_changes: true,
            ..EngineConfig::default()
        });
        e.upsert(n("eth0", "fe80::1", Some(A), Reachable), 1.0);
        assert_eq!(
            kinds(&e.upsert(n("eth0", "fe80::1", Some(A), Stale), 2.0)),
            [ChangeKind::StateChanged]
        );
        assert!(e
            .upsert(n("eth0", "fe80::1", Some(A), Stale), 3.0)
            .is_empty());
    }

    #[test]
    fn incomplete_entries_are_tracked_but_not_changes() {
        let mut e = Engine::new(EngineConfig::default());
        assert!(e
            .upsert(n("eth0", "10.0.0.9", None, Incomplete), 1.0)
            .is_empty());
        assert_eq!(e.entries().count(), 1);
        assert!(e
            .upsert(n("eth0", "10.0.0.9", None, Failed), 2.0)
            .is_empty());
        assert_eq!(
            kinds(&e.upsert(n("eth0", "10.0.0.9", Some(A), Reachable), 3.0)),
            [ChangeKind::New]
        );
    }

    #[test]
    fn sync_removes_missing_and_adds_new() {
        let mut e = Engine::new(EngineConfig::default());
        let c = e.sync(
            vec![
                n("eth0", "10.0.0.2", Some(A), Reachable),
                n("eth1", "10.0.1.2", Some(B), Stale),
            ],
            1.0,
        );
        assert_eq!(kinds(&c), [ChangeKind::New, ChangeKind::New]);
        let c = e.sync(vec![n("eth1", "10.0.1.2", Some(B), Reachable)], 2.0);
        assert_eq!(kinds(&c), [ChangeKind::Removed]);
        assert_eq!(c[0].key.ip.to_string(), "10.0.0.2");
        assert_eq!(e.last_sync(), Some(2.0));
        let counts = e.counts();
        assert_eq!(counts.get(&("eth1".to_string(), Reachable)), Some(&1));
        assert_eq!(counts.len(), 1);
    }

    #[test]
    fn max_entries_bounds_the_table_and_counts_drops_once() {
        let mut e = Engine::new(EngineConfig {
            max_entries: 2,
            ..EngineConfig::default()
        });
        let dump = vec![
            n("eth0", "10.0.0.1", Some(A), Reachable),
            n("eth0", "10.0.0.2", Some(B), Reachable),
            n("eth0", "10.0.0.3", Some(C), Reachable),
        ];
        e.sync(dump.clone(), 1.0);
        assert_eq!(e.entries().count(), 2);
        assert_eq!(e.dropped(), 1);
        assert_eq!(e.overflowing(), 1);
        e.sync(dump, 2.0);
        assert_eq!(e.dropped(), 1, "same entry is not dropped twice");
        assert_eq!(
            e.counts().values().sum::<u64>(),
            3,
            "counts include dropped entries"
        );
        // room again: the overflowing entry gets tracked at the next sync
        e.sync(
            vec![
                n("eth0", "10.0.0.1", Some(A), Reachable),
                n("eth0", "10.0.0.3", Some(C), Reachable),
            ],
            3.0,
        );
        assert_eq!(e.entries().count(), 2);
        assert_eq!(e.overflowing(), 0);
    }

    #[test]
    fn restore_does_not_report_known_neighbours() {
        let mut e = Engine::new(EngineConfig::default());
        e.sync(
            vec![
                n("eth0", "10.0.0.2", Some(A), Reachable),
                n("eth0", "10.0.0.3", Some(B), Reachable),
            ],
            1.0,
        );
        e.upsert(n("eth0", "10.0.0.3", Some(C), Reachable), 2.0);
        let snap = e.snapshot();
        let json = serde_json::to_string(&snap).expect("serialise");
        let back: Snapshot = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, snap);
        let mut r = Engine::restore(EngineConfig::default(), back);
        let c = r.sync(
            vec![
                n("eth0", "10.0.0.2", Some(A), Stale),
                n("eth0", "10.0.0.3", Some(B), Reachable),
            ],
            3.0,
        );
        // .2 unchanged; .3 went back to B (flip-flop), nothing "new"
        assert_eq!(kinds(&c), [ChangeKind::FlipFlop]);
        assert_eq!(r.last_change(ChangeKind::New), Some(1.0));
    }

    #[test]
    fn retain_forgets_without_counting() {
        let mut e = Engine::new(EngineConfig::default());
        e.upsert(n("eth0", "10.0.0.2", Some(A), Reachable), 1.0);
        e.upsert(n("eth1", "10.0.1.2", Some(B), Reachable), 1.0);
        e.retain(|k, _| k.device == "eth1");
        assert_eq!(e.entries().count(), 1);
        assert_eq!(e.change_count(ChangeKind::Removed), 0);
        // history kept: coming back in scope is a return, not a new station
        assert_eq!(
            kinds(&e.upsert(n("eth0", "10.0.0.2", Some(A), Reachable), 2.0)),
            [ChangeKind::Returned]
        );
    }

    #[test]
    fn history_is_bounded() {
        let mut e = Engine::new(EngineConfig {
            max_history: 3,
            ..EngineConfig::default()
        });
        for i in 1..=5u8 {
            let ip = format!("10.0.0.{i}");
            e.upsert(n("eth0", &ip, Some(A), Reachable), f64::from(i));
            e.remove(&n("eth0", &ip, None, Failed).key, f64::from(i));
        }
        assert!(e.snapshot().history.len() <= 3);
        // the most recent ones are kept
        assert_eq!(
            kinds(&e.upsert(n("eth0", "10.0.0.5", Some(A), Reachable), 9.0)),
            [ChangeKind::Returned]
        );
        assert_eq!(
            kinds(&e.upsert(n("eth0", "10.0.0.1", Some(A), Reachable), 9.0)),
            [ChangeKind::New]
        );
    }
}
