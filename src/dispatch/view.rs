//! Dispatches as the ledger and tmux show them: which started, which completed and how (a
//! phantom guard's correction overriding the completion's status), which are still running,
//! and which lost their supervisor; and waiting for completions.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ledger::LedgerError;
use crate::ledger::json::{self, Mode, Value};
use crate::ledger::tail::{self, Followed};
use crate::receipts::{
    self, DispatchCompleted, DispatchCorrected, DispatchStarted, DispatchStatus, QueueDecision,
    QueueVerdict,
};
use crate::tmux::Tmux;
use crate::worktree::TeardownClass;

use super::liveness;

/// A dispatch's state.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DispatchState {
    /// The dispatch id.
    #[serde(rename = "dispatch_id")]
    pub id: String,
    /// Running (blocked, stalled), lost, or how it ended.
    #[serde(skip)]
    pub state: State,
    /// The state as `status` shows it (see [`DispatchState::shown`]), set by [`list`].
    pub status: &'static str,
    /// How it ended, once it did (`done`, `failed`, …; a correction's status).
    pub completion: Option<DispatchStatus>,
    /// Whether its branch was merged (`merge_completed`) or released (`worktree_released`).
    pub landed: Option<Landed>,
    /// Its role, from `dispatch_started`.
    pub role: Option<String>,
    /// Its provider.
    pub provider: Option<String>,
    /// Its model, when one was named.
    pub model: Option<String>,
    /// When `dispatch_started` was written.
    pub started_at: Option<String>,
    /// When it ended.
    pub ended_at: Option<String>,
    /// Why it is not done, in words (the completion's or correction's reason).
    pub reason: Option<String>,
    /// What teardown found, once it completed.
    pub teardown_class: Option<TeardownClass>,
    /// Its branch.
    pub branch: Option<String>,
    /// The worktree's head when the worker ended.
    pub head_commit: Option<String>,
    /// Its worktree's path.
    pub worktree: Option<String>,
    /// The worker's log.
    pub worker_log: Option<String>,
    /// Tokens the CLI reported (input plus output).
    pub tokens: Option<u64>,
    /// Its tmux session.
    pub session: Option<String>,
    /// The tmux socket its session was started on, as `dispatch_started` records it.
    pub tmux_socket: Option<String>,
    /// The dispatch it continues (a follow-up).
    pub continues: Option<String>,
    /// The follow-up that continued it.
    pub continued_by: Option<String>,
    /// While it is blocked: what it waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<crate::receipts::DispatchBlocked>,
    /// While it is queued (or once its wait ended without a start): its place in the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueInfo>,
    /// The remote host it runs on (`dispatch-agent --host`), when not this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The receipt that proves the state shown (its start while it runs or is lost, its
    /// completion or correction, its merge or release).
    pub proof: Option<Proof>,
    /// Whether the ledger verifies through that receipt, once [`mark_verified`] was told;
    /// a `done`, `merged` or `released` on a ledger that does not is shown as `unverified`.
    pub verified: Option<bool>,
}

/// A queued dispatch's place: its `queue_decision`'s priority, latest start time and the
/// provider's capacity, and its position in the queue now (see [`mark_positions`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QueueInfo {
    /// Its 1-based place among its provider's queued dispatches; `None` once it left the
    /// queue (or its entry is being started).
    pub position: Option<u32>,
    /// Its priority: higher starts first.
    pub priority: i32,
    /// The latest time it may start, if any.
    pub start_by: Option<String>,
    /// The provider's concurrency limit.
    pub capacity: u32,
    /// When it was queued.
    pub queued_at: Option<String>,
}

/// Records each queued dispatch's position (and the role and model it asked for) from the
/// queue's entries (`places`, by id).
pub fn mark_positions(
    states: &mut [DispatchState],
    places: &BTreeMap<String, super::queue::Place>,
) {
    for s in states {
        if let (State::Queued, Some(q)) = (s.state, &mut s.queue) {
            let place = places.get(&s.id);
            q.position = place.map(|p| p.position);
            if let Some(p) = place {
                s.role.get_or_insert_with(|| p.role.clone());
                s.model = s.model.take().or_else(|| p.model.clone());
            }
        }
    }
}

