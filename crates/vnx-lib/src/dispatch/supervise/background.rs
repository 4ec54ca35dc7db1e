//! Not done while background work runs (ADR 0096): a worker whose CLI ends its turn while a
//! background shell or a sub-agent it started still runs has not finished. In the TUI lane
//! the CLI's end-of-turn hook names that work (where its `Hooks::background` says so): such a
//! turn end is not the dispatch's, the dispatch reads "waiting on 1 background task: …" (a
//! signed `dispatch_background`), and the CLI's next turn end that names none concludes it
//! (a `dispatch_resumed`, `after: background`, first). A TUI that names the work nowhere but
//! its session file, and starts no turn when it ends (its store's `SessionStore::background`),
//! is waited for there: a turn end that would conclude is held back while the found session
//! shows work running (the same receipts, `source: session`), the session re-read once a
//! second from where the last read stopped, and the held turn end concludes once it shows
//! none. In the headless lane the CLI's events name the work its CLI left unfinished as it
//! exited, stopped or running out of sight (`StreamSummary::background_stopped`): the
//! dispatch then needs a person, whatever the worker reported.
//!
//! What no CLI tells of, a process the worker left running (a command its shell
//! backgrounded, `cmd &`; a CLI's background command that runs on after it exits; found by
//! `left`, ADR 0099), is waited for in both lanes: after a headless CLI exited, and at a TUI
//! turn end that would conclude, while such a process runs (outside the CLI's tree) the
//! dispatch reads "waiting on 1 background task: …" (`source: process`) and concludes once
//! none runs; after [`left_wait`], or at the deadline, vnx stops them (TERM, grace, KILL)
//! and names them as unfinished work, so the dispatch needs a person.
//!
//! A worker can write a hook signal of its own (`vnx __hook` is on its `PATH`), so it can
//! end its dispatch early as it could before (a turn end and a report of its own); it cannot
//! make a turn end that names background work count. Its session file is its own too: what
//! it shows can only make the dispatch wait longer, within its deadline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::dispatch::supervise::live::Change;
use crate::dispatch::supervise::signals::HookSignal;
use crate::ids::DispatchId;
use crate::provider::cli;
use crate::provider::cli::session::BackgroundWork;
use crate::provider::session::Wanted;
use crate::receipts::{BackgroundTask, DispatchBackground, DispatchResumed};

/// What the supervisor knows of an interactive worker's background work.
#[derive(Debug, Default)]
pub(crate) struct Background {
    /// The receipt of what it waits on, and since when, while it waits.
    waiting: Option<(DispatchBackground, Instant)>,
    /// Where its CLI's session file shows background work, for a CLI whose store reads it.
    session: Option<SessionWork>,
    /// A turn end that would conclude, held back while the session is looked at.
    held: Option<HookSignal>,
    /// A wait on the processes the worker left running, while one is under way.
    left: Option<LeftWait>,
}

/// The session file of a worker whose CLI's store reads background work from it.
#[derive(Debug)]
struct SessionWork {
    wanted: Wanted,
    found: Option<PathBuf>,
    reader: Box<dyn BackgroundWork>,
    seen: Option<Instant>,
}

/// How often a held turn end's session is read again.
const SESSION_EVERY: Duration = Duration::from_secs(1);

/// What [`Background::session_turn_end`] and [`Background::poll`] record as the source.
const SESSION: &str = "session";

impl Background {
    /// The watch of a worker whose CLI's session file (the one `wanted` finds) shows its
    /// background work, when its store reads it; else the hooks alone say.
    pub(crate) fn of(wanted: Option<Wanted>) -> Background {
        let session = wanted.and_then(|wanted| {
            let reader = wanted.cli.store().background()?;
            Some(SessionWork {
                wanted,
                found: None,
                reader,
                seen: None,
            })
        });
        Background {
            session,
            ..Background::default()
        }
    }

    /// Whether the worker's turn ended while background work ran, which has not ended since
    /// (or its session is still being looked at).
    pub(crate) fn waiting(&self) -> bool {
        self.waiting.is_some() || self.held.is_some()
    }

