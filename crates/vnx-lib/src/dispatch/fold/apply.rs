//! One ledger line folded into the records: what any line of a dispatch says (its last
//! activity, its live state, its start and end as a follower needs them), and what a typed
//! receipt changes of its state (queued, started, ended, accepted, dismissed, corrected,
//! blocked, stalled, resumed, answered, lost, merged, released, refused).

use crate::dispatch::state::{Accepted, State};
use crate::ids::DispatchId;
use crate::ledger::json::{Object, Value};
use crate::receipts::{self, DispatchCompleted, DispatchCorrected, DispatchStatus, Kind as _};
use crate::receipts::{DispatchBlocked, DispatchStarted, QueueDecision, QueueVerdict, Typed};

use super::{Cite, Landed, LiveMark, Records, Seen, Start};

impl Records {
    /// What any line of dispatch `id` says, whatever its shape: its last activity, its live
    /// mark, its start and end as a follower and a waiter need them.
    pub(super) fn note_any(
        &mut self,
        id: &DispatchId,
        event: Option<&str>,
        o: &Object<'_>,
        at: Option<String>,
        cite: Cite,
    ) -> Seen {
        let mut seen = Seen::Other;
        let r = self.record(id);
        r.last_activity = at.clone().or(r.last_activity.take());
        match event {
            Some(DispatchCompleted::EVENT) => {
                r.completion = Some(cite);
                r.live = Some(LiveMark::Cleared(cite));
                seen = Seen::Completed;
            }
            Some(DispatchCorrected::EVENT) => r.correction = Some(cite),
            // A dispatch starts once: a later start for its id is a forgery, never what it is
            // (the merge refuses it, `Evidence::restarted`).
            Some(DispatchStarted::EVENT) if r.start.is_some() => {}
            Some(DispatchStarted::EVENT) => {
                // Typed below when it has the receipt's shape.
                r.start = Some(Start {
                    cite,
                    tmux: None,
                    place: crate::place_name::Where::Here,
                    worktree: o.get("worktree").and_then(Value::as_str).map(str::to_owned),
                    grouped: false,
                });
            }
            Some(receipts::RemoteLost::EVENT) => {
                r.remote_lost.get_or_insert(cite);
                seen = Seen::RemoteLost;
            }
            Some(DispatchBlocked::EVENT) => {
                r.live = Some(LiveMark::Blocked(cite));
                seen = Seen::Blocked;
            }
            Some(
                receipts::DispatchResumed::EVENT
                | receipts::DispatchStalled::EVENT
                | receipts::DispatchLimited::EVENT
                | receipts::DispatchPaused::EVENT
                | receipts::DispatchAnswered::EVENT
                | receipts::DispatchBackground::EVENT,
            ) => {
                r.live = Some(LiveMark::Cleared(cite));
                // A dispatch given up on with its host, found running there again.
                if event == Some(receipts::DispatchResumed::EVENT)
                    && o.get("after").and_then(Value::as_str)
                        == Some(receipts::DispatchResumed::AFTER_LOST)
                {
                    r.remote_lost = None;
                }
            }
            _ => {}
        }
        seen
    }

