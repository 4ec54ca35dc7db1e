//! A plan approved or sent back (`vnx approve`/`vnx deny` on a dispatch whose plan waits,
//! the web page's buttons; ADR 0092): a signed `plan_approved` or `plan_denied` bound to the
//! SHA-256 of the plan its attested completion recorded, then a follow-up in the same
//! worktree and session — carrying the plan out in the role's posture, or planning again.

use super::follow_up::{self, FollowUp, Told};
use super::start::Started;
use super::{ActionError, Desk};
use crate::dispatch::planned;
use crate::dispatch::view::DispatchState;
use crate::evidence::Evidence;
use crate::ids::DispatchId;
use crate::receipts::{self, PlanApproved, PlanDenied, PlanStage, PlanStep};

/// A plan that waits for a person, as its attested completion recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingPlan {
    /// The planning dispatch.
    pub id: DispatchId,
    /// The plan's text: worker text, escaped wherever it is shown.
    pub text: String,
    /// Its SHA-256, which a decision binds to.
    pub sha256: String,
    /// Its plan step (the posture its edits run in).
    pub step: PlanStep,
    /// The planning dispatch's head as its completion recorded it.
    pub head: Option<crate::ids::CommitId>,
    /// What its planning changed, when it changed anything: such a plan is not approved.
    pub changed: Option<planned::PlanningChange>,
}

/// What a decision on a plan did: its receipt, and the follow-up it started.
#[derive(Debug)]
pub struct Decided<R> {
    /// The receipt written.
    pub receipt: R,
    /// The follow-up started (or queued).
    pub follow_up: Started,
}

/// Whether `state` is a planning dispatch whose plan waits for a decision.
pub fn waits(state: &DispatchState) -> bool {
    state.plan_waiting().is_some()
}

/// Whether an approve or a deny of dispatch `state` decides its plan (one waits, or the
/// person named the plan's SHA-256 they read) rather than answering its prompt.
pub fn decides(state: &DispatchState, seen: Option<&str>) -> bool {
    seen.is_some() || waits(state)
}

/// What an approve or a deny did: a prompt answered, or a plan approved or sent back.
#[derive(Debug)]
pub enum Answered {
    /// The pending prompt answered.
    Prompt(receipts::DispatchAnswered),
    /// The plan approved, and the follow-up that carries it out.
    Approved(Decided<PlanApproved>),
    /// The plan sent back, and the follow-up that plans again.
    Denied(Decided<PlanDenied>),
}

impl Answered {
    /// The line that says so.
    pub fn line(&self) -> String {
        match self {
            Answered::Prompt(receipt) => super::answer::line(receipt),
            Answered::Approved(d) => line(true, &d.receipt.plan_sha256, d.follow_up.id()),
            Answered::Denied(d) => line(false, &d.receipt.plan_sha256, d.follow_up.id()),
        }
    }

    /// The follow-up a plan's decision started.
    pub fn follow_up(&self) -> Option<&DispatchId> {
        match self {
            Answered::Prompt(_) => None,
            Answered::Approved(d) => Some(d.follow_up.id()),
            Answered::Denied(d) => Some(d.follow_up.id()),
        }
    }
}

/// Approves or denies (`decision`) what dispatch `id` waits for: its plan when [`decides`]
/// says so ([`approve`], [`deny`]; `message` is the note or the reason), else its pending
/// prompt ([`super::answer::answer`]; a denial may say why).
pub fn answer(
    desk: &Desk<'_>,
    id: &DispatchId,
    decision: receipts::PermissionAnswer,
    message: Option<&str>,
    seen: Option<&str>,
    told: &dyn Fn(Told),
) -> Result<Answered, ActionError> {
    use receipts::PermissionAnswer::{Approve, Deny};
    let states = desk.states()?;
    if !decides(Desk::named(&states, std::slice::from_ref(id))?[0], seen) {
        let receipt = super::answer::answer(desk, id, decision, message)?;
        return Ok(Answered::Prompt(receipt));
    }
    Ok(match decision {
        Approve => Answered::Approved(approve(desk, id, message, seen, told)?),
        Deny => Answered::Denied(deny(desk, id, message, seen, told)?),
    })
}

