//! A worker a pause stopped (`vnx pause --now`, ADR 0119): its supervisor records
//! `dispatch_paused`, waits while a pause covers the dispatch (its session and worktree
//! kept), then continues the worker once in the same session (`dispatch_resumed` after
//! `paused`). A worker that waited out a usage limit waits here too when a pause covers it
//! at the reset. `vnx cancel` during the wait ends it cancelled; `vnx resume ID` continues it
//! at once, whatever pause stands.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::dispatch::Spec;
use crate::dispatch::queue::paused;
use crate::dispatch::supervise::announce::Recorder;
use crate::dispatch::supervise::asked::{Surroundings, Waited, stop_asked, take, took_request};
use crate::dispatch::supervise::life::{Life, StopCause};
use crate::receipts::{DispatchPaused, DispatchResumed};

/// How often a wait looks for the pause's end, a cancel or a request to continue.
const LOOK: Duration = Duration::from_millis(250);

/// Whether a pause stopped the worker.
pub(super) fn stopped_by_pause(life: &Life) -> bool {
    matches!(life.stopped(), Some((StopCause::Paused, _)))
}

/// Records the pause and waits while one covers the dispatch; then records that it goes on.
/// A pause lifted before the wait began is no wait: the worker goes on at once.
pub(super) fn wait_out(
    spec: &Spec,
    around: &Surroundings<'_>,
    (recorder, log): (&mut Recorder<'_>, &mut std::fs::File),
) -> Waited {
    take(spec, around);
    let Some(pause) = paused::covering_here(spec) else {
        let _ = writeln!(log, "vnx: the pause was lifted before the wait; going on");
        return Waited::Over(Duration::ZERO);
    };
    let receipt = DispatchPaused {
        dispatch_id: spec.id.clone(),
        scope: pause.scope.clone(),
        remote: None,
        extra: Default::default(),
    };
    let message = pause.describe();
    let _ = writeln!(log, "vnx: {message}");
    recorder.record(&receipt, "paused", &message, log);
    let started = Instant::now();
    let mut source = "lifted";
    while paused::covering_here(spec).is_some() {
        if let Some(cause) = stop_asked(spec, around) {
            // Paused again while paused: nothing changes.
            if cause == StopCause::Paused {
                take(spec, around);
                continue;
            }
            let why = match cause {
                StopCause::Cancel => "cancelled while it was paused".to_owned(),
                _ => "interrupted while it was paused".to_owned(),
            };
            return Waited::Stopped((cause, why));
        }
        if took_request(&spec.dispatch_dir) {
            source = "person";
            break;
        }
        std::thread::sleep(LOOK);
    }
    let waited = started.elapsed();
    let after = (DispatchResumed::AFTER_PAUSED, source);
    super::limited::went_on(spec, after, waited, (recorder, log));
    Waited::Over(waited)
}
