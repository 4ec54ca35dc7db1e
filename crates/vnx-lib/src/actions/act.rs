//! The one entry point of the actions a front end does to a dispatch: a typed [`Action`] in
//! ([`act`]), what became of it out ([`Done`]: its exit code and its line). Which action is
//! meant, whether a plan or a prompt is answered, here or in the place a dispatch runs, and
//! whether who acts may decide for the dispatch (`guard`) are decided here, once; the command
//! line, the dashboard, the page and the MCP server only parse input into an [`Action`] and
//! render its [`Done`]. The table (`table`) says which front end offers which.

use std::collections::{BTreeMap, BTreeSet};
use std::slice::from_ref;

use super::follow_up::{Begun, FollowUp};
use super::gate::Anchoring;
use super::release::{Preserved, done_line};
use super::{ActionError, Desk, table};
use crate::dispatch::budget::Raise;
use crate::dispatch::queue::Submitted;
use crate::ids::DispatchId;
use crate::receipts::{DispatchAccepted, DispatchDismissed, PermissionAnswer};

/// What goes with an approve or a deny: the SHA-256 of the plan a person read, when it is a
/// plan they decide (a plan that changed since is refused), and the note or the reason told
/// to the worker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// The plan's SHA-256 as read.
    pub plan_sha256: Option<String>,
    /// The note with an approval, or why it is denied.
    pub message: Option<String>,
}

/// An action on one dispatch (or, [`Action::Tidy`], on every settled one), as the vnx
/// command of the same name does it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Jump into its pane (`vnx attach`): a terminal's front end does that itself.
    Attach(DispatchId),
    /// Continue it with a new instruction (`vnx follow-up --detach`).
    FollowUp(DispatchId, String),
    /// Comment on a line of its diff, `FILE:LINE` (`vnx review --comment`).
    Comment(DispatchId, String, String),
    /// Send its open review comments to its worker as one follow-up (`vnx review --send`).
    SendReview(DispatchId),
    /// Allow its pending prompt, or approve the plan it waits with (`vnx approve`).
    Approve(DispatchId, Reply),
    /// Refuse its pending prompt, or send its plan back (`vnx deny`).
    Deny(DispatchId, Reply),
    /// Raise the budget it stopped at by this many tokens and millionths of a US dollar and
    /// continue it (`vnx approve --budget +N,+$X`).
    RaiseBudget(DispatchId, u64, u64),
    /// Accept its ended worker's work as done, committing what it left uncommitted first
    /// (`vnx accept`).
    Accept(DispatchId),
    /// Close its question without answering it (`vnx dismiss`).
    Dismiss(DispatchId),
    /// Stop it, here or in the place it runs (`vnx cancel`).
    Cancel(DispatchId),
    /// Move it, waiting out its provider's usage limit, to this provider (`None`: the first
    /// of its role's `on_limit:` that no limit holds), continued there by a follow-up in its
    /// worktree (`vnx resume ID --to [NAME]`).
    Move(DispatchId, Option<String>),
    /// Run its role's gates, then anchor the ledger (`vnx gate-check`).
    GateCheck(DispatchId),
    /// Merge it into its base (`vnx merge`).
    Merge(DispatchId),
    /// Release its landed or pushed worktree and branch (`vnx worktree-release --apply`).
    Release(DispatchId),
    /// Discard its work (`vnx clean --yes`).
    Clean(DispatchId),
    /// Release every settled dispatch's worktree and branch (`vnx tidy --yes`).
    Tidy,
}

/// A raise of `tokens` and `micros` millionths of a US dollar.
pub fn raise_of(tokens: u64, micros: u64) -> Raise {
    Raise {
        tokens,
        usd: micros as f64 / 1_000_000.0,
    }
}

impl Action {
    /// The action of vnx command `command` on dispatch `id`, when it needs nothing more (no
    /// text, no plan read, no raise): what a dashboard key or a page button of the table
    /// does.
    pub fn on(command: &str, id: DispatchId) -> Option<Action> {
        Some(match command {
            "attach" => Action::Attach(id),
            "approve" => Action::Approve(id, Reply::default()),
            "deny" => Action::Deny(id, Reply::default()),
            "accept" => Action::Accept(id),
            "dismiss" => Action::Dismiss(id),
            "cancel" => Action::Cancel(id),
            "resume" => Action::Move(id, None),
            "gate-check" => Action::GateCheck(id),
            "merge" => Action::Merge(id),
            "worktree-release" => Action::Release(id),
            "clean" => Action::Clean(id),
            _ => return None,
        })
    }

