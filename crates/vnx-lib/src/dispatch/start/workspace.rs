//! Files vnx places inside a dispatch's worktree for its worker, and takes out again before
//! the worktree is classified. Only one exists: gemini reads hooks from the workspace's
//! `.gemini/settings.json` (its system-settings override is ignored unless root owns the
//! whole path), so vnx writes its hooks there when the worktree has no such file, and
//! removes it — only if unchanged — so that it never makes the worktree look dirty. Those
//! hooks are recorded as trusted for the worktree in gemini's `trusted_hooks.json` while the
//! dispatch runs (else gemini warns about them as a stranger's).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::provider::cli::gemini::hooks;

pub use crate::receipts::Placed;

/// Writes `.gemini/settings.json` with vnx's hooks into the worktree; `None` when the
/// worktree already has one (the repository's own settings are never touched).
pub fn place_gemini_hooks(
    worktree: &Path,
    vnx: &Path,
    dispatch_dir: &Path,
) -> io::Result<Option<Placed>> {
    let dir = worktree.join(".gemini");
    let path = dir.join("settings.json");
    if fs::symlink_metadata(&path).is_ok() {
        return Ok(None);
    }
    let made_dir = match fs::create_dir(&dir) {
        Ok(()) => Some(dir.clone()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => None,
        Err(e) => return Err(e),
    };
    let data =
        serde_json::to_vec_pretty(&hooks::settings(vnx, dispatch_dir)).expect("settings serialize");
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| io::Write::write_all(&mut f, &data))?;
    Ok(Some(Placed {
        path,
        sha256: hex::encode(Sha256::digest(&data)),
        made_dir,
    }))
}

/// The most of gemini's `trusted_hooks.json` vnx reads; a larger one is left alone.
const MAX_TRUST_READ: u64 = 4 << 20;

/// Edits gemini's `trusted_hooks.json` (`{project: [hook key, …]}`): sets `project`'s keys
/// to `keys`, or removes `project` when `keys` is `None`. The user's other entries are kept;
/// a file that is not such a JSON object, or a link, is left alone (an error). Concurrent
/// dispatches take turns by a lock file beside it.
pub fn set_gemini_trust(file: &Path, project: &Path, keys: Option<&[String]>) -> io::Result<()> {
    let Some(dir) = file.parent() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no directory"));
    };
    fs::create_dir_all(dir)?;
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

/// The most of a placed file read back to see whether the worker changed it; a larger one
/// is kept as changed.
const MAX_PLACED_READ: u64 = 1 << 20;

/// Removes what vnx placed, if the worker left it unchanged; returns what was removed.
pub fn remove(placed: &[Placed]) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for p in placed {
        // The worker may have replaced it with a link or a FIFO: neither is followed or
        // waited on, and either counts as changed (kept).
        let unchanged = crate::files::read_bounded(&p.path, MAX_PLACED_READ)
            .is_ok_and(|data| hex::encode(Sha256::digest(&data)) == p.sha256);
        if unchanged && fs::remove_file(&p.path).is_ok() {
            removed.push(p.path.clone());
            if let Some(dir) = &p.made_dir {
                // Fails, as it should, when the worker put something else there.
                let _ = fs::remove_dir(dir);
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placed_files_go_only_if_unchanged_and_never_replace_the_repositorys() {
        let wt = tempfile::tempdir().unwrap();
        let placed = place_gemini_hooks(wt.path(), Path::new("/v"), Path::new("/d"))
            .unwrap()
            .unwrap();
        assert!(
            place_gemini_hooks(wt.path(), Path::new("/v"), Path::new("/d"))
                .unwrap()
                .is_none()
        );
        let path = placed.path.clone();
        assert_eq!(remove(&[placed]), [path]);
        assert!(!wt.path().join(".gemini").exists());

        let placed = place_gemini_hooks(wt.path(), Path::new("/v"), Path::new("/d"))
            .unwrap()
            .unwrap();
        fs::write(&placed.path, "{}").unwrap();
        assert!(
            remove(&[placed]).is_empty(),
            "a changed file is the worker's"
        );
        assert!(wt.path().join(".gemini/settings.json").exists());
    }

    #[test]
    fn gemini_trust_is_added_and_removed_keeping_the_users_entries() {
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join(".gemini/trusted_hooks.json");
        let keys = hooks::trust_keys(Path::new("/v"), Path::new("/d"));
        set_gemini_trust(&file, Path::new("/wt/a"), Some(&keys)).unwrap();
        let mut theirs: serde_json::Value =
            serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert_eq!(theirs["/wt/a"].as_array().unwrap().len(), 3);
        theirs["/mine"] = serde_json::json!([":my-hook"]);
        fs::write(&file, theirs.to_string()).unwrap();
        set_gemini_trust(&file, Path::new("/wt/a"), None).unwrap();
        let left: serde_json::Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert_eq!(left, serde_json::json!({"/mine": [":my-hook"]}));
        fs::write(&file, "[]").unwrap();
        assert!(set_gemini_trust(&file, Path::new("/wt/a"), Some(&keys)).is_err());
        assert_eq!(fs::read(&file).unwrap(), b"[]", "not ours to rewrite");
    }

    #[test]
    fn a_placed_file_made_a_fifo_or_link_is_kept_without_waiting_or_following() {
        let wt = tempfile::tempdir().unwrap();
        let placed = place_gemini_hooks(wt.path(), Path::new("/v"), Path::new("/d"))
            .unwrap()
            .unwrap();
        // A link to a file with the placed content would pass the hash check if followed.
        let twin = wt.path().join("twin.json");
        fs::copy(&placed.path, &twin).unwrap();
        fs::remove_file(&placed.path).unwrap();
        std::os::unix::fs::symlink(&twin, &placed.path).unwrap();
        assert!(remove(std::slice::from_ref(&placed)).is_empty());
        assert!(fs::symlink_metadata(&placed.path).unwrap().is_symlink());

        fs::remove_file(&placed.path).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &placed.path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(remove(&[placed])).unwrap());
        let removed = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("remove blocked on a FIFO");
        assert!(removed.is_empty());
    }
}
