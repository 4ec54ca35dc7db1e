//! Codex's command line as clap parses it: `codex [OPTIONS] [PROMPT]` (TUI) and
//! `codex exec [OPTIONS] [PROMPT]`, options before or after the prompt, `--` ending options,
//! and clap's error messages (exit 2).

use crate::Refusal;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CodexArgs {
    pub exec: bool,
    pub json: bool,
    pub skip_git_repo_check: bool,
    pub model: Option<String>,
    pub sandbox: Option<String>,
    pub approval: Option<String>,
    pub bypass: bool,
    pub add_dirs: Vec<String>,
    /// `-c key=value` overrides, raw.
    pub configs: Vec<String>,
    pub cd: Option<String>,
    pub no_daemon: bool,
    pub prompt: Option<String>,
    /// `codex resume` / `codex exec resume`.
    pub resume: bool,
    /// The thread resumed.
    pub session: Option<String>,
}

#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Box<CodexArgs>),
    Help { exec: bool, resume: bool },
    Version,
}

pub const VERSION: &str = "codex-cli 0.169.0";

pub const SANDBOX_MODES: [&str; 3] = ["read-only", "workspace-write", "danger-full-access"];
const APPROVALS: [&str; 4] = ["untrusted", "on-failure", "on-request", "never"];

/// Real subcommands the fake does not implement (refused rather than taken as a prompt).
const OTHER_SUBCOMMANDS: [&str; 13] = [
    "login",
    "logout",
    "mcp",
    "mcp-server",
    "app-server",
    "completion",
    "sandbox",
    "debug",
    "apply",
    "fork",
    "cloud",
    "features",
    "review",
];

pub fn help(exec: bool, resume: bool) -> String {
    if resume {
        return resume_help(exec);
    }
    let (usage, only) = if exec {
        (
            "Run Codex non-interactively\n\nUsage: codex exec [OPTIONS] [PROMPT]\n\nArguments:\n  [PROMPT]  Initial instructions for the agent. If not provided as an argument (or if `-` is used), instructions are read from stdin. If stdin is piped and a prompt is also provided, stdin is appended as a `<stdin>` block",
            "      --skip-git-repo-check\n          Allow running Codex outside a Git repository\n      --json\n          Print events to stdout as JSONL\n",
        )
    } else {
        (
            "Codex CLI\n\nIf no subcommand is specified, options will be forwarded to the interactive CLI.\n\nUsage: codex [OPTIONS] [PROMPT]\n       codex [OPTIONS] <COMMAND> [ARGS]\n\nCommands:\n  exec  Run Codex non-interactively [aliases: e]\n\nArguments:\n  [PROMPT]  Optional user prompt to start the session",
            "  -a, --ask-for-approval <APPROVAL_POLICY>\n          [possible values: untrusted, on-failure, on-request, never]\n      --no-daemon\n          Do not start the background daemon\n",
        )
    };
    format!(
        "{usage}\n\nOptions:\n  -c, --config <key=value>\n          Override a configuration value that would otherwise be loaded from `~/.codex/config.toml`\n  -m, --model <MODEL>\n          Model the agent should use\n  -s, --sandbox <SANDBOX_MODE>\n          [possible values: read-only, workspace-write, danger-full-access]\n{only}      --dangerously-bypass-approvals-and-sandbox\n          Skip all confirmation prompts and execute commands without sandboxing [aliases: --yolo]\n  -C, --cd <DIR>\n          Tell the agent to use the specified directory as its working root\n      --add-dir <DIR>\n          Additional directories that should be writable alongside the primary workspace\n  -h, --help\n          Print help\n  -V, --version\n          Print version\n"
    )
}

/// `codex exec resume --help` (no `--sandbox`, `--add-dir` or `--cd`: seen on codex 0.169)
/// and `codex resume --help`.
fn resume_help(exec: bool) -> String {
    let (usage, only) = if exec {
        (
            "codex exec resume",
            "      --skip-git-repo-check\n          Allow running Codex outside a Git repository\n      --json\n          Print events to stdout as JSONL\n",
        )
    } else {
        (
            "codex resume",
            "  -s, --sandbox <SANDBOX_MODE>\n          [possible values: read-only, workspace-write, danger-full-access]\n  -a, --ask-for-approval <APPROVAL_POLICY>\n          [possible values: untrusted, on-failure, on-request, never]\n  -C, --cd <DIR>\n          Tell the agent to use the specified directory as its working root\n      --add-dir <DIR>\n          Additional directories that should be writable alongside the primary workspace\n      --no-daemon\n          Do not start the background daemon\n",
        )
    };
    format!(
        "Resume a previous session by id or pick the most recent with --last\n\nUsage: {usage} [OPTIONS] [SESSION_ID] [PROMPT]\n\nArguments:\n  [SESSION_ID]\n          Conversation/session id (UUID) or thread name\n\n  [PROMPT]\n          Prompt to send after resuming the session. If `-` is used, read from stdin\n\nOptions:\n  -c, --config <key=value>\n          Override a configuration value that would otherwise be loaded from `~/.codex/config.toml`\n  -m, --model <MODEL>\n          Model the agent should use\n{only}      --dangerously-bypass-approvals-and-sandbox\n          Skip all confirmation prompts and execute commands without sandboxing\n  -h, --help\n          Print help\n"
    )
}

