//! `vnx constraints list`: the provider constraints as vnx reads them, with their override
//! variables.

use super::output::say;
use std::path::PathBuf;
use std::process::ExitCode;

use vnx::constraints::{self, PinSemantics, Rule};

use super::CliError;
use super::output::Out;
use super::settings;

/// Check provider_constraints.yaml and list its constraints
///
/// Exit 1 when the file does not load (the error names the line and column).
#[derive(clap::Args)]
pub struct Args {
    /// The constraints file [default: provider_constraints.yaml in the current repository]
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let path = match args.file {
        Some(p) => p,
        None => settings::project()?.root.join(constraints::FILE),
    };
    let loaded = constraints::load(&path)?;
    let mut out = Out::new();
    if args.json {
        let list: Vec<serde_json::Value> = loaded
            .constraints
            .iter()
            .map(constraints::listing::json)
            .collect();
        out.json(&serde_json::json!({
            "file": path,
            "sha256": loaded.sha256,
            "constraints": list,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    for c in &loaded.constraints {
        let what = match &c.rule {
            Rule::ForbidRoute(_) => String::new(),
            Rule::RequireRoute(pin) => format!(
                "  pins {} ({})",
                pin.model,
                match pin.semantics {
                    PinSemantics::Floor => "floor",
                    PinSemantics::Default => "default",
                }
            ),
            Rule::ForbidImport { patterns } => format!("  {} patterns", patterns.len()),
            Rule::TokenBudget(b) => format!("  {} tokens per {}", b.max_tokens, b.period.name()),
        };
        let over = match (c.override_allowed, c.override_reason_required) {
            (false, _) => "no override".to_owned(),
            (true, false) => c.override_variable(),
            (true, true) => format!("{} with {}", c.override_variable(), c.reason_variable()),
        };
        out.line(&format!(
            "{:<28} {:<13} {:<8} {over}{what}",
            c.id,
            c.rule.name(),
            c.severity.name()
        ))?;
    }
    say!(
        "{}: {} constraint(s)",
        path.display(),
        loaded.constraints.len()
    );
    Ok(ExitCode::SUCCESS)
}
