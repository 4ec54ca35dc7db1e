//! `vnx __demo-worker BEHAVIOUR [PROMPT]` (hidden): the offline `demo` provider's worker.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use vnx::demo;
use vnx::provider::DemoBehaviour;

use super::CliError;

/// Act out a scripted worker behaviour in the current directory (internal)
#[derive(clap::Args)]
pub struct Args {
    /// commit, dirty, noop, fail, slow or stubborn
    behaviour: String,
    /// The prompt [default: read from stdin]
    prompt: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let behaviour = DemoBehaviour::parse(&args.behaviour)
        .ok_or_else(|| CliError::usage(format!("unknown demo behaviour {:?}", args.behaviour)))?;
    let prompt = match args.prompt {
        Some(p) => p,
        None => {
            let mut p = String::new();
            std::io::stdin()
                .read_to_string(&mut p)
                .map_err(|e| CliError::new("could not read the prompt").with_cause(&e))?;
            p
        }
    };
    let dir = std::env::current_dir().map_err(|e| CliError::from_error(&e))?;
    println!(
        "demo worker: {} ({} byte prompt)",
        behaviour.name(),
        prompt.len()
    );
    match behaviour {
        DemoBehaviour::Commit | DemoBehaviour::Dirty => {
            let path = demo::write_output(&dir, &prompt)
                .map_err(|e| CliError::new("could not write the demo output").with_cause(&e))?;
            println!("wrote {}", path.display());
            if behaviour == DemoBehaviour::Commit {
                let head = demo::commit_output(&dir).map_err(|e| CliError::from_error(&e))?;
                println!("committed {head}");
            }
        }
        DemoBehaviour::Noop => println!("nothing to do"),
        DemoBehaviour::Fail => {
            eprintln!("demo worker: failing as asked");
            return Ok(ExitCode::from(3));
        }
        DemoBehaviour::Slow | DemoBehaviour::Stubborn => {
            if behaviour == DemoBehaviour::Stubborn {
                ignore_term();
            }
            println!("working for an hour");
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Makes this process ignore SIGTERM, as a misbehaving worker would.
#[allow(unsafe_code)]
fn ignore_term() {
    // SAFETY: setting SIGTERM's disposition to SIG_IGN installs no handler code.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
}
