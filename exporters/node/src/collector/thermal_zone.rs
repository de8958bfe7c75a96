//! `thermal_zone`: `node_thermal_zone_temp{type,zone}` and
//! `node_cooling_device_{cur,max}_state{name,type}` from `/sys/class/thermal`.
//! No zones and no cooling devices: not applicable.

use rtmon::expo::MetricSet;

use super::{dir_names, read_attr, read_int, CollectError, CollectResult};
use crate::config::Config;

/// Walks `/sys/class/thermal`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let base = cfg.paths.sys("class/thermal");
    let names = dir_names(&base)?;
    let mut found = false;
    for n in &names {
        let dir = base.join(n);
        if let Some(zone) = n.strip_prefix("thermal_zone") {
            found = true;
            let (Some(kind), Some(temp)) =
                (read_attr(&dir.join("type")), read_int(&dir.join("temp")))
            else {
                continue;
            };
            out.gauge(
                "node_thermal_zone_temp",
                "Zone temperature in Celsius",
                &[("type", &kind), ("zone", zone)],
                temp as f64 / 1000.0,
            );
        } else if let Some(dev) = n.strip_prefix("cooling_device") {
            found = true;
            let kind = read_attr(&dir.join("type")).unwrap_or_default();
            if let Some(c) = read_int(&dir.join("cur_state")) {
                out.gauge(
                    "node_cooling_device_cur_state",
                    "Current throttle state of the cooling device",
                    &[("name", dev), ("type", &kind)],
                    c,
                );
            }
            if let Some(m) = read_int(&dir.join("max_state")) {
                out.gauge(
                    "node_cooling_device_max_state",
                    "Maximum throttle state of the cooling device",
                    &[("name", dev), ("type", &kind)],
                    m,
                );
            }
        }
    }
    if !found {
        return Err(CollectError::NotApplicable(format!(
            "no thermal zones or cooling devices in {}",
            base.display()
        )));
    }
    Ok(())
}
