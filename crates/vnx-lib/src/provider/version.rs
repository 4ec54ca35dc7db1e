//! A worker binary's version: the first line of `BINARY --version` (60 s limit), cached by
//! binary path, size and modification time in `.vnx-data/cache/versions.json` so repeated
//! dispatches (and `vnx doctor`) do not pay for a CLI's slow start each time; a dispatch
//! also reads and fills the user's cache, so a new project does not probe a CLI again. A
//! probe holds a lock per binary, so launches of one CLI at once (a burst) share one probe:
//! the others wait for its answer and read it from the cache.

use std::path::Path;
use std::time::Duration;

use super::cache::{Cache, fingerprint};
use crate::process::{self, Cmd};

/// How long `--version` may take. Node CLIs start in about a second, but several seconds on a
/// loaded 2-core machine (a CI run under the whole test suite once took over 5 s for one of them):
/// a slow answer is not a broken CLI, only a hung one is.
const LIMIT: Duration = Duration::from_secs(60);

/// The version `binary --version` prints, from the cache in `cache_dir`, else from the one in
/// `shared_dir` (a cache every project of the user reads: a CLI is then probed once per
/// binary state, not once per repository), else probed; what is probed or found only in the
/// shared cache is kept in both.
pub fn probe_shared(binary: &Path, cache_dir: &Path, shared_dir: Option<&Path>) -> Option<String> {
    // Keyed by the path as invoked (one binary may answer by the name it is called by) and
    // the size and mtime of what it resolves to.
    let key = fingerprint(binary)?;
    let cache = Cache::new(cache_dir, "versions.json");
    if let Some(v) = cache.get(&key) {
        return Some(v);
    }
    let shared = shared_dir.map(|dir| Cache::new(dir, "versions.json"));
    let cached = || {
        cache
            .get(&key)
            .or_else(|| shared.as_ref().and_then(|s| s.get(&key)))
    };
    let version = match cached() {
        Some(v) => v,
        None => {
            // One probe per binary at a time: whoever waited for the lock finds the answer
            // of the probe that held it in a cache, and runs nothing.
            let _probing = probe_lock(shared_dir.unwrap_or(cache_dir), &key);
            cached().or_else(|| {
                let v = read(binary)?;
                shared.iter().for_each(|s| s.put(&key, &v));
                Some(v)
            })?
        }
    };
    cache.put(&key, &version);
    Some(version)
}

