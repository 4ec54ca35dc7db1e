//! Where an interactive claude worker's own session transcript is, to follow it while the
//! worker runs: claude appends every message and tool call of a session to
//! `<config dir>/projects/<its working directory, each character other than a letter or digit
//! made '-'>/<session id>.jsonl` (its config dir is `~/.claude`, or `CLAUDE_CONFIG_DIR`, which
//! the caller resolves). A dispatch's worktree is its own, so the newest file there is its
//! session's. Read like any file a worker could have written: only regular files, never
//! through a link (see [`crate::files::open_hostile`]).

use std::path::{Path, PathBuf};

/// The directory claude keeps the sessions of `cwd` in, under its config dir.
pub fn claude_project_dir(config_dir: &Path, cwd: &Path) -> PathBuf {
    let cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_owned());
    let munged: String = cwd
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    config_dir.join("projects").join(munged)
}

/// The newest session transcript (`*.jsonl`, a regular file, not a link) in `dir`, if any.
pub fn newest_session(dir: &Path) -> Option<PathBuf> {
    // The directory itself must not be a link out of the config dir.
    if !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return None;
    }
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?; // DirEntry::metadata does not follow links.
            meta.is_file().then(|| (meta.modified().ok(), e.path()))
        })
        .max()
        .map(|(_, path)| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_dir_is_the_cwd_with_every_other_character_a_dash() {
        let dir = claude_project_dir(Path::new("/h/.claude"), Path::new("/no/such/x.y_z"));
        assert_eq!(dir, Path::new("/h/.claude/projects/-no-such-x-y-z"));
    }

    #[test]
    fn only_regular_jsonl_files_count_and_never_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("p");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(newest_session(&dir), None);
        std::fs::write(dir.join("a.jsonl"), "{}\n").unwrap();
        std::fs::write(dir.join("b.txt"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("c.jsonl")).unwrap();
        assert_eq!(newest_session(&dir), Some(dir.join("a.jsonl")));
        let link = tmp.path().join("l");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert_eq!(newest_session(&link), None);
    }
}