    /// The vnx arguments that carry it out.
    pub fn argv(&self) -> Vec<String> {
        let mut argv: Vec<String> = self.command().split(' ').map(str::to_owned).collect();
        let id = self.dispatch_id().map(|id| id.to_string());
        match self {
            // `=` and `--`: a text that starts with `-` is not an option.
            Action::FollowUp(_, text) => {
                argv.extend(id);
                argv.extend(["--detach".to_owned(), format!("--instruction={text}")]);
            }
            Action::Comment(_, at, text) => {
                argv.extend(id);
                argv.extend(["--comment", at, "--", text].map(str::to_owned));
            }
            Action::SendReview(_) => argv.extend(id.into_iter().chain(["--send".to_owned()])),
            Action::Approve(_, reply) | Action::Deny(_, reply) => {
                argv.extend(id);
                if let Some(sha) = &reply.plan_sha256 {
                    argv.extend(["--plan-sha256".to_owned(), sha.clone()]);
                }
                argv.extend(reply.message.iter().map(|m| format!("--message={m}")));
            }
            Action::RaiseBudget(_, tokens, micros) => {
                argv.extend(id);
                argv.extend(["--budget".to_owned(), raise_of(*tokens, *micros).text()]);
            }
            Action::Release(_) => argv.extend(["--apply".to_owned()].into_iter().chain(id)),
            Action::Clean(_) => argv.extend(id.into_iter().chain(["--yes".to_owned()])),
            Action::Move(_, to) => {
                argv.extend(id);
                // `=`: a name that starts with `-` is not an option.
                argv.push(
                    to.as_ref()
                        .map_or("--to".to_owned(), |t| format!("--to={t}")),
                );
            }
            Action::Tidy => argv.push("--yes".to_owned()),
            _ => argv.extend(id),
        }
        argv
    }

    /// The vnx command that does it, as the table names it.
    pub fn command(&self) -> &'static str {
        match self {
            Action::Attach(_) => "attach",
            Action::FollowUp(..) => "follow-up",
            Action::Comment(..) | Action::SendReview(_) => "review",
            Action::Approve(..) | Action::RaiseBudget(..) => "approve",
            Action::Deny(..) => "deny",
            Action::Accept(_) => "accept",
            Action::Dismiss(_) => "dismiss",
            Action::Cancel(_) => "cancel",
            Action::Move(..) => "resume",
            Action::GateCheck(_) => "gate-check",
            Action::Merge(_) => "merge",
            Action::Release(_) => "worktree-release",
            Action::Clean(_) => "clean",
            Action::Tidy => "tidy",
        }
    }

    /// Its row of the table.
    pub fn row(&self) -> &'static table::Row {
        table::by_command(self.command()).expect("every action is in the table")
    }

    /// Whether a front end asks the person before doing it (the table's word).
    pub fn needs_confirmation(&self) -> bool {
        self.row().asks_first
    }

    /// The question a confirmation asks.
    pub fn question(&self) -> String {
        match self {
            Action::Approve(
                id,
                Reply {
                    plan_sha256: None, ..
                },
            ) => format!("allow what {id}'s worker asks to do?"),
            Action::RaiseBudget(id, tokens, micros) => format!(
                "raise {id}'s budget by {} and let its worker go on?",
                raise_of(*tokens, *micros).words()
            ),
            Action::Deny(
                id,
                Reply {
                    plan_sha256: None, ..
                },
            ) => format!("refuse what {id}'s worker asks to do?"),
            Action::Accept(id) => {
                format!("accept {id}'s work as done, committing what it left?")
            }
            Action::Dismiss(id) => format!("dismiss {id}'s question without answering it?"),
            Action::Cancel(id) => format!("cancel {id}? its worker is stopped"),
            Action::Move(id, to) => format!(
                "move {id} to {}? it ends here and a follow-up there continues its work",
                to.as_deref().unwrap_or("the next CLI its role names")
            ),
            Action::Merge(id) => format!("merge {id} into its base?"),
            Action::Release(id) => format!("release {id}'s worktree and branch?"),
            Action::Clean(id) => {
                format!("discard {id}'s worktree and branch, uncommitted files included?")
            }
            Action::Tidy => {
                "release every settled worktree and branch (unlanded work is kept)?".to_owned()
            }
            other => format!("run vnx {}?", other.argv().join(" ")),
        }
    }

    /// The dispatch it acts on (`None` for one that acts on every dispatch).
    pub fn dispatch_id(&self) -> Option<&DispatchId> {
        match self {
            Action::Attach(id)
            | Action::FollowUp(id, _)
            | Action::Comment(id, ..)
            | Action::SendReview(id)
            | Action::Approve(id, _)
            | Action::Deny(id, _)
            | Action::RaiseBudget(id, ..)
            | Action::Accept(id)
            | Action::Dismiss(id)
            | Action::Cancel(id)
            | Action::Move(id, _)
            | Action::GateCheck(id)
            | Action::Merge(id)
            | Action::Release(id)
            | Action::Clean(id) => Some(id),
            Action::Tidy => None,
        }
    }

    /// Whether the state of its dispatch, `s`, calls for it where a front end offers it only
    /// then (the page's buttons, the table's `button`).
    pub fn called_for(&self, s: &crate::dispatch::view::DispatchState) -> bool {
        use crate::dispatch::view::State;
        let done = State::Ended(crate::receipts::DispatchStatus::Done);
        match self {
            Action::Cancel(_) => s.state.is_live() || s.state == State::Queued,
            Action::GateCheck(_) | Action::Merge(_) => s.landed.is_none() && s.state == done,
            Action::Move(..) => s.state == State::Limited,
            _ => false,
        }
    }

    /// What it is called where a refusal names it (`approve`, `raise the budget of`).
    fn doing(&self) -> &'static str {
        match self {
            Action::RaiseBudget(..) => "raise the budget of",
            other => other.command(),
        }
    }
}

