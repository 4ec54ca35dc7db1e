//! Reading this machine's headroom: `MemAvailable` from `/proc/meminfo`, the one-minute load
//! from `/proc/loadavg` (each read with a bound, parsed without trusting its shape), and the
//! free space of the worktrees' filesystem from `statvfs`.

use std::path::Path;

/// The most of a `/proc` file read.
const MAX_PROC: u64 = 64 * 1024;

/// `MemAvailable` in MB from the text of `/proc/meminfo`; `None` without a well-formed line.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let mut words = line.split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => Some(n / 1024),
        _ => None,
    }
}

/// The one-minute load average from the text of `/proc/loadavg`; `None` unless it is a
/// finite number of zero or more.
pub fn parse_loadavg(text: &str) -> Option<f64> {
    text.split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()
        .filter(|l| l.is_finite() && *l >= 0.0)
}

fn proc_text(path: &str) -> Option<String> {
    let bytes = crate::files::read_bounded(Path::new(path), MAX_PROC).ok()?;
    String::from_utf8(bytes).ok()
}

pub(super) fn memory_mb() -> Option<u64> {
    parse_meminfo(&proc_text("/proc/meminfo")?)
}

pub(super) fn load() -> Option<f64> {
    parse_loadavg(&proc_text("/proc/loadavg")?)
}

/// The space free to the unprivileged on the filesystem of `dir`, or of its nearest existing
/// ancestor, in MB.
pub(super) fn disk_mb(dir: &Path) -> Option<u64> {
    let there = dir.ancestors().find(|p| p.is_dir())?;
    let st = rustix::fs::statvfs(there).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize) / (1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn meminfo_and_loadavg_are_read_as_the_kernel_writes_them() {
        let meminfo = "MemTotal:       32768000 kB\nMemFree:         1000000 kB\n\
                       MemAvailable:   24063140 kB\nBuffers:          10 kB\n";
        assert_eq!(parse_meminfo(meminfo), Some(23499));
        assert_eq!(parse_meminfo("MemFree: 5 kB\n"), None);
        assert_eq!(parse_meminfo("MemAvailable: 5 MB\n"), None);
        assert_eq!(parse_meminfo("MemAvailable: -5 kB\n"), None);
        assert_eq!(parse_loadavg("1.62 0.51 0.18 5/94 7713\n"), Some(1.62));
        assert_eq!(parse_loadavg("nan 0 0"), None);
        assert_eq!(parse_loadavg("-1 0 0"), None);
        assert_eq!(parse_loadavg(""), None);
    }

    proptest! {
        #[test]
        fn meminfo_reads_any_kilobytes_and_never_panics(kb in any::<u64>(), noise in ".{0,200}") {
            let text = format!("MemTotal: 1 kB\nMemAvailable: {kb} kB\n{noise}");
            prop_assert_eq!(parse_meminfo(&text), Some(kb / 1024));
            let _ = parse_meminfo(&noise);
        }

        #[test]
        fn loadavg_reads_any_load_and_never_panics(centi in 0u32..1_000_000, noise in ".{0,200}") {
            let text = format!("{}.{:02} 0.51 0.18 5/94 7713\n", centi / 100, centi % 100);
            let load = parse_loadavg(&text).unwrap();
            prop_assert!((load - f64::from(centi) / 100.0).abs() < 1e-9);
            prop_assert!(parse_loadavg(&noise).is_none_or(|l| l.is_finite() && l >= 0.0));
        }
    }
}