/// A receipt on the ledger, as a state's evidence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Proof {
    /// Its receipt kind.
    pub event_type: String,
    /// Its 1-based line on the ledger.
    pub line: u64,
    /// Its `seq`, when it carries one.
    pub seq: Option<u64>,
    /// SHA-256 of the line's bytes: on a vnx ledger, a commitment to everything before it.
    pub line_sha256: String,
    /// Whether a key the repository trusts signed it, once [`mark_verified`] was given the
    /// keys; `None` for a kind vnx does not sign, or one written before the ledger's first
    /// signed receipt (a ledger from before vnx signed its receipts).
    pub attested: Option<bool>,
    /// The line itself, for the signature check.
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// Whether a receipt before it (or it) is signed: from then on vnx's kinds must be.
    #[serde(skip)]
    pub signing: bool,
}

impl Proof {
    /// Why the evidence does not hold, in words (for a state [`mark_verified`] found
    /// unverified).
    fn why_unverified(&self) -> &'static str {
        if self.attested == Some(false) {
            "no key the repository trusts signed it"
        } else {
            "the ledger does not verify before it"
        }
    }

    fn of(line: u64, bytes: &[u8], o: &json::Object<'_>, signing: bool) -> Proof {
        use sha2::Digest;
        Proof {
            event_type: text(o, "event_type").unwrap_or_default(),
            line,
            seq: o.get("seq").and_then(Value::as_u64),
            line_sha256: hex::encode(sha2::Sha256::digest(bytes)),
            attested: None,
            bytes: bytes.to_vec(),
            signing,
        }
    }
}

/// Records, on each state, whether the evidence for it holds: the ledger verifies through
/// the receipt that proves it (all do on a ledger that verifies; on a broken one, only those
/// before its first violation), and, given the `trusted` keys, that receipt is signed by one
/// of them when it is of a kind vnx signs (a line a worker wrote itself is not).
pub fn mark_verified(
    states: &mut [DispatchState],
    report: &crate::ledger::VerifyReport,
    trusted: Option<&[[u8; 32]]>,
) {
    use crate::ledger::attest;
    // The first line that does not verify; when the report kept only some violations, the
    // first may be among those dropped, so nothing counts as verified.
    let first_bad = if report.status.is_ok() {
        u64::MAX
    } else if report.violations_total > report.violations.len() as u64 {
        0
    } else {
        report.violations.iter().map(|v| v.line).min().unwrap_or(0)
    };
    for s in states {
        let mut ok = false;
        if let Some(p) = &mut s.proof {
            if let Some(keys) = trusted
                && p.signing
                && attest::is_attested_kind(&p.event_type)
            {
                p.attested =
                    Some(parse(&p.bytes).is_some_and(|o| attest::check(&o, keys).is_valid()));
            }
            // A line appended after the verification was not verified.
            ok = p.line < first_bad && p.line <= report.lines && p.attested != Some(false);
        }
        s.verified = Some(ok);
        s.status = s.shown();
    }
}

/// What became of an ended dispatch's branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Landed {
    /// `vnx merge` merged it.
    Merged,
    /// `vnx worktree-release` released it.
    Released,
}

