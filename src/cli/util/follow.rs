//! Starting a follow-up (an ended dispatch continued with a new instruction, in its worktree,
//! on its branch and in its CLI session) from the command line: here, through the library's
//! action, or on the host the dispatch ran on, through that host's vnx. `vnx follow-up`,
//! `vnx pr fix` and `vnx resume` each build the `FollowUp` and start it here.

use std::process::ExitCode;

use vnx::actions::ActionError;
use vnx::actions::follow_up::{self, FollowUp, Told};

use crate::cli::CliError;
use crate::cli::util::context::desk_in;
use crate::cli::util::launch::Started;
use crate::cli::util::output::{escape, say};

/// Starts the follow-up `asked` describes as `started` says (detached or waited for): here,
/// or on the host its dispatch ran on, as the library's `follow_up::place` decides.
pub(crate) fn start(
    project: &vnx::project::Project,
    asked: &FollowUp,
    started: &Started,
    tmux_socket: Option<String>,
) -> Result<ExitCode, CliError> {
    match follow_up::place(project, asked) {
        Err(ActionError::RebaseOnHost { id, place }) => {
            return Err(CliError::usage(format!(
                "{id} ran on {place}: --rebase brings only a local dispatch onto its base"
            )));
        }
        Ok(Some(place)) => {
            return crate::cli::util::remote::dispatch(
                place.host(),
                asked.on_host_request(),
                None,
                started.detach,
                started.json,
            );
        }
        Ok(None) => {}
        Err(e) => return Err(e.into()),
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
