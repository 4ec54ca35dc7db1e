//! `vnx __key-relay --place NAME --env-file FILE` (hidden): the keeper of a place's credential
//! relay (ADR 0128), started by a remote dispatch's launch in a tmux session of its own. It
//! takes the environment the launch handed over (the file is removed), runs again in it, and
//! relays the key for the place until every dispatch there has ended here.

use std::path::PathBuf;
use std::process::ExitCode;

use super::CliError;
use super::util::settings;

/// Keep a place's credential relay (internal)
#[derive(clap::Args)]
pub struct Args {
    /// The place (`HOST` or `HOST.ID`)
    #[arg(long)]
    place: String,
    /// The environment the launch handed over, taken and removed
    #[arg(long)]
    env_file: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    if let Some(file) = &args.env_file {
        let argv = ["__key-relay", "--place", &args.place].map(str::to_owned);
        return Err(settings::exec_in_handed_env(file, &argv, "the keeper"));
    }
    let key = settings::env_text(vnx::remote::key_relay::KEY_VAR).ok_or_else(|| {
        CliError::usage("no key was handed over").with_hint("vnx starts this command itself")
    })?;
    let place = vnx::place_name::PlaceName::parse(&args.place)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let project = settings::project()?;
    let ledger = project.ledger();
    let attestor = settings::attestor(None)?;
    let link = super::util::hosts::link(&project, &ledger, &attestor, &place)?;
    let ledger_at = ledger.clone();
    let ended: vnx::remote::key_relay::Ended =
        std::sync::Arc::new(move |id| vnx::dispatch::view::has_ended(&ledger_at, id));
    vnx::remote::key_relay::keep(&link, key, ended)?;
    Ok(ExitCode::SUCCESS)
}
