//! `vnx __remote-sync` (hidden): what a host answers a dispatcher catching up with it over
//! ssh — its version, its ledger's lines from a position on, byte for byte, and the state of
//! the dispatches asked about — as one JSON object on stdout.

use std::collections::BTreeMap;
use std::process::ExitCode;

use vnx::dispatch::view;
use vnx::remote::wire::{self, After, Export};
use vnx::tmux::Tmux;

use super::CliError;
use super::output::Out;
use super::settings;

#[derive(clap::Args)]
pub struct Args {
    /// `tail` (only the last line) or N (line N, sent again to be compared, and every later one)
    #[arg(long, value_name = "N|tail", value_parser = parse_after)]
    after: After,
    /// A dispatch whose state is asked for (repeatable)
    #[arg(long = "dispatch", value_name = "ID")]
    ids: Vec<String>,
}

fn parse_after(text: &str) -> Result<After, String> {
    After::parse(text).ok_or_else(|| format!("{text:?} is neither `tail` nor a line number"))
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    for id in &args.ids {
        super::error::check_dispatch_id(id)?;
    }
    let project = settings::project()?;
    // As any reading command: completions left pending are appended, the queue drains.
    settings::finish_pending(&project);
    super::drain::recover_queue_here_saying(None, false);
    let ledger = project.ledger();
    let mut states = BTreeMap::new();
    if !args.ids.is_empty() && ledger.exists() {
        let tmux = Tmux::new(settings::tmux_socket(None));
        for s in view::list(&ledger, &tmux)? {
            if args.ids.contains(&s.id) {
                states.insert(s.id.clone(), s.state.name().to_owned());
            }
        }
    }
    let (lines, ledger_lines) = wire::lines(&ledger, args.after)?;
    let export = Export {
        vnx_version: format!("vnx {}", env!("CARGO_PKG_VERSION")),
        ledger_lines,
        lines,
        states,
    };
    Out::new().json(&export)?;
    Ok(ExitCode::SUCCESS)
}
