//! How vnx writes its own files and reads files others could have written: private
//! directories and files, atomic and durable replacement, `flock` locks, and bounded reads
//! that never follow a link or wait on a FIFO.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens the lock file `path` (made private if absent, never truncated) and takes its
/// exclusive `flock`: waiting for it when `wait`, else `Ok(None)` while another holds it.
/// The lock lasts as long as the returned file (a crashed holder frees it). A link at `path`
/// is never followed (no file is made where it points) and a FIFO is never waited on: only
/// a regular file is a lock.
pub fn lock_file(path: &Path, wait: bool) -> std::io::Result<Option<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let file = regular(file, path)?;
    if wait {
        file.lock()?;
        return Ok(Some(file));
    }
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Creates `dir` and any missing parents private to the user (0700), whatever the umask, and
/// narrows an existing `dir` to 0700: vnx's own directories hold prompts, logs, the worker's
/// `PATH` entry and the ledger, which no other local user may read or replace.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes a new file private to the user (0600), whatever the umask; fails if it exists.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(data)
}

/// Replaces `path` with `data` atomically: written to a private (0600) temporary file beside
/// it, then renamed into place, so a reader sees the old file or the new one, never half of
/// one. With `durable`, the file and then its directory are fsynced too (the rename survives a
/// crash).
pub fn write_atomic_private(path: &Path, data: &[u8], durable: bool) -> std::io::Result<()> {
    write_atomic(path, data, 0o600, durable)
}

/// Replaces `path` with `data` atomically, as a file of permissions `mode` whatever the umask:
/// written to a temporary file beside it, then renamed into place, so a reader sees the old
/// file or the new one, never half of one. With `durable`, the file and then its directory are
/// fsynced too (the rename survives a crash). The directory must exist.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32, durable: bool) -> std::io::Result<()> {
    write_atomic_with(path, mode, durable, |f| f.write_all(data))
}