    /// A turn end that concludes by its hooks: the turn end to conclude with now, unless the
    /// worker's session shows background work still running (it is held back, `poll`), with
    /// the change of live state it makes.
    pub(crate) fn session_turn_end(
        &mut self,
        id: &DispatchId,
        signal: HookSignal,
        now: Instant,
    ) -> (Option<HookSignal>, Option<Change>) {
        if self.session.is_none() {
            return (Some(signal), None);
        }
        self.held = Some(signal);
        if let Some(session) = &mut self.session {
            session.seen = None;
        }
        self.poll(id, now)
    }

    /// Once a second while a turn end is held back: the session read on; the held turn end
    /// once it shows no background work running (or cannot be found), with the change of
    /// live state it makes.
    pub(crate) fn poll(
        &mut self,
        id: &DispatchId,
        now: Instant,
    ) -> (Option<HookSignal>, Option<Change>) {
        let Some(session) = self.session.as_mut().filter(|_| self.held.is_some()) else {
            return (None, None);
        };
        if session
            .seen
            .is_some_and(|at| now.duration_since(at) < SESSION_EVERY)
        {
            return (None, None);
        }
        session.seen = Some(now);
        if session.found.is_none() {
            session.found = session.wanted.find();
        }
        let Some(found) = session.found.as_deref() else {
            // No session file: nothing shows work to wait on.
            return self.release(id, now);
        };
        match session.reader.running(found, session.wanted.since) {
            // Not read to its end yet.
            None => (None, None),
            Some((tasks, 0)) if tasks.is_empty() => self.release(id, now),
            Some((tasks, more)) => (None, self.wait_on(id, tasks, more, SESSION, now)),
        }
    }

    /// The held turn end, and the end of the wait if there was one.
    fn release(&mut self, id: &DispatchId, now: Instant) -> (Option<HookSignal>, Option<Change>) {
        let change = (self.waiting.take()).map(|(_, since)| resumed(id, since, SESSION, now));
        (self.held.take(), change)
    }

    /// Waits on `tasks` (and `more`) as `source` says: the change of live state when it is a
    /// new or different wait.
    fn wait_on(
        &mut self,
        id: &DispatchId,
        tasks: Vec<BackgroundTask>,
        more: u32,
        source: &str,
        now: Instant,
    ) -> Option<Change> {
        let receipt = DispatchBackground {
            dispatch_id: id.clone(),
            tasks,
            more: (more > 0).then_some(more),
            source: source.to_owned(),
            remote: None,
            extra: Default::default(),
        };
        let before = self.waiting.take();
        let same = before
            .as_ref()
            .is_some_and(|(b, _)| b.tasks == receipt.tasks && b.more == receipt.more);
        let since = before.map_or(now, |(_, since)| since);
        let change = (!same).then(|| Change::Background(receipt.clone()));
        self.waiting = Some((receipt, since));
        change
    }

    /// A turn end of the dispatch's thread arrived: whether it ends the dispatch's turn (it
    /// names no background work still running), with the change of live state it makes (a
    /// new or different wait, or the end of one).
    pub(crate) fn turn_end(
        &mut self,
        id: &DispatchId,
        signal: &HookSignal,
        now: Instant,
    ) -> (bool, Option<Change>) {
        let running = cli::hooks_of_event(&signal.event)
            .and_then(|hooks| hooks.background(&signal.event, &signal.payload))
            .filter(|(tasks, more)| !tasks.is_empty() || *more > 0);
        match (running, self.waiting.is_some()) {
            (Some((tasks, more)), _) => {
                let change = self.wait_on(id, tasks, more, &signal.event, now);
                (false, change)
            }
            (None, true) => {
                let since = self.waiting.take().map_or(now, |(_, since)| since);
                (true, Some(resumed(id, since, &signal.event, now)))
            }
            (None, false) => (true, None),
        }
    }
}

/// What [`Background::left_poll`] records as the source.
const PROCESS: &str = "process";

/// The longest a worker's left processes are waited for (within the dispatch's deadline)
/// unless the config's `background_wait_seconds` says otherwise: a dev server a worker
/// started and forgot must not hold its dispatch for hours.
pub(crate) const LEFT_WAIT: Duration = Duration::from_secs(600);

/// How long `spec`'s worker's left processes are waited for.
pub(crate) fn left_wait(spec: &crate::dispatch::Spec) -> Duration {
    spec.background_wait_secs
        .map_or(LEFT_WAIT, Duration::from_secs)
}

