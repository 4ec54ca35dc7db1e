//! A sandboxed worker's private copy of its CLI's home (ADR 0069): each state directory or
//! state file the worker writes is a copy in its dispatch directory, shown where the CLI keeps
//! it, seeded with the login and settings the user has (a directory's top-level regular
//! files, read without following a link and bounded; its subdirectories start empty), and
//! removed once the worker has ended. Nothing the worker writes there is read later outside
//! its sandbox as configuration, a hook, a plugin or an MCP server.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{PrivateHome, SandboxError, SessionPlace, StatePath};

/// The directory of a dispatch's directory that holds its private copies.
pub const DIR: &str = "cli-home";

/// The most one copied file may weigh; a larger one is left out.
const MAX_FILE: u64 = 8 * 1024 * 1024;

/// The most a dispatch's copies may weigh together; files past it are left out.
const MAX_TOTAL: u64 = 64 * 1024 * 1024;

/// The private copies of a dispatch's CLI state: one for each writable state path (`state`,
/// with where it is), in `dispatch_dir`'s [`DIR`] at the path's place in the home. A path
/// the config shares (in `sandbox.writable`: the user chose to let workers write it) or that
/// the dispatch's own session place stands in for whole is not copied.
pub(super) fn plan(
    state: &[(&StatePath, PathBuf)],
    dispatch_dir: &Path,
    shared: &[PathBuf],
    sessions: Option<&SessionPlace>,
) -> Vec<PrivateHome> {
    state
        .iter()
        .filter(|(_, p)| p.is_absolute() && !shared.iter().any(|s| p.starts_with(s)))
        .filter(|(_, p)| !sessions.is_some_and(|s| p.starts_with(&s.shown_at)))
        .map(|(state, p)| PrivateHome {
            copy: dispatch_dir.join(DIR).join(state.rel),
            shown_at: p.clone(),
            dir: state.dir,
        })
        .collect()
}

/// Makes each copy and seeds it from the real path: a state file whole, a directory's
/// top-level regular files (never through a link; each at most [`MAX_FILE`], all at most
/// [`MAX_TOTAL`]; what is over, unreadable or not a regular file is left out). A real
/// directory that does not exist gives an empty copy.
pub(crate) fn seed(homes: &[PrivateHome]) -> Result<(), SandboxError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SandboxError::Io { path, source }
    };
    let mut budget = MAX_TOTAL;
    for home in homes {
        let parent = home.copy.parent().unwrap_or(&home.copy);
        crate::files::private_dir(parent).map_err(io(parent))?;
        if !home.dir {
            // The state file the CLI keeps in the home, as the user has it (a link the user
            // made to it is followed, as the bind of the real file did).
            let data =
                crate::files::read_named(&home.shown_at, MAX_FILE.min(budget)).unwrap_or_default();
            budget -= data.len() as u64;
            write_copy(&home.copy, &data, 0o600).map_err(io(&home.copy))?;
            continue;
        }
        crate::files::private_dir(&home.copy).map_err(io(&home.copy))?;
        let entries = match std::fs::read_dir(&home.shown_at) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&home.shown_at)(e)),
        };
        let mut files: Vec<_> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name())
            .collect();
        files.sort();
        for name in files {
            let from = home.shown_at.join(&name);
            let Ok(data) = crate::files::read_bounded(&from, MAX_FILE.min(budget)) else {
                continue;
            };
            budget -= data.len() as u64;
            let mode = std::fs::symlink_metadata(&from)
                .map_or(0o600, |m| m.permissions().mode() & 0o700 | 0o600);
            let to = home.copy.join(&name);
            write_copy(&to, &data, mode).map_err(io(&to))?;
        }
    }
    Ok(())
}

/// Writes a new private file (its owner's bits only).
fn write_copy(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(data)?;
    // Whatever the umask.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Removes a dispatch's private copies (its login among them) once its worker has ended.
/// What the worker left there is never read: a link is removed, not followed.
pub fn remove(dispatch_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dispatch_dir.join(DIR)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_holds_the_top_level_files_but_no_link_subdirectory_or_oversized_file() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("home/.tool");
        std::fs::create_dir_all(real.join("plugins")).unwrap();
        std::fs::write(real.join("auth.json"), "token").unwrap();
        std::fs::write(real.join("plugins/p.js"), "plugin").unwrap();
        std::fs::write(t.path().join("secret"), "key").unwrap();
        std::os::unix::fs::symlink(t.path().join("secret"), real.join("link")).unwrap();
        let big = std::fs::File::create(real.join("big")).unwrap();
        big.set_len(MAX_FILE + 1).unwrap();
        std::fs::write(t.path().join("home/.tool.json"), "{}").unwrap();
        let dispatch = t.path().join("d");
        let dir = StatePath::dir(".tool", None);
        let file = StatePath::file(".tool.json");
        let gone = StatePath::dir(".gone", None);
        let homes = plan(
            &[
                (&dir, real.clone()),
                (&file, t.path().join("home/.tool.json")),
                (&gone, t.path().join("home/.gone")),
            ],
            &dispatch,
            &[],
            None,
        );
        seed(&homes).unwrap();
        let copy = dispatch.join(DIR).join(".tool");
        assert_eq!(homes[0].copy, copy);
        assert_eq!(
            std::fs::read_to_string(copy.join("auth.json")).unwrap(),
            "token"
        );
        let mut names: Vec<_> = std::fs::read_dir(&copy)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["auth.json"]);
        assert_eq!(
            std::fs::read_to_string(dispatch.join(DIR).join(".tool.json")).unwrap(),
            "{}"
        );
        assert!(dispatch.join(DIR).join(".gone").is_dir());
        remove(&dispatch).unwrap();
        assert!(!dispatch.join(DIR).exists());
        assert!(real.join("auth.json").is_file());
    }

    #[test]
    fn a_shared_path_or_one_the_session_place_covers_is_not_copied() {
        let dir = StatePath::dir(".data/tool", None);
        let state = [(&dir, PathBuf::from("/h/.data/tool"))];
        let place = SessionPlace {
            dir: "/d/sessions".into(),
            shown_at: "/h/.data/tool".into(),
        };
        assert!(plan(&state, Path::new("/d"), &[], Some(&place)).is_empty());
        assert!(plan(&state, Path::new("/d"), &["/h/.data".into()], None).is_empty());
        assert_eq!(plan(&state, Path::new("/d"), &[], None).len(), 1);
    }
}
