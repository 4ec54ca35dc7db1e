//! `vnx init`: scaffolds the current repository for vnx.

use std::process::ExitCode;

use vnx::init::{Action, InitOptions, init};

use super::CliError;
use super::util::output::{Out, say};

/// Scaffold the current git repository for vnx (idempotent)
///
/// Writes `.vnx/config.yaml` (with the project id), installs the shipped
/// `provider_constraints.yaml` and `skills/` where absent, creates `.vnx-data/` and ignores it
/// in `.gitignore`, and installs git hooks that run `vnx audit-chain verify` before merge
/// commits (`pre-merge-commit`, and `pre-commit` when concluding a merge) and pushes
/// (`pre-push`); a hook already there is kept as `<hook>.pre-vnx` and still runs. Files you
/// changed are kept unless --force.
///
/// A new config proposes the project's test command as the gate `test` of the role
/// `implementer` (so `vnx merge` can land its first dispatch): `cargo test` for a Cargo.toml,
/// `npm test` (`pnpm`/`yarn` by lockfile) for a package.json with a test script, `pytest` for
/// pytest.ini, pyproject.toml or a setup.cfg with `[tool:pytest]`, `go test ./...` for go.mod,
/// `make test` for a Makefile with a `test:` target; it says what it found on stderr. The
/// other settings are in the file as commented examples.
#[derive(clap::Args)]
pub struct Args {
    /// The project id [default: derived from the repository's directory name]
    #[arg(long, value_name = "ID")]
    project_id: Option<String>,
    /// Replace changed defaults with the shipped versions, and allow a new project id
    #[arg(long)]
    force: bool,
    /// Keep a pool of N prepared worktrees for dispatches and gates (`worktree.pool.size`),
    /// and fill it now
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pool: Option<u32>,
    /// A build-cache directory pooled worktrees keep between users (e.g. target,
    /// node_modules); repeatable
    #[arg(long = "pool-keep", value_name = "DIR", requires = "pool", value_parser = cache_dir)]
    pool_keep: Vec<String>,
    /// Also register `vnx mcp` as an MCP server with these CLIs (comma-separated; all of them
    /// when none is named)
    #[arg(long, value_name = "CLI", num_args = 0.., value_delimiter = ',',
          value_parser = mcp_clients(), long_help = mcp_help())]
    mcp: Option<Vec<String>>,
    /// Do not look for the project's test command; a new config then names no gate
    #[arg(long)]
    no_detect: bool,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

fn cache_dir(text: &str) -> Result<String, String> {
    vnx::worktree::pool::cache_dir(text)
        .ok_or_else(|| format!("`{text}` is not a directory inside the worktree"))
}

/// Tracked files from which `vnx init` suggests a worktree pool.
const BIG_REPOSITORY: usize = 10_000;

