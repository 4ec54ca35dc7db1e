//! The actions of the dashboard's keys and the web page's buttons ([`Action`]) done in process
//! at the project's desk (`vnx::actions`) as the vnx command of the same name would, by the
//! person at this terminal or a device paired with `vnx serve`, saying what became of each.

use vnx::ids::DispatchId;

use crate::action::{Action, Outcome};
use crate::cli::CliError;
use crate::cli::util::settings;

/// Does `action` at the project's desk (`vnx::actions`), as its command would, and says
/// what became of it (attaching needs the terminal: the caller does that one).
pub(crate) fn act(action: &Action, by: Option<&str>) -> Outcome {
    use vnx::actions::release::{self, Preserved, done_line};
    use vnx::actions::{accept, cancel, dismiss, gate, merge, plan};
    use vnx::receipts::PermissionAnswer;
    let id = match action {
        Action::Tidy => None,
        Action::SendReview(id) => return outcome_of(action, send_review(id, by)),
        Action::FollowUp(id, text) => {
            return outcome_of(action, follow_up(id.clone(), text, by));
        }
        Action::Attach(_) => {
            let why = "attaching takes the terminal: the dashboard does it itself";
            return outcome_of(action, Ok((3, why.into())));
        }
        _ => action.dispatch_id().cloned(),
    };
    let done = crate::cli::util::context::with_desk_as(None, by, |desk| {
        let Some(id) = id else {
            let found = release::tidy(desk, "HEAD", "origin", true)?;
            let released = found.released();
            let kept = found.entries.len() - released;
            let failed = found.failed();
            return Ok((
                if failed { 3 } else { 0 },
                format!("{released} released, {kept} kept"),
            ));
        };
        Ok(match action {
            Action::Approve(_) | Action::Deny(..) => {
                let (decision, message) = match action {
                    Action::Deny(_, message) => (PermissionAnswer::Deny, message.as_deref()),
                    _ => (PermissionAnswer::Approve, None),
                };
                // A plan that waits is approved or sent back (ADR 0092).
                (
                    0,
                    plan::answer(desk, &id, decision, message, None, &|_| {})?.line(),
                )
            }
            Action::Accept(_) => {
                let receipt = accept::accept(desk, &id, None)?;
                (0, accept::lines(&receipt).pop().unwrap_or_default())
            }
            Action::Release(_) | Action::Clean(_) => {
                let ledger = desk.ctx.ledger.to_owned();
                let mut preserved = Preserved::read(desk, ledger, "HEAD", "origin")?;
                let ids = std::slice::from_ref(&id);
                let (item, did) = if let Action::Release(_) = action {
                    preserved.only(ids)?;
                    preserved.release(desk)?;
                    (preserved.plan.items.remove(0), "released")
                } else {
                    let mut chosen = preserved.to_discard(ids, &[])?;
                    if chosen.is_empty() {
                        return Ok((0, "nothing to discard".into()));
                    }
                    preserved.discard(desk, &mut chosen)?;
                    (chosen.remove(0), "discarded")
                };
                let failed = item.done.as_ref().is_some_and(|d| d.error.is_some());
                (if failed { 3 } else { 0 }, done_line(&item, did))
            }
            Action::GateCheck(_) => {
                let report = gate::check(desk, &id, &|_| {})?;
                let anchored = gate::anchor(desk, &settings::anchoring()).err();
                let held = report.decision == vnx::gate::Decision::Hold;
                let mut said = if held { "HOLD" } else { "GO" }.to_owned();
                for why in report.reasons.iter().chain(&anchored) {
                    said.push_str(&format!("; {why}"));
                }
                (i32::from(held), said)
            }
            Action::Merge(_) => {
                let merging = merge::Merging {
                    check_only: false,
                    override_group: false,
                    anchoring: settings::anchoring(),
                    as_given: true,
                };
                let ids = std::slice::from_ref(&id);
                let entry = merge::merge(desk, ids, &merging, &|_| {})?.remove(0);
                // A refusal is the error `vnx merge` prints, its hint included.
                if let Some(refused) = crate::cli::util::error::merge_verdict(&entry) {
                    return Err(refused);
                }
                let said = entry.plan.as_ref().map_or_else(
                    || merge::result_name(entry.result).to_owned(),
                    |plan| merge::said(&entry, plan),
                );
                (0, said)
            }
            Action::ApprovePlan(_, sha, note) | Action::DenyPlan(_, sha, note) => {
                let decision = match action {
                    Action::ApprovePlan(..) => PermissionAnswer::Approve,
                    _ => PermissionAnswer::Deny,
                };
                let (note, seen) = (note.as_deref(), Some(sha.as_str()));
                (
                    0,
                    plan::answer(desk, &id, decision, note, seen, &|_| {})?.line(),
                )
            }
            Action::RaiseBudget(_, tokens, micros) => {
                let add = crate::action::raise_of(*tokens, *micros);
                let raised = vnx::actions::budget::raise(desk, &id, &add, &|_| {})?;
                (0, vnx::actions::budget::line(&raised))
            }
            Action::Comment(_, at, text) => {
                let at = vnx::review::Anchor::parse(at)?;
                vnx::actions::review::comment(desk, &id, &at, text)?;
                (0, format!("comment on {at} recorded"))
            }
            Action::Dismiss(_) => {
                let which = dismiss::Which {
                    ids: vec![id.clone()],
                    selection: None,
                };
                let (_, done) = dismiss::dismiss(desk, &which, None)?.remove(0);
                (0, dismiss::line(&done?))
            }
            _ => {
                // One that runs in a place is cancelled by that place's vnx, asked from here.
                let stopped = cancel::cancel_one(desk, &id)?;
                let code = match &stopped {
                    cancel::OneStopped::OnHost { status, .. } => status.unwrap_or(3),
                    cancel::OneStopped::Here(s) => i32::from(!s.as_asked()),
                };
                (code, stopped.line())
            }
        })
    });
    outcome_of(action, done)
}

