//! How aider is started: `aider --message=PROMPT` headless (`--message-file /dev/stdin` when
//! the prompt is too large for an argument), with what keeps it offline and quiet, its chat
//! history in the dispatch directory, and `--no-git`: aider edits files only, so it never
//! commits, never writes a git identity into the repository's config and leaves no
//! `.aider*` file in the worktree (vnx commits, as for every worker). The posture is how its
//! confirmations are answered. It has no interactive lane in vnx: its TUI takes no first
//! message (`--message` exits after it) and has no hooks.

use crate::provider::cli::ProviderError;
use crate::provider::cli::argv::{Argv, Start, strs};
use crate::receipts::kinds::{HookKind, Lane, Permission, ProviderCompletion};

/// Its chat history in the dispatch directory: what `--restore-chat-history` reads back in
/// a follow-up (it has no session ids), carried into the follow-up's directory.
pub(super) const CHAT_HISTORY: &str = "aider-chat.md";
/// Its input history (its default is `.aider.input.history` in the repository's root).
const INPUT_HISTORY: &str = "aider-input.history";
/// Its log of the model's requests and replies (off by default).
const LLM_HISTORY: &str = "aider-llm.history";

/// Every start's flags: no git (no commit, no identity written, no tags cache or
/// `.gitignore` entry in the worktree), no update check, analytics, release notes (which,
/// answered yes, launched a browser), model warnings or URL fetching, plain output.
const ALWAYS: &[&str] = &[
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

/// The flags of each posture. aider has no permission modes: it applies what the reply
/// says, asking "Create new file?" and "Run shell command?" first. `--yes-always` answers
/// yes to the first kind and no to the second (a command needs an explicit yes); without it
/// headless, stdin closed, each question takes its default, yes, so commands run.
pub(super) fn permission_flags(permission: Permission) -> &'static [&'static str] {
    match permission {
        // Shows what it would change, changes nothing, runs nothing.
        Permission::Ask => &["--yes-always", "--dry-run"],
        // Edits without asking; every command it suggests declined.
        Permission::Edits => &["--yes-always"],
        // Edits and runs the commands it suggests.
        Permission::Full => &[],
    }
}

/// Its argv in the lane asked for.
pub(super) fn argv(s: &Start<'_>) -> Result<Argv, ProviderError> {
    if s.w.lane == Lane::Interactive {
        return Err(ProviderError::LaneUnsupported {
            provider: "aider".into(),
            lane: Lane::Interactive,
        });
    }
    let mut argv: Vec<String> = vec!["aider".into()];
    argv.extend(s.model("--model"));
    argv.extend(strs(ALWAYS));
    argv.extend(s.perms.iter().cloned());
    for (flag, file) in [
        ("--chat-history-file", CHAT_HISTORY),
        ("--input-history-file", INPUT_HISTORY),
        ("--llm-history-file", LLM_HISTORY),
    ] {
        argv.push(format!("{flag}={}/{file}", s.dir));
    }
    if s.w.resume.is_some() {
        argv.push("--restore-chat-history".into());
    }
    // One word, so a prompt can never read as an option of its own.
    argv.push(if s.large {
        "--message-file=/dev/stdin".into()
    } else {
        format!("--message={}", s.prompt_arg)
    });
    Ok(Argv {
        argv,
        output: super::STREAM,
        completion: ProviderCompletion::Output,
        hooks: HookKind::NONE,
        env: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cli::argv::PROMPT;
    use crate::provider::cli::testing::test_start;

    fn start(lane: Lane, permission: Permission, large: bool) -> Start<'static> {
        let perms = permission_flags(permission);
        test_start(lane, permission, "openai/mock-model", perms, large)
    }

    #[test]
    fn it_edits_files_only_with_its_history_in_the_dispatch_dir() {
        let edits = argv(&start(Lane::Headless, Permission::Edits, false)).unwrap();
        let mut want = strs(&["aider", "--model", "openai/mock-model"]);
        want.extend(strs(ALWAYS));
        want.extend(strs(&[
            "--yes-always",
            "--chat-history-file=/d/aider-chat.md",
            "--input-history-file=/d/aider-input.history",
            "--llm-history-file=/d/aider-llm.history",
            "--message={prompt}",
        ]));
        assert_eq!(edits.argv, want);
        assert_eq!(edits.output, super::super::STREAM);
        assert_eq!(edits.completion, ProviderCompletion::Output);
        assert!(edits.argv.contains(&"--no-git".to_owned()));
    }

    #[test]
    fn the_postures_are_how_its_questions_are_answered() {
        let ask = argv(&start(Lane::Headless, Permission::Ask, false)).unwrap();
        assert!(ask.argv.contains(&"--dry-run".to_owned()));
        assert!(ask.argv.contains(&"--yes-always".to_owned()));
        let full = argv(&start(Lane::Headless, Permission::Full, false)).unwrap();
        assert!(!full.argv.contains(&"--yes-always".to_owned()));
        assert!(!full.argv.contains(&"--dry-run".to_owned()));
    }

    #[test]
    fn a_follow_up_restores_the_chat_and_a_large_prompt_is_read_from_stdin() {
        let mut s = start(Lane::Headless, Permission::Edits, true);
        s.w.resume = Some("10cc6b8f-f830-4a7d-bce9-ec187a090a3f");
        let made = argv(&s).unwrap();
        let tail = &made.argv[made.argv.len() - 2..];
        assert_eq!(
            tail,
            ["--restore-chat-history", "--message-file=/dev/stdin"]
        );
        assert!(!made.argv.iter().any(|a| a.contains(PROMPT)));
        assert!(matches!(
            argv(&start(Lane::Interactive, Permission::Edits, false)),
            Err(ProviderError::LaneUnsupported { .. })
        ));
    }

    #[test]
    fn doctor_checks_every_flag_in_its_one_help() {
        let groups = crate::provider::flags::passed(crate::provider::Provider::Aider);
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert!(groups[0].subcommand.is_empty());
        for flag in [
            "--model",
            "--no-git",
            "--yes-always",
            "--dry-run",
            "--chat-history-file",
            "--restore-chat-history",
            "--message",
            "--message-file",
        ] {
            assert!(groups[0].flags.contains(flag), "{flag}");
        }
    }
}
