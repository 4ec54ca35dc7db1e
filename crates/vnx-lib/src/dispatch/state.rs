//! A dispatch's state as readers see it: running (blocked, stalled), queued, lost, or how it
//! ended and whether its branch landed, with the receipt that proves it and whether that proof
//! holds. The read model (`fold`) builds these; `view` projects and lists them.

use crate::ids::{CommitId, DispatchId, Timestamp};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;

use crate::ledger::json::{Value, object_of_line};
use crate::place_name::Where;
use crate::receipts::{DispatchStarted, DispatchStatus};
use crate::worktree::TeardownClass;

mod phase;
pub use phase::{STATUSES, State};

/// A dispatch's state.
#[derive(Clone, Debug, PartialEq, Serialize, BorshSerialize, BorshDeserialize)]
pub struct DispatchState {
    /// The dispatch id.
    #[serde(rename = "dispatch_id")]
    pub id: DispatchId,
    /// Running (blocked, stalled), lost, or how it ended.
    #[serde(skip)]
    pub state: State,
    /// The state as `status` shows it (see [`DispatchState::shown`]), set by [`list`](crate::dispatch::view::list).
    #[borsh(skip)]
    pub status: &'static str,
    /// How it ended, once it did (`done`, `failed`, …; a correction's status).
    #[borsh(serialize_with = "ser_json", deserialize_with = "de_json")]
    pub completion: Option<DispatchStatus>,
    /// Whether its branch was merged (`merge_completed`) or released (`worktree_released`).
    pub landed: Option<Landed>,
    /// Its title, from `dispatch_started` (a queued one's from its queue entry); `None`
    /// for one recorded before titles.
    pub title: Option<String>,
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
    /// What the worker asked when it ended its turn without a report (needs_input): its last
    /// message as its completion recorded it, unescaped (render it with
    /// [`transcript::question`](crate::provider::transcript::question) or escaped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// Whether it is the planning step of a dispatch of `--plan` (ADR 0092): its question,
    /// once it ended, is its plan, which waits for `vnx approve` or `vnx deny`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub planning: bool,
    /// A planning dispatch that ended with its plan: the plan's SHA-256, which an approval
    /// binds to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_sha256: Option<String>,
    /// What teardown found, once it completed.
    #[borsh(serialize_with = "ser_json", deserialize_with = "de_json")]
    pub teardown_class: Option<TeardownClass>,
    /// Its branch.
    pub branch: Option<String>,
    /// The worktree's head when the worker ended.
    pub head_commit: Option<CommitId>,
    /// Its worktree's path.
    pub worktree: Option<String>,
    /// The commit it started from, as `dispatch_started` records it (what the conflict radar
    /// diffs its work against); not in `--json`, where `vnx show` has the start.
    #[serde(skip)]
    pub base_commit: Option<CommitId>,
    /// The worker's log.
    pub worker_log: Option<String>,
    /// Tokens the CLI reported (input plus output).
    pub tokens: Option<u64>,
    /// Its tmux session.
    pub session: Option<String>,
    /// The tmux socket its session was started on, as `dispatch_started` records it.
    pub tmux_socket: Option<String>,
    /// The dispatch it continues (a follow-up).
    pub continues: Option<DispatchId>,
    /// The follow-up that continued it.
    pub continued_by: Option<DispatchId>,
    /// Once a person accepted its work as done with `vnx accept` (it then shows `done`): who,
    /// when, the head accepted and how it had ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Accepted>,
    /// Once a person dismissed its question with `vnx dismiss` (it then waits for no one):
    /// who, when, and what they said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dismissed: Option<Dismissed>,
    /// The permission prompts of its worker a person denied (`vnx deny`). Zero is not shown.
    #[serde(skip_serializing_if = "is_zero")]
    pub denials: u32,
    /// Once `vnx pr watch` handed its pull request to a person (`pr_escalated`, ADR 0093):
    /// which rule, and why. Cleared when the pull request is merged or closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalated: Option<Escalated>,
    /// The tool uses its CLI refused by itself (its posture's rules), as the CLI's events
    /// counted them at the end. Zero is not shown.
    #[serde(skip_serializing_if = "is_zero")]
    pub cli_denials: u32,
    /// Where it stands against its budget once it used 80 % of it (ADR 0094): a warning
    /// while it runs, the reason it waits once it reached it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetNote>,
    /// While it is blocked: what it waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[borsh(serialize_with = "ser_json", deserialize_with = "de_json")]
    pub blocked: Option<crate::receipts::DispatchBlocked>,
    /// While it runs with its turn ended but background work it started still running: what
    /// it waits on (ADR 0096).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[borsh(serialize_with = "ser_json", deserialize_with = "de_json")]
    pub background: Option<crate::receipts::DispatchBackground>,
    /// While its worker waits out a usage limit: the limit and when it goes on (ADR 0117).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[borsh(serialize_with = "ser_json", deserialize_with = "de_json")]
    pub limited: Option<crate::receipts::DispatchLimited>,
    /// While a pause holds its stopped worker (ADR 0119).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[borsh(serialize_with = "ser_json", deserialize_with = "de_json")]
    pub paused: Option<crate::receipts::DispatchPaused>,
    /// While it is queued (or once its wait ended without a start): its place in the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueInfo>,
    /// The dispatches it waits for, or waited for before it started (`--after`), in the
    /// order given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<DispatchId>,
    /// While a dependency holds it in the queue (`--after`): why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// Where it runs: here, or the place (`dispatch-agent --host`) shown as its `host`.
    #[serde(rename = "host", skip_serializing_if = "Where::is_here")]
    pub place: Where,
    /// The receipt that proves the state shown (its start while it runs or is lost, its
    /// completion or correction, its merge or release).
    #[borsh(skip)]
    pub proof: Option<Proof>,
    /// Whether the ledger verifies through that receipt, once [`mark_verified`] was told;
    /// a `done`, `merged` or `released` on a ledger that does not is shown as `unverified`.
    #[borsh(skip)]
    pub verified: Option<bool>,
    /// What `verified` rests on, once [`mark_verified_from`] was told: a verification of the
    /// whole ledger in this read, or the read index (ADR 0045). `None`: not said, and worded
    /// as the index is, since nothing says the ledger was verified now.
    #[borsh(skip)]
    pub verified_from: Option<VerifiedFrom>,
}

