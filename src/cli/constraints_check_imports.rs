//! `vnx constraints check-imports`: the `forbid_import` rules as a source scan (enforcement
//! `ci_grep`), for CI and pre-merge checks.

use super::util::output::say;
use std::path::PathBuf;
use std::process::ExitCode;

use vnx::constraints;

use super::CliError;
use super::util::output::Out;
use super::util::settings;

/// Scan the project's files for the vendor SDK imports that `forbid_import` rules forbid
///
/// Prints each hit as `path:line: pattern (constraint)`; exit 1 when there is one.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx constraints check-imports            # every file git tracks\n  $ vnx constraints check-imports src Cargo.toml"
)]
pub struct Args {
    /// Files or directories to scan, relative to the repository root [default: every file git
    /// tracks]
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The constraints file [default: provider_constraints.yaml in the current repository]
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let root = settings::project()?.root;
    let file = args.file.unwrap_or_else(|| root.join(constraints::FILE));
    let loaded = constraints::load(&file)?;
    let paths = if args.paths.is_empty() {
        constraints::tracked_files(&root)?
    } else {
        args.paths
    };
    let report = constraints::scan_imports(&loaded, &root, &paths)?;
    let mut out = Out::new();
    if args.json {
        out.json(&report)?;
    } else {
        for h in &report.hits {
            out.line(&format!(
                "{}:{}: {} ({})",
                h.path.display(),
                h.line,
                h.pattern,
                h.constraint_id
            ))?;
        }
    }
    if report.hits.is_empty() {
        say!("no forbidden imports in {} file(s)", report.files);
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::verdict(format!(
            "{} forbidden import(s) in {} file(s) scanned",
            report.hits.len(),
            report.files
        ))
        .with_hint(
            "drive the vendor's CLI instead of its SDK, or remove the rule from \
             provider_constraints.yaml if the product itself calls that API",
        ))
    }
}
