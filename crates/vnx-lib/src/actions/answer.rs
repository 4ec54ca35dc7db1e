//! Approving or denying a blocked dispatch's pending prompt (`vnx approve`, `vnx deny`, the
//! dashboard's `p` and `n`): through its CLI's waiting hook, or by the keys its dialog takes
//! typed into its pane, recorded by a signed `dispatch_answered`.

use std::time::Duration;

use super::{ActionError, Desk};
use crate::dispatch::answer::{self, Answering};
use crate::dispatch::answering;
use crate::ids::DispatchId;
use crate::place_name::PlaceName;
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
    // An answer given before by a command that ended before it recorded it (the worker went
    // on): recorded now, which is what this rerun asked for.
    if let Some(done) = conclude(desk, &states)?
        .into_iter()
        .find(|r| r.dispatch_id == *id)
    {
        return Ok(done);
    }
    answer_state(desk, state, decision, message)
}

/// Concludes the answers under way whose workers went on (see
/// [`crate::dispatch::answering`]), `states` the dispatches as read now.
pub fn conclude(
    desk: &Desk<'_>,
    states: &[crate::dispatch::view::DispatchState],
) -> Result<Vec<DispatchAnswered>, ActionError> {
    let data_dir = desk.ctx.project.data_dir();
    let c = answering::Concluding {
        data_dir: &data_dir,
        ledger: desk.ctx.ledger,
        attestor: desk.ctx.attestor,
        trusted: desk.trusted,
    };
    Ok(answering::conclude(&c, states)?)
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
    // A dispatch that runs in a place is answered there, by the place's own vnx.
    let in_place = |place: &PlaceName, decision: PermissionAnswer, message: Option<&str>| {
        let mut args = vec![decision.name().to_owned(), state.id.to_string()];
        if let Some(m) = message {
            args.extend(["--message".to_owned(), m.to_owned()]);
        }
        let told = super::remote::ask(desk, place, &args, std::slice::from_ref(&state.id))
            .map_err(|e| e.to_string())?;
        match told.status {
            Some(0) => Ok(()),
            status => Err(format!(
                "its place's `vnx {}` exited {}: {}",
                decision.name(),
                status.map_or_else(|| "killed".to_owned(), |s| s.to_string()),
                crate::forge::text::line(&told.stderr, 300)
            )),
        }
    };
    let give = (state.place.place())
        .map(|place| move |d: PermissionAnswer, m: Option<&str>| in_place(place, d, m));
    let answering = Answering {
        ledger: desk.ctx.ledger,
        data_dir: &data_dir,
        fallback: desk.ctx.tmux,
        attestor: desk.ctx.attestor,
        by: desk.by,
        hook_wait: HOOK_WAIT,
        place: give.as_ref().map(|g| g as &answer::GiveInPlace<'_>),
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
        (None, None) => {
            // Its question, else its first line, without a box drawn around it.
            let lines = || {
                (receipt.pane_dialog.iter())
                    .flat_map(|d| {
                        d.lines()
                            .map(|l| crate::provider::dialog::unboxed(l).trim())
                    })
                    .filter(|l| !l.is_empty())
            };
            (lines().find(|l| l.ends_with('?')))
                .or_else(|| lines().next())
                .map_or_else(|| "its prompt".to_owned(), |l| format!("the dialog {l:?}"))
        }
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
        AnsweredVia::Place => "by its place's vnx, where it runs".to_owned(),
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
        r.pane_dialog = Some("╭────╮\n│ Create file │\n│ Do you want to create a.txt? │\n".into());
        assert_eq!(what(&r), "the dialog \"Do you want to create a.txt?\"");
        r.pane_dialog = Some("╭────╮\n│ Create file │\n".into());
        assert_eq!(what(&r), "the dialog \"Create file\"");
        r.tool = Some("web_fetch".into());
        assert_eq!(what(&r), "web_fetch");
        r.command = Some("git push".into());
        assert_eq!(line(&r), "approved: git push  (by typing 1 in its pane)");
    }
}
