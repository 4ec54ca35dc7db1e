//! `vnx __demo-worker BEHAVIOUR [PROMPT | --prompt-file F]` (hidden): the offline `demo`
//! provider's worker. It follows the completion protocol like an AI worker would: it runs
//! `vnx report` (in-process) unless its behaviour is to ask a question or run forever. With
//! `--plan` (its plan mode) it changes nothing and ends with the plan of its behaviour.
//! `limit` meets a usage limit and exits 1; continued (`--resume=SESSION`) it finishes, as
//! `long` does, which otherwise works for an hour.

use super::util::output::say;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use vnx::demo;
use vnx::dispatch::supervise::signals::{self, ReportStatus};
use vnx::provider::DemoBehaviour;

use super::CliError;

/// Act out a scripted worker behaviour in the current directory (internal)
#[derive(clap::Args)]
pub struct Args {
    /// commit, dirty, noop, fail, ask, forget, slow, stubborn, limit or long
    behaviour: String,
    /// The prompt [default: read from stdin]
    #[arg(conflicts_with = "prompt_file")]
    prompt: Option<String>,
    /// Read the prompt from this file
    #[arg(long, value_name = "FILE")]
    prompt_file: Option<PathBuf>,
    /// Plan mode: change nothing, end with the plan
    #[arg(long)]
    plan: bool,
    /// Continue this session (the `limit` and `long` behaviours finish their work)
    #[arg(long, value_name = "SESSION")]
    resume: Option<String>,
}

/// `vnx report`, in-process, when running inside a dispatch.
fn report(status: ReportStatus, summary: &str) -> Result<(), CliError> {
    if let (Ok(id), Some(dir), Ok(seal)) = (
        super::util::settings::env_text("VNX_DISPATCH_ID")
            .and_then(|id| vnx::ids::DispatchId::parse(&id).ok())
            .ok_or(()),
        super::util::settings::env("VNX_DISPATCH_DIR"),
        super::util::settings::env_text(signals::SEAL_VAR).ok_or(()),
    ) {
        signals::write_report(
            PathBuf::from(dir).as_path(),
            &id,
            status,
            Some(summary),
            &seal,
        )
        .map_err(|e| CliError::new("could not write the report").with_cause(&e))?;
        println!("reported {}", status.name());
    }
    Ok(())
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let behaviour = DemoBehaviour::parse(&args.behaviour)
        .ok_or_else(|| CliError::usage(format!("unknown demo behaviour {:?}", args.behaviour)))?;
    let prompt = match (args.prompt, args.prompt_file) {
        (Some(p), _) => p,
        (None, Some(f)) => std::fs::read_to_string(&f)
            .map_err(|e| CliError::new(format!("could not read {}", f.display())).with_cause(&e))?,
        (None, None) => {
            let mut p = String::new();
            std::io::stdin()
                .read_to_string(&mut p)
                .map_err(|e| CliError::new("could not read the prompt").with_cause(&e))?;
            p
        }
    };
    let dir = std::env::current_dir().map_err(|e| CliError::from_error(&e))?;
    wait_for_go()?;
    println!(
        "demo worker: {} ({} byte prompt)",
        behaviour.name(),
        prompt.len()
    );
    println!("terminal: {}", terminal_state());
    memory()?;
    if args.plan {
        // Its plan is its last paragraph, its last message; no report: the plan waits.
        println!("\nPlan: {}", demo::plan_of(behaviour.name()));
        return Ok(ExitCode::SUCCESS);
    }
    match behaviour {
        DemoBehaviour::Commit | DemoBehaviour::Dirty | DemoBehaviour::Forget => {
            let path = demo::write_output(&dir, output(), &prompt)
                .map_err(|e| CliError::new("could not write the demo output").with_cause(&e))?;
            println!("wrote {}", path.display());
            if behaviour == DemoBehaviour::Forget {
                // Committed, and no `vnx report`: the dispatch ends needs_input, its last
                // paragraph its last message.
                let head =
                    demo::commit_output(&dir, output()).map_err(|e| CliError::from_error(&e))?;
                println!("\nCommitted {head}; that is all.");
            } else if behaviour == DemoBehaviour::Commit {
                let head =
                    demo::commit_output(&dir, output()).map_err(|e| CliError::from_error(&e))?;
                println!("committed {head}");
                report(ReportStatus::Done, "wrote and committed the demo output")?;
            } else {
                report(
                    ReportStatus::Done,
                    "wrote the demo output, left uncommitted",
                )?;
            }
        }
        DemoBehaviour::Noop => {
            println!("nothing to do");
            report(ReportStatus::Done, "nothing needed changing")?;
        }
        DemoBehaviour::Fail => {
            // Half-done work: a failed dispatch keeps its changes uncommitted for a follow-up.
            let path = demo::write_output(&dir, output(), &prompt)
                .map_err(|e| CliError::new("could not write the demo output").with_cause(&e))?;
            println!("wrote {}", path.display());
            say!("demo worker: failing as asked");
            report(ReportStatus::Failed, "failing as asked")?;
            return Ok(ExitCode::from(3));
        }
        DemoBehaviour::Limit => return limit(&dir, &prompt, args.resume.as_deref()),
        DemoBehaviour::Long => return long(&dir, &prompt, args.resume.as_deref()),
        DemoBehaviour::Ask => println!("\nShould the greeting be in English or in Dutch?"),
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

/// The `limit` behaviour: its work written, a usage limit met (exit 1, as a hosted CLI ends
/// at one); continued in its session, the work committed and reported done.
fn limit(dir: &std::path::Path, prompt: &str, resumed: Option<&str>) -> Result<ExitCode, CliError> {
    let Some(session) = resumed else {
        let path = demo::write_output(dir, output(), prompt)
            .map_err(|e| CliError::new("could not write the demo output").with_cause(&e))?;
        println!("wrote {}", path.display());
        let id = super::util::settings::env_text("VNX_DISPATCH_ID").unwrap_or_default();
        // The reset a test may move (`VNX_DEMO_LIMIT_RESETS_IN`, seconds), or leave unsaid
        // (`none`), as most CLIs do.
        let resets = match super::util::settings::env_text("VNX_DEMO_LIMIT_RESETS_IN") {
            Some(none) if none == "none" => String::new(),
            Some(secs) if secs.parse::<u64>().is_ok() => format!("; resets in {secs} s"),
            _ => format!(
                "; resets in {} s",
                vnx::provider::cli::demo::LIMIT_RESETS_IN
            ),
        };
        println!(
            "{} (session demo-{id}){resets}",
            vnx::provider::cli::demo::LIMIT_LINE
        );
        // As some CLIs do at a far reset: wait for it quietly instead of exiting
        // (`VNX_DEMO_LIMIT_WAITS`, a test's).
        if super::util::settings::env_text("VNX_DEMO_LIMIT_WAITS").is_some() {
            std::thread::sleep(Duration::from_secs(3600));
        }
        return Ok(ExitCode::from(1));
    };
    println!("continuing session {session} after the usage limit");
    finish(dir, prompt, "finished the demo output after a usage limit")
}

/// The `long` behaviour: its work written and its session named, then an hour's work; continued
/// in its session, the work committed and reported done.
fn long(dir: &std::path::Path, prompt: &str, resumed: Option<&str>) -> Result<ExitCode, CliError> {
    let id = super::util::settings::env_text("VNX_DISPATCH_ID").unwrap_or_default();
    let Some(session) = resumed else {
        let path = demo::write_output(dir, output(), prompt)
            .map_err(|e| CliError::new("could not write the demo output").with_cause(&e))?;
        println!("wrote {}", path.display());
        println!("{}demo-{id}", vnx::provider::cli::demo::SESSION_LINE);
        println!("working for an hour");
        std::thread::sleep(Duration::from_secs(3600));
        return Ok(ExitCode::SUCCESS);
    };
    println!("continuing session {session}");
    finish(dir, prompt, "finished the demo output in its session")
}

/// Commits the demo output (written again if it is missing) and reports done.
fn finish(dir: &std::path::Path, prompt: &str, summary: &str) -> Result<ExitCode, CliError> {
    if !dir.join(output()).exists() {
        demo::write_output(dir, output(), prompt)
            .map_err(|e| CliError::new("could not write the demo output").with_cause(&e))?;
    }
    let head = demo::commit_output(dir, output()).map_err(|e| CliError::from_error(&e))?;
    println!("committed {head}");
    report(ReportStatus::Done, summary)?;
    Ok(ExitCode::SUCCESS)
}

/// Whether stdin is a terminal, and whether this process's group is its foreground group
/// (what a TUI needs to read the keyboard without being stopped).
fn terminal_state() -> &'static str {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return "none";
    }
    match (
        rustix::termios::tcgetpgrp(&stdin),
        vnx::process::own_process_group(),
    ) {
        (Ok(fg), Some(own)) if fg.as_raw_nonzero().get() as u32 == own => "foreground",
        _ => "background",
    }
}

