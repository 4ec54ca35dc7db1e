//! `vnx pool status|fill|clear`: the worktree pools (`worktree.pool` in .vnx/config.yaml) —
//! what they hold, filling the dispatches' pool ahead of time, emptying both.

use std::process::ExitCode;

use vnx::worktree::{Pool, Repo};

use super::CliError;
use super::util::output::{Out, say};
use super::util::settings;

/// Show the worktree pools: each entry idle, busy, unproven or lent
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx pool status\n  $ vnx pool status --json")]
pub struct StatusArgs {
    /// Print `{"size", "keep", "dispatches": [entry…], "gates": [entry…]}` as JSON
    #[arg(long)]
    json: bool,
}

/// Fill the dispatches' worktree pool up to its size (checkouts made now, not by a dispatch)
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx pool fill\n  $ vnx pool fill --base main")]
pub struct FillArgs {
    /// The commit new checkouts start at (any dispatch later moves them to its own base)
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    base: String,
}

/// Remove every idle pooled worktree (those in use stay)
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx pool clear")]
pub struct ClearArgs {}

/// The project's two pools, as the config sets them.
fn pools() -> Result<(Repo, vnx::config::PoolConfig, Pool, Pool), CliError> {
    let project = settings::project()?;
    let config = project.load_config()?;
    let repo = Repo::for_project(&project)?;
    let pool = config.worktree.pool;
    let dispatches = Pool::new(&repo, pool.size, &pool.keep);
    let gates = Pool::for_gates(&repo, pool.size, &pool.keep);
    Ok((repo, pool, dispatches, gates))
}

pub fn status(args: StatusArgs) -> Result<ExitCode, CliError> {
    let (_, config, dispatches, gates) = pools()?;
    let (d, g) = (dispatches.entries(), gates.entries());
    let mut out = Out::new();
    if args.json {
        out.json(&serde_json::json!({
            "size": config.size,
            "keep": config.keep,
            "dispatches": d,
            "gates": g,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if !config.enabled() {
        say!("the worktree pool is off; set worktree.pool.size in .vnx/config.yaml to keep one");
    }
    out.line(&format!(
        "size {} per pool; cache directories kept: {}",
        config.size,
        if config.keep.is_empty() {
            "none".to_owned()
        } else {
            config.keep.join(", ")
        }
    ))?;
    for (which, entries) in [("dispatches", &d), ("gates", &g)] {
        out.line(&format!("{which}: {} worktree(s)", entries.len()))?;
        for e in entries {
            let commit = e.commit.as_deref().map_or("", |c| &c[..c.len().min(12)]);
            out.line(&format!(
                "  {:<14} {:<9} {:<12} {}",
                e.name,
                e.state,
                commit,
                super::util::output::escape(&e.path.to_string_lossy())
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn fill(args: FillArgs) -> Result<ExitCode, CliError> {
    let (repo, config, dispatches, _) = pools()?;
    if !config.enabled() {
        return Err(CliError::usage("the worktree pool is off").with_hint(
            "set worktree.pool.size (and worktree.pool.keep) in .vnx/config.yaml, or run \
                 `vnx init --pool N`",
        ));
    }
    let commit = repo.resolve(&args.base)?;
    let made = dispatches.fill(commit.as_str())?;
    say!(
        "made {made} pooled worktree(s) at {}",
        &commit.as_str()[..12.min(commit.as_str().len())]
    );
    Ok(ExitCode::SUCCESS)
}

pub fn clear(_: ClearArgs) -> Result<ExitCode, CliError> {
    let (_, _, dispatches, gates) = pools()?;
    let removed = dispatches.clear() + gates.clear();
    say!("removed {removed} idle pooled worktree(s)");
    Ok(ExitCode::SUCCESS)
}
