//! `vnx wait`: blocks until dispatches have completion receipts.

use std::collections::BTreeMap;
use std::process::ExitCode;

use vnx::dispatch::view::{self, Waited};
use vnx::ledger::summary::Summary;
use vnx::tmux::Tmux;

use super::CliError;
use super::output::Out;
use super::settings;

/// Wait for dispatches to complete
///
/// Exits 0 when every dispatch completed with status done, 1 otherwise (failed, needs input,
/// timed out, cancelled, its supervisor was lost, or the phantom guard corrected a `done` of
/// a writing role that changed nothing). With --json a corrected dispatch prints the
/// correction receipt.
#[derive(clap::Args)]
pub struct Args {
    /// Dispatch ids
    #[arg(required = true, value_name = "ID")]
    ids: Vec<String>,
    /// Print the completion receipts as NDJSON
    #[arg(long)]
    json: bool,
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
    let mut waited = view::wait(&project.ledger(), &args.ids, &tmux)?;
    // A supervisor that could not append its completion left it pending: append it, and
    // read again before calling anything lost.
    if waited.values().any(|w| matches!(w, view::Waited::Lost)) {
        settings::finish_pending(&project);
        waited = view::wait(&project.ledger(), &args.ids, &tmux)?;
    }
    report(&mut Out::new(), &waited, args.json)
}

/// The `status` of a completion receipt line.
pub fn status_of(line: &[u8]) -> Option<String> {
    Summary::of(line).status
}

/// Prints outcomes; exit 0 only if every dispatch is done.
pub fn report(
    out: &mut Out,
    waited: &BTreeMap<String, Waited>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let mut ok = true;
    for (id, w) in waited {
        ok &= super::dispatch_agent::succeeded(w);
        match w {
            Waited::Completed(line) if json => {
                out.bytes_line(line)?;
            }
            Waited::Completed(line) => {
                let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_default();
                let s = |k: &str| {
                    v[k].as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| "-".into())
                };
                out.line(&format!(
                    "{id}  {} ({})  teardown {}  {}",
                    s("status"),
                    s("completion_signal"),
                    s("teardown_class"),
                    v["failure_reason"].as_str().unwrap_or("")
                ))?;
            }
            Waited::Corrected { correction, .. } if json => {
                out.bytes_line(correction)?;
            }
            Waited::Corrected {
                completion,
                correction,
            } => {
                let v: serde_json::Value = serde_json::from_slice(completion).unwrap_or_default();
                let c: serde_json::Value = serde_json::from_slice(correction).unwrap_or_default();
                let s = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or("-").to_owned();
                out.line(&format!(
                    "{id}  {} (corrected: the worker's {} ({}) by the phantom guard)  teardown {}  {}",
                    s(&c, "status"),
                    s(&v, "status"),
                    s(&v, "completion_signal"),
                    s(&v, "teardown_class"),
                    s(&c, "reason")
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
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
