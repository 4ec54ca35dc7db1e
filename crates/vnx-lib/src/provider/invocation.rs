//! How a worker CLI is started for one dispatch: its argv template (with `{prompt}` or
//! `{prompt_file}` where the prompt goes), extra environment, prompt transport, output format,
//! completion signal, hook and permission flags — for the built-in CLIs in both lanes and
//! for providers declared in `.vnx/config.yaml`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::declared::DeclaredProvider;
use super::hooks::{self, HookKind};
use super::kinds::{Lane, OutputFormat, PromptTransport, ProviderCompletion};
use super::{Permission, Provider, ProviderError};

/// The placeholder for the prompt text in an argv template.
pub const PROMPT: &str = "{prompt}";
/// The placeholder for the prompt file's path in an argv template.
pub const PROMPT_FILE: &str = "{prompt_file}";
/// Prompts longer than this do not travel as an argument (Linux caps one argument at
/// 128 KiB): headless CLIs read them on stdin, TUIs are pointed at the prompt file.
pub const MAX_PROMPT_ARG: usize = 100 * 1024;

/// What the claude and gemini workers may run without asking: the completion protocol.
const REPORT_COMMAND: &str = "vnx report";

/// A worker start, fully decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    /// `argv[0]` is the program name (resolved to a path by the caller); later elements are
    /// templates where `{prompt}`/`{prompt_file}` are substituted and `{{`/`}}` are braces.
    pub argv: Vec<String>,
    /// Variables set for the worker only.
    pub env: Vec<(String, String)>,
    /// How the prompt reaches the worker.
    pub prompt_transport: PromptTransport,
    /// What the worker's stdout is.
    pub output: OutputFormat,
    /// What ends the dispatch successfully.
    pub completion: ProviderCompletion,
    /// The end-of-turn hook vnx installs for it.
    pub hooks: HookKind,
    /// The flags the permission posture added (also inside `argv`).
    pub permission_flags: Vec<String>,
    /// The command prefixes given to the CLI's own allow mechanism (in `argv`, or in the
    /// gemini TUI's policy file); empty where the posture or the CLI's sandbox decides alone.
    #[serde(default)]
    pub allowed_commands: Vec<String>,
}

/// What an invocation depends on besides the provider.
#[derive(Clone, Copy, Debug)]
pub struct Wanted<'a> {
    /// Headless or interactive.
    pub lane: Lane,
    /// The model; the CLI's default when `None`.
    pub model: Option<&'a str>,
    /// The permission posture.
    pub permission: Permission,
    /// The prompt's length in bytes.
    pub prompt_len: usize,
    /// vnx's own binary (hooks, the demo worker).
    pub vnx: &'a Path,
    /// The dispatch directory (hook settings, prompt file, report).
    pub dispatch_dir: &'a Path,
    /// The CLI session to resume (a follow-up); `None`: a new session. An id checked by
    /// [`crate::provider::session::valid_id`], and passed so it cannot read as an option.
    pub resume: Option<&'a str>,
    /// A new session's id chosen by vnx, for a CLI that takes one (claude's TUI:
    /// `--session-id`), so the session file read for the dispatch is the one its worker's
    /// CLI wrote (ADR 0052); ignored when resuming.
    pub session: Option<&'a str>,
    /// Command prefixes the role allows without asking (`roles.<role>.allow`), given to
    /// the CLI's own allow mechanism in the `edits` posture; `vnx report` always is.
    pub allow: &'a [String],
}

impl Wanted<'_> {
    /// The command prefixes the worker may run unasked: `vnx report`, then, in the `edits`
    /// posture, the role's (`ask` asks for everything else; `full` allows everything).
    pub fn allowed_commands(&self) -> Vec<&str> {
        let mut out = vec![REPORT_COMMAND];
        if self.permission == Permission::Edits {
            out.extend(
                self.allow
                    .iter()
                    .map(String::as_str)
                    .filter(|c| *c != REPORT_COMMAND),
            );
        }
        out
    }
}

