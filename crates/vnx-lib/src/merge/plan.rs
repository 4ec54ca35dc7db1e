//! The merge condition of a dispatch of `--plan` (ADR 0092), `plan_approved`: the work
//! follows a plan whose SHA-256 a signed `plan_approved` names, and that is the plan its
//! planning dispatch's attested completion recorded. Dispatches whose chain never planned
//! have no such condition.

use crate::dispatch::planned;
use crate::evidence::Evidence;
use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::receipts::{self, DispatchStarted, PlanStage, PlanStep};

/// The condition's name.
pub const NAME: &str = "plan_approved";

/// The most dispatches of a chain walked back (a chain is a handful).
const MAX_CHAIN: usize = 1000;

/// The plan step nearest to a dispatch in its chain (itself, then what it continues, back
/// to the first), with the dispatch that recorded it; `None` when none of them planned.
fn nearest_step(
    ledger: &std::path::Path,
    trusted: &[[u8; 32]],
    started: &DispatchStarted,
) -> Result<Option<(DispatchStarted, PlanStep)>, LedgerError> {
    let mut at = started.clone();
    for _ in 0..MAX_CHAIN {
        if let Some(step) = at.plan.clone() {
            return Ok(Some((at, step)));
        }
        let Some(before) = &at.continues else {
            return Ok(None);
        };
        let ev = Evidence::read(ledger, &before.dispatch_id, trusted)?;
        let Some(s) = ev.started else {
            return Ok(None);
        };
        at = s.receipt;
    }
    Ok(None)
}

/// `plan_approved` for the dispatch whose evidence is `ev`: `None` when no dispatch of its
/// chain planned, else whether the plan its work follows was approved, as recorded.
pub fn check(
    ledger: &std::path::Path,
    trusted: &[[u8; 32]],
    ev: &Evidence,
) -> Result<Option<Result<String, String>>, LedgerError> {
    let Some(started) = &ev.started else {
        return Ok(None);
    };
    let Some((carrying, step)) = nearest_step(ledger, trusted, &started.receipt)? else {
        return Ok(None);
    };
    let by = &carrying.dispatch_id;
    if step.stage == PlanStage::Planning {
        return Ok(Some(Err(format!(
            "{by} planned and its plan was never approved: no work follows an approved plan \
             (`vnx approve {by}` approves it once it waits)"
        ))));
    }
    let (Some(planned_in), Some(sha)) = (&step.planned_in, &step.plan_sha256) else {
        return Ok(Some(Err(format!(
            "{by} names no plan it follows: its start records no planning dispatch or hash"
        ))));
    };
    let planning = Evidence::read(ledger, planned_in, trusted)?;
    // A planning turn changes nothing: work its planning left is not work that follows an
    // approved plan.
    if let Some(change) = planned::planning_change(ledger, trusted, &planning)? {
        return Ok(Some(Err(format!("{planned_in} planned, but {change}"))));
    }
    let started_at = carrying.continues.as_ref().map(|c| &c.head_commit);
    Ok(Some(judge(planned_in, sha, &planning).and_then(
        |(said, approved_at)| match (approved_at, started_at) {
            (Some(at), Some(from)) if at != *from => Err(format!(
                "{by} carried the plan out from {from}, not from {at}, the head its plan was \
                 approved at"
            )),
            _ => Ok(said),
        },
    )))
}

/// Whether the plan of sha256 `sha` that the work follows is the one `planned_in` recorded
/// (`planning`, its evidence) and a person approved: what to say, and the head the approval
/// names.
fn judge(
    planned_in: &DispatchId,
    sha: &str,
    planning: &Evidence,
) -> Result<(String, Option<crate::ids::CommitId>), String> {
    let short = |s: &str| s.get(..12).unwrap_or(s).to_owned();
    let recorded = (planning.completed.as_ref())
        .and_then(|c| planned::plan_of(&c.receipt))
        .map(|p| receipts::plan_sha256(&p));
    match recorded {
        Some(r) if r == sha => {}
        Some(r) => {
            return Err(format!(
                "the plan the work follows (sha256 {}…) is not the plan {planned_in} recorded \
                 (sha256 {}…)",
                short(sha),
                short(&r)
            ));
        }
        None => return Err(format!("{planned_in} recorded no plan")),
    }
    match planning
        .plans_approved
        .iter()
        .rev()
        .find(|a| a.receipt.plan_sha256 == sha)
    {
        Some(a) => Ok((
            format!(
                "{} approved the plan of {planned_in} (sha256 {}…) the work follows",
                a.receipt.by,
                short(sha)
            ),
            a.receipt.head_commit.clone(),
        )),
        None => Err(format!(
            "no plan_approved names the plan of {planned_in} the work follows (sha256 {}…)",
            short(sha)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Evidenced;

    fn evidence(plan: &str, approved: &[&str]) -> Evidence {
        let line = || crate::evidence::Line {
            seq: Some(1),
            line_sha256: String::new(),
            fields: Default::default(),
        };
        let completed: receipts::DispatchCompleted = serde_json::from_value(serde_json::json!({
            "dispatch_id": "D-0123456789ab", "status": "needs_input", "completion_signal": "exit",
            "cli_events": {"last_message": plan},
        }))
        .unwrap();
        Evidence {
            completed: Some(Evidenced {
                receipt: completed,
                line: line(),
            }),
            plans_approved: approved
                .iter()
                .map(|sha| Evidenced {
                    receipt: receipts::PlanApproved {
                        dispatch_id: DispatchId::parse("D-0123456789ab").unwrap(),
                        plan_sha256: (*sha).to_owned(),
                        by: "ana".into(),
                        message: None,
                        head_commit: None,
                        extra: Default::default(),
                    },
                    line: line(),
                })
                .collect(),
            ..Evidence::default()
        }
    }

    #[test]
    fn only_an_approval_of_the_recorded_plan_followed_holds() {
        let id = DispatchId::parse("D-0123456789ab").unwrap();
        let plan = "1. edit a.rs";
        let sha = receipts::plan_sha256(plan);
        let other = receipts::plan_sha256("1. edit b.rs");
        assert!(judge(&id, &sha, &evidence(plan, &[&sha])).is_ok());
        let none = judge(&id, &sha, &evidence(plan, &[&other])).unwrap_err();
        assert!(none.starts_with("no plan_approved names"), "{none}");
        // The work follows a plan other than the one recorded: refused, approval or not.
        let changed = judge(&id, &other, &evidence(plan, &[&other])).unwrap_err();
        assert!(changed.contains("is not the plan"), "{changed}");
    }
}
