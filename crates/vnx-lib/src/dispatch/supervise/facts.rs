//! What a worker's end says beyond its exit: its CLI's output and hooks, and the session file
//! its CLI wrote (read once), as the completion records them — the session id, cost, last
//! message and token usage — a usage no dispatch can have used refused, the session lines
//! skipped for such a claim and what was done to the session file while the worker ran
//! said, and the question a worker that needs input asked.

use crate::dispatch::Spec;
use crate::dispatch::supervise::life::{Turn, hook_session};
use crate::dispatch::supervise::outcome;
use crate::provider::cli::stream::StreamSummary;
use crate::provider::session::SessionRead;
use crate::receipts::{self, DispatchCompleted, SessionTampering};

/// What the end of a worker's run says of its usage, read once as the worker ended: its
/// CLI's output (completed from the session file), the session file's own usage, and what
/// the live reading of that file saw while the worker ran.
#[derive(Debug, Default)]
pub(super) struct EndOfRun {
    /// What the CLI said, completed from its session file.
    pub(super) stream: StreamSummary,
    /// The session file's usage, for a completion whose output records none.
    pub(super) session: SessionRead,
    /// The session lines the live reading skipped for an implausible claim.
    pub(super) live_skipped: u64,
    /// What the live reading saw done to the session file.
    pub(super) tampering: Vec<SessionTampering>,
}

impl EndOfRun {
    /// The end of `spec`'s worker as its output and its turn say it, its session read since
    /// `since`.
    pub(super) fn read(
        spec: &Spec,
        said: (&StreamSummary, &Turn),
        since: std::time::SystemTime,
    ) -> EndOfRun {
        let (stream, session) = stream_of(spec, said, since);
        EndOfRun {
            stream,
            session,
            ..EndOfRun::default()
        }
    }

    /// The usage the completion records (its output's, else its session file's), when it is
    /// one a dispatch can have used: what a budget is held to at the end of the run.
    pub(super) fn usage(&self) -> Option<&receipts::Usage> {
        (self.stream.usage.as_ref())
            .or(self.session.usage.as_ref())
            .filter(|u| u.implausible().is_none())
    }
}

/// What the worker's CLI said (its output, the hook that ended its turn, a live-state hook's
/// session), completed from its session file since `since`; and the usage that file records,
/// for a completion whose output records none.
fn stream_of(
    spec: &Spec,
    (said, turn): (&StreamSummary, &Turn),
    since: std::time::SystemTime,
) -> (StreamSummary, SessionRead) {
    let mut stream = said.clone();
    if let Some(end) = &turn.end {
        stream.session_id = stream.session_id.or_else(|| hook_session(end, true));
        stream.last_message = stream.last_message.or_else(|| outcome::hook_message(end));
    }
    stream.session_id = stream.session_id.or_else(|| turn.session.clone());
    stream.session_id = recorded_session(spec, stream.session_id.take());
    let from_session = session_facts(
        spec,
        since,
        stream.session_id.as_deref(),
        (stream.usage.is_none(), stream.last_message.is_none()),
    );
    stream.session_id = stream.session_id.or(from_session.id);
    stream.cost_usd = stream.cost_usd.or(from_session.cost);
    stream.last_message = stream.last_message.or(from_session.last_message);
    (stream, from_session.usage)
}

/// The completion's session, what the CLI said and its token usage: its output's, else its
/// session file's; a claim no dispatch can have used is the worker's (it can write the CLI's
/// files), refused so it neither fills a budget nor reads as spend. The session lines skipped
/// for such a claim, and what was done to the session file while the worker ran, are
/// recorded.
pub(super) fn settle(completed: &mut DispatchCompleted, end: &EndOfRun) {
    let stream = &end.stream;
    completed.session_id = stream.session_id.clone();
    completed.token_usage = stream.usage.clone();
    completed.cli_events = (!stream.is_empty()).then(|| stream.clone());
    if completed.token_usage.is_none()
        && let Some(usage) = end.session.usage.clone()
    {
        completed.token_usage = Some(usage);
        completed.token_usage_source = Some(receipts::UsageSource::SessionFile);
    }
    if let Some(n) = completed
        .token_usage
        .as_ref()
        .and_then(receipts::Usage::implausible)
    {
        completed.token_usage = None;
        completed.token_usage_source = None;
        completed.token_usage_refused = Some(n);
        if let Some(events) = completed.cli_events.as_mut() {
            events.usage = None;
        }
    }
    let skipped = end.session.skipped.max(end.live_skipped);
    completed.token_usage_lines_skipped = (skipped > 0).then_some(skipped);
    completed.session_file_tampered = end.tampering.clone();
}

