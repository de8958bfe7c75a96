//! `hwmon`: hardware sensors from `/sys/class/hwmon/hwmon*/` and their `device/`
//! directories, with node_exporter's names, units and labels: `node_hwmon_<type>_<item>`
//! `{chip,sensor}` (`temp*` in °C, `in*` in V, `curr*` in A, `power*` in W, `fan*` in
//! rpm, alarms/faults/beeps and everything else as read), `node_hwmon_chip_names
//! {chip,chip_name}`, `node_hwmon_sensor_label{chip,label,sensor}`.
//!
//! The `chip` label is the stable device path (`<bus>_<device>`, e.g.
//! `platform_coretemp_0`), else the cleaned `name` file, else the `hwmonN` directory.
//! Several chips of one device (three radios of one `ieee80211_phy0`) would share that
//! label and lose all but one series, so chips whose label collides are told apart as
//! node_exporter 1.12 does: `<label>_<cleaned name file>` (`ieee80211_phy0_mt7996_phy0_0`);
//! if even that collides, rtmon appends the `hwmonN` directory instead, so no series is
//! ever dropped. No chips: not applicable.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rtmon::expo::{MetricSet, MetricType};

use super::{dir_names, read_attr, CollectError, CollectResult, Dir};
use crate::config::Config;

/// node_exporter's `cleanMetricName`: lower case, `[^a-z0-9:_]` → `_`, trimmed `_`.
pub fn clean_name(s: &str) -> String {
    let s: String = s
        .to_lowercase()
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

/// The sensor types node_exporter reads (other files are ignored).
const SENSOR_TYPES: [&str; 14] = [
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
    "freq",
];

/// Splits a sensor file name as node_exporter's `^([^0-9]+)([0-9]*)?(_(.+))?$` does:
/// `temp1_crit_alarm` → (`temp`, 1, `crit_alarm`), `pwm1` → (`pwm`, 1, ``),
/// `beep_enable` → (`beep_enable`, 0, ``). `None` when the name does not fit.
pub fn split_sensor(file: &str) -> Option<(&str, u32, &str)> {
    let digit = file
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(file.len());
    if digit == 0 {
        return None;
    }
    let (kind, rest) = file.split_at(digit);
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (num, tail) = rest.split_at(end);
    let num = if num.is_empty() { 0 } else { num.parse().ok()? };
    let prop = match tail.strip_prefix('_') {
        Some(p) if !p.is_empty() => p,
        Some(_) => return None,
        None if tail.is_empty() => "",
        None => return None,
    };
    Some((kind, num, prop))
}

/// Sensor name (`temp1`) → property (`input`, `label`, `` …) → value as read.
pub type SensorData = BTreeMap<String, BTreeMap<String, String>>;

/// Adds the sensor files of one directory to `data` (later directories override).
pub fn read_sensors(dir: &Path, data: &mut SensorData) {
    let Ok(d) = Dir::open(dir) else { return };
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut buf = [0u8; 128];
    for e in rd.flatten() {
        let Ok(file) = e.file_name().into_string() else {
            continue;
        };
        let Some((kind, num, prop)) = split_sensor(&file) else {
            continue;
        };
        if !SENSOR_TYPES.contains(&kind) {
            continue;
        }
        // One read of at most 128 bytes, as node_exporter (some drivers answer EAGAIN
        // forever); newlines trimmed, nothing else.
        let Some(raw) = d.read_raw(&file, &mut buf) else {
            continue;
        };
        let value = String::from_utf8_lossy(raw).trim_matches('\n').to_string();
        data.entry(format!("{kind}{num}"))
            .or_default()
            .insert(prop.to_string(), value);
    }
}

/// The `chip` label before disambiguation: `<bus>_<device>` from the `device` link,
/// else the cleaned `name` file, else the (resolved) hwmon directory name.
pub fn chip_name(dir: &Path) -> Option<String> {
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
            return Some(format!("{bus}_{name}"));
        }
        if !name.is_empty() {
            return Some(name);
        }
    }
    if let Some(n) = human_name(dir) {
        return Some(n);
    }
    let real = std::fs::canonicalize(dir).ok()?;
    let n = clean_name(real.file_name()?.to_str()?);
    (!n.is_empty()).then_some(n)
}

