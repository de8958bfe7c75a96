//! YAML config loading with precise errors.
//!
//! Every rtmon binary reads its YAML files (SNMP auths and modules, script configs, web
//! config, flow files) through this module, so every config mistake is reported the same
//! way: `file:line:column: message`, with an optional hint and a one-line source snippet
//! with a caret ([`ConfigError::render`]).
//!
//! - [`load_yaml`] / [`from_yaml_str`]: serde into any `DeserializeOwned` type. Unknown
//!   keys (`#[serde(deny_unknown_fields)]`) get "did you mean", type errors name the key,
//!   duplicate keys and YAML syntax errors carry the right line and column.
//! - [`Spanned`] (re-exported from serde-saphyr) + [`ConfigError::at`]: semantic checks
//!   after deserialising ("unknown auth `site_v3`") point at the offending value.
//! - [`parse_tree`] + [`Node`] + [`Decoder`]: a located YAML tree for hand-written
//!   decoders that want to report every error, not only the first (the flow loader uses
//!   it).
//! - [`Secret`]: a literal, `{env: VAR}` or `{file: PATH}` value whose `Debug`/`Display`
//!   print `<secret>` and which never appears in an error message.
//!
//! Snippets never show a secret: on a line whose key looks like a secret
//! ([`is_secret_key`]), everything after the key is replaced by `<secret>`.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

pub use serde_saphyr::Spanned;

/// A position in a file (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Line, 1-based.
    pub line: usize,
    /// Column, 1-based.
    pub column: usize,
}

impl Location {
    /// The location of a serde-saphyr location, `None` when it is unknown (line 0).
    pub fn from_saphyr(l: serde_saphyr::Location) -> Option<Location> {
        if l.line() == 0 {
            return None;
        }
        Some(Location {
            line: usize::try_from(l.line()).unwrap_or(usize::MAX),
            column: usize::try_from(l.column()).unwrap_or(usize::MAX).max(1),
        })
    }
}

/// A config error: `file:line:column: message` (+ an optional hint and snippet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// Where in the file, if known.
    pub location: Option<Location>,
    /// What is wrong (never contains a secret value).
    pub message: String,
    /// How to fix it, if there is something useful to say (never contains a secret).
    pub hint: Option<String>,
    /// The offending source line with a caret under the column (secret values masked).
    pub snippet: Option<String>,
}

impl ConfigError {
    /// A new error.
    pub fn new(file: &Path, location: Option<Location>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            location,
            message: message.into(),
            hint: None,
            snippet: None,
        }
    }

    /// An error pointing at a [`Spanned`] value (semantic checks after deserialising).
    pub fn at<T>(file: &Path, value: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        ConfigError::new(file, Location::from_saphyr(value.referenced), message)
    }

    /// The same error with a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> ConfigError {
        self.hint = Some(hint.into());
        self
    }

    /// The same error with a snippet of `source` at its location (secret values masked).
    #[must_use]
    pub fn with_source(mut self, source: &str) -> ConfigError {
        if let Some(l) = self.location {
            self.snippet = snippet(source, l);
        }
        self
    }

    /// The error for a terminal: the `file:line:column: message` line, then the source
    /// line with a caret, then the hint.
    pub fn render(&self) -> String {
        let mut out = format!("error: {self}");
        if let Some(s) = &self.snippet {
            out.push('\n');
            out.push_str(s);
        }
        if let Some(h) = &self.hint {
            out.push_str("\n  = hint: ");
            out.push_str(h);
        }
        out
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(l) => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                l.line,
                l.column,
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Renders `source`'s line at `at` with a caret under the column, rustc style. Returns
/// `None` when the line does not exist. Values of secret-looking keys are masked.
pub fn snippet(source: &str, at: Location) -> Option<String> {
    let line = source.lines().nth(at.line.checked_sub(1)?)?;
    let (shown, mask_from) = mask_secret_line(line);
    let mut col = at.column.saturating_sub(1);
    if let Some(m) = mask_from {
        col = col.min(m);
    }
    let col = col.min(shown.chars().count());
    let num = at.line.to_string();
    let pad = " ".repeat(num.len());
    let lead: String = shown
        .chars()
        .take(col)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    Some(format!("{pad} |\n{num} | {shown}\n{pad} | {lead}^"))
}

/// Whether a key names a secret (SNMP community, password, passphrase, token, API key),
/// whatever its spelling: `community`, `communityString`, `priv_password`,
/// `grafanaAPIToken`, `secret`, `api-key`.
pub fn is_secret_key(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    [
        "community",
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "privkey",
        "authkey",
        "bearer",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// Like [`is_secret_key`], but also true for near-misses (`comunity`, `pasword`): used to
/// mask snippets, where masking a harmless value costs nothing and a typo in a secret's
/// key must not leak its value.
pub fn may_be_secret_key(key: &str) -> bool {
    if is_secret_key(key) {
        return true;
    }
    let k: Vec<char> = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    ["community", "password", "passphrase", "secret", "token"]
        .iter()
        .any(|w| {
            let n = w.len();
            let limit = if n >= 8 { 2 } else { 1 };
            (n.saturating_sub(1)..=n + 1).any(|len| {
                len <= k.len()
                    && k.windows(len.max(1)).any(|win| {
                        let s: String = win.iter().collect();
                        edit_distance(&s, w) <= limit
                    })
            })
        })
}

/// The line with the value after a secret-looking key replaced by `<secret>`, and the
/// char index where masking starts (if it did).
fn mask_secret_line(line: &str) -> (String, Option<usize>) {
    // Find `key:` tokens; a key is the run of non-separator chars before a ':'.
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ':' && chars.get(i + 1).is_none_or(|c| c.is_whitespace()) {
            let end = i;
            let mut start = end;
            while start > 0 && !matches!(chars[start - 1], ' ' | '\t' | '{' | ',' | '[' | '-') {
                start -= 1;
            }
            let key: String = chars[start..end]
                .iter()
                .filter(|c| !matches!(c, '"' | '\''))
                .collect();
            if may_be_secret_key(&key) {
                let mut s: String = chars[..=i].iter().collect();
                s.push_str(" <secret>");
                return (s, Some(i + 1));
            }
        }
        i += 1;
    }
    (line.to_string(), None)
}

/// Optimal-string-alignment edit distance (Levenshtein plus adjacent transpositions,
/// `strsim::osa_distance`), case-insensitive: `valn` → `vlan` is 1.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let lower = |s: &str| -> String { s.chars().flat_map(char::to_lowercase).collect() };
    strsim::osa_distance(&lower(a), &lower(b))
}

/// The expected name closest to `got`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(got: &str, expected: &[&'a str]) -> Option<&'a str> {
    let len = got.chars().count();
    let limit = match len {
        0..=3 => 1,
        4..=8 => 2,
        _ => 3,
    };
    expected
        .iter()
        .map(|e| (edit_distance(got, e), *e))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| e)
}

