//! The actions a front end does to dispatches — the dashboard's keys, the web page's buttons —
//! each named by the vnx command that does the same in the shell, and what became of one.
//! Doing them is the command line's (`cli/util/acts`), which hands that to the front ends.

use vnx::ids::DispatchId;

/// An action on one dispatch, as the vnx command that does it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Jump into its pane (`vnx attach`), and come back on detach.
    Attach(DispatchId),
    /// Continue it with a new instruction (`vnx follow-up --detach`).
    FollowUp(DispatchId, String),
    /// Comment on a line of its diff, `FILE:LINE` (`vnx review --comment`).
    Comment(DispatchId, String, String),
    /// Send its open review comments to its worker as one follow-up (`vnx review --send`).
    SendReview(DispatchId),
    /// Approve the plan it waits with, the one whose SHA-256 is given, with an optional note
    /// for the worker (`vnx approve --plan-sha256`).
    ApprovePlan(DispatchId, String, Option<String>),
    /// Send that plan back with what to change (`vnx deny --plan-sha256 --message`).
    DenyPlan(DispatchId, String, Option<String>),
    /// Allow its pending permission prompt (`vnx approve`).
    Approve(DispatchId),
    /// Raise the budget it stopped at by this many tokens and millionths of a US dollar and
    /// continue it (`vnx approve --budget +N,+$X`).
    RaiseBudget(DispatchId, u64, u64),
    /// Refuse its pending permission prompt, perhaps saying why (`vnx deny`).
    Deny(DispatchId, Option<String>),
    /// Accept its ended worker's work as done, committing what it left uncommitted first
    /// (`vnx accept`).
    Accept(DispatchId),
    /// Close its question without answering it (`vnx dismiss`).
    Dismiss(DispatchId),
    /// Stop it (`vnx cancel`).
    Cancel(DispatchId),
    /// Run its role's gates (`vnx gate-check`).
    GateCheck(DispatchId),
    /// Merge it into its base (`vnx merge`).
    Merge(DispatchId),
    /// Release its landed or pushed worktree and branch (`vnx worktree-release --apply`).
    Release(DispatchId),
    /// Discard its work (`vnx clean --yes`).
    Clean(DispatchId),
    /// Release every settled dispatch's worktree and branch, whichever is selected
    /// (`vnx tidy --yes`).
    Tidy,
}

impl Action {
    /// The vnx arguments that carry it out.
    pub fn argv(&self) -> Vec<String> {
        let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect();
        match self {
            Action::Attach(id) => v(&["attach", id.as_str()]),
            // `=`: an instruction that starts with `-` is not an option.
            Action::FollowUp(id, text) => vec![
                "follow-up".to_owned(),
                id.to_string(),
                "--detach".to_owned(),
                format!("--instruction={text}"),
            ],
            // `--`: a comment that starts with `-` is not an option.
            Action::Comment(id, at, text) => vec![
                "review".to_owned(),
                id.to_string(),
                "--comment".to_owned(),
                at.clone(),
                "--".to_owned(),
                text.clone(),
            ],
            Action::SendReview(id) => v(&["review", id.as_str(), "--send"]),
            Action::ApprovePlan(id, sha, note) | Action::DenyPlan(id, sha, note) => {
                let verb = if matches!(self, Action::ApprovePlan(..)) {
                    "approve"
                } else {
                    "deny"
                };
                let mut argv = v(&[verb, id.as_str(), "--plan-sha256", sha]);
                // `=`: a message that starts with `-` is not an option.
                argv.extend(note.iter().map(|n| format!("--message={n}")));
                argv
            }
            Action::Approve(id) => v(&["approve", id.as_str()]),
            Action::RaiseBudget(id, tokens, micros) => v(&[
                "approve",
                id.as_str(),
                "--budget",
                &raise_of(*tokens, *micros).text(),
            ]),
            Action::Deny(id, _) => v(&["deny", id.as_str()]),
            Action::Accept(id) => v(&["accept", id.as_str()]),
            Action::Dismiss(id) => v(&["dismiss", id.as_str()]),
            Action::Cancel(id) => v(&["cancel", id.as_str()]),
            Action::GateCheck(id) => v(&["gate-check", id.as_str()]),
            Action::Merge(id) => v(&["merge", id.as_str()]),
            Action::Release(id) => v(&["worktree-release", "--apply", id.as_str()]),
            Action::Clean(id) => v(&["clean", id.as_str(), "--yes"]),
            Action::Tidy => v(&["tidy", "--yes"]),
        }
    }