    /// What a typed receipt of dispatch `id` changes of its state; `true` when it closes
    /// the dispatch's place in the queue.
    pub(super) fn apply_typed(
        &mut self,
        id: &DispatchId,
        typed: Typed,
        event: Option<&str>,
        at: Option<String>,
        cite: Cite,
    ) -> bool {
        match typed {
            Typed::QueueDecision(r) => {
                let q = r.receipt;
                let closes = q.decision.closes();
                if q.decision != QueueVerdict::Admitted {
                    self.record(id).queue = Some((Some(q.decision), cite));
                }
                self.queue_decision(id, q, at, cite);
                return closes;
            }
            Typed::DispatchStarted(r) => self.started(id, r.receipt, r.timestamp, cite),
            Typed::DispatchCompleted(r) => self.completed(id, r.receipt, at, cite),
            // A person accepted the ended dispatch's work (`vnx accept`): done, at the head
            // vnx read then. Only an ended one is accepted; its proof is now the acceptance.
            Typed::DispatchAccepted(r) => self.accepted(id, r.receipt, at, cite),
            // A person dismissed the ended dispatch's question (`vnx dismiss`): it waits for
            // no one; a later end (a follow-up's) is a new question.
            Typed::DispatchDismissed(r) => {
                let asking = self
                    .listed_mut(id)
                    .is_some_and(|l| l.state.state == State::Ended(DispatchStatus::NeedsInput));
                if asking && let Some(s) = self.state(id, cite, false) {
                    s.dismissed = Some(crate::dispatch::state::Dismissed {
                        by: r.receipt.by,
                        at,
                        note: r.receipt.note,
                    });
                }
            }
            Typed::DispatchCorrected(r) => {
                if let Some(s) = self.state(id, cite, false) {
                    s.state = State::Ended(r.receipt.status);
                    s.completion = Some(r.receipt.status);
                    s.reason = Some(r.receipt.reason);
                    s.question = None;
                    s.plan_sha256 = None;
                }
            }
            // A budget's note says where it stands; it proves no state (its start or end
            // does).
            typed
            @ (Typed::BudgetWarning(_) | Typed::BudgetReached(_) | Typed::BudgetRaised(_)) => {
                self.budget(id, typed);
            }
            Typed::DispatchBlocked(r) => {
                if let Some(s) = self.state(id, cite, true) {
                    s.state = State::Blocked;
                    s.blocked = Some(r.receipt);
                    s.background = None;
                }
            }
            Typed::DispatchLimited(r) => self.limited(id, r.receipt, cite),
            Typed::DispatchPaused(r) => self.paused(id, r.receipt, cite),
            // Its turn ended with background work running: still running, waiting on it.
            Typed::DispatchBackground(r) => {
                if let Some(s) = self.state(id, cite, true) {
                    s.state = State::Running;
                    s.blocked = None;
                    s.background = Some(r.receipt);
                }
            }
            // A prompt answered with `vnx approve`/`vnx deny` waits no more (a denied prompt
            // may end the turn without a hook that says so). A denial counts even when its
            // receipt follows the dispatch's end: the worker may finish the turn before
            // `vnx deny` has recorded its answer.
            Typed::DispatchStalled(_)
            | Typed::DispatchResumed(_)
            | Typed::DispatchAnswered(_)
            | Typed::RemoteLost(_) => {
                if let Typed::DispatchAnswered(r) = &typed
                    && r.receipt.answer == receipts::PermissionAnswer::Deny
                    && let Some(l) = self.listed_mut(id)
                {
                    l.state.denials = l.state.denials.saturating_add(1);
                }
                // Given up on with its host, found running there again: live again.
                let again = matches!(&typed, Typed::DispatchResumed(r)
                    if r.receipt.after == receipts::DispatchResumed::AFTER_LOST)
                    && self
                        .listed_mut(id)
                        .is_some_and(|l| l.state.state == State::Lost);
                let now = match typed {
                    Typed::DispatchStalled(_) => State::Stalled,
                    Typed::RemoteLost(_) => State::Lost,
                    _ => State::Running,
                };
                if let Some(s) = self.state(id, cite, !again) {
                    s.state = now;
                    s.blocked = None;
                    s.background = None;
                    s.limited = None;
                    s.paused = None;
                }
            }
            // `vnx pr watch` handed the pull request to a person; its merge or close (by
            // vnx or on the forge) settles that.
            typed @ (Typed::PrEscalated(_) | Typed::PrMerged(_) | Typed::PrClosed(_)) => {
                self.escalation(id, typed, at);
            }
            Typed::MergeCompleted(_) => {
                if let Some(s) = self.state(id, cite, false) {
                    s.landed = Some(Landed::Merged);
                }
            }
            Typed::WorktreeReleased(r) => {
                let gone = r.receipt.action.branch_deleted || r.receipt.action.worktree_removed;
                let unlanded = self
                    .listed_mut(id)
                    .is_some_and(|l| l.state.landed.is_none());
                if gone
                    && unlanded
                    && let Some(s) = self.state(id, cite, false)
                {
                    s.landed = Some(Landed::Released);
                }
            }
            // A dispatch the provider constraints or the egress policy refused never ran:
            // listed as failed, its reason the refusal's, proven by that decision.
            Typed::ConstraintDecision(r)
                if r.receipt.decision == receipts::ConstraintVerdict::Refused =>
            {
                let c = r.receipt;
                let reason = format!("refused by constraint {}: {}", c.constraint_id, c.reason);
                self.refused(id, c.route.provider, reason, at, cite);
            }
            Typed::EgressDecision(r) if r.receipt.decision == receipts::EgressVerdict::Refused => {
                let e = r.receipt;
                let mut rules: Vec<&str> = e.findings.iter().map(|f| f.rule.as_str()).collect();
                rules.dedup();
                let reason = format!("refused by the egress policy: {}", rules.join(", "));
                self.refused(id, e.provider, reason, at, cite);
            }
            // A `queue_decision` without the receipt's shape still ends what the last one
            // said (it reads as no verdict).
            Typed::Other(_) if event == Some(QueueDecision::EVENT) => {
                self.record(id).queue = Some((None, cite));
            }
            _ => {}
        }
        false
    }

    /// Whether dispatch `id`'s pull request waits for a person: a `pr_escalated` says so
    /// (ADR 0093), its `pr_merged` or `pr_closed` settles it.
    fn escalation(&mut self, id: &DispatchId, typed: Typed, at: Option<String>) {
        let Some(l) = self.listed_mut(id) else {
            return;
        };
        l.state.escalated = match typed {
            Typed::PrEscalated(r) => Some(crate::dispatch::state::Escalated {
                number: r.receipt.number,
                rule: r.receipt.rule.name().to_owned(),
                why: r.receipt.why,
                at,
            }),
            _ => None,
        };
    }

