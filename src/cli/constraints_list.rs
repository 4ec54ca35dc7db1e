//! `vnx constraints list`: the provider constraints as vnx reads them, with their override
//! variables, and the egress policy.

use super::util::output::say;
use std::path::PathBuf;
use std::process::ExitCode;

use vnx::constraints::{self, PinSemantics, Rule};
use vnx::egress::{Action, Policy};

use super::CliError;
use super::util::output::Out;
use super::util::settings;

/// Check provider_constraints.yaml and list its constraints and its egress policy
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
            "egress": egress_json(&loaded.egress),
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
    out.line(&egress_line(&loaded.egress))?;
    say!(
        "{}: {} constraint(s) and the egress policy",
        path.display(),
        loaded.constraints.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// An action as the file writes it; `None` is `exempt`.
fn action(a: Option<Action>) -> &'static str {
    a.map_or("exempt", Action::name)
}

/// The egress policy in one line, in the constraints' columns.
fn egress_line(p: &Policy) -> String {
    let providers: Vec<String> = p
        .providers
        .iter()
        .map(|(name, a)| format!("{name} {}", action(*a)))
        .collect();
    let rules: Vec<String> = p
        .rules
        .iter()
        .map(|(id, a)| format!("{id} {}", a.name()))
        .collect();
    format!(
        "{:<28} {:<13} {:<8} providers: {}; rules: {}; {} allowed, {} own pattern(s)",
        "egress",
        "egress",
        action(p.action),
        if providers.is_empty() {
            "-".to_owned()
        } else {
            providers.join(", ")
        },
        if rules.is_empty() {
            "-".to_owned()
        } else {
            rules.join(", ")
        },
        p.allow.len(),
        p.patterns.len(),
    )
}

/// The egress policy as `--json` prints it.
fn egress_json(p: &Policy) -> serde_json::Value {
    serde_json::json!({
        "action": action(p.action),
        "providers": p.providers.iter().map(|(k, a)| (k.clone(), action(*a))).collect::<std::collections::BTreeMap<_, _>>(),
        "rules": p.rules.iter().map(|(k, a)| (k.clone(), a.name())).collect::<std::collections::BTreeMap<_, _>>(),
        "allow": p.allow.iter().map(|a| a.source.as_str()).collect::<Vec<_>>(),
        "patterns": p.patterns.iter().map(|a| serde_json::json!({"id": a.id, "regex": a.source})).collect::<Vec<_>>(),
        "entropy": {"threshold": p.entropy_threshold, "min_length": p.entropy_min_length},
    })
}
