//! `vnx cost`: the tokens the receipts recorded, summed by dispatch, provider, model, role or
//! day, and where each budget of provider_constraints.yaml stands.

use std::process::ExitCode;

use vnx::cost::{self, GroupBy};

use super::CliError;
use super::util::output::{Out, say};
use super::util::settings;

/// Sum the tokens (and the money, where a CLI said) the receipts recorded, and show where
/// each budget stands
///
/// Only figures a CLI reported count: COST is what the CLIs said the dispatches cost (in US
/// dollars, where a CLI says; `-` when none in the group did). A dispatch that ended without a usage report is counted
/// under UNREPORTED, its spend unknown rather than zero. Budgets are the `budgets:` of
/// provider_constraints.yaml; a dispatch is refused (or warned about) once the tokens
/// recorded in a budget's period reach its limit.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx cost\n  $ vnx cost --by day --since 2026-11-01\n  $ vnx cost --by model --json"
)]
pub struct Args {
    /// Group by
    #[arg(long, value_name = "KEY", default_value = "provider",
          value_parser = GroupBy::NAMES)]
    by: String,
    /// Only dispatches that completed on or after this day (YYYY-MM-DD, UTC)
    #[arg(long, value_name = "DAY", value_parser = parse_day)]
    since: Option<jiff::civil::Date>,
    /// Print `{"by", "groups": […], "budgets": […]}` as JSON (with --graph or --issue, also
    /// `"graph": [ids…]`)
    #[arg(long)]
    json: bool,
    /// Only the graph of this dispatch: itself, its follow-ups and every dispatch that
    /// started after it (`--after`), through each other
    #[arg(long, value_name = "ID", conflicts_with = "issue")]
    graph: Option<String>,
    /// Only the graph of the dispatches taken from this issue (`vnx run --issue`, the
    /// watcher)
    #[arg(long, value_name = "N")]
    issue: Option<u64>,
}

/// The dispatches whose spend `--graph` or `--issue` asks for, if either does.
fn graph_of(
    project: &vnx::project::Project,
    args: &Args,
) -> Result<Option<std::collections::BTreeSet<vnx::ids::DispatchId>>, CliError> {
    let ledger = project.ledger();
    let roots = match (&args.graph, args.issue) {
        (Some(given), _) => vec![super::util::ids::dispatch_id(project, given)?],
        (None, Some(n)) => {
            let attestor = settings::attestor(None)?;
            let trusted = vnx::ledger::attest::trusted_keys(&ledger, &attestor)?;
            let intakes = vnx::forge::intake::Intakes::read(&ledger, &trusted)?;
            let roots = intakes.dispatches_of(n);
            if roots.is_empty() {
                return Err(
                    CliError::usage(format!("no dispatch was taken from issue #{n}"))
                        .with_hint("`vnx run --issue N` and `vnx pr watch` take issues"),
                );
            }
            roots
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(cost::descendants(&ledger, &roots)?))
}

fn parse_day(text: &str) -> Result<jiff::civil::Date, String> {
    text.parse()
        .map_err(|e| format!("`{text}` is not a day like 2026-11-01: {e}"))
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let project = settings::project()?;
    let by = GroupBy::parse(&args.by).unwrap_or(GroupBy::Provider);
    let constraints = project.root.join(vnx::constraints::FILE);
    let now = jiff::Timestamp::now();
    let (mut entries, budgets) = cost::spend(&project.ledger(), &constraints, args.since, now)??;
    let graph = graph_of(&project, &args)?;
    if let Some(ids) = &graph {
        entries.retain(|e| ids.contains(&e.dispatch_id));
        say!(
            "the graph: {} dispatch{}",
            ids.len(),
            if ids.len() == 1 { "" } else { "es" }
        );
    }
    let groups = cost::summarize(&entries, by);
    let mut out = Out::new();
    if args.json {
        let mut v = serde_json::json!({
            "by": args.by,
            "groups": groups,
            "budgets": budgets,
        });
        if let (Some(ids), Some(o)) = (&graph, v.as_object_mut()) {
            o.insert("graph".into(), serde_json::json!(ids));
        }
        out.json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    if groups.is_empty() {
        say!("no completed dispatches on record");
    } else {
        let header = [
            args.by.to_uppercase(),
            "DISPATCHES".into(),
            "UNREPORTED".into(),
            "INPUT".into(),
            "CACHED".into(),
            "OUTPUT".into(),
            "TOTAL".into(),
            "COST".into(),
        ];
        let rows: Vec<[String; 8]> = groups
            .iter()
            .map(|g| {
                [
                    g.key.clone(),
                    g.dispatches.to_string(),
                    g.unreported.to_string(),
                    g.input_tokens.to_string(),
                    g.cached_input_tokens.to_string(),
                    g.output_tokens.to_string(),
                    g.total_tokens.to_string(),
                    // Only what the CLIs said: `-` when none of the group's did.
                    g.cost_usd.map_or_else(|| "-".into(), usd),
                ]
            })
            .collect();
        let mut widths = header.clone().map(|h| h.len());
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String; 8]| {
            let mut text = format!("{:<w$}", cells[0], w = widths[0]);
            for (cell, w) in cells.iter().zip(widths).skip(1) {
                text.push_str(&format!("  {cell:>w$}"));
            }
            text
        };
        out.line(&line(&header))?;
        for r in &rows {
            out.line(&line(r))?;
        }
        let unreported: u64 = groups.iter().map(|g| g.unreported).sum();
        if unreported > 0 {
            say!(
                "{unreported} dispatch(es) ended without a usage report: their spend is unknown, \
                 not counted"
            );
        }
    }
    for b in &budgets {
        out.line(&format!(
            "budget {}: {} of {} tokens {}{}",
            b.id,
            b.spent.total_tokens,
            b.max_tokens,
            match b.period {
                "all" => "on record".to_owned(),
                p => format!("this {p} (UTC)"),
            },
            if b.reached {
                "  REACHED: matching dispatches are refused or warned about"
            } else {
                ""
            }
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Dollars as a person reads them: cents, and under a cent its first significant digit (a
/// few turns of a cheap model cost $0.003, which cents would show as $0.00).
fn usd(c: f64) -> String {
    if c == 0.0 || c >= 0.01 {
        return format!("${c:.2}");
    }
    if c < 0.0001 {
        return "<$0.0001".to_owned();
    }
    // The decimals up to the first significant one (no `log10`: vnx links no libm, ADR 0049).
    let mut digits = 2;
    while c * 10f64.powi(digits) < 1.0 {
        digits += 1;
    }
    let digits = digits as usize;
    format!("${c:.digits$}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_under_a_cent_keep_their_first_digit() {
        let shown: Vec<String> = [0.0, 0.0246, 1234.5, 0.003, 0.0004, 0.0099, 0.00001]
            .into_iter()
            .map(super::usd)
            .collect();
        assert_eq!(
            shown,
            [
                "$0.00", "$0.02", "$1234.50", "$0.003", "$0.0004", "$0.010", "<$0.0001"
            ]
        );
    }
}