/// "unknown key `x`, did you mean `y`?" (or "unknown key `x`") and a hint listing the
/// expected keys.
pub fn unknown_key_error(
    file: &Path,
    at: Option<Location>,
    key: &str,
    expected: &[&str],
) -> ConfigError {
    let message = match did_you_mean(key, expected) {
        Some(m) => format!("unknown key `{key}`, did you mean `{m}`?"),
        None => format!("unknown key `{key}`"),
    };
    let e = ConfigError::new(file, at, message);
    if expected.is_empty() {
        e
    } else {
        e.with_hint(format!("expected one of: {}", expected.join(", ")))
    }
}

thread_local! {
    /// Directory relative `{file: PATH}` secrets are resolved against while loading.
    static BASE_DIR: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

struct BaseDirGuard(Option<PathBuf>);

impl BaseDirGuard {
    fn set(dir: Option<PathBuf>) -> BaseDirGuard {
        BaseDirGuard(BASE_DIR.with(|b| b.replace(dir)))
    }
}

impl Drop for BaseDirGuard {
    fn drop(&mut self) {
        let prev = self.0.take();
        BASE_DIR.with(|b| *b.borrow_mut() = prev);
    }
}

/// Reads and deserialises a YAML file. Relative `{file: PATH}` [`Secret`]s are resolved
/// against the file's directory.
pub fn load_yaml<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<T, ConfigError> {
    let path = path.as_ref();
    let text = read_text(path)?;
    let _g = BaseDirGuard::set(path.parent().map(Path::to_path_buf));
    from_yaml_str(path, &text)
}

/// Reads a config file as UTF-8 text, with an error naming the file.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::new(path, None, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let text = String::from_utf8_lossy(upto);
        let line = text.matches('\n').count() + 1;
        let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ConfigError::new(
            path,
            Some(Location { line, column }),
            "file is not valid UTF-8",
        )
    })
}

/// Deserialises YAML `text`; `file` names it in error messages.
pub fn from_yaml_str<T: DeserializeOwned>(
    file: impl AsRef<Path>,
    text: &str,
) -> Result<T, ConfigError> {
    let file = file.as_ref();
    serde_saphyr::from_str::<T>(text).map_err(|e| convert_error(file, text, &e))
}

