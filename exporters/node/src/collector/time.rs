//! `time`: `node_time_seconds`, `node_time_zone_offset_seconds{time_zone}` and the
//! clock sources of `/sys/devices/system/clocksource`.

use std::ffi::CStr;

use rtmon::expo::MetricSet;

use super::{read_attr, CollectResult};
use crate::config::Config;

/// The local time zone abbreviation and its offset from UTC in seconds.
pub fn zone(now: i64) -> (String, i64) {
    let t: libc::time_t = now as libc::time_t;
    // SAFETY: tm is plain old data; zeroed is valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is thread-safe.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return ("UTC".into(), 0);
    }
    let name = if tm.tm_zone.is_null() {
        String::from("UTC")
    } else {
        // SAFETY: tm_zone points to a NUL-terminated static string owned by libc.
        unsafe { CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    (name, tm.tm_gmtoff as i64)
}

/// Appends the clock source info metrics from one `clocksourceN` directory's files.
pub fn record_clocksource(device: &str, available: &str, current: &str, out: &mut MetricSet) {
    for cs in available.split_ascii_whitespace() {
        out.info(
            "node_time_clocksource_available_info",
            "Available clocksources read from '/sys/devices/system/clocksource'.",
            &[("clocksource", cs), ("device", device)],
        );
    }
    let cur = current.trim();
    if !cur.is_empty() {
        out.info(
            "node_time_clocksource_current_info",
            "Current clocksource read from '/sys/devices/system/clocksource'.",
            &[("clocksource", cur), ("device", device)],
        );
    }
}

/// Reads the clock and the clock sources.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    out.gauge(
        "node_time_seconds",
        "System time in seconds since epoch (1970).",
        &[],
        now,
    );
    let (tz, off) = zone(now as i64);
    out.gauge(
        "node_time_zone_offset_seconds",
        "System time zone offset in seconds.",
        &[("time_zone", &tz)],
        off,
    );
    let dir = cfg.paths.sys("devices/system/clocksource");
    if let Ok(names) = super::dir_names(&dir) {
        for n in names {
            let Some(device) = n.strip_prefix("clocksource") else {
                continue;
            };
            let d = dir.join(&n);
            let avail = read_attr(&d.join("available_clocksource")).unwrap_or_default();
            let cur = read_attr(&d.join("current_clocksource")).unwrap_or_default();
            record_clocksource(device, &avail, &cur, out);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocksources() {
        let mut m = MetricSet::new();
        record_clocksource("0", "kvm-clock tsc acpi_pm", "tsc\n", &mut m);
        let t = rtmon::expo::encode_text(&m);
        assert!(t.contains(
            "node_time_clocksource_available_info{clocksource=\"acpi_pm\",device=\"0\"} 1\n"
        ));
        assert!(
            t.contains("node_time_clocksource_current_info{clocksource=\"tsc\",device=\"0\"} 1\n")
        );
    }

    #[test]
    fn zone_is_known() {
        let (name, off) = zone(0);
        assert!(!name.is_empty());
        assert!(off.abs() <= 14 * 3600);
    }
}
