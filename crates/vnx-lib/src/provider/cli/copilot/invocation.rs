//! How the GitHub Copilot CLI is started: `copilot -p PROMPT --output-format json` headless
//! (the prompt on stdin when it is too large for an argument), `copilot -i PROMPT` in the
//! pane; the posture as its own allow flags; `--allow-tool=shell(…)` for the commands that run
//! unasked; the session vnx chose as `--session-id=ID`, or `--resume=ID` for a follow-up.
//!
//! Its rules (seen on 1.0.102): without an allow flag, headless `-p` refuses every tool (and
//! exits 0); `write` allows its file tools; `shell(CMD)` allows a command by its name, and by
//! its first subcommand only for the tools copilot knows (`shell(git commit)`,
//! `shell(cargo build)`); `shell(vnx report)` matches nothing, so the completion protocol is
//! given as `shell(vnx)` (ADR 0058). Each rule is one word (`--allow-tool=RULE`): the flag
//! takes several values and would swallow a prompt after it.

use crate::provider::cli::argv::{Argv, Start, Wanted, literal, strs};
use crate::receipts::kinds::{Lane, Permission};

/// The completion protocol's command, as vnx's allowlist names it.
const REPORT: &str = "vnx report";
/// The rule that lets it run: copilot's rules know no subcommands of `vnx`.
const REPORT_RULE: &str = "shell(vnx)";

/// The flags of each posture, the same in both lanes: `ask` allows nothing (headless, every
/// tool is refused; its TUI asks), `edits` its file tools, `full` every tool.
pub(super) fn permission_flags(permission: Permission) -> &'static [&'static str] {
    match permission {
        Permission::Ask => &[],
        Permission::Edits => &["--allow-tool=write"],
        Permission::Full => &["--allow-all-tools"],
    }
}

/// Its argv in the lane asked for.
pub(super) fn argv(s: &Start<'_>) -> Argv {
    let w = &s.w;
    let mut argv: Vec<String> = vec!["copilot".into()];
    let interactive = w.lane == Lane::Interactive;
    if interactive {
        argv.extend(["-i".into(), s.prompt_arg.clone()]);
    } else {
        // A large prompt goes on stdin, which copilot reads as its prompt without `-p`.
        if !s.large {
            argv.extend(["-p".into(), s.prompt_arg.clone()]);
        }
        argv.extend(strs(&["--output-format", "json"]));
    }
    argv.extend(s.model("--model"));
    argv.extend(s.perms.iter().cloned());
    if w.permission != Permission::Full {
        argv.extend(allow_flags(w));
    }
    argv.extend(s.resume("--resume"));
    argv.extend(s.session("--session-id"));
    Argv::reported(argv, w.lane, super::STREAM, super::TURN_END)
}

/// The rule for an allowed command prefix: `shell(PREFIX)`, which copilot matches by the
/// command's name and, for the tools it knows, its first subcommand; a longer prefix of
/// another tool matches nothing (it asks, or is refused headless), never more than asked.
/// `vnx report` is `shell(vnx)`.
pub(super) fn rule(prefix: &str) -> String {
    if prefix == REPORT {
        REPORT_RULE.to_owned()
    } else {
        format!("shell({prefix})")
    }
}

/// Its `--allow-tool=RULE` flags, one word each.
fn allow_flags(w: &Wanted<'_>) -> Vec<String> {
    w.allowed_commands()
        .into_iter()
        .map(|c| literal(&format!("--allow-tool={}", rule(c))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cli::argv::PROMPT;
    use crate::provider::cli::testing::test_start;
    use crate::receipts::kinds::{HookKind, OutputFormat};

    fn start(lane: Lane, permission: Permission, large: bool) -> Start<'static> {
        static ALLOW: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new(|| vec!["python3".to_owned(), "git commit".to_owned()]);
        let mut s = test_start(
            lane,
            permission,
            "gpt-5.4",
            permission_flags(permission),
            large,
        );
        s.w.session = Some("7f0c7f6e-8a7e-4d33-9a43-2b6f1c1f9a10");
        s.w.allow = &ALLOW;
        s
    }

    #[test]
    fn edits_allows_its_file_tools_the_report_and_the_roles_commands() {
        let edits = argv(&start(Lane::Headless, Permission::Edits, false));
        assert_eq!(
            edits.argv,
            [
                "copilot",
                "-p",
                PROMPT,
                "--output-format",
                "json",
                "--model",
                "gpt-5.4",
                "--allow-tool=write",
                "--allow-tool=shell(vnx)",
                "--allow-tool=shell(python3)",
                "--allow-tool=shell(git commit)",
                "--session-id=7f0c7f6e-8a7e-4d33-9a43-2b6f1c1f9a10",
            ]
        );
        assert_eq!(edits.output, super::super::STREAM);
        assert_eq!(edits.hooks, HookKind::NONE);
    }

    #[test]
    fn ask_allows_only_the_report_and_full_everything() {
        let ask = argv(&start(Lane::Headless, Permission::Ask, false));
        let allowed: Vec<&String> = ask
            .argv
            .iter()
            .filter(|a| a.starts_with("--allow"))
            .collect();
        assert_eq!(allowed, ["--allow-tool=shell(vnx)"]);
        let full = argv(&start(Lane::Headless, Permission::Full, false));
        let allowed: Vec<&String> = full
            .argv
            .iter()
            .filter(|a| a.starts_with("--allow"))
            .collect();
        assert_eq!(allowed, ["--allow-all-tools"]);
    }

    #[test]
    fn a_follow_up_resumes_in_one_word_and_a_large_prompt_goes_on_stdin() {
        let mut s = start(Lane::Headless, Permission::Edits, true);
        s.w.resume = Some("10cc6b8f-f830-4a7d-bce9-ec187a090a3f");
        let made = argv(&s);
        assert_eq!(made.argv[1], "--output-format");
        assert_eq!(
            made.argv.last().map(String::as_str),
            Some("--resume=10cc6b8f-f830-4a7d-bce9-ec187a090a3f")
        );
        assert!(!made.argv.iter().any(|a| a.starts_with("--session-id")));
    }

    #[test]
    fn its_tui_gets_the_prompt_and_its_hooks() {
        let tui = argv(&start(Lane::Interactive, Permission::Edits, false));
        assert_eq!(tui.argv[..3], ["copilot", "-i", PROMPT]);
        assert_eq!(tui.output, OutputFormat::TEXT);
        assert_eq!(tui.hooks, super::super::TURN_END);
        assert!(!tui.argv.iter().any(|a| a == "--output-format"));
    }
}