impl DispatchState {
    /// The state as `status` shows it: `merged` or `released` once that happened to its
    /// branch, else [`State::name`]; `unverified` in place of `done`, `merged` or `released`
    /// when the ledger does not verify through the receipt that says so.
    pub fn shown(&self) -> &'static str {
        let claims_success = matches!(
            (self.state, self.landed),
            (State::Ended(DispatchStatus::Done), _) | (State::Ended(_), Some(_))
        );
        if claims_success && self.verified == Some(false) {
            return "unverified";
        }
        match (self.state, self.landed) {
            (State::Ended(_), Some(Landed::Merged)) => "merged",
            (State::Ended(_), Some(Landed::Released)) => "released",
            (state, _) => state.name(),
        }
    }

    /// The receipt behind the state, in words, with whether it holds (as `show` and the
    /// dashboard print it): `dispatch_completed at line 7, sha256 1a2b… (signed, and …)`.
    pub fn evidence(&self) -> Option<String> {
        let p = self.proof.as_ref()?;
        let holds = match self.verified {
            Some(true) if p.attested == Some(true) => {
                " (signed, and the ledger verifies through it)".to_owned()
            }
            Some(true) => " (the ledger verifies through it)".to_owned(),
            Some(false) => format!(" (NOT verified: {})", p.why_unverified()),
            None => String::new(),
        };
        Some(format!(
            "{} at line {}, sha256 {}{holds}",
            p.event_type,
            p.line,
            p.line_sha256.get(..16).unwrap_or(&p.line_sha256)
        ))
    }

    /// A dispatch the ledger shows queued (no start yet).
    fn queued(id: String, q: QueueDecision, at: Option<String>) -> DispatchState {
        DispatchState {
            host: q.host.clone(),
            proof: None,
            verified: None,
            session: None,
            tmux_socket: None,
            blocked: None,
            completion: None,
            landed: None,
            role: None,
            provider: Some(q.provider),
            model: None,
            started_at: None,
            ended_at: None,
            reason: Some(q.reason),
            state: State::Queued,
            status: State::Queued.name(),
            teardown_class: None,
            branch: None,
            head_commit: None,
            worktree: None,
            worker_log: None,
            tokens: None,
            continues: None,
            continued_by: None,
            queue: Some(QueueInfo {
                position: q.queue_position,
                priority: q.priority,
                start_by: q.start_by,
                capacity: q.capacity,
                queued_at: at,
            }),
            id,
        }
    }

    fn new(id: String, started: DispatchStarted, at: Option<String>) -> DispatchState {
        DispatchState {
            host: remote_host(&started.extra),
            queue: None,
            proof: None,
            verified: None,
            session: started.session().map(str::to_owned),
            tmux_socket: started
                .tmux
                .split_once(':')
                .map(|(socket, _)| socket.to_owned()),
            blocked: None,
            completion: None,
            landed: None,
            role: Some(started.role),
            provider: Some(started.provider),
            model: started.model,
            started_at: at,
            ended_at: None,
            reason: None,
            state: State::Running,
            status: State::Running.name(),
            teardown_class: None,
            branch: Some(started.branch),
            head_commit: None,
            worktree: Some(started.worktree),
            worker_log: None,
            tokens: None,
            continues: started.continues.map(|c| c.dispatch_id),
            continued_by: None,
            id,
        }
    }
}

/// Every status `status` shows (see [`DispatchState::shown`]), for filters.
pub const STATUSES: [&str; 14] = [
    "queued",
    "expired",
    "running",
    "blocked",
    "stalled",
    "lost",
    "done",
    "failed",
    "needs_input",
    "timeout",
    "cancelled",
    "merged",
    "released",
    "unverified",
];

/// Where a dispatch is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting in the queue for a slot of its provider: nothing of it exists yet.
    Queued,
    /// Its latest start time passed while it was queued: it never started.
    Expired,
    /// Started, not completed, and its session, supervisor or worker lives.
    Running,
    /// Running, and its worker waits for a person (a permission prompt).
    Blocked,
    /// Running, and its worker has produced nothing for its stall time.
    Stalled,
    /// Not completed, and neither its session, its supervisor nor its worker lives.
    Lost,
    /// Completed (or corrected) with this status.
    Ended(DispatchStatus),
}

impl State {
    /// Whether the dispatch has not ended: running, blocked or stalled.
    pub fn is_live(self) -> bool {
        matches!(self, State::Running | State::Blocked | State::Stalled)
    }

    /// The state as `status` prints it: `running`, `lost`, or the status.
    pub fn name(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Expired => "expired",
            State::Running => "running",
            State::Blocked => "blocked",
            State::Stalled => "stalled",
            State::Lost => "lost",
            State::Ended(s) => s.name(),
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl serde::Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A completion as the ledger holds it: the line as written (for `--json`) and its receipt.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// The ledger line, byte for byte.
    pub line: Vec<u8>,
    /// The line read as a `dispatch_completed`.
    pub receipt: Box<DispatchCompleted>,
}

/// The phantom guard's correction as the ledger holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Correction {
    /// The ledger line, byte for byte.
    pub line: Vec<u8>,
    /// The line read as a `dispatch_corrected`, when it has that shape.
    pub receipt: Option<Box<DispatchCorrected>>,
}

impl Completion {
    /// Types a completion line of dispatch `id`. A line that does not have the receipt's
    /// shape (another tool wrote it) keeps its line and reads as status `unknown`.
    pub fn of(id: &str, line: Vec<u8>) -> Completion {
        let receipt = receipts::read_line::<DispatchCompleted>(&line)
            .map(|r| r.receipt)
            .unwrap_or_else(|| DispatchCompleted {
                dispatch_id: id.to_owned(),
                ..Default::default()
            });
        Completion {
            line,
            receipt: Box::new(receipt),
        }
    }
}

