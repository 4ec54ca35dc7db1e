//! `vnx __key-tunnel --port PORT` (hidden): run in a place by its credential relay's keeper
//! (ADR 0128), it listens on the place's loopback and carries each connection made there, as
//! frames on its standard input and output, to the relay on the dispatching machine.

use std::process::ExitCode;

use super::CliError;

/// Carry a place's connections to the credential relay (internal)
#[derive(clap::Args)]
pub struct Args {
    /// The port to listen on (0: one the system picks)
    #[arg(long, default_value_t = 0)]
    port: u16,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    vnx::remote::key_tunnel::serve_place(args.port, std::io::stdin(), std::io::stdout())
        .map_err(|e| CliError::from_error(&e).context("the tunnel ended"))?;
    Ok(ExitCode::SUCCESS)
}
