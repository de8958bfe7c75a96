//! Per-target statistics: counters, RTT histogram, a sliding window of the last N
//! probe outcomes (loss, min/max/jitter), up/down state and time spent down.
//! Pure code: every call takes the current time, so it is tested without a network.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Upper bounds of the RTT histogram buckets, in seconds: 20 doubling buckets from
/// 50 µs to 26.2 s (smokeping_prober's layout, so dashboards carry over).
pub const BUCKETS: [f64; 20] = {
    let mut b = [0.0; 20];
    let mut i = 0;
    let mut v = 0.00005;
    while i < 20 {
        b[i] = v;
        v *= 2.0;
        i += 1;
    }
    b
};

/// Window and state settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Number of probe outcomes kept for loss, min, max and jitter.
    pub window: usize,
    /// Consecutive lost probes after which a target is down.
    pub down_after: u32,
}

/// Up/down state of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No probe has completed yet.
    Unknown,
    /// The last `down_after` probes did not all fail.
    Up,
    /// The last `down_after` probes all failed.
    Down,
}

/// Statistics of one target.
#[derive(Clone, Debug)]
pub struct Stats {
    settings: Settings,
    /// Echo requests handed to the kernel or attempted.
    pub requests: u64,
    /// Echo replies matched to a request.
    pub replies: u64,
    /// Replies to a request that was already answered.
    pub duplicates: u64,
    /// Sends that failed (no route, interface down, …).
    pub send_errors: u64,
    /// ICMP errors (unreachable, time exceeded, …) received for our requests.
    pub receive_errors: u64,
    /// Up/down transitions.
    pub state_changes: u64,
    /// Histogram bucket counts (not cumulative), one per [`BUCKETS`] entry, plus +Inf.
    buckets: [u64; 21],
    /// Sum of all RTTs, seconds.
    pub rtt_sum: f64,
    /// RTT of the last reply, seconds.
    pub last_rtt: Option<f64>,
    /// TTL / hop limit of the last reply.
    pub last_ttl: Option<u8>,
    window: VecDeque<Option<f64>>,
    state: State,
    consecutive_failures: u32,
    first_failure: Option<Instant>,
    down_since: Option<Instant>,
    down_total: Duration,
}

impl Stats {
    /// Fresh statistics.
    pub fn new(settings: Settings) -> Stats {
        Stats {
            settings: Settings {
                window: settings.window.max(1),
                down_after: settings.down_after.max(1),
            },
            requests: 0,
            replies: 0,
            duplicates: 0,
            send_errors: 0,
            receive_errors: 0,
            state_changes: 0,
            buckets: [0; 21],
            rtt_sum: 0.0,
            last_rtt: None,
            last_ttl: None,
            window: VecDeque::new(),
            state: State::Unknown,
            consecutive_failures: 0,
            first_failure: None,
            down_since: None,
            down_total: Duration::ZERO,
        }
    }

    /// A request was sent.
    pub fn on_sent(&mut self) {
        self.requests += 1;
    }

    /// A reply arrived `rtt` after the request. Returns true if the state changed.
    pub fn on_reply(&mut self, rtt: Duration, ttl: Option<u8>, now: Instant) -> bool {
        let secs = rtt.as_secs_f64();
        self.replies += 1;
        self.rtt_sum += secs;
        let idx = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        self.buckets[idx] += 1;
        self.last_rtt = Some(secs);
        if ttl.is_some() {
            self.last_ttl = ttl;
        }
        self.push(Some(secs));
        self.consecutive_failures = 0;
        self.first_failure = None;
        if self.state != State::Up {
            if let Some(since) = self.down_since.take() {
                self.down_total += now.saturating_duration_since(since);
            }
            self.state = State::Up;
            self.state_changes += 1;
            return true;
        }
        false
    }