/// Claude Code's `--allowedTools` flags: one `Bash(PREFIX:*)` rule each (claude 2.1.197
/// takes the flag repeated; its own read-only commands, `git status` and `git log` among
/// them, need no rule).
fn claude_allow_flags(w: &Wanted<'_>) -> Vec<String> {
    w.allowed_commands()
        .into_iter()
        .flat_map(|c| {
            [
                "--allowedTools".to_owned(),
                literal(&format!("Bash({c}:*)")),
            ]
        })
        .collect()
}

/// Gemini CLI's headless `--allowed-tools` flags: `run_shell_command(PREFIX)` each (gemini
/// 0.61 takes the flag repeated; every command no rule allows is denied by policy).
fn gemini_allow_flags(w: &Wanted<'_>) -> Vec<String> {
    w.allowed_commands()
        .into_iter()
        .flat_map(|c| {
            [
                "--allowed-tools".to_owned(),
                literal(&format!("run_shell_command({c})")),
            ]
        })
        .collect()
}

/// Escapes a literal for an argv template.
pub fn literal(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}

/// Substitutes the placeholders of one template element.
pub fn expand(template: &str, prompt: &str, prompt_file: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("{{") {
            out.push('{');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("}}") {
            out.push('}');
            rest = r;
        } else if let Some(r) = rest.strip_prefix(PROMPT) {
            out.push_str(prompt);
            rest = r;
        } else if let Some(r) = rest.strip_prefix(PROMPT_FILE) {
            out.push_str(prompt_file);
            rest = r;
        } else {
            out.push_str(&rest[..1]);
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Provider {
    /// Whether this CLI resumes a session it recorded (`--resume`, `exec resume`) in `lane`.
    /// Gemini's TUI does not: given `--resume` and `-i`, gemini 0.61 sends the new prompt
    /// without the session's history, then swaps the history back in over it after the
    /// first tool call (the new instruction is lost mid-turn), so a follow-up there starts a
    /// new session that is told the earlier instruction.
    pub fn resumes_sessions(self, lane: Lane) -> bool {
        match self {
            Provider::Claude | Provider::Codex => true,
            Provider::Gemini => lane == Lane::Headless,
            Provider::Ollama | Provider::Demo => false,
        }
    }

    /// The lane a dispatch runs in when none is asked for: claude's TUI (as VNX, it keeps
    /// subscription billing), the structured headless mode for the others.
    pub fn default_lane(self) -> Lane {
        match self {
            Provider::Claude => Lane::Interactive,
            _ => Lane::Headless,
        }
    }

    /// The flags a permission posture maps to for this CLI in a lane.
    pub fn permission_flags(self, lane: Lane, permission: Permission) -> Vec<String> {
        use Permission::{Ask, Edits, Full};
        strs(match (self, lane, permission) {
            (Provider::Claude, _, Ask) => &[],
            (Provider::Claude, _, Edits) => &["--permission-mode", "acceptEdits"],
            (Provider::Claude, _, Full) => &["--dangerously-skip-permissions"],
            (Provider::Codex, Lane::Headless, Ask) => &["--sandbox", "read-only"],
            (Provider::Codex, Lane::Headless, Edits) => &["--sandbox", "workspace-write"],
            (Provider::Codex, Lane::Interactive, Ask) => {
                &["--sandbox", "read-only", "--ask-for-approval", "on-request"]
            }
            (Provider::Codex, Lane::Interactive, Edits) => &[
                "--sandbox",
                "workspace-write",
                "--ask-for-approval",
                "on-request",
            ],
            (Provider::Codex, _, Full) => &["--dangerously-bypass-approvals-and-sandbox"],
            (Provider::Gemini, _, Ask) => &[],
            (Provider::Gemini, _, Edits) => &["--approval-mode", "auto_edit"],
            (Provider::Gemini, _, Full) => &["--yolo"],
            (Provider::Ollama | Provider::Demo, _, _) => &[],
        })
    }

    /// How this built-in CLI is started.
    pub fn invocation(self, w: &Wanted<'_>) -> Result<Invocation, ProviderError> {
        let large = w.prompt_len > MAX_PROMPT_ARG;
        let dir = literal(&w.dispatch_dir.to_string_lossy());
        let vnx = literal(&w.vnx.to_string_lossy());
        let perms = self.permission_flags(w.lane, w.permission);
        let model = |flag: &str| -> Vec<String> {
            w.model
                .map(|m| vec![flag.to_owned(), literal(m)])
                .unwrap_or_default()
        };
        // `--resume=ID`, one word: whatever the id, Commander (claude) and yargs (gemini) read
        // it as the option's value, never as an option of its own.
        let resume = |flag: &str| -> Vec<String> {
            w.resume
                .map(|s| vec![literal(&format!("{flag}={s}"))])
                .unwrap_or_default()
        };
        // A TUI cannot take a prompt on stdin (stdin is the terminal): a large prompt is a
        // file it is told to read.
        let (transport, prompt_arg) = match (w.lane, large) {
            (_, false) => (PromptTransport::Argument, PROMPT.to_owned()),
            (Lane::Headless, true) => (PromptTransport::Stdin, String::new()),
            (Lane::Interactive, true) => (
                PromptTransport::File,
                format!(
                    "Your assignment is in the file {PROMPT_FILE}. Read all of it, then carry \
                     it out."
                ),
            ),
        };
        let env = Vec::new();
        let mut argv: Vec<String> = Vec::new();
        let (output, completion, hook) = match (self, w.lane) {
            (Provider::Claude, Lane::Headless) => {
                argv.extend(strs(&["claude", "-p"]));
                if !large {
                    argv.push(prompt_arg);
                }
                argv.extend(strs(&["--output-format", "stream-json", "--verbose"]));
                argv.extend(model("--model"));
                argv.extend(perms.iter().cloned());
                argv.extend(["--add-dir".into(), dir.clone()]);
                argv.extend(claude_allow_flags(w));
                argv.extend(resume("--resume"));
                (
                    OutputFormat::ClaudeStreamJson,
                    ProviderCompletion::Report,
                    HookKind::None,
                )
            }
            (Provider::Claude, Lane::Interactive) => {
                argv.extend(["claude".into(), prompt_arg]);
                if let (None, Some(session)) = (w.resume, w.session) {
                    argv.push(literal(&format!("--session-id={session}")));
                }
                argv.extend(model("--model"));
                argv.extend(perms.iter().cloned());
                let settings = w.dispatch_dir.join("hooks/claude-settings.json");
                argv.extend(["--settings".into(), literal(&settings.to_string_lossy())]);
                argv.extend(["--add-dir".into(), dir.clone()]);
                argv.extend(claude_allow_flags(w));
                argv.extend(resume("--resume"));
                (
                    OutputFormat::Text,
                    ProviderCompletion::Report,
                    HookKind::ClaudeStop,
                )
            }
            (Provider::Codex, lane) => {
                argv.push("codex".into());
                // `exec resume` takes neither `--sandbox` nor `--add-dir` (codex 0.169): the
                // same settings go as `-c` overrides.
                let exec_resume = lane == Lane::Headless && w.resume.is_some();
                match (lane, exec_resume) {
                    (Lane::Headless, false) => {
                        argv.extend(strs(&["exec", "--json", "--skip-git-repo-check"]));
                    }
                    (Lane::Headless, true) => {
                        argv.extend(strs(&["exec", "resume", "--json", "--skip-git-repo-check"]));
                    }
                    (Lane::Interactive, _) => {
                        if w.resume.is_some() {
                            argv.push("resume".into());
                        }
                        argv.push("--no-daemon".into());
                    }
                }
                argv.extend(model("--model"));
                if exec_resume {
                    argv.extend(codex_exec_resume_flags(&perms, w.dispatch_dir));
                } else {
                    argv.extend(perms.iter().cloned());
                    argv.extend(["--add-dir".into(), dir.clone()]);
                }
                // No `--add-dir` for the git directory: codex's sandbox keeps every `.git`
                // read-only even when it is named (seen on codex 0.169), so a sandboxed
                // worker cannot commit; vnx commits for it.
                // Codex runs the model's commands in a login shell, whose profile resets
                // PATH and loses the dispatch's `bin/` (so `vnx report` is "command not
                // found"); a plain shell keeps the PATH vnx gives the worker.
                argv.extend(strs(&["-c", "allow_login_shell=false"]));
                let hook = if lane == Lane::Interactive {
                    argv.push("-c".into());
                    argv.push(literal(&hooks::codex_notify_override(
                        w.vnx,
                        w.dispatch_dir,
                    )));
                    // An approval prompt and a tool that ran, from codex's hooks engine.
                    for value in hooks::codex_hook_overrides(w.vnx, w.dispatch_dir) {
                        argv.extend(["-c".into(), literal(&value)]);
                    }
                    HookKind::CodexNotify
                } else {
                    HookKind::None
                };
                // The session (`[SESSION_ID] [PROMPT]`), then the prompt; `-` makes codex
                // read the prompt from stdin. After `--`, so clap reads both as positionals
                // whatever they hold.
                if let Some(session) = w.resume {
                    argv.extend(["--".into(), literal(session)]);
                }
                argv.push(if transport == PromptTransport::Stdin {
                    "-".into()
                } else {
                    prompt_arg
                });
                let output = if lane == Lane::Headless {
                    OutputFormat::CodexJson
                } else {
                    OutputFormat::Text
                };
                (output, ProviderCompletion::Report, hook)
            }
            (Provider::Gemini, Lane::Headless) => {
                argv.push("gemini".into());
                if !large {
                    argv.extend(["-p".into(), prompt_arg]);
                }
                argv.extend(strs(&["--output-format", "stream-json"]));
                argv.extend(model("--model"));
                argv.extend(perms.iter().cloned());
                // The dispatcher chose this worktree: without trust gemini silently drops the
                // posture to `default`.
                argv.push("--skip-trust".into());
                argv.extend(["--include-directories".into(), dir.clone()]);
                // An allow-list makes gemini 0.61 deny every other command, `--yolo` or not
                // (seen: a sandboxed full-posture worker's `git commit` denied by policy); the
                // full posture allows everything anyway.
                if w.permission != Permission::Full {
                    argv.extend(gemini_allow_flags(w));
                }
                argv.extend(resume("--resume"));
                (
                    OutputFormat::GeminiStreamJson,
                    ProviderCompletion::Report,
                    HookKind::None,
                )
            }
            (Provider::Gemini, Lane::Interactive) => {
                argv.push("gemini".into());
                argv.extend(model("--model"));
                argv.extend(perms.iter().cloned());
                argv.push("--skip-trust".into());
                argv.extend(["--include-directories".into(), dir.clone()]);
                // `vnx report` is allowed by a policy file, not `--allowed-tools`: with that
                // flag (or `tools.allowed` in settings) gemini 0.61 refuses every other
                // command without a prompt; the policy engine asks.
                let policy = w.dispatch_dir.join(hooks::GEMINI_POLICY_FILE);
                argv.extend(["--policy".into(), literal(&policy.to_string_lossy())]);
                argv.extend(resume("--resume"));
                argv.extend(["-i".into(), prompt_arg]);
                // Its hooks go in the worktree's `.gemini/settings.json` (see
                // `dispatch::start::workspace`).
                (
                    OutputFormat::Text,
                    ProviderCompletion::Report,
                    HookKind::GeminiAfterAgent,
                )
            }
            (Provider::Ollama, Lane::Headless) => {
                argv.extend(["ollama".into(), "run".into()]);
                argv.push(literal(w.model.unwrap_or_default()));
                if !large {
                    argv.push(prompt_arg);
                }
                // ollama answers in text and has no tools: it cannot run `vnx report`.
                (OutputFormat::Text, ProviderCompletion::Exit, HookKind::None)
            }
            (Provider::Ollama, Lane::Interactive) => {
                return Err(ProviderError::LaneUnsupported {
                    provider: "ollama".into(),
                    lane: Lane::Interactive,
                });
            }
            (Provider::Demo, _) => {
                argv.extend([vnx, "__demo-worker".into()]);
                argv.push(literal(w.model.unwrap_or_default()));
                match transport {
                    PromptTransport::Argument => argv.push(prompt_arg),
                    PromptTransport::File => {
                        argv.extend(["--prompt-file".into(), PROMPT_FILE.into()]);
                    }
                    PromptTransport::Stdin => {}
                }
                (
                    OutputFormat::Text,
                    ProviderCompletion::Report,
                    HookKind::None,
                )
            }
        };
        let allowed_commands = match (self, w.permission) {
            (Provider::Claude | Provider::Gemini, Permission::Ask | Permission::Edits) => w
                .allowed_commands()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Ok(Invocation {
            argv,
            env,
            prompt_transport: transport,
            output,
            completion,
            hooks: hook,
            permission_flags: perms,
            allowed_commands,
        })
    }
}

/// The posture and the dispatch directory as `codex exec resume` takes them: `-c` overrides
/// in place of `--sandbox MODE` and `--add-dir DIR`.
fn codex_exec_resume_flags(perms: &[String], dispatch_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut flags = perms.iter();
    while let Some(flag) = flags.next() {
        if flag == "--sandbox" {
            let mode = flags.next().map(String::as_str).unwrap_or("read-only");
            out.extend([
                "-c".into(),
                literal(&format!("sandbox_mode={}", hooks::toml_string(mode))),
            ]);
        } else {
            out.push(flag.clone());
        }
    }
    let roots = format!(
        "sandbox_workspace_write.writable_roots=[{}]",
        hooks::toml_string(&dispatch_dir.to_string_lossy())
    );
    out.extend(["-c".into(), literal(&roots)]);
    out
}

/// How a declared provider is started: `binary`, its model arguments, its resume arguments
/// (a follow-up), the posture's flags, then the lane's argv.
pub fn declared_invocation(
    name: &str,
    def: &DeclaredProvider,
    w: &Wanted<'_>,
) -> Result<Invocation, ProviderError> {
    let lane = def
        .lane(w.lane)
        .ok_or_else(|| ProviderError::LaneUnsupported {
            provider: name.to_owned(),
            lane: w.lane,
        })?;
    if w.prompt_len > MAX_PROMPT_ARG && lane.prompt == PromptTransport::Argument {
        return Err(ProviderError::PromptTooLarge {
            provider: name.to_owned(),
            bytes: w.prompt_len,
        });
    }
    let perms = match w.permission {
        Permission::Ask => &def.permissions.ask,
        Permission::Edits => &def.permissions.edits,
        Permission::Full => &def.permissions.full,
    }
    .clone()
    .ok_or_else(|| ProviderError::PostureUndeclared {
        provider: name.to_owned(),
        permission: w.permission,
    })?;
    let mut argv = vec![def.binary.clone()];
    match w.model {
        Some(m) if def.model_args.is_empty() => {
            return Err(ProviderError::NoModelArgs {
                provider: name.to_owned(),
                model: m.to_owned(),
            });
        }
        Some(m) => argv.extend(def.model_argv(m).iter().map(|a| literal(a))),
        None => {}
    }
    if let Some(session) = w.resume.filter(|_| !def.resume_args.is_empty()) {
        argv.extend(def.resume_argv(session).iter().map(|a| literal(a)));
    }
    argv.extend(perms.iter().map(|f| literal(f)));
    argv.extend(lane.argv.iter().cloned());
    Ok(Invocation {
        argv,
        env: Vec::new(),
        prompt_transport: lane.prompt,
        output: lane.output,
        completion: lane.completion,
        hooks: HookKind::None,
        permission_flags: perms,
        allowed_commands: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(lane: Lane, permission: Permission, prompt_len: usize) -> Wanted<'static> {
        Wanted {
            lane,
            model: Some("gpt-5.5"),
            permission,
            prompt_len,
            vnx: Path::new("/bin/vnx"),
            dispatch_dir: Path::new("/r/.vnx-data/dispatches/D-1"),
            resume: None,
            session: None,
            allow: &[],
        }
    }

    #[test]
    fn a_session_id_never_reads_as_an_option() {
        // A worker could write the hook payload an id was read from (ids are checked where
        // they are read, `session::valid_id`); however it reads, it stays the option's value.
        let hostile = "--dangerously-skip-permissions";
        for p in [Provider::Claude, Provider::Codex, Provider::Gemini] {
            for lane in [Lane::Headless, Lane::Interactive] {
                let w = Wanted {
                    resume: Some(hostile),
                    ..wanted(lane, Permission::Edits, 10)
                };
                let argv = p.invocation(&w).unwrap().argv;
                // The words an argv parser reads as options: those before a `--`.
                let options = argv.iter().take_while(|a| *a != "--");
                assert!(
                    options.clone().all(|a| a != hostile),
                    "{p:?} {lane:?}: {argv:?}"
                );
                if p != Provider::Codex {
                    assert!(
                        argv.iter()
                            .any(|a| a == "--resume=--dangerously-skip-permissions"),
                        "{p:?} {lane:?}: {argv:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn claudes_tui_is_told_the_session_vnx_chose_unless_it_resumes_one() {
        let id = "0b5c4f1e-5a4c-4d2b-9c1e-1f2e3d4c5b6a";
        let w = Wanted {
            session: Some(id),
            ..wanted(Lane::Interactive, Permission::Edits, 10)
        };
        let argv = Provider::Claude.invocation(&w).unwrap().argv;
        assert!(argv.contains(&format!("--session-id={id}")), "{argv:?}");
        let resumed = Wanted {
            resume: Some(id),
            ..w
        };
        let argv = Provider::Claude.invocation(&resumed).unwrap().argv;
        assert!(
            !argv.iter().any(|a| a.starts_with("--session-id")),
            "{argv:?}"
        );
        assert!(argv.contains(&format!("--resume={id}")), "{argv:?}");
    }

    #[test]
    fn the_roles_allowed_commands_go_to_each_clis_allow_mechanism_in_edits() {
        let allow = ["cargo test".to_owned(), "git diff".to_owned()];
        let with = |p: Provider, lane, permission| {
            let w = Wanted {
                allow: &allow,
                ..wanted(lane, permission, 10)
            };
            p.invocation(&w).unwrap().argv
        };
        let claude = with(Provider::Claude, Lane::Headless, Permission::Edits);
        let rules: Vec<&str> = claude
            .windows(2)
            .filter(|p| p[0] == "--allowedTools")
            .map(|p| p[1].as_str())
            .collect();
        assert_eq!(
            rules,
            [
                "Bash(vnx report:*)",
                "Bash(cargo test:*)",
                "Bash(git diff:*)"
            ]
        );
        let gemini = with(Provider::Gemini, Lane::Headless, Permission::Edits);
        assert!(
            gemini
                .windows(2)
                .any(|p| p[0] == "--allowed-tools" && p[1] == "run_shell_command(cargo test)"),
            "{gemini:?}"
        );
        // `ask` asks for everything but the report; codex's sandbox runs commands unasked.
        let ask = with(Provider::Claude, Lane::Interactive, Permission::Ask);
        assert!(!ask.iter().any(|a| a.contains("cargo test")), "{ask:?}");
        let codex = with(Provider::Codex, Lane::Headless, Permission::Edits);
        assert!(!codex.iter().any(|a| a.contains("cargo test")), "{codex:?}");
    }

    #[test]
    fn placeholders_expand_and_braces_escape() {
        assert_eq!(expand("--p={prompt}!", "hi {x}", "/f"), "--p=hi {x}!");
        assert_eq!(expand("{{prompt}}", "P", "/f"), "{prompt}");
        assert_eq!(
            expand(&literal("/a/{prompt}/b"), "P", "/f"),
            "/a/{prompt}/b"
        );
        assert_eq!(expand("{prompt_file}", "P", "/f"), "/f");
        assert_eq!(expand("{odd", "P", "/f"), "{odd");
    }

    #[test]
    fn nothing_defaults_to_skipping_permissions() {
        for p in [Provider::Claude, Provider::Codex, Provider::Gemini] {
            for lane in [Lane::Headless, Lane::Interactive] {
                let ask = p.permission_flags(lane, Permission::Ask).join(" ");
                let edits = p.permission_flags(lane, Permission::Edits).join(" ");
                for risky in ["dangerously", "yolo", "bypass"] {
                    assert!(!ask.contains(risky) && !edits.contains(risky), "{p:?}");
                }
                assert!(!p.permission_flags(lane, Permission::Full).is_empty());
            }
        }
    }

    #[test]
    fn codex_headless_closes_with_the_prompt_and_reads_stdin_when_large() {
        let inv = Provider::Codex
            .invocation(&wanted(Lane::Headless, Permission::Edits, 10))
            .unwrap();
        assert_eq!(
            inv.argv,
            [
                "codex",
                "exec",
                "--json",
                "--skip-git-repo-check",
                "--model",
                "gpt-5.5",
                "--sandbox",
                "workspace-write",
                "--add-dir",
                "/r/.vnx-data/dispatches/D-1",
                "-c",
                "allow_login_shell=false",
                PROMPT
            ]
        );
        let big = Provider::Codex
            .invocation(&wanted(
                Lane::Headless,
                Permission::Edits,
                MAX_PROMPT_ARG + 1,
            ))
            .unwrap();
        assert_eq!(big.prompt_transport, PromptTransport::Stdin);
        assert_eq!(big.argv.last().unwrap(), "-");
    }

    #[test]
    fn interactive_lanes_install_hooks_from_outside_the_worktree() {
        let claude = Provider::Claude
            .invocation(&wanted(Lane::Interactive, Permission::Ask, 10))
            .unwrap();
        assert_eq!(claude.hooks, HookKind::ClaudeStop);
        let i = claude.argv.iter().position(|a| a == "--settings").unwrap();
        assert!(claude.argv[i + 1].starts_with("/r/.vnx-data/dispatches/D-1/hooks/"));
        let codex = Provider::Codex
            .invocation(&wanted(Lane::Interactive, Permission::Ask, 10))
            .unwrap();
        assert!(codex.argv.contains(&"--no-daemon".to_owned()));
        assert!(codex.argv.iter().any(|a| a.starts_with("notify=[")));
        let big = Provider::Gemini
            .invocation(&wanted(
                Lane::Interactive,
                Permission::Ask,
                MAX_PROMPT_ARG + 1,
            ))
            .unwrap();
        assert_eq!(big.prompt_transport, PromptTransport::File);
        assert_eq!(big.hooks, HookKind::GeminiAfterAgent);
        assert!(
            Provider::Ollama
                .invocation(&wanted(Lane::Interactive, Permission::Ask, 1))
                .is_err()
        );
    }
}