/// What a read checked before it says the ledger verifies through a proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifiedFrom {
    /// This read verified the whole ledger (its chain, signatures and anchored checkpoints),
    /// as `audit-chain verify` does.
    Ledger,
    /// This read took the verdict from the read index a full verification wrote earlier,
    /// and checked only that the ledger is the one it read (its stamp, or its prefix's
    /// digest) and that lines added since extend the chain. The index is authenticated with
    /// the signing key, so whoever holds the key (an unsandboxed worker) can write one that
    /// says what it likes; `audit-chain verify` verifies the ledger itself.
    ReadIndex,
}

impl VerifiedFrom {
    /// What a read's verdict rests on, given whether it used the read index.
    pub fn of_read(from_index: bool) -> VerifiedFrom {
        if from_index {
            VerifiedFrom::ReadIndex
        } else {
            VerifiedFrom::Ledger
        }
    }
}

/// Records on each state what its `verified` rests on (see [`VerifiedFrom`]).
pub fn mark_verified_from(states: &mut [DispatchState], from: VerifiedFrom) {
    for s in states {
        s.verified_from = Some(from);
    }
}

/// A person's acceptance of an ended dispatch's work (`dispatch_accepted`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize, BorshDeserialize)]
pub struct Accepted {
    /// Who accepted it.
    pub by: String,
    /// When.
    pub at: Option<String>,
    /// The commit accepted (the branch's tip then).
    pub head_commit: CommitId,
    /// How the dispatch had ended before (`needs_input`, `failed`, …).
    #[borsh(serialize_with = "ser_json", deserialize_with = "de_json")]
    pub previous_status: DispatchStatus,
    /// What the person said (`--note`), as recorded (render it escaped).
    pub note: Option<String>,
}

