//! The live dashboard's terminal side: the keys, confirmations and clock (`app`), the drawing
//! (`ui`), what the lower pane shows, and the actions, each the library's (`vnx::actions`,
//! done by `vnx dashboard`) and named by the vnx command that does the same in the shell.
//! What it shows is the library's `vnx::dashboard`; the terminal and its event loop are `vnx
//! dashboard`'s (`cli/dashboard`).

pub mod app;
pub mod ui;

pub use app::{Action, App, Effect, KEYS, Key, Mode, View};

use vnx::dashboard::{Sources, model};

/// Reads what the lower pane shows of the selected dispatch in the current view: its pane
/// or log, its diff against its base, or its receipts.
pub fn load_content(app: &mut App, src: &Sources) {
    let Some(row) = app.row() else {
        app.content.clear();
        return;
    };
    let s = row.state.clone();
    app.content = match app.view {
        View::Pane => model::preview(&s, &src.root, &src.tmux),
        View::Diff => match model::detail_of(src, &s) {
            Some(d) => vnx::dispatch::detail::diff(&src.root, &d, false)
                .map(|d| {
                    if d.trim().is_empty() {
                        "(no change against its base)".into()
                    } else {
                        d
                    }
                })
                .unwrap_or_else(|e| format!("no diff: {e}")),
            None => "(not on the ledger)".into(),
        },
        View::Receipts => match model::detail_of(src, &s) {
            Some(d) => receipts_text(&d),
            None => "(not on the ledger)".into(),
        },
    };
}

fn receipts_text(d: &vnx::dispatch::detail::Detail) -> String {
    let mut out = String::new();
    if let Some(evidence) = d.state.evidence() {
        out.push_str(&format!("proof: {evidence}\n"));
    }
    for g in &d.gates {
        out.push_str(&format!(
            "gate {}: {} at {}{}\n",
            g.gate,
            g.status,
            g.head_commit
                .as_str()
                .get(..12)
                .unwrap_or(g.head_commit.as_str()),
            g.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ));
    }
    out.push('\n');
    for r in &d.receipts {
        out.push_str(&format!("{r}\n"));
    }
    model::plain_lines(&out)
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
}

impl Outcome {
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
            (Action::Deny(id.clone()), "deny D-0a1b2c3d4e5f", true),
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