fn clap_error(message: String, exec: bool) -> Refusal {
    let usage = if exec {
        "codex exec [OPTIONS] [PROMPT]"
    } else {
        "codex [OPTIONS] [PROMPT]"
    };
    Refusal {
        message: format!(
            "error: {message}\n\nUsage: {usage}\n\nFor more information, try '--help'."
        ),
        code: 2,
    }
}

fn unexpected(arg: &str, exec: bool) -> Refusal {
    let mut message = format!("unexpected argument '{arg}' found");
    if arg.starts_with('-') {
        message.push_str(&format!(
            "\n\n  tip: to pass '{arg}' as a value, use '-- {arg}'"
        ));
    }
    clap_error(message, exec)
}

pub fn parse(args: &[String]) -> Result<Parsed, Refusal> {
    let mut out = CodexArgs::default();
    let mut i = 0;
    let mut only_positional = false;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        let exec = out.exec;
        if only_positional || !arg.starts_with('-') || arg == "-" {
            let first = out.prompt.is_none() && !only_positional && !out.resume;
            if first && !exec && matches!(arg, "exec" | "e") {
                out.exec = true;
            } else if first && arg == "resume" {
                out.resume = true;
            } else if out.resume && out.session.is_none() && out.prompt.is_none() {
                out.session = Some(arg.to_string());
            } else if out.prompt.is_none() && !only_positional && OTHER_SUBCOMMANDS.contains(&arg) {
                return Err(Refusal {
                    message: format!("vnx-fake-cli: `codex {arg}` is not faked"),
                    code: 2,
                });
            } else if out.prompt.is_none() {
                out.prompt = Some(arg.to_string());
            } else {
                return Err(unexpected(arg, exec));
            }
            continue;
        }
        if arg == "--" {
            only_positional = true;
            continue;
        }
        // Split into the option name and a value glued to it (`--x=v`, `-mv`, `-m=v`).
        let (name, glued) = if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (format!("--{n}"), Some(v.to_string())),
                None => (arg.to_string(), None),
            }
        } else {
            let cut = arg.char_indices().nth(2).map_or(arg.len(), |(at, _)| at);
            let rest = &arg[cut..];
            let glued =
                (!rest.is_empty()).then(|| rest.strip_prefix('=').unwrap_or(rest).to_string());
            (arg[..cut].to_string(), glued)
        };
        let takes_value = matches!(
            name.as_str(),
            "-m" | "--model"
                | "-s"
                | "--sandbox"
                | "-a"
                | "--ask-for-approval"
                | "-c"
                | "--config"
                | "-C"
                | "--cd"
                | "--add-dir"
        );
        let shown = match name.as_str() {
            "-m" | "--model" => "--model <MODEL>",
            "-s" | "--sandbox" => "--sandbox <SANDBOX_MODE>",
            "-a" | "--ask-for-approval" => "--ask-for-approval <APPROVAL_POLICY>",
            "-c" | "--config" => "--config <key=value>",
            "-C" | "--cd" => "--cd <DIR>",
            "--add-dir" => "--add-dir <DIR>",
            _ => "",
        };
        let value = if takes_value {
            match glued {
                Some(v) => v,
                None => match args.get(i).filter(|v| !v.starts_with('-') || *v == "-") {
                    Some(v) => {
                        i += 1;
                        v.clone()
                    }
                    None => {
                        return Err(clap_error(
                            format!("a value is required for '{shown}' but none was supplied"),
                            exec,
                        ));
                    }
                },
            }
        } else {
            if let Some(v) = glued {
                if name.starts_with("--") {
                    return Err(clap_error(
                        format!("unexpected value '{v}' for '{name}' found; no more were expected"),
                        exec,
                    ));
                }
                return Err(unexpected(arg, exec));
            }
            String::new()
        };
        let once = |slot: &mut Option<String>, v: String| -> Result<(), Refusal> {
            if slot.is_some() {
                return Err(clap_error(
                    format!("the argument '{shown}' cannot be used multiple times"),
                    exec,
                ));
            }
            *slot = Some(v);
            Ok(())
        };
        let choice = |v: &str, choices: &[&str]| -> Result<(), Refusal> {
            if choices.contains(&v) {
                return Ok(());
            }
            Err(clap_error(
                format!(
                    "invalid value '{v}' for '{shown}'\n  [possible values: {}]",
                    choices.join(", ")
                ),
                exec,
            ))
        };
        // `exec resume` takes neither the sandbox nor the directories as flags.
        if exec
            && out.resume
            && matches!(
                name.as_str(),
                "-s" | "--sandbox" | "--add-dir" | "-C" | "--cd"
            )
        {
            return Err(unexpected(arg, exec));
        }
        match name.as_str() {
            "-h" | "--help" => {
                return Ok(Parsed::Help {
                    exec,
                    resume: out.resume,
                });
            }
            "-V" | "--version" => return Ok(Parsed::Version),
            "--json" | "--experimental-json" if exec => out.json = true,
            "--skip-git-repo-check" if exec => out.skip_git_repo_check = true,
            "--no-daemon" if !exec => out.no_daemon = true,
            "--dangerously-bypass-approvals-and-sandbox" | "--yolo" => out.bypass = true,
            "-m" | "--model" => once(&mut out.model, value)?,
            "-s" | "--sandbox" => {
                choice(&value, &SANDBOX_MODES)?;
                once(&mut out.sandbox, value)?;
            }
            "-a" | "--ask-for-approval" if !exec => {
                choice(&value, &APPROVALS)?;
                once(&mut out.approval, value)?;
            }
            "-C" | "--cd" => once(&mut out.cd, value)?,
            "-c" | "--config" => out.configs.push(value),
            "--add-dir" => out.add_dirs.push(value),
            _ => return Err(unexpected(arg, exec)),
        }
    }
    Ok(Parsed::Run(Box::new(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn run(args: &[&str]) -> CodexArgs {
        match parse(&strs(args)) {
            Ok(Parsed::Run(a)) => *a,
            other => panic!("{other:?}"),
        }
    }

    fn refused(args: &[&str]) -> String {
        match parse(&strs(args)) {
            Err(r) => {
                assert_eq!(r.code, 2, "{}", r.message);
                r.message
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exec_with_options_around_the_prompt() {
        let a = run(&[
            "exec",
            "--json",
            "-s",
            "workspace-write",
            "fix it",
            "--skip-git-repo-check",
            "-c",
            "notify=[\"/v\"]",
            "--add-dir",
            "/d1",
            "--add-dir=/d2",
            "-mgpt-5",
            "-C",
            "/w",
        ]);
        assert!(a.exec && a.json && a.skip_git_repo_check);
        assert_eq!(a.sandbox.as_deref(), Some("workspace-write"));
        assert_eq!(a.prompt.as_deref(), Some("fix it"));
        assert_eq!(a.configs, vec!["notify=[\"/v\"]"]);
        assert_eq!(a.add_dirs, vec!["/d1", "/d2"]);
        assert_eq!(a.model.as_deref(), Some("gpt-5"));
        assert_eq!(a.cd.as_deref(), Some("/w"));
    }

    #[test]
    fn root_options_before_exec_apply() {
        let a = run(&["-a", "never", "exec", "-", "--yolo"]);
        assert!(a.exec && a.bypass);
        assert_eq!(a.approval.as_deref(), Some("never"));
        assert_eq!(a.prompt.as_deref(), Some("-"));
    }

    #[test]
    fn tui_takes_approval_and_no_daemon() {
        let a = run(&["--no-daemon", "-a", "on-request", "--", "--literal prompt"]);
        assert!(!a.exec && a.no_daemon);
        assert_eq!(a.prompt.as_deref(), Some("--literal prompt"));
    }

    #[test]
    fn refusals_read_like_clap() {
        assert!(
            refused(&["exec", "--full-auto", "x"])
                .starts_with("error: unexpected argument '--full-auto' found")
        );
        assert!(
            refused(&["exec", "-a", "never", "x"])
                .starts_with("error: unexpected argument '-a' found")
        );
        assert!(refused(&["exec", "--no-daemon"]).contains("'--no-daemon'"));
        assert!(refused(&["--json"]).contains("'--json'"));
        assert!(
            refused(&["exec", "-s", "all"])
                .contains("invalid value 'all' for '--sandbox <SANDBOX_MODE>'")
        );
        assert!(refused(&["exec", "-m"]).contains("a value is required for '--model <MODEL>'"));
        assert!(refused(&["exec", "a", "b"]).starts_with("error: unexpected argument 'b' found"));
        assert!(refused(&["exec", "-m", "a", "-m", "b"]).contains("cannot be used multiple times"));
        assert!(refused(&["exec", "--json=1"]).contains("unexpected value '1'"));
        assert!(refused(&["login"]).contains("not faked"));
    }

    #[test]
    fn resume_takes_a_session_then_a_prompt() {
        let a = run(&["exec", "resume", "--json", "-c", "x=1", "T-1", "go on"]);
        assert!(a.exec && a.resume && a.json);
        assert_eq!(a.session.as_deref(), Some("T-1"));
        assert_eq!(a.prompt.as_deref(), Some("go on"));
        assert!(
            refused(&["exec", "resume", "--sandbox", "read-only", "T"]).contains("'--sandbox'")
        );
        assert!(refused(&["exec", "resume", "--add-dir", "/d", "T"]).contains("'--add-dir'"));
        let a = run(&["resume", "--no-daemon", "-s", "workspace-write", "T-2", "p"]);
        assert!(!a.exec && a.resume);
        assert_eq!(a.session.as_deref(), Some("T-2"));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(
            parse(&strs(&["exec", "--help"])).unwrap(),
            Parsed::Help {
                exec: true,
                resume: false
            }
        );
        assert_eq!(parse(&strs(&["--version"])).unwrap(), Parsed::Version);
    }
}
