//! `filefd`: `node_filefd_allocated` and `node_filefd_maximum` from
//! `/proc/sys/fs/file-nr`.

use rtmon::expo::MetricSet;

use super::{parse_error, read_required, CollectResult};
use crate::config::Config;

/// Parses `allocated unused maximum`.
pub fn parse(text: &str) -> Result<(u64, u64), String> {
    let f: Vec<&str> = text.split_ascii_whitespace().collect();
    if f.len() != 3 {
        return Err(format!("expected 3 fields, got {}", f.len()));
    }
    let n = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("invalid number {s:?}"))
    };
    Ok((n(f[0])?, n(f[2])?))
}

/// Reads `/proc/sys/fs/file-nr`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let path = cfg.paths.proc("sys/fs/file-nr");
    let text = read_required(&path)?;
    let (alloc, max) = parse(&text).map_err(|m| parse_error(&path, 1, m))?;
    out.gauge(
        "node_filefd_allocated",
        "File descriptor statistics: allocated.",
        &[],
        alloc,
    );
    out.gauge(
        "node_filefd_maximum",
        "File descriptor statistics: maximum.",
        &[],
        max,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses() {
        assert_eq!(super::parse("1050\t0\t2466170\n"), Ok((1050, 2466170)));
        assert!(super::parse("1 2").is_err());
    }
}
