//! An environment handed to a long-lived vnx process tmux starts (a dispatch's supervisor and
//! worker, a detached watcher, a place's credential relay keeper): the starting command's,
//! through a private file (never on argv, where `ps` shows it), so that neither the tmux
//! server's environment (shared by every project and shell of the user, and as old as the
//! server) nor a variable the starting command unset reaches it.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// An environment: names and values, in order.
pub type Env = Vec<(OsString, OsString)>;

/// The file's name in the dispatch directory (and, `<id>.env`, beside a queued entry).
pub const FILE: &str = "env";

/// The largest environment file read back (Linux takes at most a few MiB of environment).
const MAX_BYTES: u64 = 8 << 20;

/// `env` without what vnx never hands on: the variables that redirect git, and vnx's own
/// private ones (the signing key's path travels separately).
pub fn handed_on(env: &[(OsString, OsString)]) -> Env {
    env.iter()
        .filter(|(k, _)| {
            !crate::process::GIT_REDIRECT_VARS
                .iter()
                .chain(crate::process::PRIVATE_VARS)
                .any(|v| k == v)
        })
        .cloned()
        .collect()
}

/// The variables' names, sorted, as `dispatch_started` records them (never the values).
pub fn names(env: &[(OsString, OsString)]) -> Vec<String> {
    let mut names: Vec<String> = env
        .iter()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Writes `env` to `path`, readable only by the user, never over an existing file.
pub fn write(path: &Path, env: &[(OsString, OsString)]) -> io::Result<()> {
    let mut data = Vec::new();
    for (k, v) in env {
        data.extend_from_slice(k.as_bytes());
        data.push(0);
        data.extend_from_slice(v.as_bytes());
        data.push(0);
    }
    crate::files::write_private(path, &data)
}

/// Reads the environment at `path` and removes the file: without following a link or
/// waiting on a FIFO, bounded. `None` when there is none.
pub fn take(path: &Path) -> io::Result<Option<Env>> {
    let data = match crate::files::read_bounded(path, MAX_BYTES) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    std::fs::remove_file(path)?;
    let mut parts = data.split(|b| *b == 0);
    let mut env = Env::new();
    while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
        if k.is_empty() {
            break;
        }
        env.push((
            OsString::from_vec(k.to_vec()),
            OsString::from_vec(v.to_vec()),
        ));
    }
    Ok(Some(env))
}

/// Where the environment of a dispatch with directory `dispatch_dir` is handed over.
pub fn path_in(dispatch_dir: &Path) -> PathBuf {
    dispatch_dir.join(FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_goes_through_its_file_once_and_keeps_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        let env: Env = vec![
            ("A".into(), "1".into()),
            ("EMPTY".into(), "".into()),
            ("SPACES".into(), "a b\nc=d".into()),
            ("BYTES".into(), OsString::from_vec(vec![0xff, 0xfe, b'x'])),
        ];
        write(&path, &env).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(take(&path).unwrap(), Some(env));
        assert!(!path.exists());
        assert_eq!(take(&path).unwrap(), None);
        assert_eq!(
            names(&handed_on(&[
                ("GIT_DIR".into(), "/x".into()),
                ("VNX_CHECKPOINT_KEY".into(), "/k".into()),
                ("B".into(), "2".into()),
            ])),
            ["B"]
        );
    }
}
