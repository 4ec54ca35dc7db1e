//! Whether a gate run is alive: each run holds an exclusive `flock` on `run.lock` in its run
//! directory (`.vnx-data/gates/<id>/<run>/`) from before its first checkout is made until
//! after its last is removed. The kernel drops the lock when the process dies, however it
//! dies, so a checkout registered under `.vnx-data/gates/` whose run's lock is free was left
//! by a `gate-check` or `merge` killed before it could remove it (`kill -9`): what
//! `vnx prune` removes and `vnx doctor` names.

use crate::ids::DispatchId;
use std::fs::{File, TryLockError};
use std::io;
use std::path::{Component, Path, PathBuf};

/// The lock file in a gate run's directory (a dot in it: never a gate's name).
pub const LOCK_FILE: &str = "run.lock";

/// The name of a gate's checkout in its gate directory (`<run>/<gate>/checkout`).
pub const CHECKOUT: &str = "checkout";

/// Takes the run's lock (creating the file, private), waiting while another holds it; held
/// until the file is dropped.
pub(crate) fn hold(run_dir: &Path) -> io::Result<File> {
    let file = crate::files::lock_file(&run_dir.join(LOCK_FILE), true)?;
    Ok(file.expect("a waited-for lock is held"))
}

/// Opens the run's lock file without following a link or waiting on a FIFO: a gate's
/// command runs the worker's code, which could have planted either. `Ok(None)` when the run
/// has none.
fn open(run_dir: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(run_dir.join(LOCK_FILE));
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(Some(file))
}

/// Whether the run may still be alive: its lock is held, or cannot be asked about (never
/// called dead on a doubt). Asked without taking it for more than an instant: a shared lock
/// that fails only while the exclusive one is held.
pub fn alive(run_dir: &Path) -> bool {
    match open(run_dir) {
        Ok(None) => false,
        Ok(Some(file)) => !matches!(file.try_lock_shared(), Ok(())),
        Err(_) => true,
    }
}

/// Takes the lock of a run believed dead, so that nothing can call it alive while its
/// leftovers go: `Ok(None)` when it has no lock file, `Err` with the reason when it is held
/// (the run lives) or cannot be taken.
pub fn claim(run_dir: &Path) -> Result<Option<File>, String> {
    let lock = run_dir.join(LOCK_FILE);
    let file = match open(run_dir) {
        Ok(None) => return Ok(None),
        Ok(Some(file)) => file,
        Err(e) => return Err(format!("{}: {e}", lock.display())),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => {
            Err(format!("{} is held: its gate run is alive", lock.display()))
        }
        Err(TryLockError::Error(e)) => Err(format!("{}: {e}", lock.display())),
    }
}

/// Whose a gate checkout is: the names in its path `<gates>/<id>/<run>/<gate>/checkout`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The dispatch whose head it checked out.
    pub dispatch_id: DispatchId,
    /// The gate run's name.
    pub run: String,
    /// The gate's name.
    pub gate: String,
    /// The run's directory, which holds its lock.
    pub run_dir: PathBuf,
}

/// Whose the checkout at `checkout` (a path git registered) is, when it is a gate checkout:
/// `<gates>/<id>/<run>/<gate>/checkout`, with every directory from `gates` down to the
/// gate's a real directory (no link) and the checkout itself a directory or gone. Anything
/// else under `gates` is not a checkout vnx made, and nothing is done to it.
pub fn owner(gates: &Path, checkout: &Path) -> Option<Owner> {
    let rest = checkout.strip_prefix(gates).ok()?;
    let parts: Vec<&str> = rest
        .components()
        .map(|c| match c {
            Component::Normal(name) => name.to_str(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let [id, run, gate, last] = parts[..] else {
        return None;
    };
    if last != CHECKOUT {
        return None;
    }
    let Ok(id) = DispatchId::parse(id) else {
        return None;
    };
    let real_dir = |p: &Path| p.symlink_metadata().is_ok_and(|m| m.is_dir());
    let run_dir = gates.join(&id).join(run);
    let dirs = [gates, &gates.join(&id), &run_dir, &run_dir.join(gate)];
    if !dirs.iter().all(|d| real_dir(d)) {
        return None;
    }
    match checkout.symlink_metadata() {
        Ok(m) if !m.is_dir() => None,
        Err(e) if e.kind() != io::ErrorKind::NotFound => None,
        _ => Some(Owner {
            dispatch_id: id,
            run: run.to_owned(),
            gate: gate.to_owned(),
            run_dir,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_alive_and_a_free_or_missing_one_is_not() {
        let d = tempfile::tempdir().unwrap();
        assert!(!alive(d.path()), "no lock file: no run holds it");
        assert!(matches!(claim(d.path()), Ok(None)));
        let held = hold(d.path()).unwrap();
        assert!(alive(d.path()));
        assert!(claim(d.path()).unwrap_err().contains("alive"));
        drop(held);
        assert!(!alive(d.path()));
        let claimed = claim(d.path()).unwrap().expect("a lock file is there");
        assert!(alive(d.path()), "claimed, it counts as alive");
        drop(claimed);
        assert!(!alive(d.path()));
    }

    #[test]
    fn a_planted_link_or_fifo_is_never_called_dead() {
        let d = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/nonexistent", d.path().join(LOCK_FILE)).unwrap();
        assert!(alive(d.path()));
        assert!(claim(d.path()).is_err());
        std::fs::remove_file(d.path().join(LOCK_FILE)).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.path().join(LOCK_FILE),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(
            alive(d.path()),
            "a FIFO is opened without waiting, and refused"
        );
        assert!(claim(d.path()).is_err());
    }

    #[test]
    fn only_the_shape_vnx_makes_is_a_gate_checkout() {
        let d = tempfile::tempdir().unwrap();
        let gates = d.path().join("gates");
        let gate = gates.join("D-0123456789ab/run-1/tests");
        std::fs::create_dir_all(&gate).unwrap();
        let run = gates.join("D-0123456789ab/run-1");
        let ours = Some(Owner {
            dispatch_id: crate::ids::DispatchId::parse("D-0123456789ab").unwrap(),
            run: "run-1".into(),
            gate: "tests".into(),
            run_dir: run.clone(),
        });
        // There or already gone: either way it is one.
        assert_eq!(owner(&gates, &gate.join(CHECKOUT)), ours);
        std::fs::create_dir(gate.join(CHECKOUT)).unwrap();
        assert_eq!(owner(&gates, &gate.join(CHECKOUT)), ours);
        for other in [
            gate.clone(),
            gate.join("elsewhere"),
            gate.join(CHECKOUT).join("deeper"),
            gates.join("D-0123456789ab/run-1/tests/../tests/checkout"),
            gates.join("D-0123456789ab/../../../src/x/checkout"),
            gates.join("not an id/run-1/tests/checkout"),
            d.path()
                .join("elsewhere/D-0123456789ab/run-1/tests/checkout"),
        ] {
            assert_eq!(owner(&gates, &other), None, "{}", other.display());
        }
        // A link on the way, or a checkout that is a link, is not followed.
        std::os::unix::fs::symlink(&gate, run.join("linked")).unwrap();
        assert_eq!(owner(&gates, &run.join("linked").join(CHECKOUT)), None);
        let other = gates.join("D-0123456789ab/run-2/tests");
        std::fs::create_dir_all(&other).unwrap();
        std::os::unix::fs::symlink(d.path(), other.join(CHECKOUT)).unwrap();
        assert_eq!(owner(&gates, &other.join(CHECKOUT)), None);
    }
}
