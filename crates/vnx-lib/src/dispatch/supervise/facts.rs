//! What a worker's end says beyond its exit: its CLI's output and hooks, and the session file
//! its CLI wrote (read once), as the completion records them — the session id, cost, last
//! message and token usage — a usage no dispatch can have used refused, and the question a
//! worker that needs input asked.

use crate::dispatch::Spec;
use crate::dispatch::supervise::outcome::{self, Ended};
use crate::provider::cli::stream::StreamSummary;
use crate::receipts::{self, DispatchCompleted};

/// What the worker's CLI said (its output, the hook that ended its turn, a live-state hook's
/// session), completed from its session file since `since`; and the usage that file records,
/// for a completion whose output records none.
pub(super) fn stream_of(
    spec: &Spec,
    ended: &Ended,
    since: std::time::SystemTime,
) -> (StreamSummary, Option<receipts::Usage>) {
    let mut stream = ended.stream.clone();
    if let Some(turn) = &ended.turn_end {
        stream.session_id = stream
            .session_id
            .or_else(|| outcome::hook_session(turn, true));
        stream.last_message = stream.last_message.or_else(|| outcome::hook_message(turn));
    }
    stream.session_id = stream.session_id.or_else(|| ended.hook_session.clone());
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

/// The completion's token usage: its output's, else its session file's (`session_usage`);
/// a claim no dispatch can have used is the worker's (it can write the CLI's files), refused
/// so it neither fills a budget nor reads as spend.
pub(super) fn settle_usage(
    completed: &mut DispatchCompleted,
    session_usage: Option<receipts::Usage>,
) {
    if completed.token_usage.is_none()
        && let Some(usage) = session_usage
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
    usage: Option<receipts::Usage>,
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
        usage: want_usage
            .then(|| session::usage(cli.clone(), &found, since))
            .flatten(),
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