/// What the front end resolved from its settings that an action needs.
pub struct Settings {
    /// How the ledger is anchored after gates ran or a merge.
    pub anchoring: Anchoring,
    /// Constraint overrides a follow-up carries, as [`crate::dispatch::Request::overrides`].
    pub overrides: BTreeSet<String>,
    /// Their reasons.
    pub override_reasons: BTreeMap<String, String>,
}

/// What became of an action.
#[derive(Debug)]
pub enum Done {
    /// The prompt answered, or the plan decided.
    Answered(super::plan::Answered),
    /// The budget raised, and the follow-up that goes on.
    Raised(super::budget::Raised),
    /// The work accepted.
    Accepted(DispatchAccepted),
    /// The worktree released or its work discarded (`did` says which), or kept and why.
    Released(crate::release::Item, &'static str),
    /// Nothing was there to discard.
    NothingToDiscard,
    /// The gates' report, and why the ledger could not be anchored after, if it could not.
    Gated(crate::gate::Report, Option<String>),
    /// The merge's entry: merged, or why not.
    Merged(Box<crate::merge::Entry>),
    /// The comment recorded, where it is.
    Commented(crate::review::Anchor),
    /// The open comments sent, and the follow-up that carries them.
    Sent(super::review::Sending, Begun),
    /// The follow-up started, here or in its place.
    FollowedUp(Begun),
    /// Stopped, here or in its place (or not, as it says).
    Cancelled(super::cancel::OneStopped),
    /// Moved to another CLI, and the follow-up that continues it there.
    Moved(super::limit_move::Moved),
    /// The question closed.
    Dismissed(DispatchDismissed),
    /// The tidy pass.
    Tidied(crate::release::tidy::Tidy),
}

impl Done {
    /// Its exit status as the vnx command of the same name gives it: 0 done as asked, 1 a
    /// negative verdict (a gate held, not merged, not stopped), 3 it failed.
    pub fn code(&self) -> i32 {
        use crate::merge::EntryResult::{AlreadyMerged, Mergeable, Merged};
        match self {
            Done::Released(item, _) if item.done.as_ref().is_some_and(|d| d.error.is_some()) => 3,
            Done::Tidied(found) if found.failed() => 3,
            Done::Gated(report, _) => i32::from(report.decision == crate::gate::Decision::Hold),
            Done::Merged(entry) => {
                i32::from(!matches!(entry.result, Merged | Mergeable | AlreadyMerged))
            }
            Done::Cancelled(super::cancel::OneStopped::OnHost { status, .. }) => {
                status.unwrap_or(3)
            }
            Done::Cancelled(super::cancel::OneStopped::Here(s)) => i32::from(!s.as_asked()),
            _ => 0,
        }
    }

