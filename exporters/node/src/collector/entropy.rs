//! `entropy`: `node_entropy_available_bits` and `node_entropy_pool_size_bits`.

use rtmon::expo::MetricSet;

use super::{parse_error, read_required, CollectResult};
use crate::config::Config;

/// Reads `/proc/sys/kernel/random/{entropy_avail,poolsize}`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    for (file, name, help) in [
        (
            "sys/kernel/random/entropy_avail",
            "node_entropy_available_bits",
            "Bits of available entropy.",
        ),
        (
            "sys/kernel/random/poolsize",
            "node_entropy_pool_size_bits",
            "Bits of entropy pool.",
        ),
    ] {
        let path = cfg.paths.proc(file);
        let text = read_required(&path)?;
        let v: u64 = text
            .trim()
            .parse()
            .map_err(|_| parse_error(&path, 1, format!("invalid number {:?}", text.trim())))?;
        out.gauge(name, help, &[], v);
    }
    Ok(())
}