    /// Whether it decides something (lets a worker act or refuses it, settles, stops,
    /// merges or discards work), and so is confirmed first.
    pub fn needs_confirmation(&self) -> bool {
        vnx::actions::table::by_command(&self.argv()[0]).is_none_or(|r| r.asks_first)
    }

    /// The question a confirmation asks.
    pub fn question(&self) -> String {
        match self {
            Action::Approve(id) => format!("allow what {id}'s worker asks to do?"),
            Action::RaiseBudget(id, tokens, micros) => format!(
                "raise {id}'s budget by {} and let its worker go on?",
                raise_of(*tokens, *micros).words()
            ),
            Action::Deny(id, _) => format!("refuse what {id}'s worker asks to do?"),
            Action::Accept(id) => {
                format!("accept {id}'s work as done, committing what it left?")
            }
            Action::Dismiss(id) => format!("dismiss {id}'s question without answering it?"),
            Action::Cancel(id) => format!("cancel {id}? its worker is stopped"),
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
            | Action::ApprovePlan(id, ..)
            | Action::DenyPlan(id, ..)
            | Action::Approve(id)
            | Action::RaiseBudget(id, ..)
            | Action::Deny(id, _)
            | Action::Accept(id)
            | Action::Dismiss(id)
            | Action::Cancel(id)
            | Action::GateCheck(id)
            | Action::Merge(id)
            | Action::Release(id)
            | Action::Clean(id) => Some(id),
            Action::Tidy => None,
        }
    }
}

/// How an action's command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The action.
    pub action: Action,
    /// Its exit status (`None`: it could not be run, or a signal ended it).
    pub code: Option<i32>,
    /// What it said, on one line.
    pub summary: String,
    /// What to do about a refusal or failure, as the vnx command of the same name would
    /// print it after `hint:` (the library's word, never the front end's).
    pub hint: Option<String>,
}

impl Outcome {
    /// Whether it did what was asked (exit 0).
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// The line the footer shows.
    pub fn message(&self) -> String {
        let verdict = match self.code {
            Some(0) => "ok",
            Some(1) => "no",
            _ => "failed",
        };
        let id = (self.action.dispatch_id()).map_or(String::new(), |id| format!(" {id}"));
        format!(
            "vnx {}{id}: {verdict}: {}",
            self.action.argv()[0],
            self.summary
        )
    }
}

/// A raise of `tokens` and `micros` millionths of a US dollar.
pub fn raise_of(tokens: u64, micros: u64) -> vnx::dispatch::budget::Raise {
    vnx::dispatch::budget::Raise {
        tokens,
        usd: micros as f64 / 1_000_000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_a_vnx_command_and_the_deciding_ones_ask() {
        let id = vnx::ids::DispatchId::parse("D-0a1b2c3d4e5f").unwrap();
        let all = [
            (Action::Attach(id.clone()), "attach D-0a1b2c3d4e5f", false),
            (
                Action::FollowUp(id.clone(), "go on".into()),
                "follow-up D-0a1b2c3d4e5f --detach --instruction=go on",
                false,
            ),
            (Action::Approve(id.clone()), "approve D-0a1b2c3d4e5f", true),
            (Action::Deny(id.clone(), None), "deny D-0a1b2c3d4e5f", true),
            (Action::Accept(id.clone()), "accept D-0a1b2c3d4e5f", true),
            (Action::Dismiss(id.clone()), "dismiss D-0a1b2c3d4e5f", true),
            (Action::Cancel(id.clone()), "cancel D-0a1b2c3d4e5f", true),
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
            assert_eq!(action.needs_confirmation(), asks, "{action:?}");
            assert_eq!(action.dispatch_id(), Some(&id));
        }
        // Tidy acts on every dispatch, not the selected one.
        assert_eq!(Action::Tidy.argv().join(" "), "tidy --yes");
        assert!(Action::Tidy.needs_confirmation());
        assert_eq!(Action::Tidy.dispatch_id(), None);
    }
}
