//! `vnx __hook EVENT --dir DISPATCH_DIR [PAYLOAD]` (hidden): what the hooks vnx installs for a
//! worker CLI run. Claude and Gemini pass their JSON on stdin, Codex as the last argument.
//! It records the call for the supervisor and always exits 0, quietly but for one case:
//! claude's `PermissionRequest` hook then waits for `vnx approve`/`vnx deny` while the
//! prompt shows, and returns the decision claude reads from it (nothing once the worker went
//! on: a person answered in the pane).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use vnx::dispatch::answer;
use vnx::dispatch::supervise::signals;
use vnx::receipts::PermissionAnswer;

use super::CliError;

/// Hook payloads larger than this are cut.
const MAX_PAYLOAD: u64 = 1 << 20;

/// Record a worker CLI's hook call (internal)
#[derive(clap::Args)]
pub struct Args {
    /// One of the events vnx installs hooks for (claude-stop, gemini-after-agent,
    /// codex-notify, codex-permission-request, …)
    event: String,
    /// The dispatch directory
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The payload (codex); read from stdin when absent
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
        None => {
            let mut buf = Vec::new();
            let _ = std::io::stdin().take(MAX_PAYLOAD).read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        }
    };
    let payload = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    // A failure to record is the supervisor's to notice (no signal); the CLI must go on.
    let written = signals::write_hook(&args.dir, &args.event, payload);
    if args.event == answer::HOOK_EVENT
        && let Ok(path) = written
        && let Some(request) = path.file_name().and_then(|n| n.to_str())
        && let Some(a) = answer::wait_for_answer(&args.dir, request, ANSWER_WAIT)
    {
        let decision = match a.answer {
            PermissionAnswer::Approve => serde_json::json!({"behavior": "allow"}),
            PermissionAnswer::Deny => serde_json::json!({
                "behavior": "deny",
                "message": a.message.unwrap_or_else(|| "A person denied this with `vnx deny`.".to_owned()),
            }),
        };
        let out = serde_json::json!({
            "hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}
        });
        println!("{out}");
    }
    Ok(ExitCode::SUCCESS)
}

/// How long claude's permission hook waits for `vnx approve`/`vnx deny` (claude gives it
/// [`vnx::provider::hooks::PERMISSION_HOOK_TIMEOUT_SECS`]).
const ANSWER_WAIT: std::time::Duration =
    std::time::Duration::from_secs(vnx::provider::hooks::PERMISSION_HOOK_TIMEOUT_SECS - 10);