fn text(o: &json::Object<'_>, key: &str) -> Option<String> {
    o.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn parse(line: &[u8]) -> Option<json::Object<'static>> {
    match json::parse(std::str::from_utf8(line).ok()?.trim(), Mode::Python).ok()? {
        Value::Object(o) => Some(o.into_owned()),
        _ => None,
    }
}

fn is_event_of(line: &[u8], id: &str, event: &str) -> bool {
    // A cheap test first: most lines are about other dispatches.
    memchr::memmem::find(line, id.as_bytes()).is_some()
        && parse(line).is_some_and(|o| {
            text(&o, "event_type").as_deref() == Some(event)
                && text(&o, "dispatch_id").as_deref() == Some(id)
        })
}

fn is_completion_of(line: &[u8], id: &str) -> bool {
    is_event_of(line, id, "dispatch_completed")
}

/// The phantom guard's correction of a dispatch's completion, if the ledger has one. Read
/// under the append lock (shared), so a group commit that wrote a completion and its
/// correction is never seen half-written.
pub fn correction(ledger: &Path, id: &str) -> Result<Option<Correction>, LedgerError> {
    let lock = std::fs::File::open(crate::ledger::lock_path(ledger)).ok();
    if let Some(lock) = &lock {
        let _ = lock.lock_shared();
    }
    let (found, _) = tail::last_lines(ledger, 1, |l| is_event_of(l, id, "dispatch_corrected"))?;
    Ok(found.into_iter().next().map(|line| Correction {
        receipt: receipts::read_line(&line).map(|r| Box::new(r.receipt)),
        line,
    }))
}

/// What waiting reports for a completion line: with its correction, when a `done` has one.
fn settled(ledger: &Path, id: &str, line: Vec<u8>) -> Result<Waited, LedgerError> {
    let completion = Completion::of(id, line);
    let done = completion.receipt.status == DispatchStatus::Done;
    Ok(
        match done.then(|| correction(ledger, id)).transpose()?.flatten() {
            Some(correction) => Waited::Corrected {
                completion,
                correction,
            },
            None => Waited::Completed(completion),
        },
    )
}

/// Whether the ledger records the dispatch's start.
pub fn started(ledger: &Path, id: &str) -> Result<bool, LedgerError> {
    Ok(start(ledger, id)?.is_some())
}

/// The dispatch's `dispatch_started` receipt, if the ledger has one.
fn start(ledger: &Path, id: &str) -> Result<Option<json::Object<'static>>, LedgerError> {
    let (found, _) = tail::last_lines(ledger, 1, |l| is_event_of(l, id, "dispatch_started"))?;
    Ok(found.into_iter().next().and_then(|l| parse(&l)))
}

/// The host a `dispatch_started`'s `remote` member names (a receipt re-attested from a
/// remote host's ledger).
fn remote_host(extra: &receipts::Extra) -> Option<String> {
    extra
        .get("remote")?
        .get("host")?
        .as_str()
        .map(str::to_owned)
}

/// Whether a `remote_lost` gave the dispatch up (its host out of reach for too long).
pub fn remote_lost(ledger: &Path, id: &str) -> Result<bool, LedgerError> {
    let (found, _) = tail::last_lines(ledger, 1, |l| is_event_of(l, id, "remote_lost"))?;
    Ok(!found.is_empty())
}

/// The host a started dispatch runs on, when it runs on one.
pub fn remote_of(ledger: &Path, id: &str) -> Option<String> {
    let start = start(ledger, id).ok().flatten()?;
    remote_host(&receipts::read::<DispatchStarted>(&start)?.receipt.extra)
}

/// The worktree a started dispatch runs in, as its `dispatch_started` records it.
fn worktree_of(ledger: &Path, id: &str) -> Option<String> {
    let start = start(ledger, id).ok().flatten()?;
    match receipts::read::<DispatchStarted>(&start) {
        Some(r) => Some(r.receipt.worktree),
        None => text(&start, "worktree"),
    }
}

/// What keeps a started dispatch alive besides its session: its lock, or a process in its
/// worktree (see `liveness`).
fn alive_without_session(id: &str, worktree: Option<&str>) -> bool {
    let Some(wt) = worktree.map(Path::new) else {
        return false;
    };
    liveness::dispatch_dir_of(wt, id)
        .is_some_and(|dir| liveness::alive(&dir, Some(wt), None).is_some())
}

