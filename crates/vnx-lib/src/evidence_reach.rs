//! Whether the evidence is out of a worker's reach: can the process a worker runs as read the
//! key that signs vnx's receipts and checkpoints, write the ledger, or move
//! `refs/vnx/checkpoints`? Measured with `access(2)` for the identity the worker runs as, so
//! the answer follows the machine rather than a claim; `vnx doctor` reports it and every
//! `dispatch_started` records it.
//!
//! Without a sandbox workers run as the user who dispatched them and every answer is yes: vnx
//! can detect tampering (attestations, checkpoints and their witness) but cannot prevent a
//! worker that reads the key from forging evidence. A sandboxed worker's reach is measured
//! inside its sandbox (`vnx __evidence-reach` run in the same bubblewrap shape).

use std::path::Path;

use rustix::fs::{Access, access};

use crate::sandbox::ShapeExt;

pub use crate::receipts::Reach;

/// Measures what a worker started now could reach. `key` is the signing key's path (or
/// where it would be created), `ledger` the ledger's, `git_common_dir` the repository's.
pub fn measure(key: &Path, ledger: &Path, git_common_dir: &Path) -> Reach {
    measure_where(key, ledger, git_common_dir, true)
}

/// Measures as [`measure`] does, from inside a sandbox: a key that is not there is
/// hidden, not yet to be made.
pub fn measure_inside(key: &Path, ledger: &Path, git_common_dir: &Path) -> Reach {
    measure_where(key, ledger, git_common_dir, false)
}

/// What a worker in `shape` could reach, measured by running `vnx __evidence-reach` in
/// the same sandbox; what was measured outside when that run fails.
pub fn measure_sandboxed(
    shape: &crate::sandbox::Shape,
    vnx: &Path,
    key: &Path,
    ledger: &Path,
    git_common_dir: &Path,
) -> Reach {
    let outside = measure(key, ledger, git_common_dir);
    let argv: Vec<std::ffi::OsString> = vec![
        vnx.into(),
        "__evidence-reach".into(),
        key.into(),
        ledger.into(),
        git_common_dir.into(),
    ];
    let argv = shape.wrap(&argv);
    let cmd = crate::process::Cmd::new(&argv[0])
        .args(&argv[1..])
        .timeout(std::time::Duration::from_secs(10));
    let inside = crate::process::run_ok(&cmd)
        .ok()
        .and_then(|out| serde_json::from_str::<Reach>(&out).ok());
    match inside {
        Some(mut r) => {
            // A key not made yet will be made where the dispatcher's user keeps it.
            if !key.exists() {
                r.signing_key_readable = outside.signing_key_readable;
            }
            r.sandbox = Some(shape.kind.clone());
            r
        }
        None => outside,
    }
}

fn measure_where(
    key: &Path,
    ledger: &Path,
    git_common_dir: &Path,
    absent_key_readable: bool,
) -> Reach {
    // The key: readable if it exists and can be read, or (outside a sandbox) if it does
    // not exist yet (the worker's user would own the key vnx creates).
    let key_readable = if key.exists() {
        access(key, Access::READ_OK).is_ok()
    } else {
        absent_key_readable
    };
    let writable_or_parent = |p: &Path| {
        if p.exists() {
            access(p, Access::WRITE_OK).is_ok()
        } else {
            p.parent()
                .is_some_and(|d| access(d, Access::WRITE_OK | Access::EXEC_OK).is_ok())
        }
    };
    Reach {
        sandbox: None,
        worker_uid: rustix::process::geteuid().as_raw(),
        signing_key_readable: key_readable,
        ledger_writable: writable_or_parent(ledger),
        checkpoint_refs_writable: access(git_common_dir, Access::WRITE_OK).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsandboxed_worker_reaches_what_its_user_owns() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "k").unwrap();
        let ledger = dir.path().join("state/ledger.ndjson");
        std::fs::create_dir(dir.path().join("state")).unwrap();
        let reach = measure(&key, &ledger, dir.path());
        assert!(reach.signing_key_readable && reach.ledger_writable);
        assert!(reach.checkpoint_refs_writable && !reach.out_of_reach());
        assert!(
            reach.describe().contains("read the signing key"),
            "{reach:?}"
        );
        // A ledger whose directory does not exist cannot be written.
        let nowhere = measure(&key, &dir.path().join("no/such/ledger"), dir.path());
        assert!(!nowhere.ledger_writable);
    }
}
