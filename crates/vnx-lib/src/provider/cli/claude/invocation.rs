//! How Claude Code is started: `claude -p … --output-format stream-json --verbose` headless,
//! its TUI with the `Stop` hook's settings interactive; the posture as `--permission-mode`;
//! `--allowedTools` for what runs unasked; `--resume=ID` and, for a new TUI session, the
//! `--session-id` vnx chose (ADR 0052).

use crate::provider::cli::ProviderError;
use crate::provider::cli::argv::{Argv, Start, literal, strs};
use crate::receipts::kinds::{Lane, Permission};

/// The flags of each posture, the same in both lanes.
pub(super) fn permission_flags(permission: Permission) -> &'static [&'static str] {
    match permission {
        Permission::Ask => &[],
        Permission::Edits => &["--permission-mode", "acceptEdits"],
        Permission::Full => &["--dangerously-skip-permissions"],
    }
}

/// Its argv in the lane asked for.
pub(super) fn argv(s: &Start<'_>) -> Result<Argv, ProviderError> {
    let w = &s.w;
    let mut argv: Vec<String> = vec!["claude".into()];
    match w.lane {
        Lane::Headless => {
            argv.push("-p".into());
            if !s.large {
                argv.push(s.prompt_arg.clone());
            }
            argv.extend(strs(&["--output-format", "stream-json", "--verbose"]));
            let memory = super::hooks::memory_settings(w.dispatch_dir);
            argv.extend(["--settings".into(), literal(&memory.to_string())]);
        }
        Lane::Interactive => {
            argv.push(s.prompt_arg.clone());
            argv.extend(s.session("--session-id"));
        }
    }
    argv.extend(s.model("--model"));
    argv.extend(s.perms.iter().cloned());
    if w.lane == Lane::Interactive {
        let settings = w.dispatch_dir.join(super::hooks::SETTINGS_FILE);
        argv.extend(["--settings".into(), literal(&settings.to_string_lossy())]);
    }
    argv.extend(["--add-dir".into(), s.dir.clone()]);
    // One `Bash(PREFIX:*)` rule each (claude 2.1.197 takes the flag repeated; its own
    // read-only commands, `git status` and `git log` among them, need no rule).
    argv.extend(w.allow_flags("--allowedTools", |c| format!("Bash({c}:*)")));
    argv.extend(s.resume("--resume"));
    Ok(Argv::reported(argv, w.lane, super::STREAM, super::TURN_END))
}

#[cfg(test)]
mod tests {
    use crate::provider::cli::testing::wanted;
    use crate::provider::invocation::Wanted;
    use crate::provider::{Lane, Permission, Provider};

    #[test]
    fn its_tui_is_told_the_session_vnx_chose_unless_it_resumes_one() {
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
    fn the_roles_commands_are_its_allowed_tools_in_edits() {
        let allow = ["cargo test".to_owned(), "git diff".to_owned()];
        let w = Wanted {
            allow: &allow,
            ..wanted(Lane::Headless, Permission::Edits, 10)
        };
        let argv = Provider::Claude.invocation(&w).unwrap().argv;
        let rules: Vec<&str> = argv
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
    }

    #[test]
    fn its_tui_gets_its_hooks_from_outside_the_worktree() {
        let inv = Provider::Claude
            .invocation(&wanted(Lane::Interactive, Permission::Ask, 10))
            .unwrap();
        assert_eq!(inv.hooks, super::super::TURN_END);
        let i = inv.argv.iter().position(|a| a == "--settings").unwrap();
        assert!(inv.argv[i + 1].starts_with("/r/.vnx-data/dispatches/D-1/hooks/"));
    }
}
