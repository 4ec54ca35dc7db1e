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
    use vnx::actions::{Desk, accept, answer, cancel, dismiss, gate, merge};
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
                let states = desk.states()?;
                let waits =
                    (states.iter().find(|s| s.id == id)).is_some_and(vnx::actions::plan::waits);
                if waits {
                    plan_decided(desk, &id, decision, message, None)?
                } else {
                    let receipt = answer::answer(desk, &id, decision, message)?;
                    (0, answer::line(&receipt))
                }
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
            Action::ApprovePlan(_, sha, note) => plan_decided(
                desk,
                &id,
                PermissionAnswer::Approve,
                note.as_deref(),
                Some(sha),
            )?,
            Action::DenyPlan(_, sha, note) => plan_decided(
                desk,
                &id,
                PermissionAnswer::Deny,
                note.as_deref(),
                Some(sha),
            )?,
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
                let states = desk.states()?;
                let chosen = Desk::named(&states, std::slice::from_ref(&id))?;
                let (_, stopped) = cancel::cancel(desk, chosen)?.remove(0);
                if let cancel::Stopped::OnHost(place) = &stopped {
                    // Its place's vnx cancels it, asked from here.
                    let args = ["cancel".to_owned(), id.to_string()];
                    let ids = std::slice::from_ref(&id);
                    let answered = vnx::actions::remote::ask(desk, place, &args, ids)?;
                    let said = answered.stdout.lines().last().unwrap_or_default();
                    return Ok((answered.status.unwrap_or(3), format!("{place}: {said}")));
                }
                (i32::from(!stopped.as_asked()), stopped.line())
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
        start(desk, &asked)
    })
}

/// A plan that waits (the one whose SHA-256 is `seen`, when given), approved or sent back
/// with the person's message: the line that says so.
fn plan_decided(
    desk: &vnx::actions::Desk<'_>,
    id: &DispatchId,
    decision: vnx::receipts::PermissionAnswer,
    message: Option<&str>,
    seen: Option<&str>,
) -> Result<(i32, String), CliError> {
    use vnx::actions::plan;
    use vnx::receipts::PermissionAnswer;
    let told = |_| {};
    let (sha, next) = match decision {
        PermissionAnswer::Approve => {
            let d = plan::approve(desk, id, message, seen, &told)?;
            (d.receipt.plan_sha256, d.follow_up.id().clone())
        }
        PermissionAnswer::Deny => {
            let d = plan::deny(desk, id, message, seen, &told)?;
            (d.receipt.plan_sha256, d.follow_up.id().clone())
        }
    };
    Ok((
        0,
        plan::line(decision == PermissionAnswer::Approve, &sha, &next),
    ))
}

/// Sends dispatch `id`'s open review comments as one follow-up, started as [`follow_up`]
/// starts one (`vnx review ID --send`).
fn send_review(id: &DispatchId, by: Option<&str>) -> Result<(i32, String), CliError> {
    crate::cli::util::context::with_desk_as(None, by, |desk| {
        let sending = vnx::actions::review::send(desk, id)?;
        let (code, started) = start(desk, &sending.follow_up)?;
        Ok((code, format!("{}; {started}", sending.line())))
    })
}

/// Starts follow-up `asked`: on the host its dispatch ran on, else here; says which.
fn start(
    desk: &vnx::actions::Desk<'_>,
    asked: &vnx::actions::follow_up::FollowUp,
) -> Result<(i32, String), CliError> {
    let on_host = vnx::actions::remote::follow_up_on_host(desk, &asked.on_host_request())?;
    if let Some(launched) = on_host {
        let (new, host) = (&launched.dispatch_id, &launched.host);
        return Ok((0, format!("started {new} on host {host}")));
    }
    let started = vnx::actions::follow_up::follow_up(desk, asked, &|_| {})?;
    // The footer names the dispatch followed up already.
    Ok((
        0,
        match &started.submitted {
            vnx::dispatch::queue::Submitted::Queued { position, .. } => {
                format!("queued {} at position {position}", started.id())
            }
            vnx::dispatch::queue::Submitted::Started(_) => format!("started {}", started.id()),
        },
    ))
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
