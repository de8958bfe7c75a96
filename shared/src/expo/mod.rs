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
//! OpenMetrics `info`.

pub mod parse;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

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
#[derive(Clone, Debug, PartialEq)]
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
    seen: std::collections::HashSet<u64>,
    dropped: u64,
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
    // Order-independent: the same label set in another order is the same series.
    let mut acc: u64 = 0;
    for (k, v) in labels {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        k.as_ref().hash(&mut h);
        v.hash(&mut h);
        acc = acc.wrapping_add(h.finish());
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    suffix.hash(&mut h);
    labels.len().hash(&mut h);
    acc.hash(&mut h);
    h.finish()
}

/// A set of metric families, ready to encode.
#[derive(Clone, Debug, Default)]
pub struct MetricSet {
    families: Vec<Family>,
    index: HashMap<String, usize>,
    dropped: u64,
}

impl MetricSet {
    /// An empty set.
    pub fn new() -> MetricSet {
        MetricSet::default()
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
        self.families.retain(|f| !f.samples.is_empty());
        self.index = self
            .families
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
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
        self.families.sort_by(|a, b| a.name.cmp(&b.name));
        self.index = self
            .families
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
    }

    /// Adds the same label to every sample that does not have it yet (e.g. `flow`).
    pub fn add_label_to_all(&mut self, name: &'static str, value: &str) {
        for f in &mut self.families {
            for s in &mut f.samples {
                if !s.labels.iter().any(|(k, _)| k == name) {
                    s.labels.push((Cow::Borrowed(name), value.to_string()));
                }
            }
            f.seen = f
                .samples
                .iter()
                .map(|s| series_hash(s.suffix, &s.labels))
                .collect();
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
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help_om(s: &str, out: &mut String) {
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
    if !s.contains(['\\', '"', '\n']) {
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
pub fn encode_openmetrics(set: &MetricSet) -> String {
    let mut out = String::with_capacity(set.len() * 72 + 64);
    for f in &set.families {
        // Family name, type keyword and per-sample name prefix.
        let (fam_name, kind, sample_suffix): (&str, &str, &str) = match f.kind {
            MetricType::Counter => match f.name.strip_suffix("_total") {
                Some(base) => (base, "counter", "_total"),
                None => (f.name.as_str(), "unknown", ""),
            },
            MetricType::Info => match f.name.strip_suffix("_info") {
                Some(base) => (base, "info", "_info"),
                None => (f.name.as_str(), "gauge", ""),
            },
            MetricType::Gauge => (f.name.as_str(), "gauge", ""),
            MetricType::Histogram => (f.name.as_str(), "histogram", ""),
            MetricType::Summary => (f.name.as_str(), "summary", ""),
            MetricType::Untyped => (f.name.as_str(), "unknown", ""),
        };
        out.push_str("# TYPE ");
        out.push_str(fam_name);
        out.push(' ');
        out.push_str(kind);
        out.push('\n');
        if let Some(unit) = f.unit {
            if fam_name.ends_with(unit) {
                let _ = writeln!(out, "# UNIT {fam_name} {unit}");
            }
        }
        if !f.help.is_empty() {
            out.push_str("# HELP ");
            out.push_str(fam_name);
            out.push(' ');
            escape_help_om(&f.help, &mut out);
            out.push('\n');
        }
        for s in &f.samples {
            out.push_str(fam_name);
            out.push_str(sample_suffix);
            out.push_str(s.suffix);
            write_labels(&s.labels, None, &mut out);
            out.push(' ');
            s.value.write_to(&mut out);
            if let Some(ts) = s.timestamp_ms {
                out.push(' ');
                write_f64(ts as f64 / 1000.0, &mut out);
            }
            out.push('\n');
            // _created goes with the counter (or histogram _count) sample.
            let created_applies = match f.kind {
                MetricType::Counter => !sample_suffix.is_empty(),
                MetricType::Histogram | MetricType::Summary => s.suffix == "_count",
                _ => false,
            };
            if let (true, Some(c)) = (created_applies, s.created) {
                out.push_str(fam_name);
                out.push_str("_created");
                write_labels(&s.labels, None, &mut out);
                out.push(' ');
                write_f64(c, &mut out);
                out.push('\n');
            }
        }
    }
    out.push_str("# EOF\n");
    out
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