/// The question the worker's last message asks, as a notification says it (empty when it
/// said nothing).
pub(super) fn question_of(completed: &DispatchCompleted) -> String {
    completed
        .cli_events
        .as_ref()
        .and_then(|e| e.last_message.as_deref())
        .map(|m| {
            crate::provider::transcript::question(m, crate::provider::transcript::QUESTION_CHARS)
        })
        .unwrap_or_default()
}

/// What the session file a worker's CLI wrote says that its output and hooks did not, read
/// from the one file found once: for an interactive worker, the session's id (a TUI that
/// chooses it and names it nowhere else, so a follow-up resumes it), the cost it records and
/// its last message (a CLI whose end-of-turn hook carries none); and the token usage of an
/// interactive worker, or of a headless one whose CLI's stream records none (its module's
/// `usage_from_session`). Nothing for a CLI that keeps no such file, or none found.
#[derive(Default)]
struct SessionFacts {
    id: Option<String>,
    cost: Option<f64>,
    last_message: Option<String>,
    usage: SessionRead,
}

/// [`SessionFacts`] since `since`: the usage only when `want_usage`, the last message only
/// when `want_message` (the stream had none).
fn session_facts(
    spec: &Spec,
    since: std::time::SystemTime,
    session_id: Option<&str>,
    (want_usage, want_message): (bool, bool),
) -> SessionFacts {
    use crate::provider::session;
    let Some(cli) =
        session::Cli::for_provider(spec.provider.name(), spec.invocation.tui.session.as_ref())
    else {
        return SessionFacts::default();
    };
    let interactive = spec.lane == crate::provider::Lane::Interactive;
    let want_usage = want_usage && cli.usage_from_session(spec.lane);
    let Some(homes) = spec.session_homes.clone() else {
        return SessionFacts::default();
    };
    if !interactive && !want_usage {
        return SessionFacts::default();
    }
    let wanted = session::Wanted {
        cli,
        homes,
        cwd: spec.worktree.clone(),
        since,
        session_id: session_id.map(str::to_owned),
    };
    let Some(found) = wanted.find() else {
        return SessionFacts::default();
    };
    let cli = wanted.cli;
    SessionFacts {
        id: interactive
            .then(|| cli.store().found_id(&found))
            .flatten()
            .filter(|s| session::valid_id(spec.provider.name(), s)),
        cost: interactive
            .then(|| cli.store().cost(&found, since))
            .flatten(),
        last_message: (interactive && want_message)
            .then(|| cli.store().last_message(&found))
            .flatten()
            .map(|m| crate::provider::cli::stream::truncate_message(&m)),
        usage: if want_usage {
            session::read_usage(cli.clone(), &found, since)
        } else {
            SessionRead::default()
        },
    }
}

/// The session id a completion records: the one the worker's CLI was told to use when vnx
/// chose or resumed it (a hook payload the worker can write does not override it), else the
/// one its output or hooks named, if its CLI could have written it (a worker-made id is
/// never recorded, so a follow-up never resumes it: `session::valid_id`).
fn recorded_session(spec: &Spec, seen: Option<String>) -> Option<String> {
    let valid = |s: &String| crate::provider::session::valid_id(spec.provider.name(), s);
    spec.session_id
        .clone()
        .filter(valid)
        .or_else(|| seen.filter(valid))
}
