//! What a supervisor is asked from outside while it runs a worker, below the waits that
//! answer it (`worker`, `limited`, `paused`): what the command line gives it (its pane, its
//! stop flag), whether a raised stop flag is a person's cancel, a pause or an interruption,
//! a pause's or a person's "go on now" request taken, and how a wait ended.

use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::dispatch::Spec;
use crate::dispatch::supervise::life::{Stop, StopCause};
use crate::dispatch::supervise::output::Pane;
use crate::ledger::attest::Attestor;
use crate::provider::Lane;

/// What the supervisor is given by the command line.
pub struct Surroundings<'a> {
    /// The pane, for a headless worker's output.
    pub pane: &'a Pane,
    /// Set on SIGHUP, SIGTERM or SIGINT: stop the worker; record `cancelled` when a person's
    /// `vnx cancel` asked for it, else nothing (ADR 0068).
    pub cancel: &'a AtomicBool,
    /// The `PATH` to give the worker (the dispatch's `bin/` is put first).
    pub path: Option<OsString>,
    /// The dispatcher's values of the variables its credential relay needs (`keys::vars`:
    /// the real key and the provider's base URL), which the worker never gets (ADR 0124).
    pub relay_env: Vec<(String, String)>,
    /// The pane's terminal, for an interactive worker.
    pub tty: Option<std::os::fd::BorrowedFd<'a>>,
    /// The pane's tmux id (`%N`), to save an interactive worker's screen to the log.
    pub tmux_pane: Option<String>,
    /// Signs the completion.
    pub attestor: &'a Attestor,
    /// The entry hash of the dispatch's `dispatch_started`, for the `started` notification.
    pub started_hash: Option<String>,
    /// Run when a usage limit this worker met has reset, before it continues: the command
    /// line drains the queue, so what waited for the provider starts (ADR 0117).
    pub after_reset: Option<&'a dyn Fn()>,
}

/// The file `vnx pause --now` writes in a running dispatch's directory before it signals the
/// supervisor: what tells a pause from a signal nobody in vnx sent.
pub(crate) const REQUEST: &str = "pause-requested";

/// The file `vnx resume` writes in a limited dispatch's directory: continue now.
pub(crate) const CONTINUE_REQUEST: &str = "continue-requested";

/// Whether a pause asked to stop the dispatch whose directory is `dispatch_dir`.
pub(crate) fn requested(dispatch_dir: &Path) -> bool {
    crate::dispatch::has_file(dispatch_dir, REQUEST)
}

/// Takes the pause's request: the file removed and the supervisor's stop flag lowered, so a
/// later signal (a cancel) is heard again.
pub(super) fn take(spec: &Spec, around: &Surroundings<'_>) {
    let _ = std::fs::remove_file(spec.dispatch_dir.join(REQUEST));
    if !crate::dispatch::cancel::requested(&spec.dispatch_dir) {
        around.cancel.store(false, Ordering::Relaxed);
    }
}

/// Whether the supervisor was told to stop, and by whom: a person's `vnx cancel` (its request
/// is in the dispatch directory: [`crate::dispatch::cancel::REQUEST`]) or a signal nobody in
/// vnx sent (a hangup as the tmux server died, a reboot's SIGTERM), which only interrupts the
/// dispatch (ADR 0068), or a pause (`vnx pause --now`: [`REQUEST`], ADR 0119).
pub(super) fn stop_asked(spec: &Spec, around: &Surroundings<'_>) -> Option<StopCause> {
    if !around.cancel.load(Ordering::Relaxed) {
        return None;
    }
    if crate::dispatch::cancel::requested(&spec.dispatch_dir) {
        return Some(StopCause::Cancel);
    }
    if requested(&spec.dispatch_dir) {
        // A TUI's turn end ends its dispatch: a pause lets it end that turn (ADR 0119).
        if spec.lane == Lane::Interactive {
            take(spec, around);
            return None;
        }
        return Some(StopCause::Paused);
    }
    Some(StopCause::Interrupted)
}

/// How a wait for a reset (or a pause's end) ended.
pub(super) enum Waited {
    /// The limit reset (or a person asked to go on): continue, after waiting this long.
    Over(Duration),
    /// The supervisor was told to stop (a person's cancel, a hangup).
    Stopped(Stop),
}

impl Waited {
    /// This wait, after an earlier one of `before`.
    pub(super) fn after(self, before: Duration) -> Waited {
        match self {
            Waited::Over(w) => Waited::Over(w + before),
            stopped => stopped,
        }
    }
}

/// Whether a person asked to continue now (the request is taken: removed).
pub(super) fn took_request(dispatch_dir: &Path) -> bool {
    let path = dispatch_dir.join(CONTINUE_REQUEST);
    let asked = path.symlink_metadata().is_ok_and(|m| m.is_file());
    if asked {
        let _ = std::fs::remove_file(&path);
    }
    asked
}