/// A dispatch's budget as its last `budget_warning`, `budget_reached` or `budget_raised`
/// says (ADR 0094; its dollars, ADR 0098).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize, BorshDeserialize)]
pub struct BudgetNote {
    /// Tokens used, its chain's and group's before it included (at the warning or the end).
    pub used: u64,
    /// The budget's tokens when it warned or was reached (0: it limits dollars only).
    pub limit: u64,
    /// Whether the worker was stopped at it.
    pub reached: bool,
    /// Once a person raised it: who, and the tokens it was raised to.
    pub raised: Option<(String, u64)>,
    /// When the budget limits dollars: used (when known) and the limit, in millionths of a
    /// US dollar.
    pub cost_micros: Option<(Option<u64>, u64)>,
    /// Whether its dollars were the limit crossed.
    pub by_cost: bool,
    /// Once a person raised its dollars: the limit raised to, in millionths of a dollar.
    pub raised_micros: Option<u64>,
    /// Whether it is the project's day budget (every dispatch of the day together) rather
    /// than the dispatch's own.
    pub project_day: bool,
}

/// Dollars as millionths (what a [`BudgetNote`] keeps).
pub fn micros(usd: f64) -> u64 {
    (usd.max(0.0) * 1_000_000.0).round().min(u64::MAX as f64) as u64
}

impl BudgetNote {
    /// The note in words: "80 % of its budget used: N of M tokens", "budget reached: …",
    /// in dollars when they were the limit crossed.
    pub fn line(&self) -> String {
        use crate::dispatch::budget::{dollars, of_the_day, reached_cost_reason, reached_reason};
        let usd = |m: u64| m as f64 / 1_000_000.0;
        let cost = self
            .cost_micros
            .and_then(|(used, limit)| Some((usd(used?), usd(limit))));
        let whose = match self.project_day {
            true => "the project's day budget",
            false => "its budget",
        };
        let line = match (&self.raised, self.reached, cost.filter(|_| self.by_cost)) {
            (Some((by, to)), _, _) => {
                let mut limits = Vec::new();
                if *to > 0 {
                    limits.push(format!("{to} tokens"));
                }
                if let Some(m) = self.raised_micros {
                    limits.push(dollars(usd(m)));
                }
                format!(
                    "budget raised to {} by {by} ({} used)",
                    limits.join(" and "),
                    match cost.filter(|_| self.by_cost) {
                        Some((used, _)) => dollars(used),
                        None => format!("{} tokens", self.used),
                    }
                )
            }
            (None, true, Some((used, limit))) => reached_cost_reason(used, limit),
            (None, true, None) => reached_reason(self.used, self.limit),
            (None, false, Some((used, limit))) => {
                return format!(
                    "{} % of {whose} used: {} of {}",
                    crate::receipts::WARN_PERCENT,
                    dollars(used),
                    dollars(limit)
                );
            }
            (None, false, None) => {
                return format!(
                    "{} % of {whose} used: {} of {} tokens",
                    crate::receipts::WARN_PERCENT,
                    self.used,
                    self.limit
                );
            }
        };
        of_the_day(line, self.project_day)
    }
}

/// A person's dismissal of an ended dispatch's question (`dispatch_dismissed`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize, BorshDeserialize)]
pub struct Dismissed {
    /// Who dismissed it.
    pub by: String,
    /// When.
    pub at: Option<String>,
    /// What the person said (`--note`), as recorded (render it escaped).
    pub note: Option<String>,
}

/// A pull request's reactions handed to a person (`pr_escalated`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize, BorshDeserialize)]
pub struct Escalated {
    /// The pull request.
    pub number: u64,
    /// The rule that escalated (`checks_failed`, `changes_requested`, `approved_and_green`).
    pub rule: String,
    /// Why a person is needed, as recorded (render it escaped).
    pub why: String,
    /// When.
    pub at: Option<String>,
}

/// A queued dispatch's place: its `queue_decision`'s priority, latest start time and the
/// provider's capacity, and its position in the queue now (see
/// [`crate::dispatch::queue::mark_positions`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize, BorshDeserialize)]
pub struct QueueInfo {
    /// Its 1-based place among its provider's queued dispatches; `None` once it left the
    /// queue (or its entry is being started).
    pub position: Option<u32>,
    /// Its priority: higher starts first.
    pub priority: i32,
    /// The latest time it may start, if any.
    pub start_by: Option<Timestamp>,
    /// The provider's concurrency limit.
    pub capacity: u32,
    /// When it was queued.
    pub queued_at: Option<String>,
}

