//! Parser for the Prometheus text format 0.0.4 (script output, textfiles, tests).
//!
//! A line is accepted exactly when Prometheus's own text parser (2.42, which fails a
//! whole scrape on the first bad line) accepts it, so what is re-exposed can never make
//! a scrape fail. The input is parsed **as a whole document**: a line is kept only if it
//! is valid on its own *and* consistent with the rest of the document. Whatever is
//! dropped is reported in [`Parsed::errors`] with its 1-based line number; everything
//! valid still passes.
//!
//! Line syntax (as Prometheus's lexer):
//! - Lines end at `\n` only: a `\r` is an ordinary byte, so a CRLF sample or TYPE line is
//!   invalid (Prometheus: `parsing "1\r": invalid syntax`); a comment or HELP text keeps it.
//! - A line that is not valid UTF-8 is dropped, unless it is a plain comment.
//! - Blank and whitespace-only lines are skipped. A sample line may not start with
//!   whitespace (Prometheus reads the blanks as part of the metric name); a `#` line may.
//! - `#` followed by blanks, `HELP` or `TYPE` and blanks starts a metadata line; anything
//!   else after `#` (`#TYPE x gauge`, `# HELP` alone) is a comment. The metric name is the
//!   longest `[a-zA-Z_:][a-zA-Z0-9_:]*` prefix; the text is the rest minus its first byte
//!   (so `# TYPE x gauge ` — trailing blank — has the type `"gauge "` and is invalid). HELP
//!   text takes the escapes `\\` and `\n` and may be empty; TYPE is one of `counter`,
//!   `gauge`, `histogram`, `summary`, `untyped`.
//! - `name{label="value",…} value [timestamp_ms]`: blanks are allowed around braces,
//!   names, `=` and commas, a comma between labels is optional and a trailing one is
//!   allowed. Label values decode `\\`, `\"`, `\n` and keep any other `\x` as is. A label
//!   with an empty value is the same as no label. The value uses Go's
//!   `strconv.ParseFloat` syntax without `p`/`_` (no hex): decimal, `inf`/`infinity` with
//!   an optional sign and `nan` without one, case-insensitive; out of range (`1e400`) is an
//!   error, not ±Inf; the sign of zero is kept (`-0`, `-1e-400`); integers are kept exact.
//!   The timestamp is digits only (no sign), within i64.
//! - A NUL byte at the start of a line ends the input for Prometheus; that line and all
//!   later non-blank lines are dropped.
//!
//! Deliberately stricter than Prometheus (the line is dropped, which a scrape of the
//! re-exposed output cannot notice): a label named `__name__` or given twice (Prometheus
//! fails the whole scrape on those), any other label name starting with `__` (reserved by
//! OpenMetrics; strict parsers reject it), and at document level:
//!
//! - a second HELP, a second or conflicting TYPE, or a TYPE that comes after samples of
//!   its family (the first definition wins; samples seen before a late TYPE stay untyped);
//! - histogram and summary samples are grouped under their family by suffix (`_bucket`
//!   with a numeric `le`, `_sum`, `_count`; summary quantiles need a numeric `quantile`);
//!   samples that break this are dropped; an infinite `le` is written `+Inf`;
//! - duplicate series (same name and label set, in any label order; Prometheus keeps the
//!   first too and counts the rest) are dropped;
//! - names starting with one of [`ParseOptions::reserved_prefixes`] are dropped;
//! - at most [`ParseOptions::max_lines`] lines are read.
//!
//! A label value cannot span lines here (Prometheus accepts a raw newline inside quotes);
//! both halves are dropped.
//!
//! The parser never panics, whatever the input (see the randomized test).

use std::borrow::Cow;
use std::collections::HashMap;

use super::Value;
use super::{Family, Label, MetricSet, MetricType, Sample};

/// One rejected line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number in the input.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Result of parsing a whole exposition: the valid series, and the rejected lines.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// Valid families and samples (duplicates removed).
    pub set: MetricSet,
    /// Lines that were dropped, with reasons.
    pub errors: Vec<ParseError>,
}

/// Limits applied while parsing.
#[derive(Clone, Debug)]
pub struct ParseOptions {
    /// Maximum number of lines read; the rest is an error.
    pub max_lines: usize,
    /// Reject samples with timestamps.
    pub reject_timestamps: bool,
    /// Metric-name prefixes the input may not use (e.g. `script_` for script output,
    /// whose `script_*` series the exporter writes itself). HELP/TYPE/sample lines for
    /// such names are dropped and reported.
    pub reserved_prefixes: Vec<String>,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_lines: 100_000,
            reject_timestamps: false,
            reserved_prefixes: Vec::new(),
        }
    }
}