/// The cleaned `name` file (`node_hwmon_chip_names{chip_name}`).
pub fn human_name(dir: &Path) -> Option<String> {
    let n = clean_name(&read_attr(&dir.join("name"))?);
    (!n.is_empty()).then_some(n)
}

/// One chip to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chip {
    /// Its directory below `class/hwmon`.
    pub dir: PathBuf,
    /// The `chip` label (unique among the chips of one scrape).
    pub label: String,
    /// The cleaned `name` file, if any.
    pub name: Option<String>,
}

/// Gives every chip a unique label: colliding labels get `_<name>` appended (as
/// node_exporter), and if that still collides `_<hwmonN>` instead.
pub fn disambiguate(chips: Vec<(PathBuf, String, Option<String>)>) -> Vec<Chip> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (_, base, _) in &chips {
        *count.entry(base.as_str()).or_default() += 1;
    }
    let mut out: Vec<Chip> = chips
        .iter()
        .map(|(dir, base, name)| {
            let label = match name {
                Some(n) if count[base.as_str()] > 1 => format!("{base}_{n}"),
                _ => base.clone(),
            };
            Chip {
                dir: dir.clone(),
                label,
                name: name.clone(),
            }
        })
        .collect();
    let mut again: HashMap<String, usize> = HashMap::new();
    for c in &out {
        *again.entry(c.label.clone()).or_default() += 1;
    }
    for c in &mut out {
        if again[&c.label] > 1 {
            let dir = c
                .dir
                .file_name()
                .and_then(|n| n.to_str())
                .map(clean_name)
                .unwrap_or_default();
            tracing::debug!(chip = %c.label, dir = %dir, "hwmon chip label collides; appending the directory name");
            c.label = format!("{}_{dir}", c.label);
        }
    }
    out
}

fn gauge(
    out: &mut MetricSet,
    name: &str,
    help: impl FnOnce() -> String,
    l: &[(&'static str, &str)],
    v: f64,
) {
    family(out, name, help, MetricType::Gauge).add(l, v);
}

fn family<'m>(
    out: &'m mut MetricSet,
    name: &str,
    help: impl FnOnce() -> String,
    kind: MetricType,
) -> &'m mut rtmon::expo::Family {
    if out.contains(name) {
        out.family(name, "", kind)
    } else {
        out.family(name, &help(), kind)
    }
}

fn parse(v: &str) -> Option<f64> {
    v.parse().ok()
}

