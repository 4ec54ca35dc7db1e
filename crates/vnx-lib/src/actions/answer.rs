//! Approving or denying a blocked dispatch's pending prompt (`vnx approve`, `vnx deny`, the
//! dashboard's `p` and `n`): through its CLI's waiting hook, or by the keys its dialog takes
//! typed into its pane, recorded by a signed `dispatch_answered`.

use std::time::Duration;

use super::{ActionError, Desk};
use crate::dispatch::answer::{self, Answering};
use crate::ids::DispatchId;
use crate::receipts::{AnsweredVia, DispatchAnswered, PermissionAnswer};

/// How long a waiting hook has to take an answer before the pane is used.
pub const HOOK_WAIT: Duration = Duration::from_secs(5);

/// Answers dispatch `id`'s pending prompt with `decision` (a denial may say why).
pub fn answer(
    desk: &Desk<'_>,
    id: &DispatchId,
    decision: PermissionAnswer,
    message: Option<&str>,
) -> Result<DispatchAnswered, ActionError> {
    let states = desk.states()?;
    let state = Desk::named(&states, std::slice::from_ref(id))?[0];
    answer_state(desk, state, decision, message)
}

/// [`answer()`] for the dispatch as `state` shows it, read by the caller (who checked what it
/// waits for: a signed link, `actions::link`).
pub fn answer_state(
    desk: &Desk<'_>,
    state: &crate::dispatch::view::DispatchState,
    decision: PermissionAnswer,
    message: Option<&str>,
) -> Result<DispatchAnswered, ActionError> {
    let data_dir = desk.ctx.project.data_dir();
    let answering = Answering {
        ledger: desk.ctx.ledger,
        data_dir: &data_dir,
        fallback: desk.ctx.tmux,
        attestor: desk.ctx.attestor,
        by: desk.by,
        hook_wait: HOOK_WAIT,
    };
    Ok(answer::answer(&answering, state, decision, message)?)
}

/// What was answered, as a line names it: the command (or file) asked about, else the tool,
/// else the first line of the dialog the pane showed (a CLI's dialog that names neither),
/// else "its prompt". Worker text: a front end escapes it.
pub fn what(receipt: &DispatchAnswered) -> String {
    match (&receipt.tool, &receipt.command) {
        (_, Some(c)) => c.clone(),
        (Some(t), None) => t.clone(),
        (None, None) => receipt
            .pane_dialog
            .as_deref()
            .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
            .map_or_else(|| "its prompt".to_owned(), |l| format!("the dialog {l:?}")),
    }
}

/// The line that says what became of an answer: `approved: git push  (through its
/// permission hook)`. Worker text unescaped: a front end escapes it.
pub fn line(receipt: &DispatchAnswered) -> String {
    let how = match receipt.via {
        AnsweredVia::Hook => "through its permission hook".to_owned(),
        AnsweredVia::Pane => format!(
            "by typing {} in its pane",
            receipt.keys.as_deref().unwrap_or_default()
        ),
    };
    let verb = match receipt.answer {
        PermissionAnswer::Approve => "approved",
        PermissionAnswer::Deny => "denied",
    };
    format!("{verb}: {}  ({how})", what(receipt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_names_the_dialog_when_nothing_else_is_known() {
        let mut r: DispatchAnswered = serde_json::from_value(serde_json::json!({
            "dispatch_id": "D-0123456789ab", "answer": "approve", "by": "ana",
            "source": "screen", "via": "pane", "keys": "1",
        }))
        .unwrap();
        assert_eq!(what(&r), "its prompt");
        r.pane_dialog = Some("\n  Allow fetching https://example.com?\n  1. Yes\n".into());
        assert_eq!(
            what(&r),
            "the dialog \"Allow fetching https://example.com?\""
        );
        r.tool = Some("web_fetch".into());
        assert_eq!(what(&r), "web_fetch");
        r.command = Some("git push".into());
        assert_eq!(line(&r), "approved: git push  (by typing 1 in its pane)");
    }
}