    /// Where dispatch `id` stands against its budget, as a `budget_warning`, `budget_reached`
    /// or `budget_raised` says (ADR 0094).
    fn budget(&mut self, id: &DispatchId, typed: Typed) {
        use crate::dispatch::budget::day::PROJECT_DAY;
        use crate::dispatch::state::BudgetNote;
        let Some(s) = self.listed_mut(id).map(|l| &mut l.state) else {
            return;
        };
        use crate::dispatch::state::micros;
        let cost =
            |used: Option<f64>, limit: Option<f64>| limit.map(|l| (used.map(micros), micros(l)));
        let note = |u: &crate::receipts::BudgetUse, reached| BudgetNote {
            used: u.tokens_used,
            limit: u.tokens_limit,
            reached,
            raised: None,
            cost_micros: cost(u.cost_used_usd, u.cost_limit_usd),
            by_cost: u.limit.as_deref() == Some("cost"),
            raised_micros: None,
            project_day: u.budget.as_deref() == Some(PROJECT_DAY),
        };
        s.budget = match typed {
            Typed::BudgetWarning(r) => Some(note(&r.receipt.used, false)),
            Typed::BudgetReached(r) => Some(note(&r.receipt.used, true)),
            // The reached limit is kept: a raise again (its follow-up failed to start) adds
            // to it, not to the raised one.
            Typed::BudgetRaised(r) => {
                let before = s.budget.take();
                Some(BudgetNote {
                    used: before.as_ref().map_or(0, |b| b.used),
                    limit: before.as_ref().map_or(r.receipt.tokens_limit, |b| b.limit),
                    reached: before.as_ref().is_some_and(|b| b.reached),
                    raised: Some((r.receipt.by, r.receipt.tokens_limit)),
                    cost_micros: before.as_ref().and_then(|b| b.cost_micros),
                    by_cost: before.as_ref().is_some_and(|b| b.by_cost),
                    raised_micros: r.receipt.cost_limit_usd.map(micros),
                    project_day: r.receipt.budget.as_deref() == Some(PROJECT_DAY),
                })
            }
            _ => return,
        };
    }

    /// Dispatch `id` ended as its completion `c` says.
    fn completed(&mut self, id: &DispatchId, c: DispatchCompleted, at: Option<String>, cite: Cite) {
        // A planning worker's question is its plan (a summary it reported, else).
        let plan = crate::dispatch::planned::plan_of(&c);
        if let Some(s) = self.state(id, cite, false) {
            let plan = plan.filter(|_| s.planning);
            s.state = State::Ended(c.status);
            s.completion = Some(c.status);
            s.ended_at = at;
            s.reason = c.failure_reason;
            let by_cli = c.cli_events.as_ref().map_or(0, |e| e.permission_denials);
            s.question = c
                .cli_events
                .and_then(|e| e.last_message)
                .or(plan)
                .filter(|_| c.status == DispatchStatus::NeedsInput);
            s.plan_sha256 = (s.question.as_deref())
                .filter(|_| s.planning)
                .map(crate::receipts::plan_sha256);
            s.teardown_class = c.teardown_class;
            s.head_commit = c.head_commit;
            s.worker_log = c.worker_log;
            s.tokens = c.token_usage.map(|u| u.input_tokens + u.output_tokens);
            s.cli_denials = u32::try_from(by_cli).unwrap_or(u32::MAX);
            s.blocked = None;
            s.background = None;
            s.accepted = None;
        }
    }

    /// A person accepted dispatch `id`'s work (`a`).
    fn accepted(
        &mut self,
        id: &DispatchId,
        a: receipts::DispatchAccepted,
        at: Option<String>,
        cite: Cite,
    ) {
        let ended = self
            .listed_mut(id)
            .is_some_and(|l| matches!(l.state.state, State::Ended(_)));
        if ended && let Some(s) = self.state(id, cite, false) {
            s.state = State::Ended(DispatchStatus::Done);
            s.completion = Some(DispatchStatus::Done);
            s.reason = None;
            s.question = None;
            s.plan_sha256 = None;
            s.head_commit = Some(a.head_commit.clone());
            s.accepted = Some(Accepted {
                by: a.by,
                at,
                head_commit: a.head_commit,
                previous_status: a.previous_status,
                note: a.note,
            });
        }
    }

    /// Its provider's usage limit stopped its worker: its supervisor waits for the reset
    /// (ADR 0117); a `dispatch_resumed` after it says it went on.
    fn limited(&mut self, id: &DispatchId, limited: receipts::DispatchLimited, cite: Cite) {
        if let Some(s) = self.state(id, cite, true) {
            s.state = State::Limited;
            s.limited = Some(limited);
            s.blocked = None;
            s.background = None;
        }
    }

    /// A person's pause stopped its worker: its supervisor waits for the pause to be lifted
    /// (ADR 0119); a `dispatch_resumed` after it says it went on.
    fn paused(&mut self, id: &DispatchId, paused: receipts::DispatchPaused, cite: Cite) {
        if let Some(s) = self.state(id, cite, true) {
            s.state = State::Paused;
            s.paused = Some(paused);
            s.blocked = None;
            s.background = None;
        }
    }
}