/// A syntactically valid line.
enum Line {
    Help(String, String),
    Type(String, MetricType),
    Sample(RawSample),
}

struct RawSample {
    name: String,
    labels: Vec<Label>,
    value: Value,
    timestamp_ms: Option<i64>,
}

/// Parses a whole text-format exposition. Never fails as a whole: invalid lines,
/// duplicate series and conflicting TYPE/HELP lines are dropped and reported in
/// [`Parsed::errors`]; valid series pass.
pub fn parse_text(input: &str, opts: &ParseOptions) -> Parsed {
    parse_bytes(input.as_bytes(), opts)
}

/// [`parse_text`] on raw bytes (a script's stdout): a line that is not valid UTF-8 is
/// dropped and reported (a plain comment excepted), never repaired.
pub fn parse_bytes(input: &[u8], opts: &ParseOptions) -> Parsed {
    let mut errors = Vec::new();
    let mut lines = Vec::new();
    let pieces = input.split(|&b| b == b'\n').count();
    let mut it = input.split(|&b| b == b'\n').enumerate();
    while let Some((i, raw)) = it.next() {
        let no = i + 1;
        if i >= opts.max_lines {
            // A final empty piece after the last newline is not a line.
            if !(raw.is_empty() && no == pieces) {
                errors.push(ParseError {
                    line: no,
                    message: format!(
                        "too many lines (limit {}); the rest of the input is ignored",
                        opts.max_lines
                    ),
                });
            }
            break;
        }
        let start = raw.iter().position(|&b| b != b' ' && b != b'\t');
        if start.is_some_and(|s| raw[s] == 0) {
            errors.push(ParseError {
                line: no,
                message: "NUL byte at the start of the line: Prometheus stops reading here, \
                          so this line and the rest are dropped"
                    .into(),
            });
            for (j, r) in it.by_ref().take_while(|(j, _)| *j < opts.max_lines) {
                if r.iter().any(|&b| b != b' ' && b != b'\t') {
                    errors.push(ParseError {
                        line: j + 1,
                        message: format!("after the NUL byte on line {no}; dropped"),
                    });
                }
            }
            break;
        }
        let result = match std::str::from_utf8(raw) {
            Ok(l) => parse_line(l),
            Err(_) if plain_comment(raw) => Ok(None),
            Err(e) => Err(format!(
                "not valid UTF-8 (byte {} of the line)",
                e.valid_up_to() + 1
            )),
        };
        match result {
            Ok(Some(parsed)) => {
                if let Some(name) = reserved(&parsed, opts) {
                    errors.push(ParseError {
                        line: no,
                        message: format!("metric name {name:?} uses a reserved prefix"),
                    });
                } else if opts.reject_timestamps
                    && matches!(&parsed, Line::Sample(s) if s.timestamp_ms.is_some())
                {
                    errors.push(ParseError {
                        line: no,
                        message: "timestamps are not allowed here".into(),
                    });
                } else {
                    lines.push((no, parsed));
                }
            }
            Ok(None) => {}
            Err(message) => errors.push(ParseError { line: no, message }),
        }
    }
    let set = assemble(lines, &mut errors);
    errors.sort_by_key(|e| e.line);
    Parsed { set, errors }
}

/// Whether a (not necessarily UTF-8) line is a comment that is not HELP/TYPE.
fn plain_comment(raw: &[u8]) -> bool {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let t: Vec<u8> = raw.iter().copied().skip_while(blank).collect();
    let Some(rest) = t.strip_prefix(b"#") else {
        return false;
    };
    let r: &[u8] = &rest[rest.iter().take_while(|b| blank(b)).count()..];
    if r.len() == rest.len() {
        return true;
    }
    let meta = (r.starts_with(b"HELP") || r.starts_with(b"TYPE")) && r.get(4).is_some_and(blank);
    !meta
}

fn reserved<'a>(l: &'a Line, opts: &ParseOptions) -> Option<&'a str> {
    let name = match l {
        Line::Help(n, _) | Line::Type(n, _) => n,
        Line::Sample(s) => &s.name,
    };
    opts.reserved_prefixes
        .iter()
        .any(|p| name.starts_with(p.as_str()))
        .then_some(name.as_str())
}