/// Appends the samples of one sensor, named and scaled as node_exporter does.
pub fn record_sensor(
    chip: &str,
    sensor: &str,
    data: &BTreeMap<String, String>,
    out: &mut MetricSet,
) {
    let Some((kind, _, _)) = split_sensor(sensor) else {
        return;
    };
    let labels = [("chip", chip), ("sensor", sensor)];
    if let Some(label) = data.get("label") {
        out.info(
            "node_hwmon_sensor_label",
            "Label for given chip and sensor",
            &[("chip", chip), ("label", label), ("sensor", sensor)],
        );
    }
    let plain = data.get("");
    match kind {
        "beep_enable" => {
            let v = if plain.map(String::as_str) == Some("1") {
                1.0
            } else {
                0.0
            };
            gauge(
                out,
                "node_hwmon_beep_enabled",
                || "Hardware beep enabled".into(),
                &labels,
                v,
            );
            return;
        }
        "vrm" => {
            if let Some(v) = plain.and_then(|v| parse(v)) {
                gauge(
                    out,
                    "node_hwmon_voltage_regulator_version",
                    || "Hardware voltage regulator".into(),
                    &labels,
                    v,
                );
            }
            return;
        }
        "update_interval" => {
            if let Some(v) = plain.and_then(|v| parse(v)) {
                gauge(
                    out,
                    "node_hwmon_update_interval_seconds",
                    || "Hardware monitor update interval".into(),
                    &labels,
                    v * 0.001,
                );
            }
            return;
        }
        _ => {}
    }
    let prefix = format!("node_hwmon_{kind}");
    for (element, value) in data {
        if element == "label" {
            continue;
        }
        let mut name = prefix.clone();
        if element == "input" {
            // `temp1` next to `temp1_input`: the input gets its own name.
            if plain.is_some() {
                name.push_str("_input");
            }
        } else if !element.is_empty() {
            name.push('_');
            name.push_str(&clean_name(element));
        }
        let Some(v) = parse(value) else { continue };
        let el = element.as_str();
        if el == "fault" || el == "alarm" {
            gauge(
                out,
                &name,
                || format!("Hardware sensor {el} status ({kind})"),
                &labels,
                v,
            );
        } else if el == "beep" {
            name.push_str("_enabled");
            gauge(
                out,
                &name,
                || "Hardware monitor sensor has beeping enabled".into(),
                &labels,
                v,
            );
        } else if kind == "in" || kind == "cpu" {
            name.push_str("_volts");
            gauge(
                out,
                &name,
                || format!("Hardware monitor for voltage ({el})"),
                &labels,
                v * 0.001,
            );
        } else if kind == "temp" && el != "type" {
            let el = if el.is_empty() { "input" } else { el };
            name.push_str("_celsius");
            gauge(
                out,
                &name,
                || format!("Hardware monitor for temperature ({el})"),
                &labels,
                v * 0.001,
            );
        } else if kind == "curr" {
            name.push_str("_amps");
            gauge(
                out,
                &name,
                || format!("Hardware monitor for current ({el})"),
                &labels,
                v * 0.001,
            );
        } else if kind == "energy" {
            name.push_str("_joule_total");
            family(
                out,
                &name,
                || format!("Hardware monitor for joules used so far ({el})"),
                MetricType::Counter,
            )
            .add(&labels, v / 1_000_000.0);
        } else if kind == "power" && el == "accuracy" {
            gauge(
                out,
                &name,
                || "Hardware monitor power meter accuracy, as a ratio".into(),
                &labels,
                v / 1_000_000.0,
            );
        } else if kind == "power"
            && matches!(
                el,
                "average_interval" | "average_interval_min" | "average_interval_max"
            )
        {
            name.push_str("_seconds");
            gauge(
                out,
                &name,
                || format!("Hardware monitor power usage update interval ({el})"),
                &labels,
                v * 0.001,
            );
        } else if kind == "power" {
            name.push_str("_watt");
            gauge(
                out,
                &name,
                || format!("Hardware monitor for power usage in watts ({el})"),
                &labels,
                v / 1_000_000.0,
            );
        } else if kind == "humidity" {
            gauge(
                out,
                &name,
                || {
                    format!("Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({el})")
                },
                &labels,
                v / 1_000_000.0,
            );
        } else if kind == "fan" && matches!(el, "input" | "min" | "max" | "target") {
            name.push_str("_rpm");
            gauge(
                out,
                &name,
                || format!("Hardware monitor for fan revolutions per minute ({el})"),
                &labels,
                v,
            );
        } else if kind == "freq" && el == "input" {
            // GPU clocks: the sensor label is the clock's name (`sclk`, `mclk`).
            if let Some(l) = data.get("label") {
                name.push_str("_freq_mhz");
                let l = clean_name(l);
                gauge(
                    out,
                    &name,
                    || "Hardware monitor for GPU frequency in MHz".into(),
                    &[("chip", chip), ("sensor", &l)],
                    v / 1_000_000.0,
                );
            }
        } else {
            gauge(
                out,
                &name,
                || format!("Hardware monitor {kind} element {el}"),
                &labels,
                v,
            );
        }
    }
}

