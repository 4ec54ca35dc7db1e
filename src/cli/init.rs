//! `vnx init`: scaffolds the current repository for vnx.

use std::process::ExitCode;

use vnx::init::{Action, InitOptions, init};

use super::CliError;
use super::output::Out;

/// Scaffold the current git repository for vnx (idempotent)
///
/// Writes `.vnx/config.yaml` (with the project id), installs the shipped
/// `provider_constraints.yaml` and `skills/` where absent, creates `.vnx-data/` and ignores it
/// in `.gitignore`, and installs git hooks that run `vnx audit-chain verify` before merge
/// commits (`pre-merge-commit`, and `pre-commit` when concluding a merge) and pushes
/// (`pre-push`); a hook already there is kept as `<hook>.pre-vnx` and still runs. Files you
/// changed are kept unless --force.
#[derive(clap::Args)]
pub struct Args {
    /// The project id [default: derived from the repository's directory name]
    #[arg(long, value_name = "ID")]
    project_id: Option<String>,
    /// Replace changed defaults with the shipped versions, and allow a new project id
    #[arg(long)]
    force: bool,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
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
        },
    )?;
    let mut out = Out::new();
    if args.json {
        out.json(&report)?;
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
    Ok(ExitCode::SUCCESS)
}
