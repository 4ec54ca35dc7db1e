//! A worker binary's version: the first line of `BINARY --version` (20 s limit), cached by
//! binary path, size and modification time in `.vnx-data/cache/versions.json` so repeated
//! dispatches (and `vnx doctor`) do not pay for a CLI's slow start each time.

use std::path::Path;
use std::time::Duration;

use super::cache::{Cache, fingerprint};
use crate::process::{self, Cmd};

/// How long `--version` may take. Node CLIs start in about a second, but several seconds on a
/// loaded 2-core machine (a CI run under the whole test suite once took over 5 s for one of them):
/// a slow answer is not a broken CLI, only a hung one is.
const LIMIT: Duration = Duration::from_secs(20);

/// The version `binary --version` prints, from the cache when the binary is unchanged.
pub fn probe(binary: &Path, cache_dir: &Path) -> Option<String> {
    // Keyed by the path as invoked (one binary may answer by the name it is called by) and
    // the size and mtime of what it resolves to.
    let key = fingerprint(binary)?;
    let cache = Cache::new(cache_dir, "versions.json");
    if let Some(v) = cache.get(&key) {
        return Some(v);
    }
    let version = read(binary)?;
    cache.put(&key, &version);
    Some(version)
}

/// The first line `binary --version` prints, uncached.
pub fn read(binary: &Path) -> Option<String> {
    let out = process::run(&Cmd::new(binary).arg("--version").timeout(LIMIT)).ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())?
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn versions_are_probed_once_per_binary_state() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        fs::write(
            &bin,
            "#!/bin/sh\necho \"tool 1.$(cat ${0}.n 2>/dev/null || echo 0)\"\n",
        )
        .unwrap();
        fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let cache = dir.path().join("cache");
        assert_eq!(probe(&bin, &cache).as_deref(), Some("tool 1.0"));
        fs::write(dir.path().join("tool.n"), "7").unwrap();
        assert_eq!(probe(&bin, &cache).as_deref(), Some("tool 1.0"), "cached");
        fs::write(&bin, "#!/bin/sh\necho tool 2\n").unwrap();
        fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        assert_eq!(
            probe(&bin, &cache).as_deref(),
            Some("tool 2"),
            "changed binary"
        );
        assert_eq!(probe(&dir.path().join("missing"), &cache), None);
    }
}
