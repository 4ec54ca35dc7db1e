//! The `aider` personality (0.86.2), headless lane: `aider --message=PROMPT` (or
//! `--message-file=/dev/stdin`) with `--no-git` and its quiet flags; plain text out: the
//! reply (each file whole in a fence, each command in a `bash` fence), `Tokens: N sent, M
//! received. Cost: …`, then what it did: `Applied edit to FILE` (`Did not apply edit to FILE
//! (--dry-run)`), `Running CMD` (a command only without `--yes-always`, stdin closed, each
//! question taking its default, yes). A failed request is a `litellm.BadRequestError` line
//! and exit 0. `--chat-history-file` keeps the conversation, `--restore-chat-history`
//! resends it.

use std::path::PathBuf;

use serde_json::Value;

use crate::engine::{self, Ctx, Observer, Policy, Posture, Status, ToolCall, ToolKind, ToolResult};
use crate::log::{self, InvocationLog};
use crate::{Refusal, sys};

const VERSION: &str = "aider 0.86.2\n";
const API_ERROR: &str = "litellm.BadRequestError: OpenAIException - scripted failure";
/// Flags it takes and the stand-in does nothing with.
const QUIET: [&str; 9] = [
    "--no-git",
    "--no-gitignore",
    "--no-check-update",
    "--analytics-disable",
    "--no-show-release-notes",
    "--no-show-model-warnings",
    "--no-detect-urls",
    "--no-pretty",
    "--no-fancy-input",
];

#[derive(Default)]
struct Args {
    message: Option<String>,
    message_file: Option<String>,
    model: Option<String>,
    yes_always: bool,
    dry_run: bool,
    no_git: bool,
    chat_history: Option<PathBuf>,
    restore: bool,
}

fn parse(argv: &[String]) -> Result<Option<Args>, Refusal> {
    let mut a = Args::default();
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(Refusal {
                    message: format!("aider: error: argument {name}: expected one argument"),
                    code: 2,
                })
        };
        match flag {
            "--version" => return Ok(None),
            "-m" | "--message" | "--msg" => a.message = Some(value(flag)?),
            "-f" | "--message-file" => a.message_file = Some(value(flag)?),
            "--model" => a.model = Some(value(flag)?),
            "--yes-always" => a.yes_always = true,
            "--dry-run" => a.dry_run = true,
            "--chat-history-file" => a.chat_history = Some(PathBuf::from(value(flag)?)),
            "--input-history-file" | "--llm-history-file" => {
                value(flag)?;
            }
            "--restore-chat-history" => a.restore = true,
            f if QUIET.contains(&f) => a.no_git |= f == "--no-git",
            _ => {
                return Err(Refusal {
                    message: format!("aider: error: unrecognized arguments: {arg}"),
                    code: 2,
                });
            }
        }
    }
    Ok(Some(a))
}

