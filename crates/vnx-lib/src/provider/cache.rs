//! Small on-disk caches of what a worker binary prints (its `--version`, its `--help`): JSON
//! maps in a cache directory, keyed by the path the binary is invoked by and the size and
//! modification time of what that resolves to, so an upgraded CLI is probed afresh. Writers
//! merge under a lock, so probes running in parallel never drop each other's entries.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The identity of a binary as invoked: its path (one binary may answer by the name it is
/// called by), and the size and modification time of the file it resolves to. `None` when
/// the file cannot be read.
pub fn fingerprint(binary: &Path) -> Option<String> {
    let meta = fs::metadata(binary).ok()?;
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some(format!(
        "{}\u{0}{}\u{0}{}",
        binary.display(),
        meta.len(),
        mtime.as_nanos()
    ))
}

/// One cache file (`<dir>/<name>`), a JSON object of strings.
pub struct Cache {
    path: PathBuf,
}

impl Cache {
    /// The cache file `name` in `dir` (nothing is read until it is used).
    pub fn new(dir: &Path, name: &str) -> Cache {
        Cache {
            path: dir.join(name),
        }
    }

    fn read(&self) -> BTreeMap<String, String> {
        fs::read(&self.path)
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_default()
    }

    /// The cached value for `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        self.read().remove(key)
    }

    /// Stores `value` under `key`, best effort: a cache that cannot be written only costs the
    /// next probe. Entries other writers added meanwhile are kept.
    pub fn put(&self, key: &str, value: &str) {
        let Some(dir) = self.path.parent() else {
            return;
        };
        if crate::files::private_dir(dir).is_err() {
            return;
        }
        let Ok(Some(_lock)) = crate::files::lock_file(&self.path.with_extension("lock"), true)
        else {
            return;
        };
        let mut map = self.read();
        map.insert(key.to_owned(), value.to_owned());
        let data = serde_json::to_vec_pretty(&map).expect("maps of strings serialize");
        let _ = crate::files::write_atomic_private(&self.path, &data, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_writers_keep_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for i in 0..16 {
                let dir = dir.path();
                s.spawn(move || Cache::new(dir, "c.json").put(&format!("k{i}"), &format!("v{i}")));
            }
        });
        let cache = Cache::new(dir.path(), "c.json");
        for i in 0..16 {
            assert_eq!(cache.get(&format!("k{i}")), Some(format!("v{i}")));
        }
        assert_eq!(cache.get("absent"), None);
    }

    #[test]
    fn a_link_at_the_lock_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        let cache = Cache::new(&dir.path().join("cache"), "c.json");
        fs::create_dir_all(dir.path().join("cache")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("cache/c.lock")).unwrap();
        cache.put("k", "v");
        assert!(!elsewhere.exists(), "no file is made where the link points");
        assert_eq!(
            cache.get("k"),
            None,
            "best effort: nothing stored without the lock"
        );
        fs::remove_file(dir.path().join("cache/c.lock")).unwrap();
        cache.put("k", "v");
        assert_eq!(
            cache.get("k"),
            Some("v".to_owned()),
            "stored once the lock is a file"
        );
    }

    #[test]
    fn fingerprints_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        assert_eq!(fingerprint(&bin), None);
        fs::write(&bin, "a").unwrap();
        let first = fingerprint(&bin).unwrap();
        fs::write(&bin, "ab").unwrap();
        assert_ne!(fingerprint(&bin).unwrap(), first, "the size changed");
    }
}
