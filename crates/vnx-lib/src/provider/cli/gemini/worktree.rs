//! gemini's hooks in a dispatch's worktree: gemini reads hooks from the workspace's
//! `.gemini/settings.json` (its system-settings override is ignored unless root owns the
//! whole path), so vnx writes its hooks there when the worktree has no such file (the launch
//! removes it again, only if unchanged, so that it never makes the worktree look dirty).
//! Those hooks are recorded as trusted for the worktree in gemini's `trusted_hooks.json`
//! while the dispatch runs (else gemini warns about them as a stranger's); if that cannot be
//! written, gemini warns about them and runs them anyway.

use std::io;
use std::path::Path;

use super::hooks;
use crate::provider::cli::hook::{InWorktree, WorktreeHooks, edit_json, place_file, place_trusted};
use crate::receipts::Placed;

/// Its hooks in the worktree, trusted in `<home>/trusted_hooks.json`. The file where a
/// dispatch's launch recorded their trust is located from its signed start only for a start
/// that installed gemini's hooks, in the gemini home the start recorded (absolute): none for
/// one recorded before starts named the CLIs' homes (its entry stays, naming a worktree that
/// no longer exists).
pub(super) static IN_WORKTREE: WorktreeHooks = WorktreeHooks {
    turn_end: super::TURN_END,
    home: "gemini",
    trust_in: |home| home.join("trusted_hooks.json"),
    place: place_and_trust,
    forget: |file, project| set_trust(file, project, None),
};

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
    let placed = place_hooks(worktree, vnx, dispatch_dir)?;
    let keys = hooks::trust_keys(vnx, dispatch_dir);
    Ok(place_trusted(worktree, placed, trust, |file, project| {
        set_trust(file, project, Some(&keys))
    }))
}

/// The most of gemini's `trusted_hooks.json` vnx reads; a larger one is left alone.
const MAX_TRUST_READ: u64 = 4 << 20;

/// Edits gemini's `trusted_hooks.json` (`{project: [hook key, …]}`): sets `project`'s keys
/// to `keys`, or removes `project` when `keys` is `None`, keeping the user's other entries
/// (see [`edit_json`]).
pub(super) fn set_trust(file: &Path, project: &Path, keys: Option<&[String]>) -> io::Result<()> {
    edit_json(file, MAX_TRUST_READ, false, |all| {
        let project = project.to_string_lossy().into_owned();
        Ok(match keys {
            Some(keys) => {
                all.insert(project, serde_json::json!(keys));
                true
            }
            None => all.remove(&project).is_some(),
        })
    })
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
