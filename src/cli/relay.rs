//! `vnx __relay --dir D --port P… -- ARGV…` (hidden): the inside half of a sandbox's loopback
//! relay. It starts `vnx __relay --serve` (which listens on 127.0.0.1:P in the sandbox's
//! network namespace and carries each connection to the socket the supervisor serves in D),
//! waits until it listens, then becomes the worker (exec), so the worker is bwrap's child as
//! without a relay and its exit status is the dispatch's.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use vnx::process::{self, Cmd, Group};
use vnx::sandbox::relay;

use super::CliError;

/// Relay loopback ports into a sandbox, then run the worker (internal)
#[derive(clap::Args)]
pub struct Args {
    /// The directory of the supervisor's sockets
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// A loopback port to relay (repeatable)
    #[arg(long = "port", value_name = "PORT", required = true)]
    ports: Vec<u16>,
    /// Listen and relay until killed (the half started by the other)
    #[arg(long)]
    serve: bool,
    /// The worker's argv
    #[arg(last = true)]
    argv: Vec<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let failed = |what: &str, e: &(dyn std::error::Error + 'static)| {
        CliError::new(format!("the sandbox's loopback relay could not {what}")).with_cause(e)
    };
    if args.serve {
        relay::serve_inside(&args.dir, &args.ports).map_err(|e| failed("listen", &e))?;
        println!("ready");
        loop {
            std::thread::park();
        }
    }
    let Some(program) = args.argv.first() else {
        return Err(CliError::usage("no worker argv after --"));
    };
    let me = std::env::current_exe().map_err(|e| failed("find vnx", &e))?;
    let mut serve = Cmd::new(me)
        .arg("__relay")
        .arg("--serve")
        .arg("--dir")
        .arg(&args.dir);
    for port in &args.ports {
        serve = serve.arg("--port").arg(port.to_string());
    }
    let mut server = Group::spawn(&serve, |c| {
        c.stdout(std::process::Stdio::piped());
    })
    .map_err(|e| failed("start", &e))?;
    let mut line = String::new();
    if let Some(out) = server.stdout() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    if line.trim() != "ready" {
        let _ = server.stop(std::time::Duration::ZERO);
        return Err(CliError::new(
            "the sandbox's loopback relay could not listen on its ports",
        ));
    }
    // The relay lives on beside the worker and dies with the sandbox.
    std::mem::forget(server);
    let worker = Cmd::new(program).args(&args.argv[1..]);
    let e = process::exec(&worker);
    Err(failed(&format!("start {program}"), &e))
}
