//! Logging setup: `--log.level` and `--log.format=logfmt|json`, to stderr, no colours.
//!
//! logfmt lines look like node_exporter's:
//! `ts=2026-11-21T23:59:59.123Z level=info caller=rtmon::http msg="Listening" address=127.0.0.1:9100`

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::LogArgs;

/// Installs the global subscriber. Calling it twice is harmless (the second call is
/// ignored), so tests may call it freely.
pub fn init(args: &LogArgs) -> Result<(), String> {
    let level = match args.level.as_str() {
        "debug" => Level::DEBUG,
        "info" => Level::INFO,
        "warn" => Level::WARN,
        "error" => Level::ERROR,
        other => return Err(format!("--log.level: unknown level {other:?}")),
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let res = match args.format.as_str() {
        "json" => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        "logfmt" => builder.event_format(Logfmt).try_init(),
        other => return Err(format!("--log.format: unknown format {other:?}")),
    };
    // Already initialised (tests): fine.
    let _ = res;
    Ok(())
}

/// logfmt event formatter.
pub struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(
            writer,
            "ts={} level={} caller={}",
            rfc3339_now(),
            meta.level().as_str().to_ascii_lowercase(),
            meta.target()
        )?;
        let mut v = LogfmtVisitor {
            msg: None,
            fields: String::new(),
        };
        event.record(&mut v);
        if let Some(m) = v.msg {
            write!(writer, " msg=")?;
            write_value(&mut writer, &m)?;
        }
        writeln!(writer, "{}", v.fields)
    }
}

struct LogfmtVisitor {
    msg: Option<String>,
    fields: String,
}

impl Visit for LogfmtVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg = Some(value.to_string());
            return;
        }
        use fmt::Write as _;
        let _ = write!(self.fields, " {}=", field.name());
        let mut s = String::new();
        let _ = write_value(&mut s, value);
        self.fields.push_str(&s);
    }
}

fn write_value(w: &mut impl fmt::Write, v: &str) -> fmt::Result {
    let needs_quotes = v.is_empty() || v.contains([' ', '"', '=', '\n', '\t', '\\']);
    if !needs_quotes {
        return w.write_str(v);
    }
    w.write_char('"')?;
    for c in v.chars() {
        match c {
            '"' => w.write_str("\\\"")?,
            '\\' => w.write_str("\\\\")?,
            '\n' => w.write_str("\\n")?,
            '\t' => w.write_str("\\t")?,
            c => w.write_char(c)?,
        }
    }
    w.write_char('"')
}

/// Current UTC time as RFC 3339 with milliseconds, e.g. `2026-11-21T23:59:59.123Z`.
pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_millis())
}

/// Formats seconds since the epoch (UTC) with milliseconds. Hand-written (15 lines)
/// because it is total over `i64` seconds, where `humantime::format_rfc3339_millis`
/// panics before 1970 and after 9999 — callers pass timestamps read from Prometheus.
pub fn rfc3339(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_305_599, 123), "2026-11-21T23:59:59.123Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
    }

    #[test]
    fn logfmt_values_are_quoted_when_needed() {
        let q = |v: &str| {
            let mut s = String::new();
            write_value(&mut s, v).expect("write");
            s
        };
        assert_eq!(q("plain"), "plain");
        assert_eq!(q("two words"), "\"two words\"");
        assert_eq!(q("a\"b"), "\"a\\\"b\"");
        assert_eq!(q(""), "\"\"");
    }
}
