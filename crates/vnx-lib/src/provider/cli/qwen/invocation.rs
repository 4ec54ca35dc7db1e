//! How Qwen Code is started: `qwen PROMPT -o stream-json` headless (the prompt on stdin when
//! it is too large for an argument), its TUI (`-i PROMPT`) with its hooks' settings named by
//! a variable interactive; the posture as `--approval-mode`; `--allowed-tools
//! run_shell_command(PREFIX)` for what runs unasked; `--resume=ID` continues a session and,
//! for a new TUI session, `--session-id` names the one vnx chose (ADR 0052).

use super::hooks;
use crate::provider::cli::ProviderError;
use crate::provider::cli::argv::{Argv, Start, strs};
use crate::receipts::kinds::{Lane, Permission};

/// The flags of each posture, the same in both lanes: its own approval modes, named even for
/// its default so a user's `tools.approvalMode` setting cannot widen `ask`.
pub(super) fn permission_flags(permission: Permission) -> &'static [&'static str] {
    match permission {
        Permission::Ask => &["--approval-mode", "default"],
        Permission::Edits => &["--approval-mode", "auto-edit"],
        Permission::Full => &["--approval-mode", "yolo"],
    }
}

/// Its argv in the lane asked for, its memory's base in the dispatch's directory
/// ([`super::memory`]). Unless told not to, qwen starts node a second time with a
/// heap limit of half the machine's memory (qwen 0.15.10): two node
/// processes per worker, about 1.2 s of CPU more per start (3.3 against 2.0 CPU-s for a
/// one-line headless turn, measured), and each of many workers allowed half the memory.
pub(super) fn argv(s: &Start<'_>) -> Result<Argv, ProviderError> {
    let mut argv = if s.w.lane == Lane::Interactive {
        tui(s)
    } else {
        headless(s)
    };
    argv.env.push((NO_RELAUNCH.into(), "true".into()));
    let base = super::memory::base(s.w.dispatch_dir);
    argv.env.push((
        super::memory::BASE_VAR.into(),
        base.to_string_lossy().into(),
    ));
    Ok(argv)
}

/// What keeps qwen in the process vnx started, at node's own heap limit.
const NO_RELAUNCH: &str = "QWEN_CODE_NO_RELAUNCH";

/// Its headless argv.
fn headless(s: &Start<'_>) -> Argv {
    let w = &s.w;
    let mut argv: Vec<String> = vec!["qwen".into()];
    // The prompt first: `--allowed-tools` is an array that would take a positional after
    // it as one more tool (seen: "No input provided via stdin"). qwen's parser has no `--`;
    // the prompt vnx composes starts with `# vnx dispatch`, never with a dash.
    if !s.large {
        argv.push(s.prompt_arg.clone());
    }
    argv.extend(strs(&["-o", "stream-json"]));
    // Headless, `default` and `auto-edit` decline every shell command (auto-edit does not
    // even offer the tool) unless a rule allows it; with the rule the tool is offered and
    // every other command is still declined ("non-interactive mode cannot prompt").
    argv.extend(posture(s));
    argv.extend(s.resume("--resume"));
    Argv::reported(argv, w.lane, super::STREAM, super::TURN_END)
}

/// Its TUI: `qwen [FLAGS] -i PROMPT`, the prompt last (`-i` takes it as its value, so no
/// array option before it can swallow it). Its hooks come from the settings file in the
/// dispatch's directory, named by a variable as its system settings: outside the worktree,
/// so the worker's own `.qwen/settings.json` cannot take them away. The TUI asks before any
/// command the allow rules do not name (seen on qwen 0.15.10: `--allowed-tools
/// run_shell_command(echo)` ran `echo` unasked and asked before `touch`).
fn tui(s: &Start<'_>) -> Argv {
    let w = &s.w;
    let mut argv: Vec<String> = vec!["qwen".into()];
    argv.extend(posture(s));
    argv.extend(s.session("--session-id"));
    argv.extend(s.resume("--resume"));
    argv.extend(["-i".into(), s.prompt_arg.clone()]);
    let settings = w.dispatch_dir.join(hooks::SETTINGS_FILE);
    Argv {
        env: vec![(
            hooks::SETTINGS_VAR.to_owned(),
            settings.to_string_lossy().into_owned(),
        )],
        ..Argv::reported(argv, w.lane, super::STREAM, super::TURN_END)
    }
}