/// How long after the CLI exited (or its turn ended) what it left is not yet said: what
/// ends within it (a helper of the CLI's own that ends with it) is no background work.
const LEFT_QUIET: Duration = Duration::from_secs(1);

/// How often the processes left running are looked for while they are waited on.
const LEFT_EVERY: Duration = Duration::from_millis(250);

/// Where a wait on the processes a worker left running is.
#[derive(Debug, PartialEq)]
pub(crate) enum Left {
    /// None runs (any that ran ended by themselves; `waited`: some was seen running).
    Ended { waited: bool },
    /// Some still run.
    Running,
    /// The wait ran out: these were stopped.
    Stopped(Vec<BackgroundTask>),
}

/// A wait on the processes a worker left running (ADR 0099).
#[derive(Debug)]
struct LeftWait {
    began: Instant,
    seen: Option<Instant>,
    waited: bool,
}

impl Background {
    /// Whether a wait on processes the worker left running is under way.
    pub(crate) fn left_waiting(&self) -> bool {
        self.left.is_some()
    }

    /// The processes the worker marked by `marks` left running (but `cli`'s tree while the
    /// CLI runs), looked for at most every [`LEFT_EVERY`]: while some run, past
    /// [`LEFT_QUIET`], a `dispatch_background` (`source: process`) naming them; once none
    /// runs, the end of the wait (a `dispatch_resumed` when one was said); after
    /// `limit` (or at `give_up`), they are stopped (TERM, grace, KILL) and named.
    pub(crate) fn left_poll(
        &mut self,
        id: &DispatchId,
        (marks, cli): (&super::left::Marks, Option<u32>),
        (give_up, limit): (bool, Duration),
        now: Instant,
    ) -> (Left, Option<Change>) {
        let wait = self.left.get_or_insert(LeftWait {
            began: now,
            seen: None,
            waited: false,
        });
        if !give_up
            && wait
                .seen
                .is_some_and(|at| now.duration_since(at) < LEFT_EVERY)
        {
            return (Left::Running, None);
        }
        wait.seen = Some(now);
        let found = super::left::find(marks, cli);
        if found.is_empty() {
            let waited = wait.waited;
            self.left = None;
            return (Left::Ended { waited }, self.end_wait_of(PROCESS, id, now));
        }
        wait.waited = true;
        let (began, waited_for) = (wait.began, now.duration_since(wait.began));
        if give_up || waited_for >= limit {
            let mut stopped = super::left::stop_all(marks, cli, super::GRACE);
            stopped.sort_by_key(|p| p.id);
            self.left = None;
            if stopped.is_empty() {
                // They ended as the wait ran out.
                return (
                    Left::Ended { waited: true },
                    self.end_wait_of(PROCESS, id, now),
                );
            }
            self.waiting = None;
            let (tasks, _) = super::left::tasks(&stopped);
            return (Left::Stopped(tasks), None);
        }
        if now.duration_since(began) < LEFT_QUIET {
            return (Left::Running, None);
        }
        let (tasks, more) = super::left::tasks(&found);
        (Left::Running, self.wait_on(id, tasks, more, PROCESS, now))
    }

    /// The end of the wait `source` said, when one is under way (not another source's).
    fn end_wait_of(&mut self, source: &str, id: &DispatchId, now: Instant) -> Option<Change> {
        let ours = (self.waiting.as_ref()).is_some_and(|(r, _)| r.source == source);
        if !ours {
            return None;
        }
        let (_, since) = self.waiting.take()?;
        Some(resumed(id, since, source, now))
    }
}

/// A sandboxed headless CLI's orphans (ADR 0099): its PID namespace ends with it, taking
/// what it left running along, so they are looked for once a second while it runs.
#[derive(Debug)]
pub(crate) struct Sandboxed {
    marks: super::left::Marks,
    seen: Option<Instant>,
    last: Vec<super::left::LeftProcess>,
}

impl Sandboxed {
    /// The watch of a sandboxed worker marked by `marks`.
    pub(crate) fn new(marks: super::left::Marks) -> Sandboxed {
        Sandboxed {
            marks,
            seen: None,
            last: Vec::new(),
        }
    }

