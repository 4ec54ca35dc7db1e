//! `vnx-fake-cli`: a scripted stand-in for the built-in coding CLIs, one personality each
//! (a folder here, named in `personality` below).
//! Picks the personality from argv[0] (or `VNX_FAKE_AS`) and hands over to it; the model's
//! actions come from `@fake` directives in the prompt (see `script.rs`).

#![expect(
    clippy::disallowed_methods,
    reason = "a stand-in for a real CLI, not vnx: it starts processes and reads its environment as the real one does"
)]

mod aider;
mod claude;
mod codex;
mod copilot;
mod engine;
mod gemini;
mod hooks;
mod log;
mod opencode;
mod policy;
mod qwen;
mod script;
mod sys;
mod tui;

use std::process::ExitCode;

use log::InvocationLog;

/// Arguments or startup conditions the real CLI would refuse: message for stderr, exit code.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub message: String,
    pub code: i32,
}

impl Refusal {
    pub fn report(&self, log: &mut InvocationLog) -> i32 {
        eprintln!("{}", self.message);
        log.finish("refused", self.code, Some(&self.message));
        self.code
    }
}

/// Prints `text` (help or version) to stdout and exits 0.
pub fn print_and_log(log: &mut InvocationLog, text: &str, phase: &str) -> i32 {
    print!("{text}");
    log.finish(phase, 0, None);
    0
}

/// The personality: `VNX_FAKE_AS`, else the file name argv[0] was invoked by.
fn personality(argv0: &str) -> Option<&'static str> {
    let as_env = std::env::var("VNX_FAKE_AS").ok().filter(|v| !v.is_empty());
    let name = as_env.unwrap_or_else(|| {
        std::path::Path::new(argv0)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    [
        "claude", "codex", "gemini", "qwen", "opencode", "copilot", "aider",
    ]
    .into_iter()
    .find(|p| *p == name)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if let Ok(stage) = std::env::var(codex::DAEMON_ENV) {
        return ExitCode::from(codex::daemon_stage(&stage) as u8);
    }
    let argv0 = argv.first().map(String::as_str).unwrap_or("");
    let code = match personality(argv0) {
        Some("claude") => claude::main(&argv),
        Some("codex") => codex::main(&argv),
        Some("gemini") => gemini::main(&argv),
        Some("qwen") => qwen::main(&argv),
        Some("opencode") => opencode::main(&argv),
        Some("copilot") => copilot::main(&argv),
        Some("aider") => aider::main(&argv),
        _ => {
            eprintln!(
                "vnx-fake-cli: cannot tell which CLI to fake from argv[0] '{argv0}': \
                 link it by the name of one of its personalities (a folder of testing/fake-cli/), or set VNX_FAKE_AS"
            );
            2
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}