/// The lock a probe of the binary of fingerprint `key` holds, in `dir` beside the cache it
/// fills, taken once the probe that holds it ended; after twice a probe's [`LIMIT`] it is
/// not waited for any longer. Best effort: `None` when it cannot be made, and the probe
/// runs without it.
fn probe_lock(dir: &Path, key: &str) -> Option<std::fs::File> {
    crate::files::private_dir(dir).ok()?;
    let name = format!(
        "probe-{}.lock",
        &blake3::hash(key.as_bytes()).to_hex()[..16]
    );
    let path = dir.join(name);
    let give_up = std::time::Instant::now() + 2 * LIMIT;
    loop {
        match crate::files::lock_file(&path, false) {
            Ok(Some(held)) => return Some(held),
            Ok(None) if std::time::Instant::now() < give_up => {
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => return None,
        }
    }
}

/// The version in the `package.json` of npm package `package` that `binary` (a link npm made,
/// or the script itself) belongs to: the nearest of the resolved file's directories, up to
/// six levels, whose `package.json` names that package. What a CLI that prints its package's
/// version for `--version` would print, read without starting it (a node CLI's start takes
/// a second or more). `None` when no such file is there, or its version is not a plain one.
pub fn npm_package_version(binary: &Path, package: &str) -> Option<String> {
    /// A `package.json` larger than this is not read.
    const MAX: u64 = 1024 * 1024;
    let real = std::fs::canonicalize(binary).ok()?;
    for dir in real.ancestors().skip(1).take(6) {
        let Ok(bytes) = crate::files::read_bounded(&dir.join("package.json"), MAX) else {
            continue;
        };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if json.get("name").and_then(serde_json::Value::as_str) != Some(package) {
            continue;
        }
        let version = json.get("version")?.as_str()?;
        let plain = !version.is_empty()
            && version.len() <= 64
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
        return plain.then(|| version.to_owned());
    }
    None
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

    /// The version `binary --version` prints, with no shared cache.
    fn probe(binary: &Path, cache_dir: &Path) -> Option<String> {
        probe_shared(binary, cache_dir, None)
    }

    #[test]
    fn an_npm_clis_version_is_read_from_its_package() {
        let dir = tempfile::tempdir().unwrap();
        let package = dir.path().join("lib/node_modules/@scope/cli");
        fs::create_dir_all(package.join("bundle")).unwrap();
        fs::write(package.join("bundle/cli.js"), "// the CLI\n").unwrap();
        let manifest = package.join("package.json");
        fs::write(&manifest, r#"{"name":"@scope/cli","version":"0.61.0"}"#).unwrap();
        fs::create_dir_all(dir.path().join("bin")).unwrap();
        let bin = dir.path().join("bin/cli");
        std::os::unix::fs::symlink("../lib/node_modules/@scope/cli/bundle/cli.js", &bin).unwrap();
        assert_eq!(
            npm_package_version(&bin, "@scope/cli").as_deref(),
            Some("0.61.0")
        );
        // Another package's manifest, or a version that is not a plain one, says nothing.
        assert_eq!(npm_package_version(&bin, "@scope/other"), None);
        fs::write(
            &manifest,
            r#"{"name":"@scope/cli","version":"1.0; echo hi"}"#,
        )
        .unwrap();
        assert_eq!(npm_package_version(&bin, "@scope/cli"), None);
        fs::write(&manifest, r#"{"name":"@scope/cli"}"#).unwrap();
        assert_eq!(npm_package_version(&bin, "@scope/cli"), None);
    }

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

    #[test]
    fn launches_of_one_cli_at_once_share_one_probe() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        let calls = dir.path().join("calls");
        // A slow start that counts its calls: without the lock every caller probes.
        fs::write(
            &bin,
            format!(
                "#!/bin/sh
echo probed >> {}
sleep 1
echo tool 3.1
",
                calls.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let shared = dir.path().join("shared");
        let versions: Vec<_> = std::thread::scope(|s| {
            let probes: Vec<_> = (0..4)
                .map(|i| {
                    let (bin, shared) = (&bin, &shared);
                    let project = dir.path().join(format!("project-{}", i % 2));
                    s.spawn(move || probe_shared(bin, &project, Some(shared)))
                })
                .collect();
            probes.into_iter().map(|p| p.join().unwrap()).collect()
        });
        assert!(
            versions.iter().all(|v| v.as_deref() == Some("tool 3.1")),
            "{versions:?}"
        );
        assert_eq!(fs::read_to_string(&calls).unwrap(), "probed\n", "one probe");
    }

    #[test]
    fn a_version_probed_in_one_project_is_found_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        // Each run counts itself, so a probe that runs the binary again shows.
        fs::write(
            &bin,
            "#!/bin/sh\nn=$(cat ${0}.n 2>/dev/null || echo 0)\necho $((n+1)) > ${0}.n\necho \"tool 1.$n\"\n",
        )
        .unwrap();
        fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let (one, two, shared) = (
            dir.path().join("one"),
            dir.path().join("two"),
            dir.path().join("shared"),
        );
        let probe = |project: &Path| probe_shared(&bin, project, Some(&shared));
        assert_eq!(probe(&one).as_deref(), Some("tool 1.0"));
        assert_eq!(
            probe(&two).as_deref(),
            Some("tool 1.0"),
            "from the shared cache"
        );
        assert_eq!(
            Cache::new(&two, "versions.json")
                .get(&fingerprint(&bin).unwrap())
                .as_deref(),
            Some("tool 1.0"),
            "kept in the second project's cache too"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("tool.n")).unwrap(),
            "1\n"
        );
        assert_eq!(
            probe_shared(&bin, &dir.path().join("three"), None).as_deref(),
            Some("tool 1.1"),
            "without a shared cache, a new project probes"
        );
    }
}