/// [`write_atomic`], the content written by `write` into the temporary file (for content
/// too large to build in memory first).
pub fn write_atomic_with(
    path: &Path,
    mode: u32,
    durable: bool,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // Held while the file is written: a sweep never takes a live writer's file (best
        // effort: a filesystem without locks still has the writer's pid in the name).
        let _ = f.lock();
        write(&mut f)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        if durable {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if durable {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The temporary files [`write_atomic_with`] left beside `path` that no writer will finish:
/// named after `path` and a process that no longer exists, and not locked (a writer holds
/// its file's lock until the rename; a process in another pid namespace whose number names
/// none here still holds it). What a killed writer leaves stays until swept.
pub fn abandoned_temporaries(path: &Path) -> Vec<std::path::PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let Some(name) = path.file_name().map(|n| n.to_string_lossy()) else {
        return Vec::new();
    };
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<std::path::PathBuf> = entries
        .flatten()
        .filter(|e| {
            let file = e.file_name();
            let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
                return false;
            };
            let Some(pid) = rest
                .split('-')
                .next()
                .and_then(|p| p.parse::<i32>().ok())
                .and_then(rustix::process::Pid::from_raw)
            else {
                return false;
            };
            // EPERM: the process exists, someone else's.
            if !matches!(
                rustix::process::test_kill_process(pid),
                Err(rustix::io::Errno::SRCH)
            ) {
                return false;
            }
            open_hostile(&e.path()).is_ok_and(|file| file.try_lock().is_ok())
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Removes [`abandoned_temporaries`] beside `path`; returns how many went.
pub fn sweep_temporaries(path: &Path) -> usize {
    abandoned_temporaries(path)
        .iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count()
}

/// Opens a committed project file for reading without trusting it: none of its last `levels`
/// path components may be a symbolic link (a committed link can point at a private file
/// outside the repository, whose first line an error message would echo), and it must be a
/// regular file (opened without blocking, so a FIFO cannot hang vnx or a git hook).
pub fn open_untrusted(path: &Path, levels: usize) -> std::io::Result<std::fs::File> {
    let mut p = path;
    for _ in 0..levels {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(std::io::Error::other(format!(
                    "{} is a symbolic link; vnx reads project files only inside the repository",
                    p.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && p == path => return Err(e),
            Err(_) => {}
        }
        match p.parent() {
            Some(parent) => p = parent,
            None => break,
        }
    }
    let file = open_unfollowed(path)?;
    if file.metadata()?.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is a directory",
            path.display()
        )));
    }
    regular(file, path)
}

/// Opens a file a worker may have written (in its worktree or dispatch directory) for
/// reading: never through a symbolic link in its last component, never blocking on a FIFO,
/// and only a regular file.
pub fn open_hostile(path: &Path) -> std::io::Result<std::fs::File> {
    regular(open_unfollowed(path)?, path)
}

/// Opens `path` for reading, never through a symbolic link in its last component and
/// never blocking on a FIFO.
fn open_unfollowed(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// `file`, opened at `path`, if it is a regular file.
fn regular(file: std::fs::File, path: &Path) -> std::io::Result<std::fs::File> {
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    Ok(file)
}

/// Reads a regular file of at most `max` bytes that a worker may have written: never through
/// a symbolic link, never blocking on a FIFO, and refusing a larger one.
pub fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    read_regular(path, max, libc::O_NOFOLLOW)
}

/// Reads a regular file the user named (a symbolic link to one is fine), bounded as
/// [`read_bounded`] reads.
pub fn read_named(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    read_regular(path, max, 0)
}

fn read_regular(path: &Path, max: u64, flags: i32) -> std::io::Result<Vec<u8>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | flags)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > max {
        return Err(std::io::Error::other(format!(
            "{} bytes, over the limit of {max}",
            meta.len()
        )));
    }
    let mut data = Vec::new();
    file.take(max + 1).read_to_end(&mut data)?;
    if data.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "over the limit of {max} bytes (it grew while read)"
        )));
    }
    Ok(data)
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "a test makes a FIFO with mkfifo(1)"
)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_dirs_and_files_whatever_the_mode_before() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        private_dir(&deep).unwrap();
        for d in [dir.path().join("a"), deep.clone()] {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
        std::fs::set_permissions(&deep, std::fs::Permissions::from_mode(0o777)).unwrap();
        private_dir(&deep).unwrap();
        assert_eq!(
            std::fs::metadata(&deep).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let f = deep.join("f");
        write_private(&f, b"x").unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(write_private(&f, b"y").is_err(), "never overwrites");
    }

    #[test]
    fn only_temporaries_of_dead_writers_that_nobody_locks_are_abandoned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.v1");
        write_atomic_private(&path, b"x", false).unwrap();
        assert!(
            abandoned_temporaries(&path).is_empty(),
            "a finished write leaves none"
        );
        // No process has pid 2^22 + 1 (above Linux's pid_max).
        let dead = dir.path().join(".index.v1.tmp-4194305-0");
        std::fs::write(&dead, b"half").unwrap();
        let alive = dir
            .path()
            .join(format!(".index.v1.tmp-{}-9", std::process::id()));
        std::fs::write(&alive, b"half").unwrap();
        let held = dir.path().join(".index.v1.tmp-4194305-1");
        std::fs::write(&held, b"half").unwrap();
        let lock = std::fs::File::open(&held).unwrap();
        lock.lock().unwrap();
        std::fs::write(dir.path().join(".other.tmp-4194305-0"), b"x").unwrap();
        assert_eq!(abandoned_temporaries(&path), vec![dead.clone()]);
        assert_eq!(sweep_temporaries(&path), 1);
        assert!(!dead.exists() && alive.exists() && held.exists());
    }

    #[test]
    fn a_lock_never_follows_a_link_nor_opens_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let link = dir.path().join("l.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(lock_file(&link, false).is_err());
        assert!(!target.exists(), "no file made through the link");
        let fifo = dir.path().join("f.lock");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(lock_file(&fifo, true).is_err());
        let plain = dir.path().join("p.lock");
        assert!(lock_file(&plain, false).unwrap().is_some());
    }

    #[test]
    fn untrusted_files_are_refused_through_links_and_when_not_regular() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "root:$6$x").unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join(".vnx")).unwrap();
        std::os::unix::fs::symlink(&secret, repo.join(".vnx/config.yaml")).unwrap();
        let e = open_untrusted(&repo.join(".vnx/config.yaml"), 2).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        std::os::unix::fs::symlink(dir.path(), repo.join(".linked")).unwrap();
        let e = open_untrusted(&repo.join(".linked/secret"), 2).unwrap_err();
        assert!(e.to_string().contains(".linked is a symbolic link"), "{e}");
        let fifo = repo.join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = open_untrusted(&fifo, 1).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = open_untrusted(&repo.join(".vnx"), 1).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        std::fs::write(repo.join("ok"), "x").unwrap();
        assert!(open_untrusted(&repo.join("ok"), 1).is_ok());
        let missing = open_untrusted(&repo.join("none"), 1).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    }
}