/// The plan dispatch `id` waits with, read from its attested receipts (never from a line
/// vnx did not sign); when `seen` names the SHA-256 a person read, a plan that differs is
/// [`ActionError::PlanChanged`].
pub fn waiting(
    desk: &Desk<'_>,
    id: &DispatchId,
    seen: Option<&str>,
) -> Result<WaitingPlan, ActionError> {
    let states = desk.states()?;
    let state = Desk::named(&states, std::slice::from_ref(id))?[0];
    let no_plan = || ActionError::NoPlanWaiting { id: id.clone() };
    if !waits(state) {
        return Err(no_plan());
    }
    let ev = Evidence::read(desk.ctx.ledger, id, desk.trusted)?;
    let (Some(started), Some(completed)) = (&ev.started, &ev.completed) else {
        return Err(no_plan());
    };
    let step = (started.receipt.plan.clone())
        .filter(|p| p.stage == PlanStage::Planning)
        .ok_or_else(no_plan)?;
    let text = planned::plan_of(&completed.receipt).ok_or_else(no_plan)?;
    let sha256 = receipts::plan_sha256(&text);
    if let Some(seen) = seen.filter(|s| !s.eq_ignore_ascii_case(&sha256)) {
        return Err(ActionError::PlanChanged {
            id: id.clone(),
            seen: seen.to_owned(),
            now: sha256,
        });
    }
    let changed = planned::planning_change(desk.ctx.ledger, desk.trusted, &ev)?;
    Ok(WaitingPlan {
        id: id.clone(),
        text,
        sha256,
        step,
        head: completed.receipt.head_commit.clone(),
        changed,
    })
}

/// Approves the plan dispatch `id` waits with (the one whose SHA-256 is `seen`, when given):
/// records `plan_approved`, then starts the follow-up that carries it out in the role's
/// posture, told the plan and what the person added (`note`).
pub fn approve(
    desk: &Desk<'_>,
    id: &DispatchId,
    note: Option<&str>,
    seen: Option<&str>,
    told: &dyn Fn(Told),
) -> Result<Decided<PlanApproved>, ActionError> {
    let plan = waiting(desk, id, seen)?;
    // A planning turn changes nothing: a plan whose planning changed files is not a plan
    // before any edit, whatever its text says.
    if let Some(change) = &plan.changed {
        return Err(ActionError::PlanningChanged {
            id: id.clone(),
            change: change.to_string(),
        });
    }
    let receipt = PlanApproved {
        dispatch_id: id.clone(),
        plan_sha256: plan.sha256.clone(),
        by: desk.by.to_owned(),
        message: note.map(str::to_owned),
        head_commit: plan.head.clone(),
        extra: Default::default(),
    };
    desk.record(&receipt)?;
    crate::steps::reached(crate::steps::plan::DECIDED_APPENDED);
    let mut asked = FollowUp::of(id.clone());
    asked.instruction = planned::approved_instruction(&plan.text, desk.by, note);
    asked.permission = Some(plan.step.edits_permission);
    asked.plan = Some(PlanStep {
        stage: PlanStage::Approved,
        edits_permission: plan.step.edits_permission,
        planned_in: Some(id.clone()),
        plan_sha256: Some(plan.sha256),
    });
    let follow_up = follow_up::follow_up(desk, &asked, told)?;
    Ok(Decided { receipt, follow_up })
}

/// Sends the plan dispatch `id` waits with back (the one whose SHA-256 is `seen`, when
/// given): records `plan_denied` with `message`, then starts the follow-up that plans again,
/// still read-only, told why.
pub fn deny(
    desk: &Desk<'_>,
    id: &DispatchId,
    message: Option<&str>,
    seen: Option<&str>,
    told: &dyn Fn(Told),
) -> Result<Decided<PlanDenied>, ActionError> {
    let plan = waiting(desk, id, seen)?;
    let receipt = PlanDenied {
        dispatch_id: id.clone(),
        plan_sha256: plan.sha256.clone(),
        by: desk.by.to_owned(),
        message: message.map(str::to_owned),
        extra: Default::default(),
    };
    desk.record(&receipt)?;
    crate::steps::reached(crate::steps::plan::DECIDED_APPENDED);
    let mut asked = FollowUp::of(id.clone());
    asked.instruction = planned::denied_instruction(&plan.text, desk.by, message);
    asked.plan = Some(planned::planning_step(plan.step.edits_permission));
    let follow_up = follow_up::follow_up(desk, &asked, told)?;
    Ok(Decided { receipt, follow_up })
}

/// The line that says what became of a decision: `plan approved (sha256 ab12…): D-… carries
/// it out`.
pub fn line(approved: bool, sha256: &str, follow_up: &DispatchId) -> String {
    let short = sha256.get(..12).unwrap_or(sha256);
    if approved {
        format!("plan approved (sha256 {short}…): {follow_up} carries it out")
    } else {
        format!("plan sent back (sha256 {short}…): {follow_up} plans again")
    }
}