/// Pass 2: checks the valid lines against each other and builds the set.
fn assemble(lines: Vec<(usize, Line)>, errors: &mut Vec<ParseError>) -> MetricSet {
    // First the declarations, in order, so TYPE-after-sample can be detected and helps
    // are known when families are created.
    let mut types: HashMap<String, (MetricType, usize)> = HashMap::new();
    let mut helps: HashMap<String, String> = HashMap::new();
    let mut first_sample: HashMap<String, usize> = HashMap::new();
    for (no, l) in &lines {
        if let Line::Sample(s) = l {
            first_sample.entry(s.name.clone()).or_insert(*no);
        }
    }
    // A family's first sample line, for names typed with suffix grouping: a TYPE for
    // `foo histogram` is late if `foo_bucket` (etc.) appeared before it.
    let first_sample_of_family = |name: &str, kind: MetricType| -> Option<usize> {
        let suffixes: &[&str] = match kind {
            MetricType::Histogram => &["", "_bucket", "_sum", "_count"],
            MetricType::Summary => &["", "_sum", "_count"],
            _ => &[""],
        };
        suffixes
            .iter()
            .filter_map(|s| first_sample.get(&format!("{name}{s}")).copied())
            .min()
    };
    for (no, l) in &lines {
        match l {
            Line::Type(name, kind) => {
                if let Some((prev, prev_no)) = types.get(name) {
                    let what = if prev == kind {
                        "second TYPE line"
                    } else {
                        "conflicting TYPE line"
                    };
                    errors.push(ParseError {
                        line: *no,
                        message: format!(
                            "{what} for {name:?} (first declared {} on line {prev_no}); dropped",
                            prev.text_name()
                        ),
                    });
                } else if let Some(s) = first_sample_of_family(name, *kind).filter(|s| s < no) {
                    errors.push(ParseError {
                        line: *no,
                        message: format!(
                            "TYPE line for {name:?} after its samples (line {s}); dropped, \
                             the samples stay untyped"
                        ),
                    });
                } else {
                    types.insert(name.clone(), (*kind, *no));
                }
            }
            Line::Help(name, text) => {
                if helps.contains_key(name) {
                    errors.push(ParseError {
                        line: *no,
                        message: format!("second HELP line for {name:?}; dropped"),
                    });
                } else {
                    helps.insert(name.clone(), text.clone());
                }
            }
            Line::Sample(_) => {}
        }
    }

    let mut set = MetricSet::new();
    for (no, l) in lines {
        let Line::Sample(s) = l else { continue };
        let (family, suffix, kind) = resolve_family(&s.name, &types);
        // Structural checks for histogram/summary samples.
        let has = |n: &str| s.labels.iter().any(|(k, _)| k == n);
        let problem = match (kind, suffix) {
            (MetricType::Histogram, "_bucket") if !has("le") => {
                Some("histogram bucket without an `le` label")
            }
            (MetricType::Histogram, "") => {
                Some("histogram sample needs a _bucket/_sum/_count suffix")
            }
            (MetricType::Summary, "") if !has("quantile") => {
                Some("summary sample without a `quantile` label")
            }
            (MetricType::Histogram, "_bucket") if !float_label(&s.labels, "le") => {
                Some("histogram bucket with a non-numeric `le` label")
            }
            (MetricType::Summary, "") if !float_label(&s.labels, "quantile") => {
                Some("summary sample with a non-numeric `quantile` label")
            }
            (MetricType::Histogram, "_sum" | "_count") if has("le") => {
                Some("histogram _sum/_count must not have an `le` label")
            }
            _ => None,
        };
        if let Some(p) = problem {
            errors.push(ParseError {
                line: no,
                message: format!("{}: {p}", s.name),
            });
            continue;
        }
        let mut labels = s.labels;
        if (kind, suffix) == (MetricType::Histogram, "_bucket") {
            // `le="Inf"` → `le="+Inf"`: one spelling in both formats (OpenMetrics requires
            // it; newer Prometheus versions normalise it too).
            for (k, v) in labels.iter_mut() {
                if k == "le" && v != "+Inf" && parse_value(v) == Some(Value::F64(f64::INFINITY)) {
                    *v = "+Inf".to_string();
                }
            }
        }
        let help = helps.get(family).map(String::as_str).unwrap_or("");
        let fam: &mut Family = set.family(family, help, kind);
        let ok = fam.push(Sample {
            suffix,
            labels,
            value: s.value,
            timestamp_ms: s.timestamp_ms,
            created: None,
        });
        if !ok {
            errors.push(ParseError {
                line: no,
                message: format!("duplicate series for {:?}; dropped", s.name),
            });
        }
    }
    // HELP/TYPE lines without samples produce no family.
    set.prune_empty();
    set
}

/// Whether label `name` is present and holds a float (`+Inf` included).
fn float_label(labels: &[Label], name: &str) -> bool {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .is_some_and(|(_, v)| parse_value(v).is_some())
}

