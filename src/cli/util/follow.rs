//! Starting a follow-up (an ended dispatch continued with a new instruction, in its worktree,
//! on its branch and in its CLI session) from the command line: here, through the library's
//! action, or on the host the dispatch ran on, through that host's vnx. `vnx follow-up`,
//! `vnx pr fix` and `vnx resume` each build the `FollowUp` and start it here.

use std::process::ExitCode;

use vnx::actions::follow_up::{self, FollowUp, Told};

use crate::cli::CliError;
use crate::cli::util::context::desk_in;
use crate::cli::util::launch::{Started, flags, sandbox_flags};
use crate::cli::util::output::{escape, say};

/// Starts the follow-up `asked` describes as `started` says (detached or waited for): here,
/// or on the host its dispatch ran on.
pub(crate) fn start(
    project: &vnx::project::Project,
    asked: &FollowUp,
    started: &Started,
    tmux_socket: Option<String>,
) -> Result<ExitCode, CliError> {
    let id = &asked.id;
    if let Some(place) = crate::cli::util::hosts::place_of(project, id)? {
        if asked.rebase.is_some() {
            return Err(CliError::usage(format!(
                "{id} ran on {}: --rebase brings only a local dispatch onto its base",
                place.name()
            )));
        }
        return crate::cli::util::remote::dispatch(
            &place.host().name,
            remote_request(asked),
            None,
            started.detach,
            started.json,
        );
    }
    crate::cli::util::pending::finish_pending(project);
    desk_in(project, tmux_socket, None, |desk| {
        started.launch(desk, |note| {
            Ok(follow_up::follow_up(desk, asked, &|told| match told {
                Told::Start(n) => note(n),
                other => say!("{}", escape(&other.line())),
            })?)
        })
    })
}

/// The follow-up as the host's `vnx follow-up` takes it.
fn remote_request(asked: &FollowUp) -> vnx::remote::RemoteRequest {
    let mut a = flags([
        ("--instruction", Some(asked.instruction.clone())),
        ("--model", asked.model.clone()),
        // Only when given: a host's vnx from before titles takes none.
        ("--title", asked.title.clone()),
        ("--lane", asked.lane.map(|l| l.name().to_owned())),
        (
            "--permission",
            asked.permission.map(|p| p.name().to_owned()),
        ),
        ("--deadline", asked.deadline_secs.map(|d| d.to_string())),
        (
            "--stall-after",
            asked.stall_after.map(|d| d.as_secs().to_string()),
        ),
    ]);
    a.extend(sandbox_flags(asked.sandbox, asked.network));
    vnx::remote::RemoteRequest {
        id: asked.new_id.clone(),
        base_ref: String::new(),
        args: a,
        follows: Some(asked.id.to_string()),
        base_commit: None,
    }
}