/// Turns a serde-saphyr error into a [`ConfigError`] with a did-you-mean, the key name
/// for type errors and a snippet.
fn convert_error(file: &Path, text: &str, err: &serde_saphyr::Error) -> ConfigError {
    use serde_saphyr::Error as E;
    let mut inner = err.without_snippet();
    while let E::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let location = err.location().and_then(Location::from_saphyr);
    let e = match inner {
        E::SerdeUnknownField {
            field, expected, ..
        } => unknown_key_error(file, location, field, expected),
        E::SerdeMissingField { field, .. } => {
            ConfigError::new(file, location, format!("missing required key `{field}`"))
        }
        E::DuplicateMappingKey { key, .. } => {
            let msg = match key {
                Some(k) if !is_secret_key(k) => format!("duplicate key `{k}`"),
                _ => "duplicate key".to_string(),
            };
            ConfigError::new(file, location, msg)
                .with_hint("each key may appear only once in a mapping")
        }
        E::Budget { .. } => ConfigError::new(
            file,
            location,
            format!(
                "the YAML is too large or expands too many aliases ({})",
                strip_location_suffix(&inner.to_string())
            ),
        )
        .with_hint("rtmon config files are small: split a big flow list into several files"),
        E::MultipleDocuments { .. } => ConfigError::new(
            file,
            location,
            "a second YAML document starts here; this file takes one document",
        )
        .with_hint("remove the `---` separator and the document after it, or merge the two"),
        E::Eof { .. } if is_blank_yaml(text) => {
            ConfigError::new(file, None, "the file is empty (or holds only comments)")
        }
        E::SerdeUnknownVariant {
            variant, expected, ..
        } if !location
            .and_then(|l| key_before(text, l))
            .is_some_and(|k| may_be_secret_key(&k)) =>
        {
            let msg = match did_you_mean(variant, expected) {
                Some(m) => format!("unknown value `{variant}`, did you mean `{m}`?"),
                None => format!("unknown value `{variant}`"),
            };
            ConfigError::new(file, location, msg)
                .with_hint(format!("expected one of: {}", expected.join(", ")))
        }
        other => {
            let mut msg = friendlier(&strip_location_suffix(&other.to_string()));
            let is_value_error = matches!(
                other,
                E::SerdeInvalidType { .. }
                    | E::SerdeInvalidValue { .. }
                    | E::SerdeInvalidLength { .. }
                    | E::SerdeUnknownVariant { .. }
                    | E::InvalidScalar { .. }
                    | E::Unexpected { .. }
                    | E::NullIntoString { .. }
                    | E::Message { .. }
            );
            let key = location.and_then(|l| key_before(text, l));
            if key.as_deref().is_some_and(may_be_secret_key)
                && is_value_error
                && !msg.starts_with(SECRET_MSG)
            {
                // The message may quote the value: never echo it.
                msg = "invalid value".to_string();
            }
            let msg = match key {
                Some(k) if is_value_error => format!("`{k}`: {msg}"),
                _ => msg,
            };
            let deep = msg.contains("recursion limit");
            let e = ConfigError::new(file, location, msg);
            if is_value_error {
                e
            } else if deep {
                e.with_hint("the YAML is nested too deeply")
            } else {
                e.with_hint(
                    "a YAML syntax error: the mistake may be just before this point \
                     (an unclosed `{`, `[` or quote, or wrong indentation)",
                )
            }
        }
    };
    e.with_source(text)
}

/// Whether `text` holds no YAML content (only blank lines and comments).
fn is_blank_yaml(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim_start_matches('\u{feff}').trim();
        l.is_empty() || l.starts_with('#') || l == "---" || l == "..."
    })
}

/// Rewrites developer-facing serde messages for people editing a config file.
fn friendlier(msg: &str) -> String {
    let ranges = [
        ("u8", "an integer in 0..=255"),
        ("u16", "an integer in 0..=65535"),
        ("u32", "an integer in 0..=4294967295"),
        ("u64", "a non-negative integer"),
        ("usize", "a non-negative integer"),
        ("i8", "an integer in -128..=127"),
        ("i16", "an integer in -32768..=32767"),
        ("i32", "a 32-bit integer"),
        ("i64", "an integer"),
        ("f32", "a number"),
        ("f64", "a number"),
    ];
    if let Some(t) = msg.strip_prefix("invalid ") {
        if let Some((_, want)) = ranges.iter().find(|(n, _)| *n == t) {
            return format!("expected {want}");
        }
    }
    if msg.starts_with("cannot deserialize null into string") {
        return "has no value (expected a string)".to_string();
    }
    if msg == "expected mapping start" {
        return "expected a mapping (`key: value` lines)".to_string();
    }
    if msg == "expected sequence start" {
        return "expected a list (`- item` lines or `[a, b]`)".to_string();
    }
    msg.to_string()
}

/// Drops serde-saphyr's " at line X, column Y" suffix (we print the location first).
fn strip_location_suffix(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(", column ") => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}

/// The mapping key whose value starts at `at`, read from the source line (`key: value`
/// in block or flow style).
fn key_before(text: &str, at: Location) -> Option<String> {
    let line = text.lines().nth(at.line.checked_sub(1)?)?;
    let before: String = line.chars().take(at.column.saturating_sub(1)).collect();
    let before = before.trim_end().strip_suffix(':')?;
    let before = before.trim_end();
    let start = before
        .rfind([' ', '\t', '{', ',', '['])
        .map_or(0, |i| i + 1);
    let key = before[start..].trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty() && key != "-").then(|| key.to_string())
}

// ---------------------------------------------------------------------------------
// Located YAML tree for hand-written decoders.

/// A YAML node with its location.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub location: Location,
    /// The value.
    pub value: Value,
    /// For non-string scalars (bools, numbers), the source text (`no`, `1.10`), so that a
    /// string field gets what the user wrote.
    pub raw: Option<String>,
}

/// A YAML value (keys of mappings are nodes too, so they have locations).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false` (and YAML 1.1 spellings).
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order (duplicate keys are rejected by the parser).
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// "a string", "a mapping", ... for type errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The scalar's text as written (strings, numbers, booleans); `None` for null, lists
    /// and mappings.
    pub fn as_text(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => self.raw.as_deref(),
            _ => None,
        }
    }

    /// The entries of a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v)
    }

    /// The key node for `key` of a mapping.
    pub fn key_node(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(k, _)| k)
    }

    fn fill_raw(&mut self, text: &str, spans: &[(usize, usize)], next: &mut usize) {
        let span = spans.get(*next).copied();
        *next += 1;
        match &mut self.value {
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                self.raw = span
                    .and_then(|(o, l)| text.get(o..o.checked_add(l)?))
                    .map(str::to_string);
            }
            Value::Seq(items) => items.iter_mut().for_each(|n| n.fill_raw(text, spans, next)),
            Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.fill_raw(text, spans, next);
                v.fill_raw(text, spans, next);
            }),
            _ => {}
        }
    }
}

