//! Metric exposition: one sample model, two wire formats.
//!
//! Collectors fill a [`MetricSet`]; the HTTP layer and the push loop encode it as
//! Prometheus text 0.0.4 ([`encode_text`]) or OpenMetrics 1.0 ([`encode_openmetrics`]),
//! chosen by [`Format::negotiate`] from the scraper's `Accept` header.
//!
//! Guarantees, whichever format is written:
//! - a family appears once (samples added under the same name are merged, the first
//!   HELP/TYPE wins);
//! - no duplicate series: a sample whose name suffix and label set were already added to
//!   its family is dropped and counted in [`MetricSet::duplicates_dropped`];
//! - label values are escaped (`\`, `"`, newline), the body ends with a newline
//!   (text) or `# EOF` (OpenMetrics).
//!
//! Integer values ([`Value::U64`], [`Value::I64`]) are written exactly, so a Counter64
//! above 2^53 read from a switch is exposed without float rounding. (Prometheus itself
//! stores float64, so such a value is rounded at ingestion; rates stay correct.)
//!
//! OpenMetrics specifics: counters keep their exposition name. A counter named
//! `*_total` gets family `*` and samples `*_total` (plus `*_created` when known); a
//! counter whose name does not end in `_total` (snmp_exporter's `ifHCInOctets`) is
//! written with `# TYPE … unknown`, so Prometheus stores the same series name in both
//! formats and dashboards keep working. Info families named `*_info` are written as
//! OpenMetrics `info`. The OpenMetrics output always passes a strict parser: families
//! that cannot be written with their type (name clashes once `_total` is dropped, broken
//! histogram/summary structure, negative counters) lose only the type, never a series —
//! see [`encode_openmetrics`].

pub mod parse;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::LazyLock;

/// Hasher for series and family names: foldhash, seeded randomly once per process.
/// Label values can come from outside (a script's output, a switch's ifAlias), so the
/// hash is keyed; it is one process-wide seed because series hashes are compared
/// across families when sets are merged.
static SEED: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

/// Build hasher of the name index: the process-wide keyed foldhash.
#[derive(Clone, Copy, Debug, Default)]
struct NameHash;

impl BuildHasher for NameHash {
    type Hasher = foldhash::fast::FoldHasher<'static>;
    fn build_hasher(&self) -> Self::Hasher {
        SEED.build_hasher()
    }
}

/// Build hasher of sets of series hashes: the keys are already keyed foldhash
/// outputs, so the unseeded variant (no seed lookup) mixes them enough.
type SeriesSet = HashSet<u64, foldhash::fast::FixedState>;

/// The type of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// Monotonic counter.
    Counter,
    /// Gauge.
    Gauge,
    /// Histogram (`_bucket{le}`, `_sum`, `_count`).
    Histogram,
    /// Summary (`{quantile}`, `_sum`, `_count`).
    Summary,
    /// Info: a gauge of value 1 whose labels carry the information; name ends in `_info`.
    Info,
    /// Untyped (`unknown` in OpenMetrics).
    Untyped,
}

impl MetricType {
    /// The keyword used on a text 0.0.4 `# TYPE` line.
    pub fn text_name(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge | MetricType::Info => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
        }
    }

    /// Parses a text 0.0.4 / OpenMetrics type keyword.
    pub fn from_keyword(s: &str) -> Option<MetricType> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" | "unknown" => MetricType::Untyped,
            "info" => MetricType::Info,
            _ => return None,
        })
    }
}

/// A sample value. Integers are kept exact for encoding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// Floating point value.
    F64(f64),
    /// Unsigned integer (counters, Counter64).
    U64(u64),
    /// Signed integer.
    I64(i64),
}

impl Value {
    /// The value as f64 (may round integers above 2^53).
    pub fn as_f64(self) -> f64 {
        match self {
            Value::F64(v) => v,
            Value::U64(v) => v as f64,
            Value::I64(v) => v as f64,
        }
    }

    /// Appends the Prometheus text representation of this value.
    pub fn write_to(self, out: &mut String) {
        match self {
            Value::U64(v) => out.push_str(itoa::Buffer::new().format(v)),
            Value::I64(v) => out.push_str(itoa::Buffer::new().format(v)),
            Value::F64(v) => write_f64(v, out),
        }
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::F64(v)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::U64(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::U64(v as u64)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::I64(v as i64)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::U64(v as u64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::U64(v as u64)
    }
}

/// Writes a float the way Prometheus parses it: `NaN`, `+Inf`, `-Inf`, integral values
/// below 1e15 without a fraction, everything else shortest round-trip.
pub fn write_f64(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == v.trunc() && v.abs() < 1e15 {
        if v == 0.0 && v.is_sign_negative() {
            out.push('-');
        }
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        out.push_str(ryu::Buffer::new().format_finite(v));
    }
}

/// A label pair. Names are usually static; values are owned.
pub type Label = (Cow<'static, str>, String);

/// One sample of a family.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Suffix appended to the family name: `""`, `"_bucket"`, `"_sum"`, `"_count"`.
    pub suffix: &'static str,
    /// Label pairs in exposition order.
    pub labels: Vec<Label>,
    /// The value.
    pub value: Value,
    /// Optional timestamp in milliseconds since the epoch (never sent to a Pushgateway).
    pub timestamp_ms: Option<i64>,
    /// Optional creation time in seconds since the epoch (counters, histograms):
    /// written as `_created` in OpenMetrics only.
    pub created: Option<f64>,
}

/// A metric family: name, help, type and its samples.
#[derive(Clone, Debug)]
pub struct Family {
    /// Exposition name as written in text 0.0.4 (counters usually end in `_total`).
    pub name: String,
    /// HELP text (escaped on output).
    pub help: String,
    /// Metric type.
    pub kind: MetricType,
    /// Optional OpenMetrics unit (e.g. `seconds`); written only when the name ends with it.
    pub unit: Option<&'static str>,
    /// Samples in insertion order.
    pub samples: Vec<Sample>,
    /// Hashes of the samples' series once there are two or more (a family of one
    /// sample, most of them, needs no set).
    seen: SeriesSet,
    dropped: u64,
}

/// Families are equal when everything but the internal series index is.
impl PartialEq for Family {
    fn eq(&self, other: &Family) -> bool {
        self.name == other.name
            && self.help == other.help
            && self.kind == other.kind
            && self.unit == other.unit
            && self.samples == other.samples
            && self.dropped == other.dropped
    }
}

impl Family {
    /// A new, empty family.
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: MetricType) -> Family {
        Family {
            name: name.into(),
            help: help.into(),
            kind,
            unit: None,
            samples: Vec::new(),
            seen: Default::default(),
            dropped: 0,
        }
    }

    /// Adds a sample with static label names and borrowed values. Returns false (and
    /// drops it) if the same series was already present.
    pub fn add(&mut self, labels: &[(&'static str, &str)], value: impl Into<Value>) -> bool {
        let labels = labels
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), (*v).to_string()))
            .collect();
        self.push(Sample {
            suffix: "",
            labels,
            value: value.into(),
            timestamp_ms: None,
            created: None,
        })
    }

