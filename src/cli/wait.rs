//! `vnx wait`: blocks until dispatches have completion receipts.

use std::collections::BTreeMap;
use std::process::ExitCode;

use vnx::dispatch::view::{self, Waited};
use vnx::tmux::Tmux;

use super::CliError;
use super::output::Out;
use super::settings;

/// Wait for dispatches to complete
///
/// Exits 0 when every dispatch completed with status done, 1 otherwise (failed, needs input,
/// timed out, cancelled, its supervisor was lost, the phantom guard corrected a `done` of a
/// writing role that changed nothing, the id was never dispatched, or, with
/// --until-blocked, it is blocked). With --json a corrected dispatch prints the correction
/// receipt, a blocked one its `dispatch_blocked` receipt.
#[derive(clap::Args)]
pub struct Args {
    /// Dispatch ids
    #[arg(required = true, value_name = "ID")]
    ids: Vec<String>,
    /// Print the completion receipts as NDJSON
    #[arg(long)]
    json: bool,
    /// Also return when a dispatch is blocked: its worker waits for a permission answer
    /// (give it with `vnx attach ID`)
    #[arg(long)]
    until_blocked: bool,
    /// tmux socket name [default: $VNX_TMUX_SOCKET, else vnx]
    #[arg(long, value_name = "NAME")]
    tmux_socket: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    for id in &args.ids {
        super::error::check_dispatch_id(id)?;
    }
    let project = settings::project()?;
    settings::finish_pending(&project);
    let tmux = Tmux::new(settings::tmux_socket(args.tmux_socket));
    let mut waited = view::wait(&project.ledger(), &args.ids, &tmux, args.until_blocked)?;
    // A supervisor that could not append its completion left it pending: append it, and
    // read again before calling anything lost.
    if waited.values().any(|w| matches!(w, view::Waited::Lost)) {
        settings::finish_pending(&project);
        waited = view::wait(&project.ledger(), &args.ids, &tmux, args.until_blocked)?;
    }
    report(&mut Out::new(), &waited, args.json)
}

/// Prints outcomes; exit 0 only if every dispatch succeeded (see [`Waited::succeeded`]).
pub fn report(
    out: &mut Out,
    waited: &BTreeMap<String, Waited>,
    json: bool,
) -> Result<ExitCode, CliError> {
    for (id, w) in waited {
        match w {
            Waited::Completed(c) if json => {
                out.bytes_line(&c.line)?;
            }
            Waited::Completed(c) => {
                let r = &c.receipt;
                let line = format!(
                    "{id}  {} ({})  teardown {}  {}",
                    r.status,
                    r.completion_signal,
                    r.teardown_class.map_or("-", |t| t.name()),
                    r.failure_reason.as_deref().unwrap_or("")
                );
                out.line(line.trim_end())?;
            }
            Waited::Corrected { correction, .. } if json => {
                out.bytes_line(&correction.line)?;
            }
            Waited::Corrected {
                completion,
                correction,
            } => {
                let r = &completion.receipt;
                let c = correction.receipt.as_ref();
                out.line(&format!(
                    "{id}  {} (corrected: the worker's {} ({}) by the phantom guard)  teardown {}  {}",
                    c.map_or("failed", |c| c.status.name()),
                    r.status,
                    r.completion_signal,
                    r.teardown_class.map_or("-", |t| t.name()),
                    c.map_or("", |c| c.reason.as_str())
                ))?;
            }
            Waited::Lost if json => {
                out.json(&serde_json::json!({"dispatch_id": id, "status": "lost"}))?;
            }
            Waited::Lost => {
                out.line(&format!(
                    "{id}  lost: the supervisor ended without a completion receipt"
                ))?;
            }
            Waited::Blocked(line) if json => {
                out.bytes_line(line)?;
            }
            Waited::Blocked(line) => {
                let what = vnx::receipts::read_line::<vnx::receipts::DispatchBlocked>(line)
                    .map(|r| format!("waits for {}", r.receipt.describe()))
                    .unwrap_or_default();
                out.line(format!("{id}  blocked  {what}").trim_end())?;
            }
            Waited::Unknown if json => {
                out.json(&serde_json::json!({"dispatch_id": id, "status": "unknown"}))?;
            }
            Waited::Unknown => {
                out.line(&format!(
                    "{id}  unknown: never dispatched here (no dispatch_started on the ledger)"
                ))?;
            }
        }
    }
    Ok(if waited.values().all(Waited::succeeded) {
        super::error::Exit::Ok.into()
    } else {
        super::error::Exit::No.into()
    })
}
