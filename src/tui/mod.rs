//! The live dashboard's terminal side: the keys, confirmations and clock (`app`), the drawing
//! (`ui`), what the lower pane shows, and the actions: the library's (`vnx::actions`, done by
//! `vnx dashboard`) where there is one, else carried out by the vnx command that does it in
//! the shell. What it shows is the library's `vnx::dashboard`; the terminal and its
//! event loop are `vnx dashboard`'s (`cli/dashboard`).

pub mod app;
pub mod ui;

use std::path::Path;

pub use app::{Action, App, Effect, KEYS, Key, Mode, View};

use vnx::dashboard::{Sources, model};
use vnx::process::{self, Cmd};

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
    /// What it said, on one line (see `summarize`).
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

/// Runs the vnx command of `action` (`vnx` is vnx's own binary) in the project `root`, and
/// says how it ended. Attaching needs the terminal: the caller does that one.
pub fn run_action(vnx: &Path, root: &Path, action: &Action) -> Outcome {
    let cmd = Cmd::new(vnx).args(action.argv()).cwd(root);
    let gate = matches!(action, Action::GateCheck(_));
    let (code, summary) = match process::run(&cmd) {
        Ok(out) => (out.status.code(), summarize(&out.stdout, &out.stderr, gate)),
        Err(e) => (None, e.to_string()),
    };
    Outcome {
        action: action.clone(),
        code,
        summary,
    }
}

/// One line for the footer: the error when the command failed, else its first (`first`) or
/// last line of output, with why it holds when a gate check holds.
fn summarize(stdout: &[u8], stderr: &[u8], first: bool) -> String {
    let lines = |bytes: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| model::plain(l).trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    };
    let (out, err) = (lines(stdout), lines(stderr));
    if let Some(e) = err.iter().find_map(|l| l.strip_prefix("error: ")) {
        return e.to_owned();
    }
    // A gate check's verdict is its first line; other commands end with what they did.
    let verdict = if first { out.first() } else { out.last() };
    let mut summary = verdict.or(err.last()).cloned().unwrap_or_default();
    if let Some(hold) = out.iter().find(|l| l.starts_with("hold: ")) {
        summary = format!("{summary}: {hold}");
    }
    summary
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