/// The completion receipt of a dispatch, if the ledger has one.
pub fn completion(ledger: &Path, id: &str) -> Result<Option<Vec<u8>>, LedgerError> {
    let (found, _) = tail::last_lines(ledger, 1, |l| is_completion_of(l, id))?;
    Ok(found.into_iter().next())
}

/// The tmux sessions alive on each socket dispatches were started on, listed once per
/// socket. A dispatch whose start records no socket is looked for on the fallback.
#[derive(Debug)]
pub struct Sessions {
    fallback: String,
    by_socket: std::cell::RefCell<BTreeMap<String, Vec<String>>>,
}

impl Sessions {
    /// Sessions of the sockets dispatches name, `fallback` for those that name none.
    pub fn new(fallback: &Tmux) -> Sessions {
        Sessions {
            fallback: fallback.socket().to_owned(),
            by_socket: Default::default(),
        }
    }

    /// Whether `session` lives on `socket` (or the fallback).
    pub fn has(&self, socket: Option<&str>, session: &str) -> bool {
        let socket = socket.unwrap_or(&self.fallback).to_owned();
        let mut cache = self.by_socket.borrow_mut();
        cache
            .entry(socket.clone())
            .or_insert_with(|| Tmux::new(socket).sessions())
            .iter()
            .any(|s| s == session)
    }
}

/// Every dispatch on the ledger, in start order; each dispatch's session is looked for on
/// the socket its start recorded (`tmux` for one that recorded none).
pub fn list(ledger: &Path, tmux: &Tmux) -> Result<Vec<DispatchState>, LedgerError> {
    list_with(ledger, &Sessions::new(tmux))
}

