//! `vnx mcp`: serves the read-only MCP server on stdin and stdout (see `vnx::mcp`), and with
//! `--act` the acting tools the project's `mcp.act` allows (ADR 0095).

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
///
/// With --act it also serves the acting tools `mcp: {act: [...]}` in .vnx/config.yaml lists
/// (dispatch, wait, follow_up, approve, deny, review, pr_open, pr_fix, pr_merge, merge,
/// cancel, dismiss, or `all`), each what its vnx command does, each receipt naming the MCP
/// client. Run inside a dispatch's worker (VNX_DISPATCH_ID, VNX_WORKTREE, or a directory in
/// its worktree), it never approves or merges that dispatch or one it started.
#[derive(clap::Args)]
#[command(after_long_help = examples())]
pub struct Args {
    /// Also serve the acting tools the project's `mcp.act` lists
    #[arg(long)]
    act: bool,
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
    let project_of_act = project.clone();
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
    let server = if args.act {
        acting(&project_of_act, mcp)?
    } else {
        crate::mcp_server::Server::new(mcp)
    };
    let served = crate::mcp_server::serve_stdio(server);
    let _ = std::fs::remove_dir_all(&scratch);
    served.map_err(|e| {
        CliError::from(e)
            .with_hint("the MCP client closed the session or sent what vnx cannot read")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The server with the acting tools the project allows, knowing whether it runs in a
/// dispatch's worker; no tool allowed is a usage error.
#[cfg(feature = "mcp")]
fn acting(
    project: &vnx::project::Project,
    mcp: vnx::mcp::Settings,
) -> Result<crate::mcp_server::Server, CliError> {
    let allowed = project.load_config()?.mcp.act;
    if allowed.is_empty() {
        return Err(
            CliError::usage("--act: the project allows no acting tool").with_hint(
                "list them in .vnx/config.yaml, e.g. `mcp: {act: [dispatch, wait, merge]}`, or \
             `mcp: {act: all}`",
            ),
        );
    }
    let worker = settings::acting_worker(&project.root, &mcp.ledger)?;
    Ok(crate::mcp_server::Server::acting(mcp, &allowed, worker))
}
