//! A blocked dispatch's pending prompt answered (`vnx approve`, `vnx deny`): through its
//! CLI's waiting hook, or by the keys its dialog takes typed into its pane, with a signed
//! `dispatch_answered`.

use std::process::ExitCode;
use std::time::Duration;

use vnx::dispatch::answer::{self, Answering};
use vnx::dispatch::view;
use vnx::receipts::PermissionAnswer;
use vnx::tmux::Tmux;

use crate::cli::CliError;
use crate::cli::util::output::Out;
use crate::cli::util::settings;

/// How long a waiting hook has to take an answer before the pane is used.
const HOOK_WAIT: Duration = Duration::from_secs(5);

/// Answers dispatch `id`'s pending prompt (`vnx approve` and `vnx deny`).
pub(crate) fn answer_one(
    id: &str,
    decision: PermissionAnswer,
    message: Option<&str>,
    json: bool,
    tmux_socket: Option<String>,
) -> Result<ExitCode, CliError> {
    crate::cli::util::ids::check_dispatch_id(id)?;
    let (project, ids) = crate::cli::util::ids::project_for(&[id.to_owned()])?;
    let ledger = project.ledger();
    let tmux = Tmux::new(settings::tmux_socket(tmux_socket));
    let states = if ledger.exists() {
        view::list(&ledger, &tmux)?
    } else {
        Vec::new()
    };
    let state = crate::cli::util::ids::named_dispatches(&states, &ids)?[0];
    let attestor = settings::attestor(None)?;
    let by = settings::user();
    let data_dir = project.data_dir();
    let answering = Answering {
        ledger: &ledger,
        data_dir: &data_dir,
        fallback: &tmux,
        attestor: &attestor,
        by: &by,
        hook_wait: HOOK_WAIT,
    };
    let receipt = answer::answer(&answering, state, decision, message)?;
    let mut out = Out::new();
    if json {
        out.json(&receipt)?;
    } else {
        let what = answered(&receipt);
        let how = match receipt.via {
            vnx::receipts::AnsweredVia::Hook => "through its permission hook".to_owned(),
            vnx::receipts::AnsweredVia::Pane => format!(
                "by typing {} in its pane",
                receipt.keys.as_deref().unwrap_or_default()
            ),
        };
        let verb = match decision {
            PermissionAnswer::Approve => "approved",
            PermissionAnswer::Deny => "denied",
        };
        // The whole id, not the prefix typed.
        let id = &receipt.dispatch_id;
        out.line(&format!(
            "{id}  {verb}: {}  ({how})",
            crate::cli::util::output::escape(&what)
        ))?;
        // The request is what a hook call in the worker's dispatch said; the pane is what vnx
        // could look at.
        match &receipt.pane_dialog {
            Some(dialog) => {
                out.line("  its pane showed:")?;
                for line in dialog.lines() {
                    out.line(&format!("    {}", crate::cli::util::output::escape(line)))?;
                }
            }
            None => crate::cli::util::output::say!(
                "warning: no permission dialog was on {id}'s pane: {} is only what a hook call \
                 in its dispatch said, which its worker can make itself (the receipt records \
                 no pane_dialog)",
                what
            ),
        }
    }
    Ok(crate::cli::util::error::Exit::Ok.into())
}

/// What was answered, as the line after `approved:`/`denied:` names it: the command (or file)
/// asked about, else the tool, else the first line of the dialog the pane showed (a CLI's
/// dialog that names neither), else "its prompt".
fn answered(receipt: &vnx::receipts::DispatchAnswered) -> String {
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

#[cfg(test)]
mod tests {
    use super::answered;

    #[test]
    fn an_answer_names_the_dialog_when_nothing_else_is_known() {
        let mut r: vnx::receipts::DispatchAnswered = serde_json::from_value(serde_json::json!({
            "dispatch_id": "D-0123456789ab", "answer": "approve", "by": "ana",
            "source": "screen", "via": "pane", "keys": "1",
        }))
        .unwrap();
        assert_eq!(answered(&r), "its prompt");
        r.pane_dialog = Some("\n  Allow fetching https://example.com?\n  1. Yes\n".into());
        assert_eq!(
            answered(&r),
            "the dialog \"Allow fetching https://example.com?\""
        );
        r.tool = Some("web_fetch".into());
        assert_eq!(answered(&r), "web_fetch");
        r.command = Some("git push".into());
        assert_eq!(answered(&r), "git push");
    }
}
