//! `hwmon`: hardware sensors from `/sys/class/hwmon/hwmon*/` with node_exporter's
//! names: `node_hwmon_temp_celsius{chip,sensor}`, `node_hwmon_temp_{max,crit}_celsius`,
//! `node_hwmon_in_volts`, `node_hwmon_fan_rpm`, `node_hwmon_power_average_watt`,
//! `node_hwmon_chip_names{chip,chip_name}`, `node_hwmon_sensor_label{chip,label,sensor}`.
//! No chips: not applicable.

use std::path::Path;

use rtmon::expo::{MetricSet, MetricType};

use super::{dir_names, read_attr, CollectError, CollectResult};
use crate::config::Config;

/// node_exporter's `cleanMetricName`: lower case, `[^a-z0-9:_]` → `_`, trimmed `_`.
pub fn clean_name(s: &str) -> String {
    let s: String = s
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_matches('_').to_string()
}

/// The stable chip name: `<bus>_<device>` from the `device` link, else the `name`
/// file, else the hwmon directory name.
pub fn chip_name(dir: &Path, dir_name: &str) -> String {
    if let Ok(dev) = std::fs::canonicalize(dir.join("device")) {
        let name = dev
            .file_name()
            .and_then(|n| n.to_str())
            .map(clean_name)
            .unwrap_or_default();
        let bus = dev
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .map(clean_name)
            .unwrap_or_default();
        if !bus.is_empty() && !name.is_empty() {
            return format!("{bus}_{name}");
        }
        if !name.is_empty() {
            return name;
        }
    }
    if let Some(n) = read_attr(&dir.join("name")).map(|n| clean_name(&n)) {
        if !n.is_empty() {
            return n;
        }
    }
    clean_name(dir_name)
}

/// Splits `temp1_input` into (`temp`, `1`, `input`).
pub fn split_sensor(file: &str) -> Option<(&str, &str, &str)> {
    let digit = file.find(|c: char| c.is_ascii_digit())?;
    let (kind, rest) = file.split_at(digit);
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (num, prop) = rest.split_at(end);
    let prop = prop.strip_prefix('_').unwrap_or(prop);
    if kind.is_empty() || prop.is_empty() {
        return None;
    }
    Some((kind, num, prop))
}

/// Metric name, help, scale for a sensor reading, or None if not exported.
pub fn metric_for(kind: &str, prop: &str) -> Option<(String, &'static str, f64)> {
    Some(match (kind, prop) {
        ("temp", "input") => (
            "node_hwmon_temp_celsius".into(),
            "Hardware monitor for temperature (input)",
            0.001,
        ),
        ("temp", "max" | "crit" | "min" | "emergency" | "lcrit") => (
            format!("node_hwmon_temp_{prop}_celsius"),
            "Hardware monitor for temperature",
            0.001,
        ),
        ("temp", "crit_alarm" | "max_alarm" | "alarm") => (
            format!("node_hwmon_temp_{prop}_celsius"),
            "Hardware monitor for temperature",
            0.001,
        ),
        ("in", "input") => (
            "node_hwmon_in_volts".into(),
            "Hardware monitor for voltage (input)",
            0.001,
        ),
        ("in", "min" | "max" | "crit" | "lcrit") => (
            format!("node_hwmon_in_{prop}_volts"),
            "Hardware monitor for voltage",
            0.001,
        ),
        ("fan", "input") => (
            "node_hwmon_fan_rpm".into(),
            "Hardware monitor for fan revolutions per minute (input)",
            1.0,
        ),
        ("fan", "min" | "max" | "target") => (
            format!("node_hwmon_fan_{prop}_rpm"),
            "Hardware monitor for fan revolutions per minute",
            1.0,
        ),
        ("power", "average") => (
            "node_hwmon_power_average_watt".into(),
            "Hardware monitor for power usage in watts (average)",
            0.000_001,
        ),
        ("power", "input") => (
            "node_hwmon_power_watt".into(),
            "Hardware monitor for power usage in watts (input)",
            0.000_001,
        ),
        ("curr", "input") => (
            "node_hwmon_curr_amps".into(),
            "Hardware monitor for current (input)",
            0.001,
        ),
        _ => return None,
    })
}

/// Reads one chip directory.
pub fn record_chip(dir: &Path, dir_name: &str, out: &mut MetricSet) {
    let chip = chip_name(dir, dir_name);
    if let Some(n) = read_attr(&dir.join("name")) {
        out.info(
            "node_hwmon_chip_names",
            "Annotation metric for human-readable chip names",
            &[("chip", &chip), ("chip_name", &n)],
        );
    }
    let Ok(files) = dir_names(dir) else { return };
    let mut sensor = String::with_capacity(16);
    for f in &files {
        let Some((kind, num, prop)) = split_sensor(f) else {
            continue;
        };
        sensor.clear();
        sensor.push_str(kind);
        sensor.push_str(num);
        if prop == "label" {
            if let Some(l) = read_attr(&dir.join(f)) {
                out.info(
                    "node_hwmon_sensor_label",
                    "Label for given chip and sensor",
                    &[("chip", &chip), ("label", &l), ("sensor", &sensor)],
                );
            }
            continue;
        }
        let Some((name, help, scale)) = metric_for(kind, prop) else {
            continue;
        };
        let Some(raw) = read_attr(&dir.join(f)).and_then(|v| v.trim().parse::<f64>().ok()) else {
            continue;
        };
        out.family(&name, help, MetricType::Gauge)
            .add(&[("chip", &chip), ("sensor", &sensor)], raw * scale);
    }
}

/// Walks `/sys/class/hwmon`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let base = cfg.paths.sys("class/hwmon");
    let names = dir_names(&base)?;
    if names.is_empty() {
        return Err(CollectError::NotApplicable(format!(
            "no chips in {}",
            base.display()
        )));
    }
    for n in names {
        record_chip(&base.join(&n), &n, out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(clean_name("coretemp.0\n"), "coretemp_0");
        assert_eq!(clean_name("ACPI-Thing"), "acpi_thing");
        assert_eq!(split_sensor("temp1_input"), Some(("temp", "1", "input")));
        assert_eq!(
            split_sensor("temp12_crit_alarm"),
            Some(("temp", "12", "crit_alarm"))
        );
        assert_eq!(split_sensor("name"), None);
        assert_eq!(
            metric_for("temp", "input").map(|m| m.0),
            Some("node_hwmon_temp_celsius".into())
        );
        assert_eq!(
            metric_for("fan", "input").map(|m| m.0),
            Some("node_hwmon_fan_rpm".into())
        );
        assert!(metric_for("temp", "type").is_none());
    }
}