/// Finds a sample's family: its own name if declared, else the base of a
/// histogram/summary suffix, else an untyped family of its own name.
fn resolve_family<'n>(
    name: &'n str,
    types: &HashMap<String, (MetricType, usize)>,
) -> (&'n str, &'static str, MetricType) {
    if let Some((k, _)) = types.get(name) {
        return (name, "", *k);
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            match types.get(base) {
                Some((MetricType::Histogram, _)) => return (base, suffix, MetricType::Histogram),
                Some((MetricType::Summary, _)) if suffix != "_bucket" => {
                    return (base, suffix, MetricType::Summary)
                }
                _ => {}
            }
        }
    }
    (name, "", MetricType::Untyped)
}

/// Parses one line: `Ok(None)` for blank lines and comments.
fn parse_line(l: &str) -> Result<Option<Line>, String> {
    let t = l.trim_start_matches([' ', '\t']);
    if t.is_empty() {
        return Ok(None);
    }
    if let Some(rest) = t.strip_prefix('#') {
        return parse_comment(rest);
    }
    if t.len() != l.len() {
        return Err("sample line starts with a blank (Prometheus rejects it)".into());
    }
    parse_sample(l).map(|s| Some(Line::Sample(s)))
}

/// Length of the longest metric-name prefix (`[a-zA-Z_:][a-zA-Z0-9_:]*`) of `s`.
fn name_len(s: &str, colon: bool) -> usize {
    let b = s.as_bytes();
    let ok = |c: u8, first: bool| {
        c.is_ascii_alphabetic()
            || c == b'_'
            || (colon && c == b':')
            || (!first && c.is_ascii_digit())
    };
    if !b.first().is_some_and(|&c| ok(c, true)) {
        return 0;
    }
    1 + b[1..].iter().take_while(|&&c| ok(c, false)).count()
}

fn is_blank(s: &str) -> bool {
    s.bytes().all(|b| b == b' ' || b == b'\t')
}

fn parse_comment(rest: &str) -> Result<Option<Line>, String> {
    let r = rest.trim_start_matches([' ', '\t']);
    if r.len() == rest.len() {
        return Ok(None); // `#TYPE …`: a comment for Prometheus
    }
    let (kw, after) = if let Some(a) = r.strip_prefix("HELP") {
        ("HELP", a)
    } else if let Some(a) = r.strip_prefix("TYPE") {
        ("TYPE", a)
    } else {
        return Ok(None);
    };
    let a = after.trim_start_matches([' ', '\t']);
    if a.len() == after.len() {
        return Ok(None); // `# HELPx`, `# HELP` alone
    }
    let n = name_len(a, true);
    if n == 0 {
        return Err(format!("{kw} line without a metric name"));
    }
    let (name, rest) = a.split_at(n);
    // Prometheus takes everything after the name minus its first byte as the text.
    let text = if is_blank(rest) {
        ""
    } else if rest.is_char_boundary(1) {
        &rest[1..]
    } else {
        return Err(format!(
            "{kw} line for {name:?}: the text is not valid UTF-8 after the name"
        ));
    };
    if kw == "HELP" {
        return Ok(Some(Line::Help(name.to_string(), unescape_help(text))));
    }
    // 0.0.4 types only (not OpenMetrics' info/stateset/unknown).
    let kind = match text {
        "counter" | "gauge" | "histogram" | "summary" | "untyped" => MetricType::from_keyword(text),
        _ => None,
    }
    .ok_or_else(|| {
        let hint = if text.ends_with([' ', '\t', '\r']) {
            " (trailing blank or CR)"
        } else {
            ""
        };
        format!("TYPE line for {name:?} has unknown type {text:?}{hint}")
    })?;
    Ok(Some(Line::Type(name.to_string(), kind)))
}

