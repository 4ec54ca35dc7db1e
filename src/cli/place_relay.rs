//! `vnx __place-relay --scratch DIR` (hidden): the place's end of the channel a dispatcher
//! keeps open into a container it made (`vnx::remote::relay`): it runs each request read on
//! stdin and answers on stdout until asked to end (exit 0: the container's runner ends with
//! it) or its input ends (exit `relay::LET_GO`: the runner stays, for the engine's own
//! `exec`).

use std::path::PathBuf;
use std::process::ExitCode;

use vnx::remote::relay::{self, Ended};

use super::CliError;

#[derive(clap::Args)]
pub struct Args {
    /// Where each request's input is kept while it runs
    #[arg(long, value_name = "DIR")]
    scratch: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let ended = relay::serve(&mut stdin.lock(), &mut stdout.lock(), &args.scratch)
        .map_err(|e| CliError::new("the place's relay stopped").with_cause(&e))?;
    Ok(match ended {
        Ended::Asked => ExitCode::SUCCESS,
        Ended::InputClosed => ExitCode::from(relay::LET_GO),
    })
}
