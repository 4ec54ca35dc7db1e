//! copilot's hooks in a dispatch's worktree: copilot reads hooks from the repository's
//! `.github/hooks/*.json`, only in a folder it trusts, and asks "Confirm folder trust" in its
//! TUI before it starts in one it does not. So vnx writes its hooks' file there (never
//! replacing one of the repository's: `hook::place_file`; the launch removes it again before
//! the worktree is classified, and a copy the worker committed is taken out by vnx's commit)
//! and records the worktree in `trustedFolders` of copilot's `config.json` while the
//! dispatch runs (the end takes it out again). If that cannot be written, its TUI asks.

use std::io;
use std::path::Path;

use serde_json::Value;

use super::hooks;
use crate::provider::cli::hook::{InWorktree, WorktreeHooks, edit_json, place_file, place_trusted};

/// copilot's settings file in its home, which holds `trustedFolders`.
pub(super) const CONFIG: &str = "config.json";

/// The most of copilot's `config.json` vnx reads; a larger one is left alone.
const MAX_CONFIG_READ: u64 = 4 << 20;

/// Its hooks in the worktree, trusted in `<home>/config.json`, whose `trustedFolders` its TUI
/// reads before it runs a repository's hooks.
pub(super) static IN_WORKTREE: WorktreeHooks = WorktreeHooks {
    turn_end: super::TURN_END,
    home: "copilot",
    trust_in: |home| home.join(CONFIG),
    place: place_and_trust,
    forget: |file, project| set_trust(file, project, false),
};

/// Places the hooks and records the worktree as trusted in `trust`, if given.
pub(super) fn place_and_trust(
    worktree: &Path,
    vnx: &Path,
    dispatch_dir: &Path,
    trust: Option<&Path>,
) -> io::Result<InWorktree> {
    // `.github` itself may be missing: made here, left empty at the end (git keeps no empty
    // directory). A link there is not followed: `place_file` refuses to write through it.
    let github = worktree.join(".github");
    match std::fs::symlink_metadata(&github) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Ok(InWorktree::NoPlace),
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir(&github)?,
        Err(e) => return Err(e),
    }
    if std::fs::symlink_metadata(github.join("hooks")).is_ok_and(|m| !m.is_dir()) {
        return Ok(InWorktree::NoPlace);
    }
    let data =
        serde_json::to_vec_pretty(&hooks::settings(vnx, dispatch_dir)).expect("settings serialize");
    let placed = place_file(worktree, hooks::DIR, hooks::FILE, &data)?;
    Ok(place_trusted(worktree, placed, trust, |file, project| {
        set_trust(file, project, true)
    }))
}

/// Adds `project` to (or takes it out of) `trustedFolders` in copilot's `config.json`,
/// keeping the user's other settings and folders and the `//` comment lines copilot writes at
/// its top (seen on 1.0.102: "This file is managed automatically."); see [`edit_json`].
pub(super) fn set_trust(file: &Path, project: &Path, trusted: bool) -> io::Result<()> {
    edit_json(file, MAX_CONFIG_READ, true, |all| {
        let project = Value::String(project.to_string_lossy().into_owned());
        let folders = all
            .entry("trustedFolders")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(folders) = folders else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "trustedFolders is not a list",
            ));
        };
        let had = folders.contains(&project);
        match (trusted, had) {
            (true, false) => folders.push(project),
            (false, true) => folders.retain(|f| *f != project),
            _ => return Ok(false),
        }
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::provider::cli::hook::split_header;

    #[test]
    fn the_hooks_go_under_github_and_never_replace_the_repositorys() {
        let wt = tempfile::tempdir().unwrap();
        let InWorktree::Placed { placed, trusted } =
            place_and_trust(wt.path(), Path::new("/v"), Path::new("/d"), None).unwrap()
        else {
            panic!("not placed");
        };
        assert!(!trusted);
        assert_eq!(
            placed.path,
            wt.path().join(".github/hooks/vnx-dispatch.json")
        );
        assert!(matches!(
            place_and_trust(wt.path(), Path::new("/v"), Path::new("/d"), None).unwrap(),
            InWorktree::NoPlace
        ));
        let linked = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/tmp", linked.path().join(".github")).unwrap();
        assert!(matches!(
            place_and_trust(linked.path(), Path::new("/v"), Path::new("/d"), None).unwrap(),
            InWorktree::NoPlace
        ));
    }

    #[test]
    fn trust_is_added_and_removed_keeping_the_users_settings() {
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join(".copilot/config.json");
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        // As copilot 1.0.102 rewrites it: comment lines first.
        let header =
            "// User settings belong in settings.json.\n// This file is managed automatically.\n";
        fs::write(
            &file,
            format!("{header}{{\"banner\": \"never\", \"trustedFolders\": [\"/mine\"]}}"),
        )
        .unwrap();
        let read = || {
            let text = fs::read_to_string(&file).unwrap();
            assert!(text.starts_with(header), "{text}");
            serde_json::from_str::<Value>(split_header(&text).1).unwrap()
        };
        set_trust(&file, Path::new("/wt/a"), true).unwrap();
        assert_eq!(
            read()["trustedFolders"],
            serde_json::json!(["/mine", "/wt/a"])
        );
        set_trust(&file, Path::new("/wt/a"), false).unwrap();
        let v = read();
        assert_eq!(
            v,
            serde_json::json!({"banner": "never", "trustedFolders": ["/mine"]})
        );
        fs::write(&file, "[]").unwrap();
        assert!(set_trust(&file, Path::new("/wt/a"), true).is_err());
        assert_eq!(fs::read(&file).unwrap(), b"[]", "not ours to rewrite");
    }
}