/// Fills the pool `--pool` asked for, or suggests one for a big repository.
fn offer_pool(root: &std::path::Path, pool: Option<u32>) -> Result<(), CliError> {
    let project = vnx::project::Project::at(root);
    let repo = vnx::worktree::Repo::for_project(&project)?;
    let Some(size) = pool else {
        let files = git2::Repository::open(root)
            .and_then(|r| r.index())
            .map_or(0, |i| i.len());
        if files >= BIG_REPOSITORY {
            say!(
                "this repository tracks {files} files: `vnx init --pool 4 --pool-keep target` \
                 (your build-cache directories) keeps prepared worktrees, so a dispatch skips \
                 the checkout and gates build incrementally"
            );
        }
        return Ok(());
    };
    let Ok(head) = repo.resolve("HEAD") else {
        say!("the pool fills once the repository has a commit: run `vnx pool fill` then");
        return Ok(());
    };
    let config = project.load_config()?;
    let pool = vnx::worktree::Pool::new(&repo, size, &config.worktree.pool.keep);
    let made = pool.fill(head.as_str())?;
    say!("made {made} pooled worktree(s); `vnx pool status` lists them");
    Ok(())
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::from_error(&e).with_hint("run from an existing directory"))?;
    let report = init(
        &cwd,
        &InitOptions {
            project_id: args.project_id,
            force: args.force,
            // The hooks try this binary before `vnx` on PATH.
            vnx: std::env::current_exe().ok(),
            pool: args.pool.map(|size| vnx::config::PoolConfig {
                size,
                keep: args.pool_keep.clone(),
            }),
            detect: !args.no_detect,
        },
    )?;
    tell_gate(&report, args.no_detect);
    offer_pool(&report.root, args.pool)?;
    let registered = (args.mcp.as_deref())
        .map(|names| register_mcp(&report.root, names))
        .transpose()?;
    let mut out = Out::new();
    if args.json {
        let mut value = serde_json::to_value(&report)
            .map_err(|e| CliError::from_error(&e).context("could not render the report"))?;
        if let (Some(r), Some(o)) = (&registered, value.as_object_mut()) {
            o.insert("mcp".into(), serde_json::to_value(r).unwrap_or_default());
        }
        out.json(&value)?;
        return Ok(ExitCode::SUCCESS);
    }
    out.line(&format!(
        "vnx project {} at {}",
        report.project_id,
        report.root.display()
    ))?;
    for step in &report.steps {
        let word = match step.action {
            Action::Created => "created",
            Action::Unchanged => "unchanged",
            Action::Kept => "kept (yours differs; --force replaces it)",
            Action::Overwritten => "overwritten",
            Action::Updated => "updated",
            Action::Chained => "chained",
            Action::Skipped => "skipped",
        };
        out.line(&format!("  {word:<10} {}", step.path))?;
        if let Some(note) = &step.note {
            out.line(&format!("             ({note})"))?;
        }
    }
    for r in registered.iter().flatten() {
        let what = match r.action {
            Action::Created => "registered vnx mcp in a new",
            Action::Updated => "registered vnx mcp in",
            _ => "vnx mcp already registered in",
        };
        out.line(&format!(
            "  {:<10} {what} {}",
            r.client.name(),
            r.path.display()
        ))?;
        if let Some(b) = &r.backup {
            out.line(&format!("             (the file before: {})", b.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Says on stderr what the new config's gate is, or that it has none.
fn tell_gate(report: &vnx::init::InitReport, no_detect: bool) {
    let created = report
        .steps
        .iter()
        .any(|s| s.path == vnx::project::CONFIG && s.action == Action::Created);
    match &report.test_gate {
        Some(t) => say!(
            "found {}: the gate `{}` runs `{}` for role `{}` (edit {} to change it)",
            t.from,
            vnx::init::TEST_GATE,
            t.argv.join(" "),
            vnx::init::DEFAULT_ROLE,
            vnx::project::CONFIG
        ),
        None if created && !no_detect => say!(
            "no test command found to propose as a gate; {} shows how to name one",
            vnx::project::CONFIG
        ),
        None => {}
    }
}

/// The CLIs `--mcp` takes.
fn mcp_clients() -> clap::builder::PossibleValuesParser {
    vnx::init::mcp::Client::all()
        .into_iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .into()
}

/// `--mcp`'s long help: each CLI and where it reads its MCP servers.
fn mcp_help() -> String {
    let places: Vec<String> = vnx::init::mcp::Client::all()
        .into_iter()
        .map(|c| format!("{} in {}", c.name(), c.place()))
        .collect();
    format!(
        "Also register `vnx mcp` as an MCP server with these CLIs (comma-separated; all of them \
         when none is named): {}. Only the `vnx` entry changes; a changed file is first copied \
         to `<file>.pre-vnx`",
        places.join(", ")
    )
}

/// Registers `vnx mcp` with the CLIs named (all when none is), as this binary.
fn register_mcp(
    root: &std::path::Path,
    names: &[String],
) -> Result<Vec<vnx::init::mcp::Registration>, CliError> {
    use vnx::init::mcp::{self, Client};
    let clients: Vec<Client> = if names.is_empty() {
        Client::all()
    } else {
        names.iter().filter_map(|n| Client::parse(n)).collect()
    };
    let homes = super::util::settings::session_homes();
    let vnx = std::env::current_exe()
        .map_err(|e| CliError::from_error(&e).context("cannot find the running vnx binary"))?;
    // The user's configuration directory, as the XDG Base Directory spec names it.
    let abs = |p: std::path::PathBuf| Some(p).filter(|p| p.is_absolute());
    let config_dir = super::util::settings::env("XDG_CONFIG_HOME")
        .and_then(|v| abs(v.into()))
        .or_else(|| {
            super::util::settings::env("HOME")
                .and_then(|v| abs(v.into()))
                .map(|h| h.join(".config"))
        });
    Ok(mcp::register(
        root,
        &homes,
        config_dir.as_deref(),
        &vnx,
        &clients,
    )?)
}
