//! `vnx approve ID`: allows a blocked worker's pending permission prompt, through its CLI's
//! own mechanism where one exists, else by its key in the pane; records who answered.

use std::process::ExitCode;
use std::time::Duration;

use vnx::dispatch::answer::{self, Answering};
use vnx::dispatch::view;
use vnx::receipts::PermissionAnswer;
use vnx::tmux::Tmux;

use super::CliError;
use super::output::Out;
use super::settings;

/// How long a waiting hook has to take an answer before the pane is used.
const HOOK_WAIT: Duration = Duration::from_secs(5);

/// Allow a blocked dispatch's pending permission prompt
///
/// The prompt `vnx status` shows as `blocked` is allowed once. A CLI whose permission hook
/// can wait for an answer is answered through it (the decision vnx's waiting hook returns);
/// for the others the key their prompt takes is typed into the worker's pane.
/// A signed `dispatch_answered` records who answered what, and how; the request it names is
/// what a hook call in the worker's dispatch said (`request_from: worker_hook`, which the
/// worker could make itself), beside the lines of the CLI's dialog its pane showed
/// (`pane_dialog`, absent when no dialog was there).
///
/// Exits 0 when answered, 1 when the dispatch waits for no permission decision, 2 for an id
/// that was never dispatched, 3 when the worker's pane could not be reached.
#[derive(clap::Args)]
pub struct Args {
    /// The dispatch id
    id: String,
    /// Print the `dispatch_answered` receipt as JSON
    #[arg(long)]
    json: bool,
    /// tmux socket name for a dispatch whose start records none [default:
    /// $VNX_TMUX_SOCKET, else vnx]
    #[arg(long, value_name = "NAME")]
    tmux_socket: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    answer_one(
        &args.id,
        PermissionAnswer::Approve,
        None,
        args.json,
        args.tmux_socket,
    )
}

/// Answers dispatch `id`'s pending prompt (`vnx approve` and `vnx deny`).
pub(super) fn answer_one(
    id: &str,
    decision: PermissionAnswer,
    message: Option<&str>,
    json: bool,
    tmux_socket: Option<String>,
) -> Result<ExitCode, CliError> {
    super::error::check_dispatch_id(id)?;
    let (project, ids) = settings::project_for(&[id.to_owned()])?;
    let ledger = project.ledger();
    let tmux = Tmux::new(settings::tmux_socket(tmux_socket));
    let states = if ledger.exists() {
        view::list(&ledger, &tmux)?
    } else {
        Vec::new()
    };
    let state = super::error::named_dispatches(&states, &ids)?[0];
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
            super::output::escape(&what)
        ))?;
        // The request is what a hook call in the worker's dispatch said; the pane is what vnx
        // could look at.
        match &receipt.pane_dialog {
            Some(dialog) => {
                out.line("  its pane showed:")?;
                for line in dialog.lines() {
                    out.line(&format!("    {}", super::output::escape(line)))?;
                }
            }
            None => super::output::say!(
                "warning: no permission dialog was on {id}'s pane: {} is only what a hook call \
                 in its dispatch said, which its worker can make itself (the receipt records \
                 no pane_dialog)",
                what
            ),
        }
    }
    Ok(super::error::Exit::Ok.into())
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