fn split_token(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

fn unescape_help(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.peek() {
                Some('\\') => {
                    it.next();
                    out.push('\\');
                }
                Some('n') => {
                    it.next();
                    out.push('\n');
                }
                // Go's strings.Replacer keeps any other backslash as is.
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_sample(t: &str) -> Result<RawSample, String> {
    let n = name_len(t, true);
    if n == 0 {
        let shown: String = t.chars().take(40).collect();
        return Err(format!("invalid metric name at the start of {shown:?}"));
    }
    let name = &t[..n];
    let mut rest = t[n..].trim_start_matches([' ', '\t']);
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = parse_labels(r, &mut labels).map_err(|e| format!("{name}: {e}"))?;
        rest = rest.trim_start_matches([' ', '\t']);
    }
    let (value_s, after) = split_token(rest);
    if value_s.is_empty() {
        return Err(format!("{name}: missing value"));
    }
    let value = parse_value(value_s).ok_or_else(|| {
        let hint = if value_s.ends_with('\r') {
            " (CRLF line ending?)"
        } else {
            ""
        };
        format!("{name}: invalid value {value_s:?}{hint}")
    })?;
    let after = after.trim_start_matches([' ', '\t']);
    let (ts_s, trailing) = split_token(after);
    let timestamp_ms = if ts_s.is_empty() {
        None
    } else {
        Some(
            ts_s.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| ts_s.parse::<i64>().ok())
                .flatten()
                .ok_or_else(|| {
                    format!("{name}: invalid timestamp {ts_s:?} (digits only, no sign, within i64)")
                })?,
        )
    };
    if !is_blank(trailing) {
        return Err(format!("{name}: unexpected text after the value"));
    }
    Ok(RawSample {
        name: name.to_string(),
        labels,
        value,
        timestamp_ms,
    })
}

/// Parses `l="v",…}`; returns the text after `}`.
fn parse_labels<'a>(mut s: &'a str, labels: &mut Vec<Label>) -> Result<&'a str, String> {
    loop {
        s = s.trim_start_matches([' ', '\t']);
        if let Some(r) = s.strip_prefix('}') {
            return Ok(r);
        }
        let n = name_len(s, false);
        if n == 0 {
            let shown: String = s.chars().take(20).collect();
            return Err(format!("expected a label name at {shown:?}"));
        }
        let lname = &s[..n];
        if lname.starts_with("__") {
            return Err(format!(
                "label name {lname:?} starts with \"__\" (reserved; __name__ would fail the scrape)"
            ));
        }
        if labels.iter().any(|(k, _)| k == lname) {
            return Err(format!(
                "label {lname:?} given twice (Prometheus fails the scrape)"
            ));
        }
        s = s[n..].trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix('=')
            .ok_or_else(|| format!("expected '=' after label {lname:?}"))?;
        s = s.trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix('"')
            .ok_or_else(|| format!("expected '\"' to open the value of label {lname:?}"))?;
        let mut value = String::new();
        let mut chars = s.char_indices().peekable();
        let rest = loop {
            match chars.next() {
                None => return Err(format!("unterminated value of label {lname:?}")),
                Some((i, '"')) => break &s[i + 1..],
                Some((_, '\\')) => match chars.peek().map(|&(_, c)| c) {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    // Any other escape is kept as is (Go's strings.Replacer); the
                    // escaped character cannot end the value.
                    Some(c) => {
                        value.push('\\');
                        value.push(c);
                    }
                    None => return Err(format!("unterminated value of label {lname:?}")),
                },
                Some((_, c)) => {
                    value.push(c);
                    continue;
                }
            }
            chars.next();
        };
        // An empty value is the same as no label (Prometheus drops it).
        if !value.is_empty() {
            labels.push((Cow::Owned(lname.to_string()), value));
        }
        s = rest.trim_start_matches([' ', '\t']);
        if let Some(r) = s.strip_prefix(',') {
            s = r.trim_start_matches([' ', '\t']);
            if s.starts_with(',') {
                return Err("two commas in the label set".into());
            }
        }
    }
}

