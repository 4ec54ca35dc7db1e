//! `vnx __hook EVENT --dir DISPATCH_DIR [PAYLOAD]` (hidden): what the hooks vnx installs for a
//! worker CLI run. A CLI passes its JSON on stdin or as the last argument. It records the
//! call for the supervisor and always exits 0, quietly but for one case: the permission hook
//! that can answer (`dispatch::answer::waits_for_answer`) then waits for `vnx approve`/`vnx deny`
//! while the prompt shows, and prints the decision its CLI reads from it (its module's
//! `hook_decision`; nothing once the worker went on: a person answered in the pane).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use vnx::dispatch::answer;
use vnx::dispatch::supervise::signals;

use super::CliError;

/// Hook payloads larger than this are cut.
const MAX_PAYLOAD: u64 = 1 << 20;

/// Record a worker CLI's hook call (internal)
#[derive(clap::Args)]
pub struct Args {
    /// One of the events vnx installs hooks for (`CLI-EVENT`, as each CLI's module in
    /// `provider::cli` names them)
    event: String,
    /// The dispatch directory
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The payload, for a CLI that passes it as an argument; read from stdin when absent
    payload: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    if !vnx::provider::hooks::is_hook_event(&args.event) {
        return Err(CliError::usage(format!(
            "unknown hook event {:?}",
            args.event
        )));
    }
    let text = match args.payload {
        Some(p) => p,
        None => read_payload(),
    };
    let payload = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    // A failure to record is the supervisor's to notice (no signal); the CLI must go on.
    let written = signals::write_hook(&args.dir, &args.event, payload);
    if answer::waits_for_answer(&args.event)
        && let Ok(path) = written
        && let Some(request) = path.file_name().and_then(|n| n.to_str())
        && let Some(a) = answer::wait_for_answer(&args.dir, request, ANSWER_WAIT)
    {
        let hooks = vnx::provider::cli::hooks_of_event(&args.event);
        if let Some(out) = hooks.and_then(|h| h.decision(&args.event, a.answer, a.message)) {
            println!("{out}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How long the payload on stdin may take to arrive in full: a CLI writes it at once, but the
/// pipe may stay open (a process the CLI started holds it), and a hook must not wait forever.
const PAYLOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The hook's payload from stdin (at most [`MAX_PAYLOAD`] bytes, within [`PAYLOAD_WAIT`]);
/// empty when it did not end in time.
fn read_payload() -> String {
    let (send, read) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::stdin().take(MAX_PAYLOAD).read_to_end(&mut buf);
        let _ = send.send(buf);
    });
    let buf = read.recv_timeout(PAYLOAD_WAIT).unwrap_or_default();
    String::from_utf8_lossy(&buf).into_owned()
}

/// How long the permission hook waits for `vnx approve`/`vnx deny` (its CLI gives it
/// [`vnx::provider::hooks::PERMISSION_HOOK_TIMEOUT_SECS`]).
const ANSWER_WAIT: std::time::Duration =
    std::time::Duration::from_secs(vnx::provider::hooks::PERMISSION_HOOK_TIMEOUT_SECS - 10);
