//! `vnx __remote-sync` (hidden): what a host answers a dispatcher catching up with it over
//! ssh — its version, its ledger's lines from a position on, byte for byte, and the state of
//! the dispatches asked about — as one JSON object on stdout.

use std::collections::BTreeMap;
use std::process::ExitCode;

use vnx::dispatch::view;
use vnx::remote::wire::{self, After, Export};
use vnx::tmux::Tmux;

use super::CliError;
use super::util::output::Out;
use super::util::settings;

#[derive(clap::Args)]
pub struct Args {
    /// `tail` (only the last line) or N (line N, sent again to be compared, and every later one)
    #[arg(long, value_name = "N|tail", value_parser = parse_after)]
    after: After,
    /// A dispatch whose state is asked for (repeatable)
    #[arg(long = "dispatch", value_name = "ID")]
    ids: Vec<String>,
    /// When nothing is new, wait up to this many milliseconds for a new line
    #[arg(long, value_name = "MS", default_value_t = 0)]
    wait_ms: u64,
}

fn parse_after(text: &str) -> Result<After, String> {
    After::parse(text).ok_or_else(|| format!("{text:?} is neither `tail` nor a line number"))
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    for id in &args.ids {
        super::util::ids::check_dispatch_id(id)?;
    }
    let project = settings::project()?;
    // As any reading command: completions left pending are appended, the queue drains.
    crate::cli::util::pending::finish_pending(&project);
    super::util::drain::recover_queue_here(None, false);
    let ledger = project.ledger();
    if args.wait_ms > 0
        && let vnx::remote::wire::After::From(n) = args.after
    {
        // A long poll: nothing past line n yet, so wait for the next line (or the limit).
        wire::wait_for_more(
            &ledger,
            n,
            std::time::Duration::from_millis(args.wait_ms.min(30_000)),
        )?;
        crate::cli::util::pending::finish_pending(&project);
    }
    let mut states = BTreeMap::new();
    if !args.ids.is_empty() && ledger.exists() {
        let tmux = Tmux::new(settings::tmux_socket(None));
        for s in view::list(&ledger, &tmux)? {
            if args.ids.iter().any(|i| *i == s.id) {
                states.insert(s.id.to_string(), s.state.name().to_owned());
            }
        }
    }
    let (lines, ledger_lines) = wire::lines(&ledger, args.after)?;
    let mut names = vec![vnx::ledger::checkpoint::CHECKPOINT_REF.to_owned()];
    names.extend(
        args.ids
            .iter()
            .map(|id| format!("refs/heads/dispatch/{id}")),
    );
    let export = Export {
        vnx_version: format!("vnx {}", env!("CARGO_PKG_VERSION")),
        ledger_lines,
        lines,
        states,
        refs: wire::ref_tips(&project.root, &names),
    };
    Out::new().json(&export)?;
    Ok(ExitCode::SUCCESS)
}