/// Every dispatch on the ledger, in start order, given the tmux sessions that are alive.
pub fn list_with(ledger: &Path, live: &Sessions) -> Result<Vec<DispatchState>, LedgerError> {
    let lines = tail::numbered_lines(ledger, |l| {
        [
            &b"dispatch_"[..],
            b"merge_completed",
            b"worktree_released",
            b"remote_lost",
        ]
        .iter()
        .any(|k| memchr::memmem::find(l, k).is_some())
    })?;
    // From the first signed receipt on, vnx's kinds must carry a valid signature.
    let first_signed = lines
        .iter()
        .find(|(_, l)| memchr::memmem::find(l, b"\"vnx_attestation\"").is_some())
        .map(|(n, _)| *n);
    let mut states: BTreeMap<String, (usize, DispatchState)> = BTreeMap::new();
    // The line that proves each dispatch's state so far (an index into `lines`); made into
    // a `Proof` once, at the end.
    let mut proven: BTreeMap<String, usize> = BTreeMap::new();
    for (index, (_, line)) in lines.iter().enumerate() {
        let Some(o) = parse(line) else {
            continue;
        };
        let Some(id) = text(&o, "dispatch_id") else {
            continue;
        };
        let at = text(&o, "timestamp");
        match receipts::Typed::of(&o) {
            receipts::Typed::QueueDecision(r) => {
                let q = r.receipt;
                match (q.decision, states.get_mut(&id)) {
                    (QueueVerdict::Queued, None) => {
                        let order = states.len();
                        states.insert(
                            id.clone(),
                            (order, DispatchState::queued(id.clone(), q, at)),
                        );
                        proven.insert(id, index);
                    }
                    (v, Some((_, s))) if v.closes() && s.state == State::Queued => {
                        s.state = match v {
                            QueueVerdict::Expired => State::Expired,
                            QueueVerdict::Cancelled => State::Ended(DispatchStatus::Cancelled),
                            _ => State::Ended(DispatchStatus::Failed),
                        };
                        s.reason = Some(q.reason);
                        s.ended_at = at;
                        if let Some(info) = &mut s.queue {
                            info.position = None;
                        }
                        proven.insert(id, index);
                    }
                    _ => {}
                }
            }
            receipts::Typed::DispatchStarted(r) => {
                let order = states.get(&id).map_or(states.len(), |(o, _)| *o);
                if let Some(c) = &r.receipt.continues
                    && let Some((_, before)) = states.get_mut(&c.dispatch_id)
                {
                    before.continued_by = Some(id.clone());
                }
                states.insert(
                    id.clone(),
                    (
                        order,
                        DispatchState::new(id.clone(), r.receipt, r.timestamp),
                    ),
                );
                proven.insert(id, index);
            }
            receipts::Typed::DispatchCompleted(r) => {
                if let Some((_, s)) = states.get_mut(&id) {
                    let c = r.receipt;
                    s.state = State::Ended(c.status);
                    s.completion = Some(c.status);
                    s.ended_at = at;
                    s.reason = c.failure_reason;
                    s.teardown_class = c.teardown_class;
                    s.head_commit = c.head_commit;
                    s.worker_log = c.worker_log;
                    s.tokens = c.token_usage.map(|u| u.input_tokens + u.output_tokens);
                    s.blocked = None;
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::DispatchCorrected(r) => {
                if let Some((_, s)) = states.get_mut(&id) {
                    s.state = State::Ended(r.receipt.status);
                    s.completion = Some(r.receipt.status);
                    s.reason = Some(r.receipt.reason);
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::DispatchBlocked(r) => {
                if let Some((_, s)) = states.get_mut(&id).filter(|(_, s)| s.state.is_live()) {
                    s.state = State::Blocked;
                    s.blocked = Some(r.receipt);
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::DispatchStalled(_) => {
                if let Some((_, s)) = states.get_mut(&id).filter(|(_, s)| s.state.is_live()) {
                    s.state = State::Stalled;
                    s.blocked = None;
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::DispatchResumed(_) => {
                if let Some((_, s)) = states.get_mut(&id).filter(|(_, s)| s.state.is_live()) {
                    s.state = State::Running;
                    s.blocked = None;
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::RemoteLost(_) => {
                if let Some((_, s)) = states.get_mut(&id).filter(|(_, s)| s.state.is_live()) {
                    s.state = State::Lost;
                    s.blocked = None;
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::MergeCompleted(_) => {
                if let Some((_, s)) = states.get_mut(&id) {
                    s.landed = Some(Landed::Merged);
                    proven.insert(id.clone(), index);
                }
            }
            receipts::Typed::WorktreeReleased(r) => {
                let gone = r.receipt.action.branch_deleted || r.receipt.action.worktree_removed;
                if let Some((_, s)) = states.get_mut(&id).filter(|_| gone)
                    && s.landed.is_none()
                {
                    s.landed = Some(Landed::Released);
                    proven.insert(id.clone(), index);
                }
            }
            _ => {}
        }
    }
    let mut out: Vec<(usize, DispatchState)> = states.into_values().collect();
    out.sort_by_key(|(order, _)| *order);
    Ok(out
        .into_iter()
        .map(|(_, mut s)| {
            // A remote dispatch lives on its host: only a `remote_lost` makes it lost here.
            if s.state.is_live()
                && s.host.is_none()
                && !s
                    .session
                    .as_ref()
                    .is_some_and(|n| live.has(s.tmux_socket.as_deref(), n))
                && !alive_without_session(&s.id, s.worktree.as_deref())
            {
                s.state = State::Lost;
                s.blocked = None;
            }
            s.proof = proven.get(&s.id).and_then(|&i| {
                let (number, line) = &lines[i];
                let signing = first_signed.is_some_and(|f| f <= *number);
                parse(line).map(|o| Proof::of(*number, line, &o, signing))
            });
            s.status = s.shown();
            s
        })
        .collect())
}

/// How waiting for one dispatch ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Waited {
    /// Its completion receipt.
    Completed(Completion),
    /// Its completion receipt said `done`, and the phantom guard corrected it.
    Corrected {
        /// The completion that said `done`.
        completion: Completion,
        /// The guard's correction.
        correction: Correction,
    },
    /// Its session is gone, nothing of it runs any more, and no completion was written: the
    /// supervisor died.
    Lost,
    /// It is running and its worker waits for a person (asked for with `until_blocked`):
    /// the `dispatch_blocked` line.
    Blocked(Vec<u8>),
    /// It left the queue without starting (expired, cancelled, or failed to start; rejected
    /// at dispatch time): its closing `queue_decision` line.
    Closed(Vec<u8>),
    /// The ledger has no `dispatch_started` for this id: it was never dispatched here.
    Unknown,
    /// It was still running when the wait's deadline passed.
    StillRunning,
}

/// What [`wait_with`] reports as it goes.
#[derive(Debug)]
pub enum WaitEvent<'a> {
    /// A dispatch settled (in the order they settle).
    Settled(&'a str, &'a Waited),
    /// The ledger is quiet; these are still pending.
    Quiet(&'a [String]),
}

impl Waited {
    /// The verdict on a dispatch: it succeeded only if its completion says `done` and the
    /// phantom guard did not correct it. Anything else (failed, needs input, timed out,
    /// cancelled, lost, or a status vnx does not know) is not a success.
    pub fn succeeded(&self) -> bool {
        matches!(self, Waited::Completed(c) if c.receipt.status == DispatchStatus::Done)
    }

    /// A closed wait's decision (`expired`, `cancelled`, `failed`, `rejected`) and reason.
    pub fn closed(&self) -> Option<(QueueVerdict, String)> {
        match self {
            Waited::Closed(line) => receipts::read_line::<QueueDecision>(line)
                .map(|r| (r.receipt.decision, r.receipt.reason)),
            _ => None,
        }
    }
}

/// The last line that says whether dispatch `id` is blocked: its `dispatch_blocked` when it
/// is blocked now, `None` when a later resume or completion (or none at all) says not.
fn blocked_now(ledger: &Path, id: &str) -> Result<Option<Vec<u8>>, LedgerError> {
    let (found, _) = tail::last_lines(ledger, 1, |l| {
        [
            "dispatch_blocked",
            "dispatch_resumed",
            "dispatch_stalled",
            "dispatch_completed",
        ]
        .iter()
        .any(|e| is_event_of(l, id, e))
    })?;
    Ok(found
        .into_iter()
        .next()
        .filter(|l| is_event_of(l, id, "dispatch_blocked")))
}

/// The last `queue_decision` of dispatch `id` that is not `admitted`, if the ledger has one:
/// `queued` while it waits, or the line that closed its wait.
fn queue_state(ledger: &Path, id: &str) -> Result<Option<(QueueVerdict, Vec<u8>)>, LedgerError> {
    let (found, _) = tail::last_lines(ledger, 1, |l| {
        is_event_of(l, id, <QueueDecision as receipts::Kind>::EVENT)
            && verdict_of(l) != Some(QueueVerdict::Admitted)
    })?;
    Ok(found
        .into_iter()
        .next()
        .and_then(|l| verdict_of(&l).map(|v| (v, l))))
}

fn verdict_of(line: &[u8]) -> Option<QueueVerdict> {
    receipts::read_line::<QueueDecision>(line).map(|r| r.receipt.decision)
}

/// The tmux socket and session a dispatch's start records (the fallback socket and
/// `vnx-<id>` when it records none).
pub fn session_of(ledger: &Path, id: &str, fallback: &Tmux) -> (Tmux, String) {
    let recorded = start(ledger, id)
        .ok()
        .flatten()
        .and_then(|s| receipts::read::<DispatchStarted>(&s))
        .and_then(|r| {
            let (socket, session) = r.receipt.tmux.split_once(':')?;
            Some((socket.to_owned(), session.to_owned()))
        });
    match recorded {
        Some((socket, session)) => (Tmux::new(socket), session),
        None => (Tmux::new(fallback.socket()), format!("vnx-{id}")),
    }
}

/// Waits until every dispatch in `ids` has a completion receipt, or has lost its session
/// (looked for on the socket its start records), or, with `until_blocked`, is blocked. An id
/// the ledger never saw start is [`Waited::Unknown`] at once. Follows the ledger with a
/// filesystem watcher; checks sessions when the ledger is quiet.
pub fn wait(
    ledger: &Path,
    ids: &[String],
    tmux: &Tmux,
    until_blocked: bool,
) -> Result<BTreeMap<String, Waited>, LedgerError> {
    wait_with(ledger, ids, tmux, until_blocked, None, &mut |_| {})
}

/// [`wait`], reporting each dispatch the moment it settles and the pending ones whenever the
/// ledger is quiet, and giving up at `deadline` (the pending ones are then
/// [`Waited::StillRunning`]).
pub fn wait_with(
    ledger: &Path,
    ids: &[String],
    tmux: &Tmux,
    until_blocked: bool,
    deadline: Option<std::time::Instant>,
    on: &mut dyn for<'e> FnMut(WaitEvent<'e>),
) -> Result<BTreeMap<String, Waited>, LedgerError> {
    let mut done = Settled {
        map: BTreeMap::new(),
        on,
    };
    for id in ids {
        if let Some(line) = completion(ledger, id)? {
            done.insert(id.clone(), settled(ledger, id, line)?);
        } else if !started(ledger, id)? {
            // A queued dispatch is waited for through its start; one whose wait closed
            // settles with the line that closed it.
            match queue_state(ledger, id)? {
                Some((v, line)) if v.closes() => done.insert(id.clone(), Waited::Closed(line)),
                Some((QueueVerdict::Queued, _)) => {}
                _ => done.insert(id.clone(), Waited::Unknown),
            }
        } else if remote_lost(ledger, id)? {
            // Its host was given up on: nothing here will end it.
            done.insert(id.clone(), Waited::Lost);
        } else if until_blocked && let Some(line) = blocked_now(ledger, id)? {
            done.insert(id.clone(), Waited::Blocked(line));
        }
    }
    // Sessions of started dispatches; a queued one's once it starts.
    let mut sessions: BTreeMap<&String, (Tmux, String)> = BTreeMap::new();
    let mut session_for = |id: &String| -> Option<(Tmux, String)> {
        if let Some(s) = sessions.get(id) {
            return Some(s.clone());
        }
        if !started(ledger, id).unwrap_or(false) || remote_of(ledger, id).is_some() {
            return None;
        }
        let found = session_of(ledger, id, tmux);
        let key = ids.iter().find(|i| *i == id)?;
        sessions.insert(key, found.clone());
        Some(found)
    };
    if done.map.len() == ids.len() {
        return Ok(done.map);
    }
    let (_, end) = tail::last_lines(ledger, 0, |_| true)?;
    let mut failed = None;
    tail::follow(ledger, end, |event| {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            for id in ids {
                if !done.map.contains_key(id) {
                    done.insert(id.clone(), Waited::StillRunning);
                }
            }
            return false;
        }
        let pending: Vec<&String> = ids
            .iter()
            .filter(|id| !done.map.contains_key(*id))
            .collect();
        match event {
            Followed::Line(line) => {
                for id in pending {
                    if is_completion_of(line, id) {
                        match settled(ledger, id, line.to_vec()) {
                            Ok(w) => done.insert(id.clone(), w),
                            Err(e) => {
                                failed = Some(e);
                                return false;
                            }
                        };
                    } else if is_event_of(line, id, "remote_lost") {
                        done.insert(id.clone(), Waited::Lost);
                    } else if until_blocked && is_event_of(line, id, "dispatch_blocked") {
                        done.insert(id.clone(), Waited::Blocked(line.to_vec()));
                    } else if is_event_of(line, id, <QueueDecision as receipts::Kind>::EVENT)
                        && verdict_of(line).is_some_and(QueueVerdict::closes)
                    {
                        done.insert(id.clone(), Waited::Closed(line.to_vec()));
                    }
                }
            }
            Followed::Idle => {
                let quiet: Vec<String> = pending.iter().map(|id| (*id).clone()).collect();
                (done.on)(WaitEvent::Quiet(&quiet));
                for id in pending {
                    // Still queued: nothing of it can be lost yet.
                    let Some((tmux, session)) = session_for(id) else {
                        continue;
                    };
                    let worktree = worktree_of(ledger, id);
                    let alive_session = tmux.has_session(&session);
                    if !alive_session && !alive_without_session(id, worktree.as_deref()) {
                        // The completion may have landed just before the session ended.
                        let last = completion(ledger, id).ok().flatten();
                        let w = match last.map(|line| settled(ledger, id, line)) {
                            Some(Ok(w)) => w,
                            Some(Err(e)) => {
                                failed = Some(e);
                                return false;
                            }
                            None => Waited::Lost,
                        };
                        done.insert(id.clone(), w);
                    }
                }
            }
            Followed::Restarted => {}
        }
        done.map.len() < ids.len()
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(done.map),
    }
}

/// The settled dispatches, each reported as it is added.
struct Settled<'a> {
    map: BTreeMap<String, Waited>,
    on: &'a mut dyn for<'e> FnMut(WaitEvent<'e>),
}

impl Settled<'_> {
    fn insert(&mut self, id: String, w: Waited) {
        (self.on)(WaitEvent::Settled(&id, &w));
        self.map.insert(id, w);
    }
}