/// Makes this process ignore SIGTERM, as a misbehaving worker would.
#[expect(unsafe_code, reason = "libc::signal sets SIGTERM to SIG_IGN")]
fn ignore_term() {
    // SAFETY: setting SIGTERM's disposition to SIG_IGN installs no handler code.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
}

/// The file the demo worker writes: `VNX_DEMO_OUTPUT` when a test names one (a plain file
/// name), else `demo-output.txt`.
fn output() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let asked = super::util::settings::env_text("VNX_DEMO_OUTPUT");
        demo::output_name(asked.as_deref()).to_owned()
    })
}

/// Its memory, as a CLI that keeps one: what its dispatch's memory folder's `MEMORY.md`
/// holds, said as loaded; then a lesson a test gives in `VNX_DEMO_REMEMBER` added to it.
fn memory() -> Result<(), CliError> {
    let Some(dir) = super::util::settings::env("VNX_DISPATCH_DIR") else {
        return Ok(());
    };
    let path = vnx::memory::dir(std::path::Path::new(&dir)).join("MEMORY.md");
    let mut text = vnx::files::read_bounded(&path, vnx::memory::MAX_FILE_BYTES)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        println!("memory loaded: {line}");
    }
    if let Some(lesson) = super::util::settings::env_text("VNX_DEMO_REMEMBER") {
        text.push_str(&format!("- {lesson}\n"));
        std::fs::write(&path, text)
            .map_err(|e| CliError::new("could not write the demo's memory").with_cause(&e))?;
        println!("remembered: {lesson}");
    }
    Ok(())
}

/// Waits, when a test names a file in `VNX_DEMO_GO` (its dispatches' order decided), until
/// that file exists, for at most ten minutes; then the worker acts.
fn wait_for_go() -> Result<(), CliError> {
    let Some(go) = super::util::settings::env("VNX_DEMO_GO") else {
        return Ok(());
    };
    let go = std::path::PathBuf::from(go);
    println!("waiting for {}", go.display());
    for _ in 0..6000 {
        if go.exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(CliError::new(format!("{} never appeared", go.display())))
}