    /// The line that says what became of it.
    pub fn line(&self) -> String {
        match self {
            Done::Answered(answered) => answered.line(),
            Done::Raised(raised) => super::budget::line(raised),
            Done::Accepted(receipt) => super::accept::lines(receipt).pop().unwrap_or_default(),
            Done::Released(item, did) => done_line(item, did),
            Done::NothingToDiscard => "nothing to discard".to_owned(),
            Done::Gated(report, anchored) => {
                let held = report.decision == crate::gate::Decision::Hold;
                let mut said = if held { "HOLD" } else { "GO" }.to_owned();
                for why in report.reasons.iter().chain(anchored) {
                    said.push_str(&format!("; {why}"));
                }
                said
            }
            Done::Merged(entry) => entry.plan.as_ref().map_or_else(
                || super::merge::result_name(entry.result).to_owned(),
                |plan| super::merge::said(entry, plan),
            ),
            Done::Commented(at) => format!("comment on {at} recorded"),
            Done::Sent(sending, begun) => format!("{}; {}", sending.line(), started(begun)),
            Done::FollowedUp(begun) => started(begun),
            Done::Cancelled(stopped) => stopped.line(),
            Done::Moved(moved) => moved.line(),
            Done::Dismissed(receipt) => super::dismiss::line(receipt),
            Done::Tidied(found) => {
                let released = found.released();
                format!(
                    "{released} released, {} kept",
                    found.entries.len() - released
                )
            }
        }
    }