/// What the serde visitor produces: the node plus its byte span, collected in pre-order
/// so raw scalar text can be filled in from the source afterwards.
struct RawNode {
    node: Node,
    spans: Vec<(usize, usize)>,
}

struct KindVisitor;

fn push_child(spans: &mut Vec<(usize, usize)>, child: RawNode) -> Node {
    spans.extend(child.spans);
    child.node
}

enum Kind {
    Leaf(Value),
    Seq(Vec<Node>, Vec<(usize, usize)>),
    Map(Vec<(Node, Node)>, Vec<(usize, usize)>),
}

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Leaf(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Leaf(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        d.deserialize_any(KindVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Leaf(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Leaf(Value::Int(i128::from(v))))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Leaf(Value::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Leaf(Value::Int(i128::from(v))))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        Ok(Kind::Leaf(match i128::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(v as f64),
        }))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Leaf(Value::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Leaf(Value::Str(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Leaf(Value::Str(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        let mut spans = Vec::new();
        while let Some(n) = a.next_element::<RawNode>()? {
            items.push(push_child(&mut spans, n));
        }
        Ok(Kind::Seq(items, spans))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        let mut spans = Vec::new();
        while let Some(k) = a.next_key::<RawNode>()? {
            let k = push_child(&mut spans, k);
            let v = a.next_value::<RawNode>()?;
            let v = push_child(&mut spans, v);
            entries.push((k, v));
        }
        Ok(Kind::Map(entries, spans))
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawNode, D::Error> {
        let s = Spanned::<Kind>::deserialize(d)?;
        let location =
            Location::from_saphyr(s.referenced).unwrap_or(Location { line: 1, column: 1 });
        // Raw text comes from where the value is defined (an alias `*a` points back at
        // its anchored scalar); the location is where it is used.
        let span = s.defined.span();
        let own = (
            span.byte_offset()
                .and_then(|o| usize::try_from(o).ok())
                .unwrap_or(usize::MAX),
            span.byte_len()
                .and_then(|l| usize::try_from(l).ok())
                .unwrap_or(0),
        );
        let mut spans = vec![own];
        let value = match s.value {
            Kind::Leaf(v) => v,
            Kind::Seq(items, child) => {
                spans.extend(child);
                Value::Seq(items)
            }
            Kind::Map(entries, child) => {
                spans.extend(child);
                Value::Map(entries)
            }
        };
        Ok(RawNode {
            node: Node {
                location,
                value,
                raw: None,
            },
            spans,
        })
    }
}

/// Parses YAML `text` into a located tree. Syntax errors and duplicate keys are
/// reported at their line and column. An empty document is a `Null` node.
pub fn parse_tree(file: &Path, text: &str) -> Result<Node, ConfigError> {
    let raw: RawNode = serde_saphyr::from_str(text).map_err(|e| convert_error(file, text, &e))?;
    let mut node = raw.node;
    let mut next = 0;
    node.fill_raw(text, &raw.spans, &mut next);
    Ok(node)
}

/// A helper for hand-written decoders over a [`Node`] tree: collects every error (with
/// file, location and a snippet) instead of stopping at the first.
pub struct Decoder<'s> {
    /// The file, for messages.
    pub file: PathBuf,
    /// The source text, for snippets.
    pub source: &'s str,
    /// Errors found so far, in the order found.
    pub errors: Vec<ConfigError>,
    /// Warnings: likely mistakes that do not stop loading.
    pub warnings: Vec<ConfigError>,
}

impl<'s> Decoder<'s> {
    /// A decoder for `source`, read from `file`.
    pub fn new(file: &Path, source: &'s str) -> Decoder<'s> {
        Decoder {
            file: file.to_path_buf(),
            source,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Records a warning at `at` with a hint.
    pub fn warn(&mut self, at: Location, message: impl Into<String>, hint: impl Into<String>) {
        let w = ConfigError::new(&self.file, Some(at), message)
            .with_hint(hint)
            .with_source(self.source);
        self.warnings.push(w);
    }

    /// Records an error at `at`.
    pub fn error(&mut self, at: Location, message: impl Into<String>) {
        let e = ConfigError::new(&self.file, Some(at), message).with_source(self.source);
        self.errors.push(e);
    }

    /// Records an error at `at` with a hint.
    pub fn error_hint(
        &mut self,
        at: Location,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let e = ConfigError::new(&self.file, Some(at), message)
            .with_hint(hint)
            .with_source(self.source);
        self.errors.push(e);
    }

    /// Checks a mapping's keys: unknown keys get "did you mean", secret-looking keys get
    /// `secret_message(key)` (the value is never echoed), non-string keys are errors.
    /// Returns `None` (and records an error) when `node` is not a mapping.
    pub fn check_map<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        expected: &[&str],
        secret_message: &dyn Fn(&str) -> (String, String),
    ) -> Option<&'n [(Node, Node)]> {
        let Some(entries) = node.as_map() else {
            self.error(
                node.location,
                format!("{what} must be a mapping, found {}", node.value.kind()),
            );
            return None;
        };
        for (k, _) in entries {
            match k.as_text() {
                Some(key) if expected.contains(&key) => {}
                Some(key) if is_secret_key(key) => {
                    let (msg, hint) = secret_message(key);
                    self.error_hint(k.location, msg, hint);
                }
                Some(key) => {
                    let e = unknown_key_error(&self.file, Some(k.location), key, expected)
                        .with_source(self.source);
                    self.errors.push(e);
                }
                None => self.error(k.location, format!("keys of {what} must be strings")),
            }
        }
        Some(entries)
    }

    /// A required non-empty string under `key`, or an error (missing key at `parent`).
    pub fn req_str(&mut self, parent: &Node, key: &str, what: &str) -> Option<(String, Location)> {
        match parent.get(key) {
            None => {
                self.error(
                    parent.location,
                    format!("{what}: missing required key `{key}`"),
                );
                None
            }
            Some(n) => self.str_value(n, key),
        }
    }

    /// An optional non-empty string under `key`.
    pub fn opt_str(&mut self, parent: &Node, key: &str) -> Option<(String, Location)> {
        match parent.get(key) {
            None => None,
            Some(n) if matches!(n.value, Value::Null) => None,
            Some(n) => self.str_value(n, key),
        }
    }

    /// A non-empty string value.
    pub fn str_value(&mut self, n: &Node, key: &str) -> Option<(String, Location)> {
        match n.as_text() {
            Some(s) if !s.trim().is_empty() => Some((s.to_string(), n.location)),
            Some(_) => {
                self.error(n.location, format!("`{key}` must not be empty"));
                None
            }
            None if matches!(n.value, Value::Null) => {
                self.error(n.location, format!("`{key}` has no value"));
                None
            }
            None => {
                self.error(
                    n.location,
                    format!("`{key}` must be a string, found {}", n.value.kind()),
                );
                None
            }
        }
    }

    /// An optional integer under `key` in `range`.
    pub fn opt_int(
        &mut self,
        parent: &Node,
        key: &str,
        range: std::ops::RangeInclusive<i128>,
    ) -> Option<(i128, Location)> {
        let n = parent.get(key)?;
        match &n.value {
            Value::Null => None,
            Value::Int(v) if range.contains(v) => Some((*v, n.location)),
            Value::Int(v) => {
                self.error(
                    n.location,
                    format!(
                        "`{key}` {v} is out of range {}..={}",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
            other => {
                self.error(
                    n.location,
                    format!(
                        "`{key}` must be an integer in {}..={}, found {}",
                        range.start(),
                        range.end(),
                        other.kind()
                    ),
                );
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Secrets.

/// A secret (SNMP community, v3 password, API token) given literally, as
/// `{env: VAR}` / `"{env:VAR}"` or as `{file: PATH}` / `"{file:PATH}"` (a relative
/// path is relative to the config file). `Debug` and `Display` print `<secret>`; errors
/// name the variable or file, never the value. Environment variables and files are
/// read when [`Secret::reveal`] is called, so a rotated file is picked up.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    source: SecretSource,
}

#[derive(Clone, PartialEq, Eq)]
enum SecretSource {
    Literal(String),
    Env(String),
    File(PathBuf),
}

/// Why a secret could not be read (names the variable or file, never a value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretError(pub String);

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SecretError {}

impl Secret {
    /// A literal secret.
    pub fn literal(value: impl Into<String>) -> Secret {
        Secret {
            source: SecretSource::Literal(value.into()),
        }
    }

    /// A secret read from an environment variable.
    pub fn from_env(var: impl Into<String>) -> Secret {
        Secret {
            source: SecretSource::Env(var.into()),
        }
    }

    /// A secret read from a file (trailing newline removed).
    pub fn from_file(path: impl Into<PathBuf>) -> Secret {
        Secret {
            source: SecretSource::File(path.into()),
        }
    }

    /// A secret from its one-line form: `{env:VAR}`, `{file:PATH}` (a relative path is
    /// taken as given) or else the literal value. The YAML loader reads the same form
    /// (and the `{env: VAR}` / `{file: PATH}` mappings); exporters whose config keeps
    /// secrets as plain strings (the SNMP exporter's `snmp.yml`) use this.
    pub fn from_reference(s: &str) -> Result<Secret, SecretError> {
        if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            if let Some(var) = inner.strip_prefix("env:") {
                let var = var.trim();
                if var.is_empty() {
                    return Err(SecretError("a secret's `env` must name a variable".into()));
                }
                return Ok(Secret::from_env(var));
            }
            if let Some(path) = inner.strip_prefix("file:") {
                let path = path.trim();
                if path.is_empty() {
                    return Err(SecretError("a secret's `file` must name a file".into()));
                }
                return Ok(Secret::from_file(path));
            }
        }
        Ok(Secret::literal(s))
    }

    /// Where the secret comes from, safe to log: `literal`, `env SNMP_COMMUNITY`,
    /// `file /run/secrets/community`.
    pub fn origin(&self) -> String {
        match &self.source {
            SecretSource::Literal(_) => "literal".to_string(),
            SecretSource::Env(v) => format!("env {v}"),
            SecretSource::File(p) => format!("file {}", p.display()),
        }
    }

    /// The secret's value (reads the variable or file now). Empty values are errors.
    pub fn reveal(&self) -> Result<String, SecretError> {
        let v = self.read()?;
        if v.is_empty() {
            return Err(SecretError(format!(
                "secret from {} is empty",
                self.origin()
            )));
        }
        Ok(v)
    }

    /// Reads the variable or file now and keeps the value: a literal secret (for a
    /// value needed at load time, e.g. to derive keys). Unlike [`Secret::reveal`], an
    /// empty value is kept. Errors name the variable or file, never a value.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        match &self.source {
            SecretSource::Literal(_) => Ok(self.clone()),
            _ => self.read().map(Secret::literal),
        }
    }

    /// The value of a literal (or [resolved](Secret::resolve)) secret; `None` for a
    /// variable or file not read yet.
    pub fn expose(&self) -> Option<&str> {
        match &self.source {
            SecretSource::Literal(v) => Some(v),
            _ => None,
        }
    }

    /// The value, whether empty or not (the trailing newlines of a file removed).
    fn read(&self) -> Result<String, SecretError> {
        Ok(match &self.source {
            SecretSource::Literal(v) => v.clone(),
            SecretSource::Env(var) => std::env::var(var).map_err(|e| {
                SecretError(match e {
                    std::env::VarError::NotPresent => {
                        format!("environment variable `{var}` is not set")
                    }
                    std::env::VarError::NotUnicode(_) => {
                        format!("environment variable `{var}` is not valid UTF-8")
                    }
                })
            })?,
            SecretSource::File(p) => {
                let mut s = std::fs::read_to_string(p).map_err(|e| {
                    SecretError(format!("cannot read secret file {}: {e}", p.display()))
                })?;
                while s.ends_with('\n') || s.ends_with('\r') {
                    s.pop();
                }
                s
            }
        })
    }

    /// A `{file: PATH}` secret with a relative path joined to the directory of the file
    /// being loaded.
    fn in_base_dir(self) -> Secret {
        match self.source {
            SecretSource::File(p) => Secret::from_file(relative_to_base(p)),
            other => Secret { source: other },
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// Every error message of [`SecretVisitor`] starts with this, so `convert_error` can
/// tell them (they never contain the value) from other messages on a secret key.
const SECRET_MSG: &str = "a secret";
const SECRET_EXPECTED: &str = "a quoted string, {env: VARIABLE} or {file: PATH}";

struct SecretVisitor;

/// `p` joined to the directory of the file being loaded, if it is relative.
fn relative_to_base(p: PathBuf) -> PathBuf {
    match BASE_DIR.with(|b| b.borrow().clone()) {
        Some(base) if p.is_relative() => base.join(p),
        _ => p,
    }
}

impl SecretVisitor {
    fn wrong<E: de::Error>(what: &str) -> E {
        E::custom(format!(
            "{SECRET_MSG} must be {SECRET_EXPECTED}, not {what}"
        ))
    }
}

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = Secret;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SECRET_MSG}: {SECRET_EXPECTED}")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
        if v.is_empty() {
            return Err(E::custom("a secret must not be empty"));
        }
        // The string forms `"{env:VAR}"` / `"{file:PATH}"` (as in the SNMP exporter's
        // config) are references too.
        Secret::from_reference(v)
            .map(Secret::in_base_dir)
            .map_err(|e| E::custom(e.0))
    }
    // Every other scalar: an error that does not echo the value. (All messages of this
    // visitor start with SECRET_MSG: `convert_error` keeps those, and replaces any
    // other value error on a secret-looking key with a generic one.)
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
        Err(Self::wrong("a boolean (quote it)"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
        Err(Self::wrong("a number (quote it)"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
        Err(Self::wrong("a number (quote it)"))
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Secret, E> {
        Err(Self::wrong("a number (quote it)"))
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Secret, E> {
        Err(Self::wrong("a number (quote it)"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
        Err(Self::wrong("a number (quote it)"))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Secret, E> {
        Err(Self::wrong("binary data"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Secret, E> {
        Err(Self::wrong("nothing"))
    }
    fn visit_none<E: de::Error>(self) -> Result<Secret, E> {
        Err(Self::wrong("nothing"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        Err(Self::wrong("a list"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Secret, A::Error> {
        let mut out: Option<Secret> = None;
        while let Some(key) = a.next_key::<String>()? {
            if out.is_some() {
                return Err(de::Error::custom(
                    "a secret takes exactly one of `env` or `file`",
                ));
            }
            match key.as_str() {
                "env" => {
                    let var: String = a.next_value()?;
                    if var.is_empty() {
                        return Err(de::Error::custom("a secret's `env` must name a variable"));
                    }
                    out = Some(Secret::from_env(var));
                }
                "file" => {
                    let p: PathBuf = a.next_value()?;
                    out = Some(Secret::from_file(relative_to_base(p)));
                }
                other => {
                    let msg = match did_you_mean(other, &["env", "file"]) {
                        Some(m) => {
                            format!("{SECRET_MSG} takes `env` or `file`, not `{other}`: did you mean `{m}`?")
                        }
                        None => {
                            format!("{SECRET_MSG} takes `env` or `file`, not `{other}`")
                        }
                    };
                    return Err(de::Error::custom(msg));
                }
            }
        }
        out.ok_or_else(|| {
            de::Error::custom(format!(
                "{SECRET_MSG} must be {SECRET_EXPECTED}, not an empty mapping"
            ))
        })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_typos() {
        let keys = ["host", "instance", "interface", "ip", "vlan", "mac"];
        assert_eq!(did_you_mean("valn", &keys), Some("vlan"));
        assert_eq!(did_you_mean("VLAN", &keys), Some("vlan"));
        assert_eq!(did_you_mean("intreface", &keys), Some("interface"));
        assert_eq!(did_you_mean("instnace", &keys), Some("instance"));
        assert_eq!(did_you_mean("hots", &keys), Some("host"));
        assert_eq!(did_you_mean("completely", &keys), None);
        assert_eq!(did_you_mean("x", &keys), None);
        assert_eq!(edit_distance("valn", "vlan"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn secret_keys_are_recognised() {
        for k in [
            "community",
            "communityString",
            "password",
            "priv_password",
            "grafanaAPIToken",
            "token",
            "api-key",
            "secret",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "auth",
            "host",
            "target",
            "vlan",
            "interface",
            "key_file",
            "port",
        ] {
            assert!(!is_secret_key(k), "{k}");
            assert!(!may_be_secret_key(k), "{k}");
        }
        for k in [
            "comunity",
            "comunityString",
            "pasword",
            "privPasword",
            "tokne",
            "secert",
        ] {
            assert!(!is_secret_key(k), "{k}");
            assert!(may_be_secret_key(k), "{k}");
        }
    }

    #[test]
    fn snippet_masks_secret_values_and_places_the_caret() {
        let src = "a: 1\n  community: hunter2\nb: {port: x, vlan: 3}\n";
        let s = snippet(src, Location { line: 2, column: 3 }).unwrap_or_default();
        assert!(!s.contains("hunter2"), "{s}");
        assert_eq!(s, "  |\n2 |   community: <secret>\n  |   ^");
        let s = snippet(
            src,
            Location {
                line: 3,
                column: 19,
            },
        )
        .unwrap_or_default();
        assert_eq!(s, "  |\n3 | b: {port: x, vlan: 3}\n  |                   ^");
        let s = snippet(
            "x: {token: abc, y: 1}",
            Location {
                line: 1,
                column: 20,
            },
        )
        .unwrap_or_default();
        assert!(!s.contains("abc"), "{s}");
        assert!(snippet(src, Location { line: 9, column: 1 }).is_none());
    }

    #[test]
    fn secret_is_redacted_in_debug_and_display() {
        let s = Secret::literal("hunter2");
        assert_eq!(format!("{s:?}"), "<secret>");
        assert_eq!(format!("{s}"), "<secret>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<secret>)");
        assert_eq!(s.reveal().as_deref(), Ok("hunter2"));
        assert_eq!(s.origin(), "literal");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Auth {
        community: Secret,
    }

    #[test]
    fn secret_references_resolve_now_and_keep_empty_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("s");
        std::fs::write(&f, "from-file\r\n").expect("write");
        let r = Secret::from_reference(&format!("{{file:{}}}", f.display())).expect("ref");
        assert_eq!(r, Secret::from_file(&f));
        assert_eq!(r.expose(), None);
        assert_eq!(r.resolve().expect("read").expose(), Some("from-file"));
        std::env::set_var("RTMON_UNIT_SECRET_EMPTY", "");
        let e = Secret::from_reference("{env: RTMON_UNIT_SECRET_EMPTY }").expect("ref");
        assert_eq!(e.resolve().expect("set").expose(), Some(""));
        assert!(e.reveal().is_err(), "reveal refuses an empty value");
        assert_eq!(
            Secret::from_reference("{env:RTMON_UNIT_SECRET_UNSET}")
                .expect("ref")
                .resolve()
                .map(|_| ()),
            Err(SecretError(
                "environment variable `RTMON_UNIT_SECRET_UNSET` is not set".into()
            ))
        );
        assert_eq!(
            Secret::from_reference("{env:}").map(|_| ()),
            Err(SecretError("a secret's `env` must name a variable".into()))
        );
        assert_eq!(
            Secret::from_reference("plain").expect("literal").expose(),
            Some("plain")
        );
    }

    #[test]
    fn secret_deserialises_from_literal_env_and_file() {
        let a: Auth =
            from_yaml_str("t.yml", "community: hunter2\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.community.reveal().as_deref(), Ok("hunter2"));
        assert_eq!(format!("{a:?}"), "Auth { community: <secret> }");

        let var = "RTMON_CONFIG_TEST_SECRET_ENV";
        let a: Auth = from_yaml_str("t.yml", &format!("community: {{env: {var}}}\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.community.origin(), format!("env {var}"));
        let err = a
            .community
            .reveal()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(err, format!("environment variable `{var}` is not set"));

        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("c.txt"), "s3cr3t\n").unwrap_or_else(|e| panic!("{e}"));
        let cfg = dir.path().join("auth.yml");
        std::fs::write(&cfg, "community: {file: c.txt}\n").unwrap_or_else(|e| panic!("{e}"));
        let a: Auth = load_yaml(&cfg).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.community.reveal().as_deref(), Ok("s3cr3t"));
    }

    #[test]
    fn secret_errors_do_not_echo_the_value() {
        let e = from_yaml_str::<Auth>("t.yml", "community: 123456789\n")
            .err()
            .map(|e| e.render())
            .unwrap_or_default();
        assert!(!e.contains("123456789"), "{e}");
        assert!(e.contains("t.yml:1:12:"), "{e}");
        let e = from_yaml_str::<Auth>("t.yml", "community: {envv: X}\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("did you mean `env`?"), "{e}");
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    enum Proto {
        Sha,
        Md5,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct NotSecretTyped {
        auth_password: Option<Proto>,
        priv_password: Option<u32>,
    }

    #[test]
    fn value_errors_on_secret_keys_are_redacted() {
        for text in ["auth_password: hunter2\n", "priv_password: hunter2\n"] {
            let e = from_yaml_str::<NotSecretTyped>("s.yml", text)
                .err()
                .unwrap_or_else(|| panic!("{text}: no error"));
            let all = format!("{e}\n{}\n{e:?}", e.render());
            assert!(!all.contains("hunter2"), "{all}");
            assert_eq!(
                e.location,
                Some(Location {
                    line: 1,
                    column: 16
                }),
                "{all}"
            );
            assert!(e.message.ends_with(": invalid value"), "{all}");
        }
        // A typo in a secret's key: the unknown-key error shows the line, masked.
        let e = from_yaml_str::<P>("s.yml", "port: x\npasword: hunter2\n").err();
        let all = e
            .map(|e| format!("{e}\n{}\n{e:?}", e.render()))
            .unwrap_or_default();
        assert!(all.contains("unknown key `pasword`"), "{all}");
        assert!(!all.contains("hunter2"), "{all}");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct P {
        port: String,
        vlan: Option<u16>,
    }

    #[test]
    fn serde_errors_have_locations_and_key_names() {
        let e = from_yaml_str::<P>("p.yml", "port: x\nvaln: 3\n").err();
        let e = e.unwrap_or_else(|| panic!("expected an error"));
        assert_eq!(
            e.to_string(),
            "p.yml:2:1: unknown key `valn`, did you mean `vlan`?"
        );
        assert_eq!(e.hint.as_deref(), Some("expected one of: port, vlan"));
        assert!(e.render().contains("2 | valn: 3\n  | ^"), "{}", e.render());

        let e = from_yaml_str::<P>("p.yml", "port: x\nvlan: 70000\n").err();
        assert_eq!(
            e.map(|e| e.to_string()).unwrap_or_default(),
            "p.yml:2:7: `vlan`: expected an integer in 0..=65535"
        );
        let e = from_yaml_str::<P>("p.yml", "{port: x, vlan: abc}\n").err();
        assert_eq!(
            e.map(|e| e.to_string()).unwrap_or_default(),
            "p.yml:1:17: `vlan`: expected an integer in 0..=65535"
        );
        let e = from_yaml_str::<P>("p.yml", "port: ~\n").err();
        assert_eq!(
            e.map(|e| e.to_string()).unwrap_or_default(),
            "p.yml:1:7: `port`: has no value (expected a string)"
        );
        let e = from_yaml_str::<P>("p.yml", "# nothing\n\n").err();
        assert_eq!(
            e.map(|e| e.to_string()).unwrap_or_default(),
            "p.yml: the file is empty (or holds only comments)"
        );
        let e = from_yaml_str::<P>("p.yml", "vlan: 3\n").err();
        assert_eq!(
            e.map(|e| e.to_string()).unwrap_or_default(),
            "p.yml:1:1: missing required key `port`"
        );
        let e = from_yaml_str::<P>("p.yml", "port: a\nvlan: 1\nport: b\n").err();
        assert_eq!(
            e.map(|e| e.to_string()).unwrap_or_default(),
            "p.yml:3:1: duplicate key `port`"
        );
        let e = from_yaml_str::<P>("p.yml", "port: [a]\n").err();
        assert_eq!(
            e.map(|e| e.to_string()).unwrap_or_default(),
            "p.yml:1:7: `port`: expected string scalar"
        );
        let e = from_yaml_str::<P>("p.yml", "port: a\n  vlan: 1\n").err();
        assert_eq!(
            e.map(|e| e.to_string()).unwrap_or_default(),
            "p.yml:2:7: mapping values are not allowed in this context"
        );
    }

    #[test]
    fn tree_keeps_raw_text_and_locations() {
        let t = parse_tree(Path::new("t.yml"), "a: no\nb: 1.10\nc: {d: 7}\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.get("a").and_then(Node::as_text), Some("no"));
        assert_eq!(t.get("b").and_then(Node::as_text), Some("1.10"));
        let d = t.get("c").and_then(|c| c.get("d"));
        assert_eq!(d.map(|d| d.location), Some(Location { line: 3, column: 8 }));
        assert_eq!(d.map(|d| &d.value), Some(&Value::Int(7)));
        assert_eq!(
            t.key_node("c").map(|k| k.location),
            Some(Location { line: 3, column: 1 })
        );
        // An alias of a number: the raw text of the anchored scalar, the alias's place.
        let t =
            parse_tree(Path::new("t.yml"), "a: &v 1.50\nb: *v\n").unwrap_or_else(|e| panic!("{e}"));
        let b = t.get("b");
        assert_eq!(b.and_then(Node::as_text), Some("1.50"));
        assert_eq!(b.map(|b| b.location), Some(Location { line: 2, column: 4 }));
    }
}