pub fn main(argv: &[String]) -> i32 {
    let mut log = InvocationLog::start("aider", argv, &[]);
    let a = match parse(&argv[1..]) {
        Ok(Some(a)) => a,
        Ok(None) => return crate::print_and_log(&mut log, VERSION, "version"),
        Err(r) => return r.report(&mut log),
    };
    let (prompt, source) = match (&a.message, &a.message_file) {
        (Some(m), _) => (m.clone(), "flag"),
        (None, Some(f)) => (std::fs::read_to_string(f).unwrap_or_default(), "file"),
        (None, None) => {
            return Refusal {
                message: "vnx-fake-cli: the aider stand-in has no TUI; give --message".into(),
                code: 1,
            }
            .report(&mut log);
        }
    };
    if !a.no_git {
        return Refusal {
            message:
                "vnx-fake-cli: the aider stand-in runs only with --no-git (the real one commits)"
                    .into(),
            code: 1,
        }
        .report(&mut log);
    }
    let history = a
        .chat_history
        .clone()
        .unwrap_or_else(|| PathBuf::from(".aider.chat.history.md"));
    let before = std::fs::read_to_string(&history).unwrap_or_default();
    // Its history's user lines (`#### `) are what a restore resends.
    let earlier: Vec<Value> = if a.restore {
        before
            .lines()
            .filter_map(|l| l.strip_prefix("#### "))
            .map(|l| Value::from(l.trim_end()))
            .collect()
    } else {
        Vec::new()
    };
    log.set("mode", "headless")
        .set("earlier_prompts", earlier)
        .set("prompt", prompt.as_str())
        .set("prompt_source", source)
        .set("phase", "running")
        .write();
    let model = a.model.clone().unwrap_or_else(|| "gpt-4o".into());
    println!(
        "Aider v0.86.2\nModel: {model} with whole edit format\nGit repo: none\nRepo-map: disabled"
    );
    if a.restore {
        println!("Restored previous conversation history.");
    }
    println!();
    // No `--yes-always`: every question takes its default, yes. With it, commands are
    // declined; `--dry-run` applies nothing.
    let cwd = std::env::current_dir().unwrap_or_default();
    let posture = match (a.yes_always, a.dry_run) {
        (_, true) => Posture::Ask,
        (true, false) => Posture::Edits,
        (false, false) => Posture::Full,
    };
    let mut ctx = Ctx {
        policy: Policy::new(posture, vec![cwd.clone()]),
        cwd,
        tool_env: Vec::new(),
        log_dir: log::log_dir(),
        calls_made: 0,
    };
    let mut obs = Reply {
        reply: String::new(),
        after: String::new(),
        asks: !a.yes_always,
    };
    let turn = engine::run_turn(&prompt, &mut ctx, &mut obs);
    let mut transcript = String::new();
    if turn.failed {
        println!("{API_ERROR}\n");
        transcript.push_str(&format!("> {API_ERROR}  \n"));
    } else {
        let tokens = format!(
            "Tokens: {} sent, {} received. Cost: $0.00 message, $0.00 session.",
            turn.input_tokens, turn.output_tokens
        );
        print!(
            "{}{}\n{tokens}\n\n{}",
            obs.reply, turn.final_text, obs.after
        );
        transcript.push_str(&format!(
            "{}{}\n\n> {tokens}  \n",
            obs.reply, turn.final_text
        ));
    }
    let asked: String = prompt.lines().map(|l| format!("#### {l}  \n")).collect();
    let chat = format!(
        "{before}\n# aider chat started at {}\n\n{asked}\n{transcript}",
        sys::iso_now()
    );
    let _ = sys::write_atomically(&history, chat.as_bytes());
    log.push_turn(turn.record());
    log.finish("exited", 0, None);
    0
}

/// The reply (written after the turn: aider applies a reply once it is complete) and what
/// aider did with it.
struct Reply {
    reply: String,
    after: String,
    /// Without `--yes-always`: the questions, each answered by its default.
    asks: bool,
}

impl Observer for Reply {
    fn tool_started(&mut self, call: &ToolCall) {
        match &call.kind {
            ToolKind::Write { path, text, .. } => self
                .reply
                .push_str(&format!("{path}\n```\n{text}\n```\n\n")),
            ToolKind::Run { command, .. } => {
                self.reply.push_str(&format!("```bash\n{command}\n```\n\n"))
            }
        }
    }

    fn approve(&mut self, _call: &ToolCall) -> bool {
        false
    }

    fn tool_finished(&mut self, call: &ToolCall, result: &ToolResult) {
        let asked = |q: &str| {
            if self.asks {
                format!("{q} [Yes]: ")
            } else {
                String::new()
            }
        };
        let line = match (&call.kind, result.status) {
            (ToolKind::Write { path, .. }, Status::Denied) => {
                format!("{path}\nDid not apply edit to {path} (--dry-run)\n")
            }
            (ToolKind::Write { path, .. }, _) => format!(
                "{path}\n{}Applied edit to {path}\n",
                if result.existed {
                    String::new()
                } else {
                    asked("Create new file? (Y)es/(N)o")
                }
            ),
            (ToolKind::Run { command, .. }, Status::Denied) => {
                format!("{command}\nRun shell command? (Y)es/(N)o/(D)on't ask again [Yes]: n\n")
            }
            (ToolKind::Run { command, .. }, _) => format!(
                "{command}\n{}Running {command}\n{}",
                asked("Run shell command? (Y)es/(N)o/(D)on't ask again"),
                result.output
            ),
        };
        self.after.push_str(&line);
    }
}