/// Reads one chip directory (and its `device/`).
pub fn record_chip(cfg: &Config, chip: &Chip, out: &mut MetricSet) {
    let mut data = SensorData::new();
    read_sensors(&chip.dir, &mut data);
    let dev = chip.dir.join("device");
    if dev.exists() {
        read_sensors(&dev, &mut data);
    }
    if let Some(n) = &chip.name {
        out.family(
            "node_hwmon_chip_names",
            "Annotation metric for human-readable chip names",
            MetricType::Gauge,
        )
        .add(&[("chip", &chip.label), ("chip_name", n)], 1u64);
    }
    let mut key = String::new();
    for (sensor, d) in &data {
        key.clear();
        key.push_str(&chip.label);
        key.push(';');
        key.push_str(sensor);
        if cfg.hwmon_sensors.ignored(&key) {
            continue;
        }
        record_sensor(&chip.label, sensor, d, out);
    }
}

/// Walks `/sys/class/hwmon`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let base = cfg.paths.sys("class/hwmon");
    let names = dir_names(&base)?;
    let mut found = Vec::with_capacity(names.len());
    for n in names {
        let dir = base.join(&n);
        if !dir.is_dir() {
            continue;
        }
        let Some(label) = chip_name(&dir) else {
            tracing::debug!(dir = %dir.display(), "hwmon: no name for chip");
            continue;
        };
        let human = human_name(&dir);
        found.push((dir, label, human));
    }
    if found.is_empty() {
        return Err(CollectError::NotApplicable(format!(
            "no chips in {}",
            base.display()
        )));
    }
    for chip in disambiguate(found) {
        if cfg.hwmon_chips.ignored(&chip.label) {
            continue;
        }
        record_chip(cfg, &chip, out);
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
        assert_eq!(split_sensor("temp1_input"), Some(("temp", 1, "input")));
        assert_eq!(
            split_sensor("temp12_crit_alarm"),
            Some(("temp", 12, "crit_alarm"))
        );
        assert_eq!(split_sensor("pwm1"), Some(("pwm", 1, "")));
        assert_eq!(split_sensor("temp01_input"), Some(("temp", 1, "input")));
        assert_eq!(split_sensor("beep_enable"), Some(("beep_enable", 0, "")));
        assert_eq!(split_sensor("name"), Some(("name", 0, "")));
        assert_eq!(split_sensor("fan1input"), None);
        assert_eq!(split_sensor("fan1_"), None);
        assert_eq!(split_sensor("1abc"), None);
    }

    fn text(sensor: &str, props: &[(&str, &str)]) -> String {
        let d: BTreeMap<String, String> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut m = MetricSet::new();
        record_sensor("c", sensor, &d, &mut m);
        m.sort();
        rtmon::expo::encode_text(&m)
    }

    #[test]
    fn units_and_names_follow_node_exporter() {
        let t = text(
            "temp1",
            &[
                ("input", "45000"),
                ("crit_alarm", "0"),
                ("type", "3"),
                ("label", "Core 0"),
            ],
        );
        assert!(
            t.contains("node_hwmon_temp_celsius{chip=\"c\",sensor=\"temp1\"} 45\n"),
            "{t}"
        );
        assert!(t.contains("node_hwmon_temp_crit_alarm_celsius{chip=\"c\",sensor=\"temp1\"} 0\n"));
        assert!(t.contains("node_hwmon_temp_type{chip=\"c\",sensor=\"temp1\"} 3\n"));
        assert!(
            t.contains("node_hwmon_sensor_label{chip=\"c\",label=\"Core 0\",sensor=\"temp1\"} 1\n")
        );
        let t = text(
            "fan2",
            &[
                ("input", "1098"),
                ("alarm", "0"),
                ("beep", "1"),
                ("pulses", "2"),
                ("manual", "1"),
            ],
        );
        assert!(
            t.contains("node_hwmon_fan_rpm{chip=\"c\",sensor=\"fan2\"} 1098\n"),
            "{t}"
        );
        assert!(t.contains("node_hwmon_fan_alarm{chip=\"c\",sensor=\"fan2\"} 0\n"));
        assert!(t.contains("node_hwmon_fan_beep_enabled{chip=\"c\",sensor=\"fan2\"} 1\n"));
        assert!(t.contains("node_hwmon_fan_pulses{chip=\"c\",sensor=\"fan2\"} 2\n"));
        assert!(t.contains("node_hwmon_fan_manual{chip=\"c\",sensor=\"fan2\"} 1\n"));
        let t = text(
            "pwm1",
            &[("", "128"), ("enable", "2"), ("auto_point1_pwm", "153")],
        );
        assert!(
            t.contains("node_hwmon_pwm{chip=\"c\",sensor=\"pwm1\"} 128\n"),
            "{t}"
        );
        assert!(t.contains("node_hwmon_pwm_enable{chip=\"c\",sensor=\"pwm1\"} 2\n"));
        assert!(t.contains("node_hwmon_pwm_auto_point1_pwm{chip=\"c\",sensor=\"pwm1\"} 153\n"));
        let t = text("freq1", &[("input", "214000000"), ("label", "sclk")]);
        assert!(
            t.contains("node_hwmon_freq_freq_mhz{chip=\"c\",sensor=\"sclk\"} 214\n"),
            "{t}"
        );
        let t = text(
            "power1",
            &[
                ("average", "1500000"),
                ("average_interval", "1000"),
                ("accuracy", "50000"),
            ],
        );
        assert!(
            t.contains("node_hwmon_power_average_watt{chip=\"c\",sensor=\"power1\"} 1.5\n"),
            "{t}"
        );
        assert!(t.contains(
            "node_hwmon_power_average_interval_seconds{chip=\"c\",sensor=\"power1\"} 1\n"
        ));
        assert!(t.contains("node_hwmon_power_accuracy{chip=\"c\",sensor=\"power1\"} 0.05\n"));
        let t = text("energy1", &[("input", "2000000")]);
        assert!(
            t.contains("# TYPE node_hwmon_energy_joule_total counter\n"),
            "{t}"
        );
        assert!(t.contains("node_hwmon_energy_joule_total{chip=\"c\",sensor=\"energy1\"} 2\n"));
        let t = text("intrusion0", &[("alarm", "1"), ("beep", "0")]);
        assert!(
            t.contains("node_hwmon_intrusion_alarm{chip=\"c\",sensor=\"intrusion0\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("node_hwmon_intrusion_beep_enabled{chip=\"c\",sensor=\"intrusion0\"} 0\n")
        );
        let t = text("in0", &[("input", "abc"), ("min", "1200")]);
        assert!(
            !t.contains("node_hwmon_in_volts{"),
            "unparsable values are skipped: {t}"
        );
        assert!(t.contains("node_hwmon_in_min_volts{chip=\"c\",sensor=\"in0\"} 1.2\n"));
    }

    #[test]
    fn colliding_chip_labels_are_disambiguated() {
        let p = |s: &str| PathBuf::from(format!("/x/{s}"));
        let chips = disambiguate(vec![
            (
                p("hwmon8"),
                "ieee80211_phy0".into(),
                Some("mt7996_phy0_0".into()),
            ),
            (
                p("hwmon9"),
                "ieee80211_phy0".into(),
                Some("mt7996_phy0_1".into()),
            ),
            (
                p("hwmon0"),
                "platform_coretemp_0".into(),
                Some("coretemp".into()),
            ),
            (p("hwmon6"), "platform_x".into(), Some("same".into())),
            (p("hwmon7"), "platform_x".into(), Some("same".into())),
        ]);
        let labels: Vec<&str> = chips.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "ieee80211_phy0_mt7996_phy0_0",
                "ieee80211_phy0_mt7996_phy0_1",
                "platform_coretemp_0",
                "platform_x_same_hwmon6",
                "platform_x_same_hwmon7"
            ]
        );
    }
}
