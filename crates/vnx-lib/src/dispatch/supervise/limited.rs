//! A worker its provider's usage limit stopped (ADR 0117): neither done nor failed. Its
//! supervisor records `dispatch_limited` (the CLI's words, the reset when they name one),
//! holds the provider so nothing new launches on it, waits for the reset (or the config's
//! `limit_wait_seconds` when nobody said one) without counting the wait against the
//! deadline, then continues the worker once in the same session with a short prompt
//! (`dispatch_resumed` after `limited`). A person's `vnx cancel` during the wait ends it
//! cancelled; `vnx resume` continues it at once, and `vnx resume --to` ends it as moved to
//! another CLI.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use crate::dispatch::Spec;
use crate::dispatch::queue::held::{self, Hold};
use crate::dispatch::start::compose::Interruption;
use crate::dispatch::supervise::announce::Recorder;
use crate::dispatch::supervise::asked::{Surroundings, Waited, stop_asked, took_request};
use crate::dispatch::supervise::facts::EndOfRun;
use crate::dispatch::supervise::life::{Life, StopCause};
use crate::dispatch::supervise::signals::{self, ReportFile};
use crate::receipts::{DispatchLimited, DispatchResumed, UsageLimit};

/// The file `vnx resume --to` writes in a limited dispatch's directory before it asks the
/// supervisor to stop (as a cancel does): the dispatch ends cancelled as moved, and a
/// follow-up on another CLI continues it (`actions::limit_move`).
pub(crate) const MOVE_REQUEST: &str = "move-requested";

/// How often a wait looks for a cancel or a request to continue.
const LOOK: Duration = Duration::from_millis(200);

/// The usage limit that stopped the worker, if one did: its CLI exited by itself after
/// saying it met one, and left no report (a worker that reported finished its work).
pub(super) fn limit_of(spec: &Spec, life: &Life, seal: &str) -> Option<UsageLimit> {
    let Life::Exited(exited) = life else {
        return None;
    };
    if !matches!(exited.stopped, None | Some((StopCause::Limit, _))) {
        return None;
    }
    let limit = exited.stream.usage_limit.clone()?;
    match signals::read_report(&spec.dispatch_dir, &spec.id, seal) {
        ReportFile::Missing => Some(limit),
        _ => None,
    }
}

/// A wall-clock time as receipts write it, rounded up to the second: the provider's hold
/// ends no sooner than its own worker is continued (which ends the hold), so that one goes
/// first.
fn stamp(t: SystemTime) -> crate::ids::Timestamp {
    let t = jiff::Timestamp::try_from(t).unwrap_or_else(|_| jiff::Timestamp::now());
    crate::dispatch::queue::rfc3339(match t.subsec_nanosecond() {
        0 => t,
        _ => jiff::Timestamp::from_second(t.as_second() + 1).unwrap_or(t),
    })
}

