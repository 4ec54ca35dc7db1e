//! `vnx __complete KIND` (hidden): the candidates the shell completions that `vnx completions`
//! prints ask for, one per line as `VALUE<TAB>DESCRIPTION`. Quiet and exit 0 whatever
//! happens: a completion that fails must not print into the user's command line.

use std::process::ExitCode;

use clap::ValueEnum;
use vnx::complete::{self, Kind};

use super::CliError;
use super::util::output::Out;
use super::util::settings;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum KindArg {
    Ids,
    Providers,
    Models,
    Roles,
}

/// Print completion candidates (internal)
#[derive(clap::Args)]
pub struct Args {
    /// What to complete
    #[arg(value_enum)]
    kind: KindArg,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let kind = match args.kind {
        KindArg::Ids => Kind::Ids,
        KindArg::Providers => Kind::Providers,
        KindArg::Models => Kind::Models,
        KindArg::Roles => Kind::Roles,
    };
    let (ledger, config, index) = match settings::project() {
        Ok(project) => (
            project.ledger(),
            project.load_config().ok(),
            vnx::dispatch::fold::index::path_in(&project.data_dir()),
        ),
        Err(_) => Default::default(),
    };
    // The read index, when there is a key to authenticate it (a completion never makes one).
    let attestor = settings::key_path(None)
        .ok()
        .and_then(|k| {
            vnx::ledger::checkpoint::CheckpointKey::load(&k)
                .ok()
                .flatten()
        })
        .map(|k| vnx::ledger::attest::Attestor::new(&k));
    let mut out = Out::new();
    let index = attestor.as_ref().map(|a| (index.as_path(), a));
    for c in complete::candidates(kind, &ledger, config.as_ref(), index) {
        // One line each: a tab or newline inside would split a candidate.
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        let line = if c.description.is_empty() {
            clean(&c.value)
        } else {
            format!("{}\t{}", clean(&c.value), clean(&c.description))
        };
        if out.line(&line).is_err() {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