    /// Adds a sample with owned labels.
    pub fn add_owned(&mut self, labels: Vec<Label>, value: impl Into<Value>) -> bool {
        self.push(Sample {
            suffix: "",
            labels,
            value: value.into(),
            timestamp_ms: None,
            created: None,
        })
    }

    /// Adds a histogram series: `buckets` are (upper bound, cumulative count) in
    /// ascending order; a `+Inf` bucket equal to `count` is appended if missing.
    pub fn add_histogram(
        &mut self,
        labels: &[(&'static str, &str)],
        buckets: &[(f64, u64)],
        sum: f64,
        count: u64,
    ) -> bool {
        let base: Vec<Label> = labels
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), (*v).to_string()))
            .collect();
        let mut ok = true;
        let mut has_inf = false;
        for &(le, c) in buckets {
            has_inf |= le.is_infinite();
            let mut l = base.clone();
            let mut s = String::new();
            write_f64(le, &mut s);
            l.push((Cow::Borrowed("le"), s));
            ok &= self.push(Sample {
                suffix: "_bucket",
                labels: l,
                value: Value::U64(c),
                timestamp_ms: None,
                created: None,
            });
        }
        if !has_inf {
            let mut l = base.clone();
            l.push((Cow::Borrowed("le"), "+Inf".to_string()));
            ok &= self.push(Sample {
                suffix: "_bucket",
                labels: l,
                value: Value::U64(count),
                timestamp_ms: None,
                created: None,
            });
        }
        ok &= self.push(Sample {
            suffix: "_sum",
            labels: base.clone(),
            value: Value::F64(sum),
            timestamp_ms: None,
            created: None,
        });
        ok &= self.push(Sample {
            suffix: "_count",
            labels: base,
            value: Value::U64(count),
            timestamp_ms: None,
            created: None,
        });
        ok
    }

    /// Adds a fully built sample, enforcing series uniqueness within the family.
    pub fn push(&mut self, sample: Sample) -> bool {
        if self.samples.is_empty() {
            self.samples.push(sample);
            return true;
        }
        if self.seen.is_empty() {
            // The second sample: index the first one now.
            let first = &self.samples[0];
            self.seen.insert(series_hash(first.suffix, &first.labels));
        }
        let h = series_hash(sample.suffix, &sample.labels);
        if !self.seen.insert(h) {
            // Hash seen: compare for real (collisions are possible, if rare).
            let dup = self
                .samples
                .iter()
                .any(|s| s.suffix == sample.suffix && same_labels(&s.labels, &sample.labels));
            if dup {
                self.dropped += 1;
                return false;
            }
        }
        self.samples.push(sample);
        true
    }

    /// Sets the OpenMetrics unit.
    pub fn with_unit(mut self, unit: &'static str) -> Family {
        self.unit = Some(unit);
        self
    }
}

fn same_labels(a: &[Label], b: &[Label]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut a: Vec<(&str, &str)> = a.iter().map(|(k, v)| (k.as_ref(), v.as_str())).collect();
    let mut b: Vec<(&str, &str)> = b.iter().map(|(k, v)| (k.as_ref(), v.as_str())).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

fn series_hash(suffix: &str, labels: &[Label]) -> u64 {
    let mut h = SEED.build_hasher();
    suffix.hash(&mut h);
    labels.len().hash(&mut h);
    labels_hash(labels.iter()).hash(&mut h);
    h.finish()
}

/// Order-independent hash of a label set: the same set in another order hashes equal.
fn labels_hash<'a>(labels: impl Iterator<Item = &'a Label>) -> u64 {
    let mut acc: u64 = 0;
    for (k, v) in labels {
        let mut h = SEED.build_hasher();
        k.as_ref().hash(&mut h);
        v.hash(&mut h);
        acc = acc.wrapping_add(h.finish());
    }
    acc
}

/// A set of metric families, ready to encode.
#[derive(Clone, Debug, Default)]
pub struct MetricSet {
    families: Vec<Family>,
    index: HashMap<String, usize, NameHash>,
    dropped: u64,
}

impl MetricSet {
    /// An empty set.
    pub fn new() -> MetricSet {
        MetricSet::default()
    }

    /// An empty set with room for `families` families (a scrape that knows roughly
    /// how many it writes saves the growth of the family list and name index).
    pub fn with_capacity(families: usize) -> MetricSet {
        MetricSet {
            families: Vec::with_capacity(families),
            index: HashMap::with_capacity_and_hasher(families, NameHash),
            dropped: 0,
        }
    }