    /// Looks again, at most once a second, at what the CLI (under `leader`) left running.
    pub(crate) fn tick(&mut self, leader: u32, now: Instant) {
        if self
            .seen
            .is_some_and(|at| now.duration_since(at) < SESSION_EVERY)
        {
            return;
        }
        self.seen = Some(now);
        self.last = super::left::orphaned(&self.marks, leader);
    }

    /// When it looks next (at once before its first look).
    pub(crate) fn due(&self) -> Option<Instant> {
        self.seen.map(|at| at + SESSION_EVERY)
    }

    /// As the CLI exited: what it left running when last looked at, which ended with its
    /// sandbox, unfinished (or, in the moment before, by itself). Each is counted whether or
    /// not the kernel finished killing it yet: a process of a PID namespace whose init
    /// exited is killed, and one still exiting must not drop out of the list.
    pub(crate) fn ended(&self) -> Vec<BackgroundTask> {
        let (mut tasks, _) = super::left::tasks(&self.last);
        for task in &mut tasks {
            task.kind = super::left::SANDBOXED.to_owned();
        }
        tasks
    }
}

/// What [`stream_tick`] records as the source.
const STREAM: &str = "stream";

/// One tick of a headless worker: the background work its CLI's stream shows it waits for
/// before it exits (`StreamEvents::waiting_on`: a sub-agent to its end, a shell a while),
/// said as the TUI lane says it — a `dispatch_background` when it begins or changes, a
/// `dispatch_resumed` when it ends — and, while it lasts, activity that keeps the dispatch
/// from reading stalled. The changes of live state, in order.
pub(super) fn stream_tick(
    wait: &mut Background,
    id: &DispatchId,
    stream: Option<&super::budget::StreamTokens>,
    live: &mut crate::dispatch::supervise::live::Live,
    now: Instant,
) -> Vec<Change> {
    let Some(stream) = stream else {
        return Vec::new();
    };
    let tasks = stream.waiting_on();
    let mut changes = Vec::new();
    if tasks.is_empty() {
        changes.extend((wait.waiting.take()).map(|(_, since)| resumed(id, since, STREAM, now)));
    } else {
        changes.extend(wait.wait_on(id, tasks, 0, STREAM, now));
        changes.extend(live.on_activity("background", now));
    }
    changes
}

/// A headless worker's CLI exited: a wait its stream said ends with it (its `result` and
/// exit may come within one tick of the task's end, before [`stream_tick`] saw the end; work
/// it left unfinished is named by its summary, `StreamSummary::background_stopped`). The
/// end of the wait, when one was said.
pub(super) fn stream_ended(wait: &mut Background, id: &DispatchId, now: Instant) -> Option<Change> {
    wait.end_wait_of(STREAM, id, now)
}

/// The end of a wait on background work that began at `since`, as `source` said.
fn resumed(id: &DispatchId, since: Instant, source: &str, now: Instant) -> Change {
    Change::Resumed(DispatchResumed {
        dispatch_id: id.clone(),
        after: DispatchBackground::AFTER.to_owned(),
        waited_seconds: crate::receipts::seconds(now.duration_since(since).as_secs_f64()),
        source: source.to_owned(),
        remote: None,
        extra: Default::default(),
    })
}

/// The background work a headless worker's CLI left unfinished as it exited (stopped, or
/// left running out of sight), after its turn had ended, or processes the worker left
/// running that vnx stopped when its wait for them ran out, in one line; `None` when none.
pub(super) fn stopped(tasks: &[BackgroundTask]) -> Option<String> {
    if tasks.is_empty() {
        return None;
    }
    let (processes, cli): (Vec<_>, Vec<_>) = (tasks.iter().cloned())
        .partition(|t| [super::left::KIND, super::left::SANDBOXED].contains(&t.kind.as_str()));
    let (sandboxed, processes): (Vec<_>, Vec<_>) =
        (processes.into_iter()).partition(|t| t.kind == super::left::SANDBOXED);
    let mut said = Vec::new();
    if !processes.is_empty() {
        said.push(left_stopped(processes));
    }
    if !sandboxed.is_empty() {
        said.push(left_in_sandbox(sandboxed));
    }
    if !cli.is_empty() {
        said.push(cli_stopped(&cli));
    }
    Some(said.join("; and "))
}

