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
        view => match model::detail_of(src, &s) {
            Some(d) if view == View::Receipts => receipts_text(&d),
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
            crate::shown::short(g.head_commit.as_str()),
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

pub use crate::action::Outcome;