/// Starts the follow-up of dispatch `id` with `text` in process, detached, as `vnx
/// follow-up --detach` would: here, or by the place's vnx on the host it ran on.
fn follow_up(id: DispatchId, text: &str, by: Option<&str>) -> Result<(i32, String), CliError> {
    use vnx::actions::follow_up::FollowUp;
    crate::cli::util::context::with_desk_as(None, by, |desk| {
        let (overrides, override_reasons) = settings::constraint_overrides();
        let asked = FollowUp {
            instruction: text.to_owned(),
            overrides,
            override_reasons,
            ..FollowUp::of(id.clone())
        };
        let begun = vnx::actions::follow_up::begin(desk, &asked, &|_| {})?;
        Ok((0, started(&begun)))
    })
}

/// Sends dispatch `id`'s open review comments as one follow-up, started as [`follow_up`]
/// starts one (`vnx review ID --send`).
fn send_review(id: &DispatchId, by: Option<&str>) -> Result<(i32, String), CliError> {
    crate::cli::util::context::with_desk_as(None, by, |desk| {
        let (sending, begun) = vnx::actions::review::send_and_start(desk, id, &|_| {})?;
        Ok((0, format!("{}; {}", sending.line(), started(&begun))))
    })
}

/// What the footer says of a follow-up started: on the host its dispatch ran on, or here.
fn started(begun: &vnx::actions::follow_up::Begun) -> String {
    use vnx::actions::follow_up::Begun;
    use vnx::dispatch::queue::Submitted;
    // The footer names the dispatch followed up already.
    match begun {
        Begun::OnHost(launched) => {
            format!("started {} on host {}", launched.dispatch_id, launched.host)
        }
        Begun::Here(started) => match &started.submitted {
            Submitted::Queued { position, .. } => {
                format!("queued {} at position {position}", started.id())
            }
            Submitted::Started(_) => format!("started {}", started.id()),
        },
    }
}

/// The footer's outcome of an action done in process: its code and line, or its error and
/// the error's hint.
fn outcome_of(action: &Action, done: Result<(i32, String), CliError>) -> Outcome {
    let (code, summary, hint) = match done {
        Ok((code, summary)) => (code, vnx::dashboard::model::plain(&summary), None),
        Err(e) => (
            e.exit_status() as i32,
            e.one_line(),
            e.hint().map(vnx::dashboard::model::plain),
        ),
    };
    Outcome {
        action: action.clone(),
        code: Some(code),
        summary,
        hint,
    }
}