/// Processes the worker left running, stopped by vnx, in one line.
fn left_stopped(tasks: Vec<BackgroundTask>) -> String {
    let n = tasks.len();
    format!(
        "the worker left {} running, which had not ended when vnx's wait for {it} ran out \
         (`background_wait_seconds`, 10 min unless set, within the deadline), so vnx stopped \
         {it}; a follow-up can run that work in the foreground",
        DispatchBackground::describe_tasks(&tasks, None),
        it = if n == 1 { "it" } else { "them" },
    )
}

/// Processes a sandboxed CLI left running, which ended with it, in one line.
fn left_in_sandbox(tasks: Vec<BackgroundTask>) -> String {
    let n = tasks.len();
    format!(
        "the worker left {} running in its sandbox, which ends with its CLI: {it} ended \
         unfinished as the CLI exited; a follow-up can run that work in the foreground",
        DispatchBackground::describe_tasks(&tasks, None),
        it = if n == 1 { "it" } else { "they" },
    )
}

/// The background work a CLI left unfinished as it exited, in one line.
fn cli_stopped(tasks: &[BackgroundTask]) -> String {
    format!(
        "the worker's turn ended while {} still ran, and its CLI exited without {} finishing \
         (it stopped {it}, or left {it} running where vnx cannot see {it} end); a follow-up \
         can run that work in the foreground",
        DispatchBackground::describe_tasks(tasks, None),
        if tasks.len() == 1 { "it" } else { "them" },
        it = if tasks.len() == 1 { "it" } else { "them" },
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::provider::session::{Cli, testing};

    fn turn_end() -> HookSignal {
        HookSignal {
            event: "turn-end".to_owned(),
            received_at: String::new(),
            payload: serde_json::Value::Null,
        }
    }

    /// The built-in CLIs whose session store reads background work (`true`) or does not.
    fn clis(reads: bool) -> Vec<&'static str> {
        (crate::provider::cli::programs().into_iter())
            .filter(|name| Cli::of(name).is_some_and(|c| c.store().background().is_some() == reads))
            .collect()
    }

    #[test]
    fn a_turn_end_concludes_at_once_when_no_session_shows_work() {
        // (The held turn end, on the stand-in whose session shows a command running:
        // tests/it/background.rs; what a session shows: each CLI's reader's tests.)
        let tmp = tempfile::tempdir().unwrap();
        let id = DispatchId::parse("D-1").unwrap();
        let (reading, silent) = (clis(true), clis(false));
        assert!(!reading.is_empty() && !silent.is_empty());
        for name in reading {
            // No session file found: nothing shows work to wait on.
            let wanted = testing::wanted(name, tmp.path(), Path::new("/w/t"));
            let mut bg = Background::of(Some(wanted));
            let (now, change) = bg.session_turn_end(&id, turn_end(), Instant::now());
            assert!(now.is_some() && change.is_none() && !bg.waiting(), "{name}");
        }
        for name in silent {
            let wanted = testing::wanted(name, tmp.path(), Path::new("/w/t"));
            let mut bg = Background::of(Some(wanted));
            assert!(bg.session.is_none(), "{name}");
            assert!(
                bg.session_turn_end(&id, turn_end(), Instant::now())
                    .0
                    .is_some()
            );
        }
    }

    #[test]
    fn a_stream_wait_ends_as_its_cli_exits_and_no_other_does() {
        let id = DispatchId::parse("D-1").unwrap();
        let task = BackgroundTask {
            id: "t1".to_owned(),
            kind: "subagent".to_owned(),
            what: "check the docs".to_owned(),
        };
        let now = Instant::now();
        let mut bg = Background::default();
        assert!(stream_ended(&mut bg, &id, now).is_none());
        for source in [STREAM, PROCESS, SESSION] {
            assert!(
                bg.wait_on(&id, vec![task.clone()], 0, source, now)
                    .is_some()
            );
            let later = now + Duration::from_secs(3);
            match stream_ended(&mut bg, &id, later) {
                Some(Change::Resumed(r)) if source == STREAM => {
                    assert_eq!(
                        (r.after.as_str(), r.source.as_str()),
                        ("background", STREAM)
                    );
                    assert!(!bg.waiting());
                }
                None if source != STREAM => assert!(bg.waiting(), "{source}"),
                other => panic!("{source}: {other:?}"),
            }
            bg.waiting = None;
        }
    }
}