/// A receipt on the ledger, as a state's evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    /// Whether a receipt before it (or it) is signed: from then on vnx's kinds must be
    /// (false too when `attested` was judged already, and [`mark_verified`] keeps it).
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

    /// The proof a line gives (`signing`: a receipt at or before it is signed).
    pub(crate) fn of(line: u64, bytes: Vec<u8>, signing: bool) -> Proof {
        use sha2::Digest;
        let o = object_of_line(&bytes);
        Proof {
            event_type: o
                .as_ref()
                .and_then(|o| o.get("event_type")?.as_str())
                .unwrap_or_default()
                .to_owned(),
            line,
            seq: o
                .as_ref()
                .and_then(|o| o.get("seq"))
                .and_then(Value::as_u64),
            line_sha256: hex::encode(sha2::Sha256::digest(&bytes)),
            attested: None,
            bytes,
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
                p.attested = Some(
                    object_of_line(&p.bytes).is_some_and(|o| attest::check(&o, keys).is_valid()),
                );
            }
            // A line appended after the verification was not verified.
            ok = p.line < first_bad && p.line <= report.lines && p.attested != Some(false);
        }
        s.verified = Some(ok);
        s.status = s.shown();
    }
}

/// What became of an ended dispatch's branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, BorshSerialize, BorshDeserialize)]
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
        let signed = if p.attested == Some(true) {
            "signed, and "
        } else {
            ""
        };
        // The claim is only as strong as what this read checked (see [`VerifiedFrom`]).
        let holds = match (self.verified, self.verified_from) {
            (Some(true), Some(VerifiedFrom::Ledger)) => {
                format!(" ({signed}the ledger verifies through it)")
            }
            (Some(true), _) => format!(
                " ({signed}the ledger verifies through it as the read index records; this read \
                 did not verify it again: vnx audit-chain verify does)"
            ),
            (Some(false), _) => format!(" (NOT verified: {})", p.why_unverified()),
            (None, _) => String::new(),
        };
        Some(format!(
            "{} at line {}, sha256 {}{holds}",
            p.event_type,
            p.line,
            p.line_sha256.get(..16).unwrap_or(&p.line_sha256)
        ))
    }

    /// A state with nothing known but its id and where it is.
    pub fn blank(id: DispatchId, state: State) -> DispatchState {
        DispatchState {
            place: Where::Here,
            queue: None,
            after: Vec::new(),
            held: None,
            proof: None,
            verified: None,
            verified_from: None,
            session: None,
            tmux_socket: None,
            blocked: None,
            budget: None,
            background: None,
            limited: None,
            paused: None,
            accepted: None,
            dismissed: None,
            escalated: None,
            denials: 0,
            cli_denials: 0,
            completion: None,
            landed: None,
            title: None,
            role: None,
            provider: None,
            model: None,
            started_at: None,
            ended_at: None,
            reason: None,
            question: None,
            planning: false,
            plan_sha256: None,
            state,
            status: state.name(),
            teardown_class: None,
            branch: None,
            head_commit: None,
            worktree: None,
            base_commit: None,
            worker_log: None,
            tokens: None,
            continues: None,
            continued_by: None,
            id,
        }
    }

    /// A dispatch the ledger shows started (and nothing since).
    pub(crate) fn new(
        id: DispatchId,
        started: DispatchStarted,
        at: Option<String>,
    ) -> DispatchState {
        let mut s = DispatchState::blank(id, State::Running);
        s.place = Where::recorded(started.remote.as_ref().map(|r| r.host.as_str()));
        s.session = started.session().map(str::to_owned);
        s.tmux_socket = started
            .tmux
            .split_once(':')
            .map(|(socket, _)| socket.to_owned());
        // Escaped again: a line on the ledger is read as hostile input.
        s.title = started.title.as_deref().map(crate::dispatch::title_of);
        s.role = Some(started.role);
        s.provider = Some(started.provider);
        s.model = started.model;
        s.started_at = at;
        s.branch = Some(started.branch);
        s.worktree = Some(started.worktree);
        s.base_commit = Some(started.base_commit);
        s.continues = started.continues.map(|c| c.dispatch_id);
        s.after = (started.after.into_iter())
            .flat_map(|a| a.on)
            .map(|d| d.dispatch_id)
            .collect();
        s.planning = crate::dispatch::planned::plans(started.plan.as_ref());
        s
    }

    /// How lists label its question: `plan` for a planning dispatch's plan, else as
    /// [`transcript::label`](crate::provider::transcript::label) says (`asks`, `said`).
    pub fn question_label(&self) -> &'static str {
        match (&self.question, &self.plan_sha256) {
            (_, Some(_)) if self.planning => "plan",
            (Some(q), _) => crate::provider::transcript::label(q),
            (None, _) => "said",
        }
    }

    /// Its plan, while it waits for a person's decision on it: the plan and its SHA-256.
    pub fn plan_waiting(&self) -> Option<(&str, &str)> {
        match (&self.question, &self.plan_sha256) {
            (Some(plan), Some(sha)) if self.planning && self.waiting() => Some((plan, sha)),
            _ => None,
        }
    }

    /// Whether it waits for a person: blocked or stalled, or lost or ended needing input
    /// with nothing done about it since, or its pull request escalated (ADR 0093). A follow-up that continued it, a merge of its
    /// branch, or a release or clean of its worktree (each a receipt the read model folds)
    /// settles a lost or needs_input one, and so does a dismissal of its question; a
    /// cancelled one ended.
    pub fn waiting(&self) -> bool {
        let settled =
            self.continued_by.is_some() || self.landed.is_some() || self.dismissed.is_some();
        match self.state {
            State::Blocked | State::Stalled => true,
            State::Lost | State::Ended(DispatchStatus::NeedsInput) => !settled,
            // Its pull request's reactions gave up (`vnx pr watch`): a person decides.
            _ => self.escalated.is_some() && !settled,
        }
    }

    /// Whether it is unfinished (queued, running, blocked or stalled) or waits for a
    /// person: what a list shows however old it is.
    pub fn open(&self) -> bool {
        self.state.is_live() || self.state == State::Queued || self.waiting()
    }

    /// Whether the conflict radar counts it in play: unfinished (a lost one's worktree still
    /// holds its worker's changes), or ended with work neither landed nor continued by a
    /// follow-up, here. The ledger alone decides it, so the read index can mark it.
    pub fn in_play(&self) -> bool {
        let settled = self.landed.is_some() || self.continued_by.is_some();
        !settled
            && self.place.is_here()
            && match self.state {
                State::Ended(_) => self.teardown_class != Some(TeardownClass::Clean),
                State::Queued | State::Expired => false,
                // Live (running, blocked, stalled, limited) or lost.
                _ => true,
            }
    }

    /// What lists call it: its title, else its role (`-` with neither).
    pub fn label(&self) -> &str {
        self.title
            .as_deref()
            .filter(|t| !t.is_empty())
            .or(self.role.as_deref())
            .unwrap_or("-")
    }

    /// The tmux socket and session its start records (the fallback socket and `vnx-<id>`
    /// when it records none).
    pub fn session_on(&self, fallback: &crate::tmux::Tmux) -> (crate::tmux::Tmux, String) {
        match (&self.tmux_socket, &self.session) {
            (Some(socket), Some(session)) => (crate::tmux::Tmux::new(socket), session.clone()),
            _ => (
                crate::tmux::Tmux::new(fallback.socket()),
                format!("vnx-{}", self.id),
            ),
        }
    }
}

/// Writes a value as JSON inside the read index's binary form (a length and the bytes), for
/// the members whose type has no binary form of its own.
pub(crate) fn ser_json<T: Serialize, W: std::io::Write>(v: &T, w: &mut W) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(v).map_err(std::io::Error::other)?;
    BorshSerialize::serialize(&bytes, w)
}

/// Reads what [`ser_json`] wrote.
pub(crate) fn de_json<T: serde::de::DeserializeOwned, R: std::io::Read>(
    r: &mut R,
) -> std::io::Result<T> {
    let bytes: Vec<u8> = BorshDeserialize::deserialize_reader(r)?;
    serde_json::from_slice(&bytes).map_err(std::io::Error::other)
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
pub(crate) fn is_zero(n: &u32) -> bool {
    *n == 0
}
