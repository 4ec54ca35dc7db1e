//! A worker binary's version: the first line of `BINARY --version` (5 s limit), cached by
//! binary path, size and modification time in `.vnx-data/cache/versions.json` so repeated
//! dispatches (and `vnx doctor`) do not pay for a CLI's slow start each time.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use crate::process::{self, Cmd};

const LIMIT: Duration = Duration::from_secs(5);

fn fingerprint(binary: &Path) -> Option<String> {
    let meta = fs::metadata(binary).ok()?;
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some(format!(
        "{}\u{0}{}\u{0}{}",
        binary.display(),
        meta.len(),
        mtime.as_nanos()
    ))
}

/// The version `binary --version` prints, from the cache when the binary is unchanged.
pub fn probe(binary: &Path, cache_dir: &Path) -> Option<String> {
    // Keyed by the path as invoked (one binary may answer by the name it is called by) and
    // the size and mtime of what it resolves to.
    let key = fingerprint(binary)?;
    let cache_path = cache_dir.join("versions.json");
    let mut cache: BTreeMap<String, String> = fs::read(&cache_path)
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or_default();
    if let Some(v) = cache.get(&key) {
        return Some(v.clone());
    }
    let out = process::run(&Cmd::new(binary).arg("--version").timeout(LIMIT)).ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())?
        .to_owned();
    cache.insert(key, version.clone());
    // Best effort: a cache that cannot be written only costs the next probe.
    if fs::create_dir_all(cache_dir).is_ok() {
        let tmp = cache_path.with_extension(format!("tmp-{}", std::process::id()));
        let data = serde_json::to_vec_pretty(&cache).expect("maps serialize");
        if fs::write(&tmp, data).is_ok() && fs::rename(&tmp, &cache_path).is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }
    Some(version)
}

#[cfg(test)]
mod tests {
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
