//! `vnx mcp`: serves the read-only MCP server on stdin and stdout (see `vnx::mcp`).

use std::process::ExitCode;

use super::CliError;
#[cfg(feature = "mcp")]
use super::util::output::say;
#[cfg(feature = "mcp")]
use super::util::settings;

/// Serve a read-only MCP server (Model Context Protocol) on stdin and stdout
///
/// For a dispatcher that is itself an agent (a coding CLI that takes MCP servers): tools list and
/// show dispatches, read a worker's log and a dispatch's diff, wait for dispatches (returning
/// on blocked and needs_input too), tail the receipts, verify the ledger, read gate results,
/// merge readiness, the provider constraints and spend; resources serve the ledger and the
/// dispatch records. Nothing it does dispatches, merges, releases or writes to the project;
/// every answer cites the receipts (line SHA-256) it was derived from. `vnx init --mcp`
/// registers it with the CLIs that take MCP servers (by hand, give your CLI the server
/// `vnx mcp`).
#[derive(clap::Args)]
#[command(after_long_help = examples())]
pub struct Args {
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

/// The help's example: registering with the default CLI.
fn examples() -> String {
    format!(
        "Examples:\n  $ vnx init --mcp {}",
        vnx::provider::Provider::DEFAULT.name()
    )
}

/// This build has no MCP server (`bin/demo`'s first build leaves it out): says how to get one.
#[cfg(not(feature = "mcp"))]
pub fn run(_: Args) -> Result<ExitCode, CliError> {
    Err(super::util::error::left_out("mcp"))
}

#[cfg(feature = "mcp")]
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let project = settings::project()?;
    let tmp = settings::env_set("TMPDIR").map_or_else(
        || std::path::PathBuf::from("/tmp"),
        std::path::PathBuf::from,
    );
    let scratch = tmp.join(format!("vnx-mcp-{}", std::process::id()));
    let mcp = vnx::mcp::Settings {
        ledger: project.ledger(),
        root: project.root,
        tmux_socket: settings::tmux_socket(args.tmux.tmux_socket),
        key: settings::key_path(None).ok(),
        witness_dir: settings::witness_dir(),
        threads: settings::threads(None),
        scratch: scratch.clone(),
    };
    // A bug in one answer fails that request; the server goes on serving.
    std::panic::set_hook(Box::new(|info| {
        say!("internal bug in vnx mcp: {info}; please report it (the request failed)");
    }));
    let served = crate::mcp_server::serve_stdio(mcp);
    let _ = std::fs::remove_dir_all(&scratch);
    served.map_err(|e| {
        CliError::from(e)
            .with_hint("the MCP client closed the session or sent what vnx cannot read")
    })?;
    Ok(ExitCode::SUCCESS)
}
