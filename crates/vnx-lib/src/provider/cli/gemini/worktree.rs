//! gemini's hooks in a dispatch's worktree: gemini reads hooks from the workspace's
//! `.gemini/settings.json` (its system-settings override is ignored unless root owns the
//! whole path), so vnx writes its hooks there when the worktree has no such file (the launch
//! removes it again, only if unchanged, so that it never makes the worktree look dirty).
//! Those hooks are recorded as trusted for the worktree in gemini's `trusted_hooks.json`
//! while the dispatch runs (else gemini warns about them as a stranger's); if that cannot be
//! written, gemini warns about them and runs them anyway.

use std::io;
use std::path::{Path, PathBuf};

use super::hooks;
use crate::provider::cli::hook::{InWorktree, place_file};
use crate::receipts::Placed;

/// Where the trust file is in gemini's home.
pub(super) fn trust_file(home: &Path) -> PathBuf {
    home.join("trusted_hooks.json")
}

/// Writes `.gemini/settings.json` with vnx's hooks into the worktree; `None` when the
/// worktree already has one (the repository's own settings are never touched).
pub(super) fn place_hooks(
    worktree: &Path,
    vnx: &Path,
    dispatch_dir: &Path,
) -> io::Result<Option<Placed>> {
    let data =
        serde_json::to_vec_pretty(&hooks::settings(vnx, dispatch_dir)).expect("settings serialize");
    place_file(worktree, ".gemini", "settings.json", &data)
}

/// Places the hooks and records them as trusted for the worktree in `trust`, if given.
pub(super) fn place_and_trust(
    worktree: &Path,
    vnx: &Path,
    dispatch_dir: &Path,
    trust: Option<&Path>,
) -> io::Result<InWorktree> {
    let Some(placed) = place_hooks(worktree, vnx, dispatch_dir)? else {
        return Ok(InWorktree::NoPlace);
    };
    let project = worktree
        .canonicalize()
        .unwrap_or_else(|_| worktree.to_owned());
    let keys = hooks::trust_keys(vnx, dispatch_dir);
    let trusted = trust.is_some_and(|file| set_trust(file, &project, Some(&keys)).is_ok());
    Ok(InWorktree::Placed { placed, trusted })
}

/// The most of gemini's `trusted_hooks.json` vnx reads; a larger one is left alone.
const MAX_TRUST_READ: u64 = 4 << 20;

/// Edits gemini's `trusted_hooks.json` (`{project: [hook key, …]}`): sets `project`'s keys
/// to `keys`, or removes `project` when `keys` is `None`. The user's other entries are kept;
/// a file that is not such a JSON object, or a link, is left alone (an error). Concurrent
/// dispatches take turns by a lock file beside it.
pub(super) fn set_trust(file: &Path, project: &Path, keys: Option<&[String]>) -> io::Result<()> {
    let Some(dir) = file.parent() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no directory"));
    };
    std::fs::create_dir_all(dir)?;
    let mut lock_name = file.as_os_str().to_owned();
    lock_name.push(".vnx-lock");
    let _lock = crate::files::lock_file(Path::new(&lock_name), true)?;
    let mut all = match crate::files::read_bounded(file, MAX_TRUST_READ) {
        Ok(data) => match serde_json::from_slice::<serde_json::Value>(&data) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "not a JSON object",
                ));
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => serde_json::Map::new(),
        Err(e) => return Err(e),
    };
    let project = project.to_string_lossy().into_owned();
    match keys {
        Some(keys) => {
            all.insert(project, serde_json::json!(keys));
        }
        None => {
            if all.remove(&project).is_none() {
                return Ok(());
            }
        }
    }
    let data = serde_json::to_vec_pretty(&all).expect("JSON values serialize");
    crate::files::write_atomic_private(file, &data, false)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn the_hooks_never_replace_the_repositorys_settings() {
        let wt = tempfile::tempdir().unwrap();
        let placed = place_hooks(wt.path(), Path::new("/v"), Path::new("/d"))
            .unwrap()
            .unwrap();
        assert_eq!(placed.path, wt.path().join(".gemini/settings.json"));
        assert_eq!(
            placed.made_dir.as_deref(),
            Some(wt.path().join(".gemini").as_path())
        );
        assert!(
            place_hooks(wt.path(), Path::new("/v"), Path::new("/d"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn gemini_trust_is_added_and_removed_keeping_the_users_entries() {
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join(".gemini/trusted_hooks.json");
        let keys = hooks::trust_keys(Path::new("/v"), Path::new("/d"));
        set_trust(&file, Path::new("/wt/a"), Some(&keys)).unwrap();
        let mut theirs: serde_json::Value =
            serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert_eq!(theirs["/wt/a"].as_array().unwrap().len(), 3);
        theirs["/mine"] = serde_json::json!([":my-hook"]);
        fs::write(&file, theirs.to_string()).unwrap();
        set_trust(&file, Path::new("/wt/a"), None).unwrap();
        let left: serde_json::Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert_eq!(left, serde_json::json!({"/mine": [":my-hook"]}));
        fs::write(&file, "[]").unwrap();
        assert!(set_trust(&file, Path::new("/wt/a"), Some(&keys)).is_err());
        assert_eq!(fs::read(&file).unwrap(), b"[]", "not ours to rewrite");
    }
}