/// Go `strconv.ParseFloat` syntax as Prometheus uses it (no `p`, `_`, hex; out of range
/// is an error); integers kept exact, the sign of zero kept.
fn parse_value(s: &str) -> Option<Value> {
    let b = s.as_bytes();
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.eq_ignore_ascii_case(b"inf") || digits.eq_ignore_ascii_case(b"infinity") {
        return Some(Value::F64(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }));
    }
    if b.eq_ignore_ascii_case(b"nan") {
        return Some(Value::F64(f64::NAN));
    }
    // Decimal: digits [. digits] (one digit at least), optional exponent.
    let mut i = 0;
    let mut nd = 0;
    while i < digits.len() && digits[i].is_ascii_digit() {
        i += 1;
        nd += 1;
    }
    let int_end = i;
    if i < digits.len() && digits[i] == b'.' {
        i += 1;
        while i < digits.len() && digits[i].is_ascii_digit() {
            i += 1;
            nd += 1;
        }
    }
    if nd == 0 {
        return None;
    }
    if i < digits.len() && (digits[i] == b'e' || digits[i] == b'E') {
        i += 1;
        if i < digits.len() && (digits[i] == b'+' || digits[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < digits.len() && digits[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return None;
        }
    }
    if i != digits.len() {
        return None;
    }
    if int_end == digits.len() && b[0] != b'+' {
        // Plain integer: exact when it fits (but -0 is a float: it keeps its sign).
        if !neg {
            if let Ok(v) = s.parse::<u64>() {
                return Some(Value::U64(v));
            }
        } else if digits.iter().any(|&d| d != b'0') {
            if let Ok(v) = s.parse::<i64>() {
                return Some(Value::I64(v));
            }
        }
    }
    let v: f64 = s.parse().ok()?;
    // Rust rounds out-of-range to ±inf; Go reports a range error.
    v.is_finite().then_some(Value::F64(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expo::{encode_openmetrics, encode_text};

    fn p(s: &str) -> Parsed {
        parse_text(s, &ParseOptions::default())
    }

    fn val(set: &MetricSet, fam: &str, suffix: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let f = set.get(fam)?;
        f.samples
            .iter()
            .find(|s| {
                s.suffix == suffix
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|s| s.value.as_f64())
    }

    fn lines(p: &Parsed) -> Vec<usize> {
        p.errors.iter().map(|e| e.line).collect()
    }

    #[test]
    fn simple_document() {
        let r = p("# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\"} 3\na_total{x=\"2\"} 4.5\nb 7 1700000000000\n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let a = r.set.get("a_total").expect("a_total");
        assert_eq!(a.kind, MetricType::Counter);
        assert_eq!(a.help, "Things.");
        assert_eq!(a.samples[0].value, Value::U64(3));
        assert_eq!(a.samples[1].value, Value::F64(4.5));
        let b = r.set.get("b").expect("b");
        assert_eq!(b.kind, MetricType::Untyped);
        assert_eq!(b.samples[0].timestamp_ms, Some(1_700_000_000_000));
    }

    #[test]
    fn escapes_in_label_values_and_help() {
        let r = p("# HELP m A \\\\ back\\nslash.\nm{a=\"q\\\"uote\",b=\"back\\\\slash\",c=\"new\\nline\",d=\"{},=\"} 1\n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let f = r.set.get("m").expect("m");
        assert_eq!(f.help, "A \\ back\nslash.");
        assert_eq!(
            val(
                &r.set,
                "m",
                "",
                &[
                    ("a", "q\"uote"),
                    ("b", "back\\slash"),
                    ("c", "new\nline"),
                    ("d", "{},=")
                ]
            ),
            Some(1.0)
        );
        // Round trip through our encoder gives the same escapes back.
        let enc = encode_text(&r.set);
        assert!(
            enc.contains(r#"m{a="q\"uote",b="back\\slash",c="new\nline",d="{},="} 1"#),
            "{enc}"
        );
        // Other escapes are kept as is, as Prometheus stores them.
        let bad = p("m{a=\"x\\t\"} 1\nm{a=\"unterminated} 1\nok 1\n");
        assert_eq!(lines(&bad), vec![2]);
        assert_eq!(val(&bad.set, "m", "", &[("a", "x\\t")]), Some(1.0));
        assert!(bad.errors[0].message.contains("unterminated"));
        assert!(bad.set.contains("ok"));
    }

    #[test]
    fn label_syntax_variants() {
        let r = p("m{} 1\nn{ a = \"1\" , b=\"2\", } 2\no\t{a=\"1\"}\t3\n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(val(&r.set, "n", "", &[("a", "1"), ("b", "2")]), Some(2.0));
        assert_eq!(val(&r.set, "o", "", &[("a", "1")]), Some(3.0));
        let r = p("m{a=\"1\",a=\"2\"} 1\nm{1a=\"1\"} 1\nm{__x=\"1\"} 1\nm{a \"1\"} 1\nm{a=1} 1\nm{,a=\"1\"} 1\nm{a=\"1\",,b=\"2\"} 1\nm{__name__=\"x\"} 1\n");
        assert_eq!(lines(&r), vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(r.set.is_empty());
        // As Prometheus: the comma between labels is optional, an empty value is no label.
        let r = p("m{a=\"1\" b=\"2\"} 1\nm{a=\"1\",c=\"\"} 2\nm{a=\"1\"} 3\n");
        assert_eq!(lines(&r), vec![3]);
        assert_eq!(val(&r.set, "m", "", &[("a", "1"), ("b", "2")]), Some(1.0));
        assert_eq!(val(&r.set, "m", "", &[("a", "1")]), Some(2.0));
    }

    #[test]
    fn special_values() {
        let r = p("a NaN\nb +Inf\nc -Inf\nd 1e3\ne -12\nf 18446744073709551615\ng -0.5\nh Inf\n");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert!(r.set.get("a").expect("a").samples[0]
            .value
            .as_f64()
            .is_nan());
        assert_eq!(val(&r.set, "b", "", &[]), Some(f64::INFINITY));
        assert_eq!(val(&r.set, "c", "", &[]), Some(f64::NEG_INFINITY));
        assert_eq!(val(&r.set, "d", "", &[]), Some(1000.0));
        assert_eq!(r.set.get("e").expect("e").samples[0].value, Value::I64(-12));
        assert_eq!(
            r.set.get("f").expect("f").samples[0].value,
            Value::U64(u64::MAX)
        );
        assert_eq!(val(&r.set, "g", "", &[]), Some(-0.5));
        assert_eq!(val(&r.set, "h", "", &[]), Some(f64::INFINITY));
        let bad = p("a one\nb 0x10\nc\nd 1 1.5\ne 1 2 3\n");
        assert_eq!(lines(&bad), vec![1, 2, 3, 4, 5]);
        assert!(bad.errors[2].message.contains("missing value"));
        assert!(bad.errors[3].message.contains("timestamp"));
        assert!(bad.errors[4].message.contains("after the value"));
    }

    #[test]
    fn timestamps_can_be_rejected() {
        let opts = ParseOptions {
            reject_timestamps: true,
            ..Default::default()
        };
        let r = parse_text("a 1 123\nb 2\n", &opts);
        assert_eq!(lines(&r), vec![1]);
        assert!(!r.set.contains("a"));
        assert!(r.set.contains("b"));
    }

    #[test]
    fn type_and_help_rules() {
        let r = p(concat!(
            "# TYPE a gauge\n",       // 1
            "# TYPE a counter\n",     // 2 conflicting
            "# TYPE a gauge\n",       // 3 second
            "a 1\n",                  // 4
            "b 2\n",                  // 5
            "# TYPE b gauge\n",       // 6 after samples
            "# HELP c first\n",       // 7
            "# HELP c second\n",      // 8
            "c 3\n",                  // 9
            "# TYPE d flurb\n",       // 10 unknown type
            "# TYPE 9d gauge\n",      // 11 invalid name
            "# TYPE e gauge extra\n", // 12 trailing
            "# just a comment\n",     // 13
            "#TYPE f counter\n",      // 14 (a comment for Prometheus)
            "f 1\n",                  // 15
            "# TYPE unused gauge\n",  // 16 no samples: no family
        ));
        assert_eq!(lines(&r), vec![2, 3, 6, 8, 10, 11, 12]);
        assert!(r.errors[0].message.contains("conflicting TYPE"));
        assert!(r.errors[2].message.contains("after its samples"));
        assert_eq!(r.set.get("a").expect("a").kind, MetricType::Gauge);
        assert_eq!(r.set.get("b").expect("b").kind, MetricType::Untyped);
        assert_eq!(r.set.get("c").expect("c").help, "first");
        assert_eq!(r.set.get("f").expect("f").kind, MetricType::Untyped);
        assert!(!r.set.contains("unused"));
        // HELP after samples is fine (Go accepts it).
        let r = p("x 1\n# HELP x late\n");
        assert!(r.errors.is_empty());
        assert_eq!(r.set.get("x").expect("x").help, "late");
    }

    #[test]
    fn histogram_and_summary_grouping() {
        let r = p(concat!(
            "# HELP h_seconds Latency.\n",
            "# TYPE h_seconds histogram\n",
            "h_seconds_bucket{le=\"0.1\"} 1\n",
            "h_seconds_bucket{le=\"+Inf\"} 3\n",
            "h_seconds_sum 0.7\n",
            "h_seconds_count 3\n",
            "h_seconds_bucket 4\n",             // 7: no le
            "h_seconds 1\n",                    // 8: bare name
            "h_seconds_sum{le=\"1\"} 1\n",      // 9: le on sum
            "h_seconds_bucket{le=\"big\"} 1\n", // 10: le not a number
            "# TYPE s summary\n",               // 11
            "s{quantile=\"0.5\"} 0.2\n",
            "s_sum 1\n",
            "s_count 5\n",
            "s 9\n",                    // 15: no quantile
            "s_bucket{le=\"1\"} 1\n",   // 16: not grouped, own untyped family
            "s{quantile=\"half\"} 1\n", // 17: quantile not a number
        ));
        assert_eq!(lines(&r), vec![7, 8, 9, 10, 15, 17]);
        let h = r.set.get("h_seconds").expect("histogram");
        assert_eq!(h.kind, MetricType::Histogram);
        assert_eq!(h.help, "Latency.");
        assert_eq!(h.samples.len(), 4);
        assert_eq!(
            val(&r.set, "h_seconds", "_bucket", &[("le", "+Inf")]),
            Some(3.0)
        );
        assert_eq!(val(&r.set, "h_seconds", "_count", &[]), Some(3.0));
        assert!(!r.set.contains("h_seconds_sum"));
        let s = r.set.get("s").expect("summary");
        assert_eq!(s.samples.len(), 3);
        assert_eq!(val(&r.set, "s", "_sum", &[]), Some(1.0));
        assert_eq!(
            r.set.get("s_bucket").expect("s_bucket").kind,
            MetricType::Untyped
        );
        // Late histogram TYPE (after a _bucket sample) is dropped.
        let r = p("x_bucket{le=\"1\"} 1\n# TYPE x histogram\n");
        assert_eq!(lines(&r), vec![2]);
        assert!(r.set.contains("x_bucket"));
        // The encoder writes it back as one family.
        let r = p("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n");
        assert_eq!(
            encode_text(&r.set),
            "# HELP h \n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"
        );
    }

    #[test]
    fn duplicate_series_are_dropped_first_wins() {
        let r = p("a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\na{x=\"1\"} 3\nb 1\nc 1\nb 2\n");
        assert_eq!(lines(&r), vec![2, 6]);
        assert!(r.errors[0].message.contains("duplicate"));
        assert_eq!(val(&r.set, "a", "", &[("x", "1"), ("y", "2")]), Some(1.0));
        assert_eq!(val(&r.set, "a", "", &[("x", "1")]), Some(3.0));
        assert_eq!(val(&r.set, "b", "", &[]), Some(1.0));
    }

    #[test]
    fn invalid_names_and_trailing_garbage() {
        let r = p(
            "1abc 1\nfoo-bar 1\nfoo bar\nfoo 1 2 zzz\n  lead 1\nok 1  \n\n\t\ncr 2\r\nok2:rec 2\n",
        );
        assert_eq!(lines(&r), vec![1, 2, 3, 4, 5, 9]);
        assert!(r.errors[4].message.contains("blank"), "{:?}", r.errors[4]);
        assert!(r.errors[5].message.contains("CRLF"), "{:?}", r.errors[5]);
        assert_eq!(val(&r.set, "ok", "", &[]), Some(1.0));
        assert_eq!(val(&r.set, "ok2:rec", "", &[]), Some(2.0));
    }

    #[test]
    fn reserved_prefixes_are_dropped() {
        let opts = ParseOptions {
            reserved_prefixes: vec!["script_".into()],
            ..Default::default()
        };
        let r = parse_text(
            "# TYPE script_success gauge\nscript_success 1\nmine 1\n",
            &opts,
        );
        assert_eq!(lines(&r), vec![1, 2]);
        assert!(r.errors[1].message.contains("reserved"));
        assert!(!r.set.contains("script_success"));
        assert!(r.set.contains("mine"));
    }

    #[test]
    fn line_limit() {
        let opts = ParseOptions {
            max_lines: 3,
            ..Default::default()
        };
        let r = parse_text("a 1\nb 1\nc 1\n", &opts);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.set.len(), 3);
        let r = parse_text("a 1\nb 1\nc 1\nd 1\ne 1\n", &opts);
        assert_eq!(lines(&r), vec![4]);
        assert!(r.errors[0].message.contains("too many lines"));
        assert_eq!(r.set.len(), 3);
    }

    #[test]
    fn empty_and_comment_only() {
        assert!(p("").set.is_empty());
        assert!(p("").errors.is_empty());
        let r = p("# hello\n#\n# HELP\n# HELP \n# HELP x\nx 1\n");
        // "# HELP" alone is a comment; "# HELP " starts a HELP line without a name.
        assert_eq!(lines(&r), vec![4]);
        assert_eq!(r.set.get("x").expect("x").help, "");
    }

    /// Randomized robustness: arbitrary bytes and token soup never panic, every error
    /// has a line number inside the input, and the result encodes in both formats.
    #[test]
    fn never_panics_on_random_input() {
        let tokens: &[&str] = &[
            "a",
            "b_total",
            "{",
            "}",
            "=",
            "\"",
            "\\",
            ",",
            " ",
            "\t",
            "\n",
            "\r",
            "#",
            " HELP ",
            " TYPE ",
            "histogram",
            "summary",
            "gauge",
            "_bucket",
            "_sum",
            "_count",
            "le",
            "quantile",
            "1",
            "-",
            "+Inf",
            "NaN",
            "1e9",
            ".",
            "é",
            "\u{0}",
            "💥",
            "__",
            "9",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..3000 {
            let len = (next() % 200) as usize;
            let bytes: Vec<u8> = if round % 2 == 0 {
                (0..len).map(|_| next() as u8).collect()
            } else {
                (0..len)
                    .map(|_| tokens[(next() as usize) % tokens.len()])
                    .collect::<String>()
                    .into_bytes()
            };
            let r = parse_bytes(&bytes, &ParseOptions::default());
            let n = bytes.split(|&b| b == b'\n').count();
            assert!(r.errors.iter().all(|e| e.line >= 1 && e.line <= n));
            let _ = encode_openmetrics(&r.set);
            let _ = encode_text(&r.set);
        }
    }
}