/// Records the limit, holds the provider, and waits for the reset (then, while a pause
/// covers the dispatch, for its end: `paused`): `count` is how many limits this dispatch has
/// met, this one included.
pub(super) fn wait_out(
    spec: &Spec,
    around: &Surroundings<'_>,
    limit: &UsageLimit,
    count: u32,
    (recorder, log): (&mut Recorder<'_>, &mut std::fs::File),
) -> Waited {
    let now = SystemTime::now();
    let said_wait = limit.resets_in_seconds.map(Duration::from_secs);
    // At most a day, as a CLI's words are: the hold ends within the two days a hold counts.
    let own_wait = spec
        .limit_wait_secs
        .unwrap_or(crate::dispatch::spec::DEFAULT_LIMIT_WAIT_SECS)
        .min(crate::provider::cli::limit::MAX_RESET_SECONDS);
    let wait = said_wait.unwrap_or(Duration::from_secs(own_wait));
    let continues_at = stamp(now + wait);
    let receipt = DispatchLimited {
        dispatch_id: spec.id.clone(),
        provider: spec.provider.to_string(),
        said: limit.said.clone(),
        resets_at: said_wait.map(|w| stamp(now + w)),
        continues_at: continues_at.clone(),
        limit_count: count,
        remote: None,
        extra: Default::default(),
    };
    let until = continues_at.as_str().get(11..16).unwrap_or("?").to_owned();
    let message = format!("limited until {until} UTC");
    let _ = writeln!(log, "vnx: {}: {message}", spec.provider);
    recorder.record(&receipt, "limited", &message, log);
    let hold = Hold {
        provider: spec.provider.name().to_owned(),
        until: continues_at,
        dispatch_id: spec.id.clone(),
    };
    if let Err(e) = held::hold(spec.data_dir(), &hold) {
        let _ = writeln!(log, "vnx: could not hold {}: {e}", spec.provider);
    }
    let started = Instant::now();
    let end = started + wait;
    let mut source = "reset";
    while Instant::now() < end {
        if let Some(cause) = stop_asked(spec, around) {
            let moved = crate::dispatch::has_file(&spec.dispatch_dir, MOVE_REQUEST);
            let why = match cause {
                StopCause::Cancel if moved => "moved to another CLI while it waited out a \
                                               usage limit (`vnx resume --to`); its work is \
                                               kept for the follow-up there"
                    .to_owned(),
                StopCause::Cancel => "cancelled while it waited out a usage limit".to_owned(),
                _ => "interrupted while it waited out a usage limit".to_owned(),
            };
            return Waited::Stopped((cause, why));
        }
        if took_request(&spec.dispatch_dir) {
            source = "person";
            break;
        }
        std::thread::sleep(LOOK.min(end.saturating_duration_since(Instant::now())));
    }
    // Its own hold ends as it goes on (a later one another worker set stays), so the queue
    // it drains next starts what waited.
    held::release(spec.data_dir(), spec.provider.name(), &spec.id);
    let waited = started.elapsed();
    // A pause that covers it at the reset holds it on until lifted.
    if source == "reset" && crate::dispatch::queue::paused::covering_here(spec).is_some() {
        return super::paused::wait_out(spec, around, (recorder, log)).after(waited);
    }
    went_on(
        spec,
        (DispatchResumed::AFTER_LIMITED, source),
        waited,
        (recorder, log),
    );
    Waited::Over(waited)
}

/// Records that the worker goes on after a wait (`after`, ended by `source`) of `waited`.
pub(super) fn went_on(
    spec: &Spec,
    (after, source): (&str, &str),
    waited: Duration,
    (recorder, log): (&mut Recorder<'_>, &mut std::fs::File),
) {
    let resumed = DispatchResumed {
        dispatch_id: spec.id.clone(),
        after: after.to_owned(),
        waited_seconds: crate::receipts::seconds(waited.as_secs_f64()),
        source: source.to_owned(),
        remote: None,
        extra: Default::default(),
    };
    recorder.record(&resumed, "running", "", log);
}

/// The spec and prompt that continue the worker: its CLI resuming the session it named
/// (or the one vnx gave it) with the continuing prompt; where it cannot, a new session with
/// the assignment again, told that its work so far is in the worktree.
pub(super) fn continued(
    spec: &Spec,
    end: Option<&EndOfRun>,
    prompt: &str,
    why: Interruption,
) -> (Spec, String) {
    let completion = spec.invocation.completion;
    let session = end
        .and_then(|e| e.stream.session_id.clone())
        .or_else(|| spec.session_id.clone())
        .filter(|s| crate::provider::session::valid_id(spec.provider.name(), s));
    let resumable = spec.continuation.as_ref().and_then(|c| {
        let needs_session = c.resuming("-").argv != c.argv;
        match (needs_session, &session) {
            (false, _) => Some(c.clone()),
            (true, Some(s)) => Some(c.resuming(s)),
            (true, None) => None,
        }
    });
    match resumable {
        Some(invocation) => {
            let next = Spec {
                invocation,
                session_id: session.or_else(|| spec.session_id.clone()),
                ..spec.clone()
            };
            let text = crate::dispatch::start::compose::after(&spec.id, completion, why);
            (next, text)
        }
        None => {
            let text = format!(
                "An earlier run of this assignment was stopped by {}, which is over; its work \
                 so far is in this worktree. Go on from there; do not redo what is done.\n\n\
                 {prompt}",
                why.cause()
            );
            (spec.clone(), text)
        }
    }
}

/// The end of the run that continued after a limit, with what the runs before it used
/// (tokens, dollars, tool calls, turns) added.
pub(super) fn add_earlier(end: &mut EndOfRun, earlier: EndOfRun) {
    let (now, before) = (&mut end.stream, earlier.stream);
    now.usage = crate::provider::cli::usage::sum(before.usage.into_iter().chain(now.usage.take()));
    now.cost_usd = match (before.cost_usd, now.cost_usd) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    now.tool_calls += before.tool_calls;
    now.num_turns = match (before.num_turns, now.num_turns) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    end.live_skipped += earlier.live_skipped;
    end.tampering.extend(earlier.tampering);
}