    /// Returns the family `name`, creating it with `help` and `kind` if it is new.
    /// If the family exists with another type, a separate family is *not* created:
    /// the existing one is returned (first definition wins).
    pub fn family(&mut self, name: &str, help: &str, kind: MetricType) -> &mut Family {
        let idx = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.families.push(Family::new(name, help, kind));
                let i = self.families.len() - 1;
                self.index.insert(name.to_string(), i);
                i
            }
        };
        &mut self.families[idx]
    }

    /// Shorthand: a gauge sample.
    pub fn gauge(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&'static str, &str)],
        v: impl Into<Value>,
    ) {
        self.family(name, help, MetricType::Gauge).add(labels, v);
    }

    /// Shorthand: a counter sample (`name` should end in `_total` for new metrics).
    pub fn counter(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&'static str, &str)],
        v: impl Into<Value>,
    ) {
        self.family(name, help, MetricType::Counter).add(labels, v);
    }

    /// Shorthand: an info sample (value 1); `name` should end in `_info`.
    pub fn info(&mut self, name: &str, help: &str, labels: &[(&'static str, &str)]) {
        self.family(name, help, MetricType::Info).add(labels, 1u64);
    }

    /// Adds a whole family; its samples are merged into an existing family of that name
    /// (duplicates dropped and counted).
    pub fn push_family(&mut self, fam: Family) {
        match self.index.get(&fam.name) {
            Some(&i) => {
                let target = &mut self.families[i];
                target.dropped += fam.dropped;
                for s in fam.samples {
                    target.push(s);
                }
            }
            None => {
                self.index.insert(fam.name.clone(), self.families.len());
                self.families.push(fam);
            }
        }
    }

    /// Merges another set into this one.
    pub fn merge(&mut self, other: MetricSet) {
        self.dropped += other.dropped;
        for f in other.families {
            self.push_family(f);
        }
    }

    /// Whether a family of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Looks a family up by name.
    pub fn get(&self, name: &str) -> Option<&Family> {
        self.index.get(name).map(|&i| &self.families[i])
    }

    /// The families in insertion order.
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// Removes empty families (a family with no samples is still written with
    /// HELP/TYPE otherwise, which is legal but noisy).
    pub fn prune_empty(&mut self) {
        if self.families.iter().all(|f| !f.samples.is_empty()) {
            return;
        }
        for f in self.families.iter().filter(|f| f.samples.is_empty()) {
            self.index.remove(&f.name);
        }
        self.families.retain(|f| !f.samples.is_empty());
        self.reindex();
    }

    /// Points the index at the families' current positions (same names, new order).
    fn reindex(&mut self) {
        for (i, f) in self.families.iter().enumerate() {
            if let Some(slot) = self.index.get_mut(&f.name) {
                *slot = i;
            }
        }
    }

    /// Number of samples dropped because their series was already present.
    pub fn duplicates_dropped(&self) -> u64 {
        self.dropped + self.families.iter().map(|f| f.dropped).sum::<u64>()
    }

    /// Total number of samples.
    pub fn len(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sorts families by name (deterministic output for golden tests and pushes).
    pub fn sort(&mut self) {
        self.families.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        self.reindex();
    }

    /// Adds the same label to every sample that does not have it yet (e.g. `flow`).
    pub fn add_label_to_all(&mut self, name: &'static str, value: &str) {
        for f in &mut self.families {
            for s in &mut f.samples {
                if !s.labels.iter().any(|(k, _)| k == name) {
                    s.labels.push((Cow::Borrowed(name), value.to_string()));
                }
            }
            f.seen.clear();
            if f.samples.len() > 1 {
                f.seen
                    .extend(f.samples.iter().map(|s| series_hash(s.suffix, &s.labels)));
            }
        }
    }
}

/// Wire format of an exposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics text 1.0.0.
    OpenMetrics,
}

/// Content-Type of text 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content-Type of OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Format {
    /// Picks the format from an `Accept` header: OpenMetrics when
    /// `application/openmetrics-text` has the highest q among the offered types we
    /// serve (ties go to OpenMetrics, as its being listed means the client supports it),
    /// text 0.0.4 otherwise.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut best_om: f32 = -1.0;
        let mut best_text: f32 = -1.0;
        for part in accept.split(',') {
            let mut params = part.split(';');
            let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q: f32 = 1.0;
            let mut version: Option<String> = None;
            for p in params {
                let p = p.trim();
                if let Some(v) = p.strip_prefix("q=") {
                    q = v.trim().parse().unwrap_or(0.0);
                } else if let Some(v) = p.strip_prefix("version=") {
                    version = Some(v.trim().to_string());
                }
            }
            match media.as_str() {
                // We write 1.0.0; 0.0.1 is a compatible subset for our output.
                "application/openmetrics-text"
                    if version
                        .as_deref()
                        .is_none_or(|v| v == "1.0.0" || v == "0.0.1") =>
                {
                    best_om = best_om.max(q);
                }
                "text/plain" | "*/*" | "text/*" => best_text = best_text.max(q),
                _ => {}
            }
        }
        if best_om > 0.0 && best_om >= best_text {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The Content-Type header value for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// Encodes in the given format.
pub fn encode(set: &MetricSet, format: Format) -> String {
    match format {
        Format::Text => encode_text(set),
        Format::OpenMetrics => encode_openmetrics(set),
    }
}

fn escape_help(s: &str, out: &mut String) {
    if !s.bytes().any(|b| matches!(b, b'\\' | b'\n')) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help_om(s: &str, out: &mut String) {
    if !s.bytes().any(|b| matches!(b, b'\\' | b'\n' | b'"')) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Escapes a label value (`\`, `"`, newline).
pub fn escape_label_value(s: &str, out: &mut String) {
    if !s.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_labels(labels: &[Label], extra: Option<(&str, &str)>, out: &mut String) {
    if labels.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (k, v) in labels {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        escape_label_value(v, out);
        out.push('"');
    }
    if let Some((k, v)) = extra {
        if !first {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        escape_label_value(v, out);
        out.push('"');
    }
    out.push('}');
}

/// Encodes as Prometheus text format 0.0.4.
pub fn encode_text(set: &MetricSet) -> String {
    let mut out = String::with_capacity(set.len() * 64 + 64);
    for f in &set.families {
        out.push_str("# HELP ");
        out.push_str(&f.name);
        out.push(' ');
        escape_help(&f.help, &mut out);
        out.push_str("\n# TYPE ");
        out.push_str(&f.name);
        out.push(' ');
        out.push_str(f.kind.text_name());
        out.push('\n');
        for s in &f.samples {
            out.push_str(&f.name);
            out.push_str(s.suffix);
            write_labels(&s.labels, None, &mut out);
            out.push(' ');
            s.value.write_to(&mut out);
            if let Some(ts) = s.timestamp_ms {
                out.push(' ');
                out.push_str(itoa::Buffer::new().format(ts));
            }
            out.push('\n');
        }
    }
    out
}

/// Encodes as OpenMetrics 1.0.0 text (ends with `# EOF`).
///
/// The output always passes a strict OpenMetrics parser (`prometheus_client`'s), whatever
/// the set holds:
/// - A family that a strict parser would reject under its type is written as `unknown`
///   under its text name instead, so Prometheus stores the same series as from the text
///   format: a counter whose OpenMetrics name (`_total` dropped) collides with another
///   family (`go_memstats_alloc_bytes_total` beside the gauge `go_memstats_alloc_bytes`),
///   or that has a negative or NaN value; an info family whose values are not all 1.
/// - A histogram or summary is checked per series group (contiguous groups, one timestamp
///   per group, buckets in increasing `le` order ending with `+Inf`, integral
///   non-decreasing bucket counts, `_count` equal to the `+Inf` bucket, `_sum` with
///   `_count`, quantiles within 0..1, no negative or NaN counts and sums); one that fails
///   is written as one `unknown` family per sample name (`h_bucket`, `h_sum`, `h_count`):
///   same series, no type. An `le` spelled `Inf`/`inf`/`+Infinity` is written `+Inf`.
/// - `_created` is not written for a sample that has a timestamp; `# UNIT` only when the
///   family name ends in `_<unit>`.
/// - If two families would still write the same sample name, the later one is left out.
///
/// The checks are per family (a name lookup, plus one pass over histogram and summary
/// samples); counters, gauges and untyped families cost no per-sample work.
pub fn encode_openmetrics(set: &MetricSet) -> String {
    let plan = om_plan(&set.families);
    let mut out = String::with_capacity(set.len() * 72 + 64);
    for (f, mode) in set.families.iter().zip(&plan) {
        match *mode {
            OmMode::Typed {
                base_len,
                kind,
                sample_suffix,
                fix_le,
            } => write_om_typed(
                f,
                &f.name[..base_len],
                kind,
                sample_suffix,
                fix_le,
                &mut out,
            ),
            OmMode::Split(mask) => {
                for (bit, suffix) in SPLIT_SUFFIXES.iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        write_om_split(f, suffix, &mut out);
                    }
                }
            }
            OmMode::Skip => {
                tracing::warn!(
                    family = %f.name,
                    "OpenMetrics: family left out, another family writes the same sample names"
                );
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// How one family is written in OpenMetrics.
#[derive(Clone, Copy, Debug, PartialEq)]
enum OmMode {
    /// With its type; the family name is `name[..base_len]`, samples are written as
    /// family name + `sample_suffix` + the sample's suffix.
    Typed {
        base_len: usize,
        kind: &'static str,
        sample_suffix: &'static str,
        fix_le: bool,
    },
    /// As `unknown` families named name + suffix, one per suffix bit set (see
    /// [`SPLIT_SUFFIXES`]); samples with other suffixes are left out.
    Split(u8),
    /// Left out.
    Skip,
}

/// Suffixes a split family is written with (bit i of [`OmMode::Split`]).
const SPLIT_SUFFIXES: [&str; 4] = ["", "_bucket", "_sum", "_count"];

/// Suffixes that make up the sample names a family claims in a strict parser (bit i).
const CLAIM_SUFFIXES: [&str; 7] = [
    "", "_total", "_created", "_bucket", "_sum", "_count", "_info",
];
const C_NONE: u8 = 1;
const C_TOTAL: u8 = 1 << 1;
const C_CREATED: u8 = 1 << 2;
const C_BUCKET: u8 = 1 << 3;
const C_SUM: u8 = 1 << 4;
const C_COUNT: u8 = 1 << 5;
const C_INFO: u8 = 1 << 6;

impl OmMode {
    /// The names this family claims: base + each suffix in the mask.
    fn claims<'a>(&self, f: &'a Family) -> (&'a str, u8) {
        match *self {
            OmMode::Typed { base_len, kind, .. } => {
                let mask = match kind {
                    "counter" => C_NONE | C_TOTAL | C_CREATED,
                    "info" => C_NONE | C_INFO,
                    "histogram" => C_NONE | C_BUCKET | C_SUM | C_COUNT | C_CREATED,
                    "summary" => C_NONE | C_SUM | C_COUNT | C_CREATED,
                    _ => C_NONE,
                };
                (&f.name[..base_len], mask)
            }
            OmMode::Split(m) => {
                // SPLIT_SUFFIXES bit i → CLAIM bit: "" 0→0, _bucket 1→3, _sum 2→4, _count 3→5.
                let mut mask = m & 1;
                mask |= (m & 0b1110) << 2;
                (f.name.as_str(), mask)
            }
            OmMode::Skip => ("", 0),
        }
    }

    /// The next smaller mode (fewer claimed names), or `None` if there is none.
    fn downgrade(&self, f: &Family) -> Option<OmMode> {
        match self {
            OmMode::Typed { .. } => {
                let d = OmMode::Split(present_suffixes(f));
                (d.claims(f) != self.claims(f)).then_some(d)
            }
            _ => None,
        }
    }
}

/// Bits of [`SPLIT_SUFFIXES`] present among the family's samples.
fn present_suffixes(f: &Family) -> u8 {
    let mut m = 0;
    for s in &f.samples {
        if let Some(i) = SPLIT_SUFFIXES.iter().position(|x| *x == s.suffix) {
            m |= 1 << i;
        }
    }
    m
}

/// Chooses each family's mode, then resolves name collisions by downgrading.
fn om_plan(families: &[Family]) -> Vec<OmMode> {
    let mut plan: Vec<OmMode> = families.iter().map(initial_mode).collect();
    // Each round downgrades at least one family, and a family can be downgraded at
    // most twice (typed → split → skipped): bounded.
    for _ in 0..=2 * families.len() {
        let Some((a, b)) = find_clash(families, &plan) else {
            break;
        };
        // Downgrade the later family if that resolves the clash, else the earlier one,
        // else leave the later one out.
        let resolves = |x: usize, y: usize| {
            plan[x]
                .downgrade(&families[x])
                .filter(|d| !overlaps(d.claims(&families[x]), plan[y].claims(&families[y])))
        };
        if let Some(d) = resolves(b, a) {
            plan[b] = d;
        } else if let Some(d) = resolves(a, b) {
            plan[a] = d;
        } else {
            plan[b] = OmMode::Skip;
        }
    }
    plan
}

/// Whether two claim sets share a name.
fn overlaps((bx, mx): (&str, u8), (by, my): (&str, u8)) -> bool {
    CLAIM_SUFFIXES.iter().enumerate().any(|(i, sx)| {
        mx & (1 << i) != 0
            && CLAIM_SUFFIXES.iter().enumerate().any(|(j, sy)| {
                my & (1 << j) != 0
                    && bx.len() + sx.len() == by.len() + sy.len()
                    && if bx.len() <= by.len() {
                        by.starts_with(bx) && is_concat(&by[bx.len()..], sy, sx)
                    } else {
                        bx.starts_with(by) && is_concat(&bx[by.len()..], sx, sy)
                    }
            })
    })
}

/// Whether `mid + tail == other` (lengths already match).
fn is_concat(mid: &str, tail: &str, other: &str) -> bool {
    other.starts_with(mid) && &other[mid.len()..] == tail
}

/// Two families (earlier, later) whose claimed sample names overlap, if any.
fn find_clash(families: &[Family], plan: &[OmMode]) -> Option<(usize, usize)> {
    let claims: Vec<(&str, u8)> = families
        .iter()
        .zip(plan)
        .map(|(f, m)| m.claims(f))
        .collect();
    let mut first: HashMap<&str, usize, NameHash> =
        HashMap::with_capacity_and_hasher(claims.len(), NameHash);
    let mut same_base: Vec<(usize, usize)> = Vec::new();
    for (i, &(base, mask)) in claims.iter().enumerate() {
        if mask == 0 {
            continue;
        }
        match first.entry(base) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let j = *e.get();
                if claims[j].1 & mask != 0 {
                    return Some((j, i));
                }
                same_base.push((j, i));
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
        }
    }
    // base_i + "" == base_j + suffix: base_i ends with a suffix that j claims. (No claim
    // suffix ends with another, so overlaps are either equal bases or this case.)
    for (i, &(base, mask)) in claims.iter().enumerate() {
        if mask & C_NONE == 0 {
            continue;
        }
        for (bit, suffix) in CLAIM_SUFFIXES.iter().enumerate().skip(1) {
            let Some(stem) = base.strip_suffix(suffix).filter(|s| !s.is_empty()) else {
                continue;
            };
            let Some(&j) = first.get(stem) else {
                continue;
            };
            let others = same_base.iter().filter(|&&(a, _)| a == j).map(|&(_, b)| b);
            for k in std::iter::once(j).chain(others) {
                if k != i && claims[k].1 & (1 << bit) != 0 {
                    return Some((i.min(k), i.max(k)));
                }
            }
        }
    }
    None
}

/// The mode a family gets on its own (before collisions).
fn initial_mode(f: &Family) -> OmMode {
    let all_plain = f.samples.iter().all(|s| s.suffix.is_empty());
    let typed = |base_len, kind, sample_suffix| OmMode::Typed {
        base_len,
        kind,
        sample_suffix,
        fix_le: false,
    };
    let split = || OmMode::Split(present_suffixes(f));
    let n = f.name.len();
    match f.kind {
        MetricType::Counter => {
            let base = f.name.strip_suffix("_total").filter(|b| !b.is_empty());
            let ok = |v: Value| match v {
                Value::U64(_) => true,
                Value::I64(i) => i >= 0,
                Value::F64(x) => x >= 0.0,
            };
            match base {
                Some(b) if all_plain && f.samples.iter().all(|s| ok(s.value)) => {
                    typed(b.len(), "counter", "_total")
                }
                _ if all_plain => typed(n, "unknown", ""),
                _ => split(),
            }
        }
        MetricType::Info => {
            let base = f.name.strip_suffix("_info").filter(|b| !b.is_empty());
            let ts = f.samples.first().map(|s| s.timestamp_ms.is_some());
            let ok = f
                .samples
                .iter()
                .all(|s| s.value.as_f64() == 1.0 && Some(s.timestamp_ms.is_some()) == ts);
            match base {
                Some(b) if all_plain && ok => typed(b.len(), "info", "_info"),
                _ if all_plain => typed(n, "gauge", ""),
                _ => split(),
            }
        }
        MetricType::Gauge if all_plain => typed(n, "gauge", ""),
        MetricType::Untyped if all_plain => typed(n, "unknown", ""),
        MetricType::Gauge | MetricType::Untyped => split(),
        MetricType::Histogram => match check_grouped(f, "le") {
            Some(fix_le) => OmMode::Typed {
                base_len: n,
                kind: "histogram",
                sample_suffix: "",
                fix_le,
            },
            None => split(),
        },
        MetricType::Summary => match check_grouped(f, "quantile") {
            Some(_) => typed(n, "summary", ""),
            None => split(),
        },
    }
}

/// Whether a label set equals the group's, ignoring `skip` on both sides (in order).
fn same_group(a: &[Label], b: &[Label], skip: &str) -> bool {
    let mut a = a.iter().filter(|(k, _)| k != skip);
    let mut b = b.iter().filter(|(k, _)| k != skip);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y => {}
            _ => return false,
        }
    }
}

fn label<'a>(labels: &'a [Label], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn integral_nonneg(v: Value) -> bool {
    match v {
        Value::U64(_) => true,
        Value::I64(i) => i >= 0,
        Value::F64(x) => x >= 0.0 && x.is_finite() && x.fract() == 0.0,
    }
}

/// Checks a histogram (`skip` = "le") or summary (`skip` = "quantile") the way a strict
/// OpenMetrics parser does. `Some(fix_le)` when valid (`fix_le`: some `le` is an
/// infinity not spelled `+Inf`), `None` when not.
fn check_grouped(f: &Family, skip: &str) -> Option<bool> {
    let histogram = skip == "le";
    let mut fix_le = false;
    let mut seen = SeriesSet::default();
    let mut g = Group::default();
    let mut group_labels: Option<&[Label]> = None;
    for s in &f.samples {
        if group_labels.is_none_or(|l| !same_group(l, &s.labels, skip)) {
            if group_labels.is_some() && !g.finish(histogram) {
                return None;
            }
            // A group may not come back after another one.
            if !seen.insert(labels_hash(s.labels.iter().filter(|(k, _)| k != skip))) {
                return None;
            }
            group_labels = Some(&s.labels);
            g = Group {
                ts: s.timestamp_ms,
                ..Group::default()
            };
        }
        if s.timestamp_ms != g.ts {
            return None;
        }
        let v = s.value;
        match (histogram, s.suffix) {
            (true, "_bucket") => {
                let le_s = label(&s.labels, "le")?;
                let le: f64 = le_s.parse().ok()?;
                if le.is_nan() || g.last_le.is_some_and(|p| le <= p) || !integral_nonneg(v) {
                    return None;
                }
                if g.last_bucket.is_some_and(|p| v.as_f64() < p) {
                    return None;
                }
                fix_le |= le == f64::INFINITY && le_s != "+Inf";
                g.neg_bucket |= le < 0.0;
                g.last_le = Some(le);
                g.last_bucket = Some(v.as_f64());
            }
            (false, "") => {
                let q: f64 = label(&s.labels, "quantile")?.parse().ok()?;
                if !(0.0..=1.0).contains(&q) || v.as_f64() < 0.0 {
                    return None;
                }
            }
            (_, "_sum") => {
                let x = v.as_f64();
                if x.is_nan() || x < 0.0 || g.sum {
                    return None;
                }
                g.sum = true;
            }
            (_, "_count") => {
                if !integral_nonneg(v) || g.count.is_some() {
                    return None;
                }
                g.count = Some(v.as_f64());
            }
            _ => return None,
        }
    }
    if group_labels.is_some() && !g.finish(histogram) {
        return None;
    }
    Some(fix_le)
}

/// State of one histogram/summary series group while checking.
#[derive(Default)]
struct Group {
    ts: Option<i64>,
    last_le: Option<f64>,
    last_bucket: Option<f64>,
    neg_bucket: bool,
    sum: bool,
    count: Option<f64>,
}

impl Group {
    fn finish(&self, histogram: bool) -> bool {
        if !histogram {
            return true;
        }
        self.last_le == Some(f64::INFINITY)
            && self.count.is_none_or(|c| Some(c) == self.last_bucket)
            && self.sum == self.count.is_some()
            && !(self.neg_bucket && self.sum)
    }
}

fn write_om_meta(
    name: &str,
    suffix: &str,
    kind: &str,
    unit: Option<&str>,
    help: &str,
    out: &mut String,
) {
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push_str(suffix);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
    if let Some(unit) = unit {
        let _ = writeln!(out, "# UNIT {name}{suffix} {unit}");
    }
    if !help.is_empty() {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push_str(suffix);
        out.push(' ');
        escape_help_om(help, out);
        out.push('\n');
    }
}

/// OpenMetrics timestamp: seconds, with the milliseconds exact.
fn write_om_timestamp(ts_ms: i64, out: &mut String) {
    if ts_ms < 0 {
        out.push('-');
    }
    let a = ts_ms.unsigned_abs();
    out.push_str(itoa::Buffer::new().format(a / 1000));
    let ms = a % 1000;
    if ms != 0 {
        let _ = write!(out, ".{ms:03}");
    }
}

fn write_om_value_ts(s: &Sample, out: &mut String) {
    out.push(' ');
    s.value.write_to(out);
    if let Some(ts) = s.timestamp_ms {
        out.push(' ');
        write_om_timestamp(ts, out);
    }
    out.push('\n');
}

fn write_om_typed(
    f: &Family,
    fam_name: &str,
    kind: &str,
    sample_suffix: &str,
    fix_le: bool,
    out: &mut String,
) {
    let unit = f.unit.filter(|u| {
        kind != "info"
            && fam_name
                .strip_suffix(u)
                .is_some_and(|p| p.len() > 1 && p.ends_with('_'))
    });
    write_om_meta(fam_name, "", kind, unit, &f.help, out);
    for s in &f.samples {
        out.push_str(fam_name);
        out.push_str(sample_suffix);
        out.push_str(s.suffix);
        if fix_le && s.suffix == "_bucket" {
            let fixed: Vec<Label> = s
                .labels
                .iter()
                .map(|(k, v)| {
                    let inf = k == "le" && v.parse::<f64>().is_ok_and(|x| x == f64::INFINITY);
                    (k.clone(), if inf { "+Inf".to_string() } else { v.clone() })
                })
                .collect();
            write_labels(&fixed, None, out);
        } else {
            write_labels(&s.labels, None, out);
        }
        write_om_value_ts(s, out);
        // _created goes with the counter (or histogram/summary _count) sample, and only
        // without a timestamp (a strict parser refuses a group that mixes both).
        let created_applies = match kind {
            "counter" => true,
            "histogram" | "summary" => s.suffix == "_count",
            _ => false,
        };
        if let (true, Some(c), None) = (created_applies, s.created, s.timestamp_ms) {
            out.push_str(fam_name);
            out.push_str("_created");
            write_labels(&s.labels, None, out);
            out.push(' ');
            write_f64(c, out);
            out.push('\n');
        }
    }
}

fn write_om_split(f: &Family, suffix: &'static str, out: &mut String) {
    write_om_meta(&f.name, suffix, "unknown", None, &f.help, out);
    for s in f.samples.iter().filter(|s| s.suffix == suffix) {
        out.push_str(&f.name);
        out.push_str(suffix);
        write_labels(&s.labels, None, out);
        write_om_value_ts(s, out);
    }
}

/// Whether `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting `__`).
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    !name.starts_with("__") && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_set() -> MetricSet {
        let mut m = MetricSet::new();
        m.counter(
            "ifHCInOctets",
            "The total number of octets received.",
            &[
                ("ifIndex", "1"),
                ("ifName", "hundredGigE 1/27"),
                ("ifAlias", "a \"q\" \\ b\nc"),
            ],
            Value::U64(18_446_744_073_709_551_000),
        );
        m.counter("rtmon_x_total", "X.", &[("a", "b")], 3u64);
        m.gauge("rtmon_up", "Up.", &[], 1u64);
        m.info("rtmon_build_info", "Build.", &[("version", "0.1.0")]);
        m
    }

    #[test]
    fn text_format_is_exact() {
        let got = encode_text(&sample_set());
        let want = "# HELP ifHCInOctets The total number of octets received.\n\
# TYPE ifHCInOctets counter\n\
ifHCInOctets{ifIndex=\"1\",ifName=\"hundredGigE 1/27\",ifAlias=\"a \\\"q\\\" \\\\ b\\nc\"} 18446744073709551000\n\
# HELP rtmon_x_total X.\n\
# TYPE rtmon_x_total counter\n\
rtmon_x_total{a=\"b\"} 3\n\
# HELP rtmon_up Up.\n\
# TYPE rtmon_up gauge\n\
rtmon_up 1\n\
# HELP rtmon_build_info Build.\n\
# TYPE rtmon_build_info gauge\n\
rtmon_build_info{version=\"0.1.0\"} 1\n";
        assert_eq!(got, want);
    }

    #[test]
    fn openmetrics_format_is_exact() {
        let mut m = sample_set();
        m.family("rtmon_x_total", "", MetricType::Counter).samples[0].created = Some(1.5e9);
        let got = encode_openmetrics(&m);
        let want = "# TYPE ifHCInOctets unknown\n\
# HELP ifHCInOctets The total number of octets received.\n\
ifHCInOctets{ifIndex=\"1\",ifName=\"hundredGigE 1/27\",ifAlias=\"a \\\"q\\\" \\\\ b\\nc\"} 18446744073709551000\n\
# TYPE rtmon_x counter\n\
# HELP rtmon_x X.\n\
rtmon_x_total{a=\"b\"} 3\n\
rtmon_x_created{a=\"b\"} 1500000000\n\
# TYPE rtmon_up gauge\n\
# HELP rtmon_up Up.\n\
rtmon_up 1\n\
# TYPE rtmon_build info\n\
# HELP rtmon_build Build.\n\
rtmon_build_info{version=\"0.1.0\"} 1\n\
# EOF\n";
        assert_eq!(got, want);
    }

    fn parsed(text: &str) -> MetricSet {
        let p = parse::parse_text(text, &Default::default());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        p.set
    }

    #[test]
    fn openmetrics_counter_colliding_with_a_gauge_is_written_unknown() {
        let m = parsed(concat!(
            "# TYPE a_bytes gauge\na_bytes 1\n",
            "# TYPE a_bytes_total counter\na_bytes_total 2\n",
            "# TYPE ok_total counter\nok_total 3\n",
            "# TYPE neg_total counter\nneg_total -1\n",
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        ));
        assert_eq!(
            encode_openmetrics(&m),
            "# TYPE a_bytes gauge\na_bytes 1\n\
             # TYPE a_bytes_total unknown\na_bytes_total 2\n\
             # TYPE ok counter\nok_total 3\n\
             # TYPE neg_total unknown\nneg_total -1\n\
             # TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n\
             # EOF\n"
        );
        // Built by code: two families writing the same sample name; the later is left out.
        let mut m = MetricSet::new();
        m.family("h", "", MetricType::Histogram)
            .add_histogram(&[], &[], 1.0, 1);
        m.gauge("h_count", "", &[("x", "1")], 1u64);
        m.counter("h_total", "", &[], 1u64);
        assert_eq!(
            encode_openmetrics(&m),
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n\
             # TYPE h_total unknown\nh_total 1\n# EOF\n"
        );
    }

    #[test]
    fn openmetrics_histogram_structure_is_checked() {
        let good = "# TYPE h histogram\nh_bucket{a=\"1\",le=\"1\"} 1\nh_bucket{a=\"1\",le=\"Inf\"} 2\nh_sum{a=\"1\"} 3\nh_count{a=\"1\"} 2\n";
        assert_eq!(
            encode_openmetrics(&parsed(good)),
            "# TYPE h histogram\nh_bucket{a=\"1\",le=\"1\"} 1\nh_bucket{a=\"1\",le=\"+Inf\"} 2\nh_sum{a=\"1\"} 3\nh_count{a=\"1\"} 2\n# EOF\n"
        );
        for bad in [
            // no +Inf bucket
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 3\nh_count 1\n",
            // _count without _sum
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
            // _count differs from the +Inf bucket
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n",
            // buckets out of order, counts decreasing, fractional count
            "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n",
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.5\n",
            // groups interleaved
            "# TYPE h histogram\nh_bucket{a=\"1\",le=\"+Inf\"} 1\nh_bucket{a=\"2\",le=\"+Inf\"} 1\nh_sum{a=\"1\"} 1\nh_count{a=\"1\"} 1\n",
            // negative sum
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum -1\nh_count 1\n",
        ] {
            let om = encode_openmetrics(&parsed(bad));
            assert!(!om.contains("histogram"), "{bad}\n{om}");
            assert!(om.contains("# TYPE h_bucket unknown\n"), "{bad}\n{om}");
        }
        let s = "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n";
        assert!(encode_openmetrics(&parsed(s)).starts_with("# TYPE s summary\n"));
        let s = "# TYPE s summary\ns{quantile=\"2\"} 1\ns_sum 2\ns_count 3\n";
        assert!(encode_openmetrics(&parsed(s)).starts_with("# TYPE s unknown\n"));
    }

    #[test]
    fn openmetrics_timestamps_units_and_negative_zero() {
        let mut m = MetricSet::new();
        let f = m.family("c_seconds_total", "C.", MetricType::Counter);
        f.add(&[], 1u64);
        f.samples[0].timestamp_ms = Some(1_700_000_000_123);
        f.samples[0].created = Some(5.0);
        m.push_family(Family::new("g_seconds", "", MetricType::Gauge).with_unit("seconds"));
        m.family("g_seconds", "", MetricType::Gauge).add(&[], -0.0);
        m.push_family(Family::new("gseconds", "", MetricType::Gauge).with_unit("seconds"));
        m.family("gseconds", "", MetricType::Gauge).add(&[], 1u64);
        assert_eq!(
            encode_openmetrics(&m),
            "# TYPE c_seconds counter\n# HELP c_seconds C.\nc_seconds_total 1 1700000000.123\n\
             # TYPE g_seconds gauge\n# UNIT g_seconds seconds\ng_seconds -0\n\
             # TYPE gseconds gauge\ngseconds 1\n# EOF\n"
        );
    }

    #[test]
    fn duplicates_are_dropped_and_counted() {
        let mut m = MetricSet::new();
        m.gauge("g", "h", &[("a", "1"), ("b", "2")], 1.0);
        m.gauge("g", "h", &[("b", "2"), ("a", "1")], 2.0);
        m.gauge("g", "h", &[("a", "1"), ("b", "3")], 3.0);
        assert_eq!(m.duplicates_dropped(), 1);
        assert_eq!(m.len(), 2);
        let t = encode_text(&m);
        assert!(t.contains("g{a=\"1\",b=\"2\"} 1\n"));
        assert!(!t.contains("} 2\n"));
        assert_eq!(t.matches("# TYPE g").count(), 1);
    }

    #[test]
    fn merge_keeps_one_family() {
        let mut a = MetricSet::new();
        a.gauge("g", "h", &[("x", "1")], 1.0);
        let mut b = MetricSet::new();
        b.gauge("g", "h", &[("x", "1")], 9.0);
        b.gauge("g", "h", &[("x", "2")], 2.0);
        a.merge(b);
        assert_eq!(a.families().len(), 1);
        assert_eq!(a.len(), 2);
        assert_eq!(a.duplicates_dropped(), 1);
    }

    #[test]
    fn histogram_has_inf_sum_count() {
        let mut m = MetricSet::new();
        m.family("rtt_seconds", "RTT.", MetricType::Histogram)
            .add_histogram(&[("target", "t")], &[(0.001, 1), (0.01, 3)], 0.02, 4);
        let t = encode_text(&m);
        assert!(t.contains("rtt_seconds_bucket{target=\"t\",le=\"0.001\"} 1\n"));
        assert!(t.contains("rtt_seconds_bucket{target=\"t\",le=\"+Inf\"} 4\n"));
        assert!(t.contains("rtt_seconds_sum{target=\"t\"} 0.02\n"));
        assert!(t.contains("rtt_seconds_count{target=\"t\"} 4\n"));
    }

    #[test]
    fn floats_are_written_as_prometheus_parses_them() {
        let f = |v: f64| {
            let mut s = String::new();
            write_f64(v, &mut s);
            s
        };
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(f(42.0), "42");
        assert_eq!(f(-3.0), "-3");
        assert_eq!(f(0.25), "0.25");
        assert_eq!(f(1e20), "1e20");
    }

    #[test]
    fn negotiation_follows_q_values() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prom)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(
            Format::negotiate(Some("text/plain;q=1,application/openmetrics-text;q=0.5")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; version=2.0.0")),
            Format::Text
        );
    }

    #[test]
    fn series_index_holds_through_relabel_sort_and_prune() {
        let mut m = MetricSet::with_capacity(2);
        // One sample, then its duplicate: the lazily built index must catch it.
        m.gauge("one", "h", &[("a", "1")], 1.0);
        m.gauge("one", "h", &[("a", "1")], 2.0);
        assert_eq!(m.duplicates_dropped(), 1);
        m.family("empty", "h", MetricType::Gauge);
        m.gauge("b", "h", &[], 1.0);
        // After relabelling, a new sample equal to a relabelled one is a duplicate,
        // in a family of one sample and in a family of two.
        m.gauge("two", "h", &[("x", "1")], 1.0);
        m.gauge("two", "h", &[("x", "2")], 1.0);
        m.add_label_to_all("flow", "f");
        m.gauge("one", "h", &[("a", "1"), ("flow", "f")], 3.0);
        m.gauge("two", "h", &[("flow", "f"), ("x", "2")], 3.0);
        assert_eq!(m.duplicates_dropped(), 3);
        m.gauge("one", "h", &[("a", "1")], 4.0);
        assert_eq!(m.duplicates_dropped(), 3);
        m.prune_empty();
        m.sort();
        let names: Vec<&str> = m.families().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["b", "one", "two"]);
        assert!(!m.contains("empty"));
        for n in names {
            assert_eq!(m.get(n).map(|f| f.name.as_str()), Some(n));
        }
        assert_eq!(m.get("one").map(|f| f.samples.len()), Some(2));
        // A family equals its copy whatever the state of its internal index.
        let mut f = Family::new("c", "h", MetricType::Counter);
        f.add(&[], 1u64);
        let mut g = f.clone();
        g.seen.insert(7);
        assert_eq!(f, g);
    }

    #[test]
    fn help_is_escaped_in_both_formats() {
        let mut m = MetricSet::new();
        m.gauge("g", "back\\slash \"q\"\nline", &[("l", "v\"\n")], 1.0);
        m.gauge("p", "plain help", &[], 1.0);
        let t = encode_text(&m);
        assert!(t.contains("# HELP g back\\\\slash \"q\"\\nline\n"), "{t}");
        assert!(t.contains("g{l=\"v\\\"\\n\"} 1\n"), "{t}");
        assert!(t.contains("# HELP p plain help\n"), "{t}");
        let o = encode_openmetrics(&m);
        assert!(
            o.contains("# HELP g back\\\\slash \\\"q\\\"\\nline\n"),
            "{o}"
        );
        assert!(o.contains("# HELP p plain help\n"), "{o}");
    }

    #[test]
    fn add_label_to_all_skips_existing() {
        let mut m = MetricSet::new();
        m.gauge("g", "h", &[("flow", "keep")], 1.0);
        m.gauge("g", "h", &[("x", "1")], 1.0);
        m.add_label_to_all("flow", "f1");
        let t = encode_text(&m);
        assert!(t.contains("g{flow=\"keep\"} 1\n"));
        assert!(t.contains("g{x=\"1\",flow=\"f1\"} 1\n"));
    }

    #[test]
    fn names_are_validated() {
        assert!(valid_metric_name("node_cpu_seconds_total"));
        assert!(valid_metric_name("a:b"));
        assert!(!valid_metric_name("1abc"));
        assert!(!valid_metric_name("a-b"));
        assert!(valid_label_name("ifName"));
        assert!(!valid_label_name("__name__"));
        assert!(!valid_label_name("a:b"));
    }
}