    /// A probe sent at `sent` was lost (timed out, or could not be sent). Returns true
    /// if the state changed. Time down is counted from the first lost probe's send time.
    pub fn on_lost(&mut self, sent: Instant) -> bool {
        self.push(None);
        self.consecutive_failures += 1;
        let first = *self.first_failure.get_or_insert(sent);
        if self.consecutive_failures >= self.settings.down_after && self.state != State::Down {
            self.state = State::Down;
            self.down_since = Some(first);
            self.state_changes += 1;
            return true;
        }
        false
    }

    /// A send failed: counts the error and the lost probe.
    pub fn on_send_error(&mut self, sent: Instant) -> bool {
        self.send_errors += 1;
        self.on_lost(sent)
    }

    /// A duplicate reply arrived.
    pub fn on_duplicate(&mut self) {
        self.duplicates += 1;
    }

    /// An ICMP error arrived for one of our requests.
    pub fn on_receive_error(&mut self) {
        self.receive_errors += 1;
    }

    fn push(&mut self, outcome: Option<f64>) {
        if self.window.len() == self.settings.window {
            self.window.pop_front();
        }
        self.window.push_back(outcome);
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Total time spent down until `now`, including a running outage.
    pub fn down_seconds(&self, now: Instant) -> f64 {
        let running = self
            .down_since
            .map(|s| now.saturating_duration_since(s))
            .unwrap_or_default();
        (self.down_total + running).as_secs_f64()
    }

    /// Number of outcomes in the window.
    pub fn window_len(&self) -> usize {
        self.window.len()
    }

    /// Share of lost probes in the window (None while it is empty).
    pub fn loss_ratio(&self) -> Option<f64> {
        if self.window.is_empty() {
            return None;
        }
        let lost = self.window.iter().filter(|o| o.is_none()).count();
        Some(lost as f64 / self.window.len() as f64)
    }

    /// Smallest RTT in the window.
    pub fn rtt_min(&self) -> Option<f64> {
        self.window.iter().flatten().copied().reduce(f64::min)
    }

    /// Largest RTT in the window.
    pub fn rtt_max(&self) -> Option<f64> {
        self.window.iter().flatten().copied().reduce(f64::max)
    }

    /// Jitter over the window: mean absolute difference between consecutive RTTs
    /// (lost probes skipped). None with fewer than two replies.
    pub fn jitter(&self) -> Option<f64> {
        let rtts: Vec<f64> = self.window.iter().flatten().copied().collect();
        if rtts.len() < 2 {
            return None;
        }
        let sum: f64 = rtts.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
        Some(sum / (rtts.len() - 1) as f64)
    }

    /// Cumulative histogram buckets `(upper bound, count)`; +Inf is left to the encoder
    /// (it equals [`Stats::replies`]).
    pub fn cumulative_buckets(&self) -> Vec<(f64, u64)> {
        let mut acc = 0;
        BUCKETS
            .iter()
            .zip(self.buckets.iter())
            .map(|(&b, &c)| {
                acc += c;
                (b, acc)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Settings = Settings {
        window: 10,
        down_after: 3,
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn buckets_double_from_50us() {
        assert_eq!(BUCKETS[0], 0.00005);
        assert_eq!(BUCKETS[1], 0.0001);
        assert!((BUCKETS[19] - 26.2144).abs() < 1e-9);
    }

    #[test]
    fn replies_fill_histogram_and_window() {
        let t0 = Instant::now();
        let mut s = Stats::new(S);
        for (i, r) in [10u64, 20, 10, 30].iter().enumerate() {
            s.on_sent();
            s.on_reply(ms(*r), Some(63), t0 + Duration::from_secs(i as u64));
        }
        assert_eq!((s.requests, s.replies), (4, 4));
        assert_eq!(s.state(), State::Up);
        assert_eq!(s.state_changes, 1);
        assert_eq!(s.last_rtt, Some(0.030));
        assert_eq!(s.last_ttl, Some(63));
        assert_eq!(s.rtt_min(), Some(0.010));
        assert_eq!(s.rtt_max(), Some(0.030));
        // |20-10| + |10-20| + |30-10| = 40 ms over 3 pairs.
        let j = s.jitter().unwrap_or_default();
        assert!((j - 0.040 / 3.0).abs() < 1e-12, "{j}");
        assert_eq!(s.loss_ratio(), Some(0.0));
        assert!((s.rtt_sum - 0.070).abs() < 1e-12);
        let b = s.cumulative_buckets();
        // 0.0128 < 10 ms, 20 ms <= 0.0256, 30 ms <= 0.0512.
        let at = |le: f64| b.iter().find(|(x, _)| (*x - le).abs() < 1e-12).map(|x| x.1);
        assert_eq!(at(0.0128), Some(2));
        assert_eq!(at(0.0256), Some(3));
        assert_eq!(at(0.0512), Some(4));
        assert_eq!(b.last().map(|x| x.1), Some(4));
    }

    #[test]
    fn down_after_n_losses_and_down_time_counts_from_first_loss() {
        let t0 = Instant::now();
        let mut s = Stats::new(S);
        assert!(s.on_reply(ms(1), None, t0));
        assert!(!s.on_lost(t0 + Duration::from_secs(1)));
        assert!(!s.on_lost(t0 + Duration::from_secs(2)));
        assert_eq!(s.state(), State::Up);
        assert_eq!(s.down_seconds(t0 + Duration::from_secs(3)), 0.0);
        assert!(s.on_lost(t0 + Duration::from_secs(3)));
        assert_eq!(s.state(), State::Down);
        // Down since the first lost probe (t0+1 s).
        assert_eq!(s.down_seconds(t0 + Duration::from_secs(4)), 3.0);
        assert!(!s.on_lost(t0 + Duration::from_secs(4)));
        assert!(s.on_reply(ms(1), None, t0 + Duration::from_secs(6)));
        assert_eq!(s.state(), State::Up);
        assert_eq!(s.down_seconds(t0 + Duration::from_secs(100)), 5.0);
        assert_eq!(s.state_changes, 3);
        // Window: 1 reply, 4 losses, 1 reply.
        assert_eq!(s.window_len(), 6);
        assert!((s.loss_ratio().unwrap_or_default() - 4.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn short_blip_is_lost_but_not_down() {
        let t0 = Instant::now();
        let mut s = Stats::new(S);
        s.on_reply(ms(1), None, t0);
        s.on_lost(t0);
        s.on_send_error(t0);
        s.on_reply(ms(1), None, t0);
        assert_eq!(s.state(), State::Up);
        assert_eq!(s.send_errors, 1);
        assert_eq!(s.down_seconds(t0 + Duration::from_secs(9)), 0.0);
        assert_eq!(s.loss_ratio(), Some(0.5));
    }

    #[test]
    fn window_slides_and_empty_window_has_no_values() {
        let t0 = Instant::now();
        let mut s = Stats::new(Settings {
            window: 3,
            down_after: 1,
        });
        assert_eq!(s.loss_ratio(), None);
        assert_eq!(s.rtt_min(), None);
        assert_eq!(s.jitter(), None);
        assert_eq!(s.state(), State::Unknown);
        s.on_lost(t0);
        assert_eq!(s.state(), State::Down);
        s.on_reply(ms(5), None, t0);
        s.on_reply(ms(7), None, t0);
        assert_eq!(s.loss_ratio().map(|l| (l * 3.0).round()), Some(1.0));
        s.on_reply(ms(9), None, t0);
        assert_eq!(s.loss_ratio(), Some(0.0));
        assert_eq!(s.window_len(), 3);
        assert_eq!(s.rtt_min(), Some(0.005));
        s.on_duplicate();
        assert_eq!(s.duplicates, 1);
    }

    #[test]
    fn huge_rtt_goes_to_inf_bucket_only() {
        let mut s = Stats::new(S);
        s.on_reply(Duration::from_secs(60), None, Instant::now());
        assert_eq!(s.cumulative_buckets().last().map(|x| x.1), Some(0));
        assert_eq!(s.replies, 1);
    }
}