/// The model, the posture's flags and, but in `full`, `--allowed-tools
/// run_shell_command(PREFIX)` for each command that runs unasked.
fn posture(s: &Start<'_>) -> Vec<String> {
    let mut out = s.model("--model");
    out.extend(s.perms.iter().cloned());
    if s.w.permission != Permission::Full {
        out.extend((s.w).allow_flags("--allowed-tools", |c| format!("run_shell_command({c})")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cli::argv::PROMPT;
    use crate::provider::cli::testing::test_start;
    use crate::receipts::kinds::{OutputFormat, ProviderCompletion};

    fn start(lane: Lane, permission: Permission, large: bool) -> Start<'static> {
        let perms = permission_flags(permission);
        test_start(lane, permission, "qwen3-coder-plus", perms, large)
    }

    #[test]
    fn qwen_is_kept_in_the_process_vnx_started_in_every_lane() {
        for lane in [Lane::Headless, Lane::Interactive] {
            let inv = argv(&start(lane, Permission::Edits, false)).unwrap();
            assert!(
                (inv.env.iter()).any(|(k, v)| k == NO_RELAUNCH && v == "true"),
                "{lane:?} {:?}",
                inv.env
            );
        }
    }

    #[test]
    fn the_postures_are_its_approval_modes_and_only_full_runs_every_command() {
        let edits = argv(&start(Lane::Headless, Permission::Edits, false)).unwrap();
        assert_eq!(
            edits.argv,
            [
                "qwen",
                PROMPT,
                "-o",
                "stream-json",
                "--model",
                "qwen3-coder-plus",
                "--approval-mode",
                "auto-edit",
                "--allowed-tools",
                "run_shell_command(vnx report)",
            ]
        );
        assert_eq!(edits.output, super::super::STREAM);
        assert_eq!(edits.completion, ProviderCompletion::Report);
        let ask = argv(&start(Lane::Headless, Permission::Ask, false)).unwrap();
        assert!(ask.argv.ends_with(&strs(&[
            "--approval-mode",
            "default",
            "--allowed-tools",
            "run_shell_command(vnx report)"
        ])));
        let full = argv(&start(Lane::Headless, Permission::Full, false)).unwrap();
        assert!(full.argv.ends_with(&strs(&["--approval-mode", "yolo"])));
    }

    #[test]
    fn a_follow_up_resumes_its_session_in_one_word() {
        let mut s = start(Lane::Headless, Permission::Edits, false);
        s.w.resume = Some("10cc6b8f-f830-4a7d-bce9-ec187a090a3f");
        let made = argv(&s).unwrap();
        assert_eq!(
            made.argv.last().map(String::as_str),
            Some("--resume=10cc6b8f-f830-4a7d-bce9-ec187a090a3f")
        );
    }

    #[test]
    fn a_large_prompt_goes_on_stdin() {
        let large = argv(&start(Lane::Headless, Permission::Edits, true)).unwrap();
        assert_eq!(large.argv[1], "-o");
        assert!(!large.argv.iter().any(|a| a.contains(PROMPT)));
    }

    #[test]
    fn its_tui_gets_the_session_vnx_chose_and_its_hooks_from_the_dispatch_directory() {
        let mut s = start(Lane::Interactive, Permission::Edits, false);
        let id = "0b5c4f1e-5a4c-4d2b-9c1e-1f2e3d4c5b6a";
        s.w.session = Some(id);
        let tui = argv(&s).unwrap();
        assert_eq!(
            tui.argv,
            [
                "qwen",
                "--model",
                "qwen3-coder-plus",
                "--approval-mode",
                "auto-edit",
                "--allowed-tools",
                "run_shell_command(vnx report)",
                &format!("--session-id={id}"),
                "-i",
                PROMPT,
            ]
        );
        assert_eq!(tui.hooks, super::super::TURN_END);
        assert_eq!(tui.output, OutputFormat::TEXT);
        assert_eq!(
            tui.env,
            [
                (
                    "QWEN_CODE_SYSTEM_SETTINGS_PATH".to_owned(),
                    "/d/hooks/qwen-settings.json".to_owned()
                ),
                (NO_RELAUNCH.to_owned(), "true".to_owned()),
                (
                    "QWEN_CODE_MEMORY_BASE_DIR".to_owned(),
                    "/d/qwen-memory".to_owned()
                )
            ]
        );
        // A follow-up resumes its session instead.
        s.w.resume = Some(id);
        let resumed = argv(&s).unwrap().argv;
        assert!(!resumed.iter().any(|a| a.starts_with("--session-id")));
        assert!(resumed.contains(&format!("--resume={id}")), "{resumed:?}");
        // The full posture runs everything: no allow rule.
        let full = argv(&start(Lane::Interactive, Permission::Full, false)).unwrap();
        assert!(!full.argv.iter().any(|a| a == "--allowed-tools"));
    }
}