    /// The follow-up it started, when it started one.
    pub fn follow_up(&self) -> Option<&DispatchId> {
        match self {
            Done::Answered(answered) => answered.follow_up(),
            Done::Raised(raised) => Some(raised.follow_up.id()),
            Done::Sent(_, begun) | Done::FollowedUp(begun) => Some(begun.id()),
            Done::Moved(moved) => Some(moved.follow_up.id()),
            _ => None,
        }
    }
}

/// What a line says of a follow-up started: on the host its dispatch ran on, or here (the
/// dispatch followed up is named already).
fn started(begun: &Begun) -> String {
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

/// Does `action` at `desk` as its vnx command would, once who acts was found free to decide
/// for its dispatch when the action decides (`guard::may_govern`): what became of it.
/// Attaching takes a terminal, which the front end has: [`ActionError::TakesTheTerminal`].
pub fn act(desk: &Desk<'_>, action: &Action, settings: &Settings) -> Result<Done, ActionError> {
    let Some(id) = action.dispatch_id() else {
        return Ok(Done::Tidied(super::release::tidy(
            desk, "HEAD", "origin", true,
        )?));
    };
    if let Some(actor) = desk.actor.filter(|_| action.row().governs) {
        super::guard::may_govern(desk.ctx.ledger, actor, action.doing(), id)?;
    }
    let answer = |decision, reply: &Reply| {
        let (message, seen) = (reply.message.as_deref(), reply.plan_sha256.as_deref());
        super::plan::answer(desk, id, decision, message, seen, &|_| {})
    };
    Ok(match action {
        Action::Attach(_) => return Err(ActionError::TakesTheTerminal { id: id.clone() }),
        Action::Approve(_, reply) => Done::Answered(answer(PermissionAnswer::Approve, reply)?),
        Action::Deny(_, reply) => Done::Answered(answer(PermissionAnswer::Deny, reply)?),
        Action::RaiseBudget(_, tokens, micros) => Done::Raised(super::budget::raise(
            desk,
            id,
            &raise_of(*tokens, *micros),
            &|_| {},
        )?),
        Action::Accept(_) => Done::Accepted(super::accept::accept(desk, id, None)?),
        Action::Release(_) | Action::Clean(_) => release(desk, action, id)?,
        Action::GateCheck(_) => {
            let report = super::gate::check(desk, id, &|_| {})?;
            Done::Gated(report, super::gate::anchor(desk, &settings.anchoring).err())
        }
        Action::Merge(_) => {
            let merging = super::merge::Merging {
                check_only: false,
                override_group: false,
                anchoring: settings.anchoring.clone(),
                as_given: true,
            };
            let mut entries = super::merge::merge(desk, from_ref(id), &merging, &|_| {})?;
            Done::Merged(Box::new(entries.remove(0)))
        }
        Action::Comment(_, at, text) => {
            let at = crate::review::Anchor::parse(at)?;
            super::review::comment(desk, id, &at, text)?;
            Done::Commented(at)
        }
        Action::SendReview(_) => {
            let (sending, begun) = super::review::send_and_start(desk, id, &|_| {})?;
            Done::Sent(sending, begun)
        }
        Action::FollowUp(_, text) => {
            let asked = FollowUp {
                instruction: text.clone(),
                overrides: settings.overrides.clone(),
                override_reasons: settings.override_reasons.clone(),
                ..FollowUp::of(id.clone())
            };
            Done::FollowedUp(super::follow_up::begin(desk, &asked, &|_| {})?)
        }
        Action::Dismiss(_) => {
            let which = super::dismiss::Which {
                ids: vec![id.clone()],
                selection: None,
            };
            let (_, done) = super::dismiss::dismiss(desk, &which, None)?.remove(0);
            Done::Dismissed(done?)
        }
        Action::Cancel(_) => Done::Cancelled(super::cancel::cancel_one(desk, id)?),
        Action::Move(_, to) => Done::Moved(super::limit_move::move_limited(
            desk,
            id,
            to.as_deref(),
            &|_| {},
        )?),
        Action::Tidy => unreachable!("tidy names no dispatch"),
    })
}

/// Releases dispatch `id`'s worktree and branch, or discards its work.
fn release(desk: &Desk<'_>, action: &Action, id: &DispatchId) -> Result<Done, ActionError> {
    let ledger = desk.ctx.ledger.to_owned();
    let mut preserved = Preserved::read(desk, ledger, "HEAD", "origin")?;
    if let Action::Release(_) = action {
        preserved.only(from_ref(id))?;
        preserved.release(desk)?;
        return Ok(Done::Released(preserved.plan.items.remove(0), "released"));
    }
    let mut chosen = preserved.to_discard(from_ref(id), &[])?;
    if chosen.is_empty() {
        return Ok(Done::NothingToDiscard);
    }
    preserved.discard(desk, &mut chosen)?;
    Ok(Done::Released(chosen.remove(0), "discarded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_a_vnx_command_and_the_deciding_ones_ask() {
        let id = DispatchId::parse("D-0a1b2c3d4e5f").unwrap();
        let plan = Reply {
            plan_sha256: Some("ab12".into()),
            message: Some("-v first".into()),
        };
        let all = [
            (Action::Attach(id.clone()), "attach D-0a1b2c3d4e5f", false),
            (
                Action::FollowUp(id.clone(), "go on".into()),
                "follow-up D-0a1b2c3d4e5f --detach --instruction=go on",
                false,
            ),
            (
                Action::Comment(id.clone(), "a.rs:3".into(), "-no".into()),
                "review D-0a1b2c3d4e5f --comment a.rs:3 -- -no",
                false,
            ),
            (
                Action::SendReview(id.clone()),
                "review D-0a1b2c3d4e5f --send",
                false,
            ),
            (
                Action::Approve(id.clone(), Reply::default()),
                "approve D-0a1b2c3d4e5f",
                true,
            ),
            (
                Action::Deny(id.clone(), plan),
                "deny D-0a1b2c3d4e5f --plan-sha256 ab12 --message=-v first",
                true,
            ),
            (
                Action::RaiseBudget(id.clone(), 5, 2_000_000),
                "approve D-0a1b2c3d4e5f --budget +5,+$2",
                true,
            ),
            (Action::Accept(id.clone()), "accept D-0a1b2c3d4e5f", true),
            (Action::Dismiss(id.clone()), "dismiss D-0a1b2c3d4e5f", true),
            (Action::Cancel(id.clone()), "cancel D-0a1b2c3d4e5f", true),
            (
                Action::Move(id.clone(), Some("-x".into())),
                "resume D-0a1b2c3d4e5f --to=-x",
                true,
            ),
            (
                Action::Move(id.clone(), None),
                "resume D-0a1b2c3d4e5f --to",
                true,
            ),
            (
                Action::GateCheck(id.clone()),
                "gate-check D-0a1b2c3d4e5f",
                false,
            ),
            (Action::Merge(id.clone()), "merge D-0a1b2c3d4e5f", true),
            (
                Action::Release(id.clone()),
                "worktree-release --apply D-0a1b2c3d4e5f",
                true,
            ),
            (
                Action::Clean(id.clone()),
                "clean D-0a1b2c3d4e5f --yes",
                true,
            ),
        ];
        for (action, argv, asks) in all {
            assert_eq!(action.argv().join(" "), argv);
            if let Some(plain) = Action::on(action.command(), id.clone()) {
                assert_eq!(plain.command(), action.command());
            }
            assert_eq!(action.needs_confirmation(), asks, "{action:?}");
            assert_eq!(action.dispatch_id(), Some(&id));
        }
        // What a front end draws from the table (a key, a button, a tool) needs the id only.
        for row in table::ACTIONS {
            let drawn = row.key.is_some() || row.button.is_some() || row.tool_says.is_some();
            assert!(
                !drawn || Action::on(row.command, id.clone()).is_some(),
                "{row:?}"
            );
        }
        // Tidy acts on every dispatch, not the selected one.
        assert_eq!(Action::Tidy.argv().join(" "), "tidy --yes");
        assert!(Action::Tidy.needs_confirmation());
        assert_eq!(Action::Tidy.dispatch_id(), None);
    }
}
