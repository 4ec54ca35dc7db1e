//! How the Gemini CLI is started: `gemini -p … --output-format stream-json` headless, its TUI
//! (`-i`); the posture as `--approval-mode` with `--skip-trust`; what runs unasked as a
//! policy-engine file (`--policy`) in both lanes; `--resume=ID`.

use super::hooks;
use crate::provider::cli::ProviderError;
use crate::provider::cli::argv::{Argv, Start, Wanted, literal, strs};
use crate::receipts::kinds::{Lane, Permission};

/// The flags of each posture, the same in both lanes.
pub(super) fn permission_flags(permission: Permission) -> &'static [&'static str] {
    match permission {
        Permission::Ask => &[],
        Permission::Edits => &["--approval-mode", "auto_edit"],
        Permission::Full => &["--yolo"],
    }
}

/// Its argv in the lane asked for.
pub(super) fn argv(s: &Start<'_>) -> Result<Argv, ProviderError> {
    let w = &s.w;
    let headless = w.lane == Lane::Headless;
    let mut argv: Vec<String> = vec!["gemini".into()];
    if headless {
        if !s.large {
            argv.extend(["-p".into(), s.prompt_arg.clone()]);
        }
        argv.extend(strs(&["--output-format", "stream-json"]));
    }
    argv.extend(s.model("--model"));
    argv.extend(s.perms.iter().cloned());
    // The dispatcher chose this worktree: without trust gemini silently drops the posture to
    // `default`.
    argv.push("--skip-trust".into());
    argv.extend(["--include-directories".into(), s.dir.clone()]);
    // What runs unasked, as a policy file: `--allowed-tools` is deprecated for the policy
    // engine (gemini 0.61 warns so at the head of every log), and with that flag (or
    // `tools.allowed` in settings) its TUI refuses every other command without a prompt;
    // the policy engine asks. Headless, a command no rule allows is refused, as nobody
    // could answer its prompt; and not in the full posture: an allow rule makes gemini 0.61
    // deny every other command, `--yolo` or not (seen: a sandboxed worker's `git commit`
    // denied by policy).
    if !headless || (w.permission != Permission::Full && !w.allowed_commands().is_empty()) {
        argv.extend(policy_flags(w));
    }
    argv.extend(s.resume("--resume"));
    if !headless {
        argv.extend(["-i".into(), s.prompt_arg.clone()]);
    }
    // Its TUI's hooks go in the worktree's `.gemini/settings.json` (see
    // `dispatch::start::workspace`).
    let mut argv = Argv::reported(argv, w.lane, super::STREAM, super::TURN_END);
    // Unless told not to, gemini starts node a second time with a heap limit of half the
    // machine's memory (gemini 0.61, `getNodeMemoryArgs`): two node processes per worker,
    // 1.4 s of CPU more per start, and each of many workers allowed half the memory.
    argv.env.push((NO_RELAUNCH.into(), "true".into()));
    Ok(argv)
}

/// What keeps gemini in the process vnx started, at node's own heap limit.
const NO_RELAUNCH: &str = "GEMINI_CLI_NO_RELAUNCH";

/// `--policy FILE`: the dispatch's policy file, which its module writes with the commands
/// that run unasked (`CodingCli::dispatch_files`).
fn policy_flags(w: &Wanted<'_>) -> [String; 2] {
    let policy = w.dispatch_dir.join(hooks::POLICY_FILE);
    ["--policy".into(), literal(&policy.to_string_lossy())]
}

#[cfg(test)]
mod tests {
    use crate::provider::cli::testing::wanted;
    use crate::provider::invocation::{MAX_PROMPT_ARG, Wanted};
    use crate::provider::kinds::PromptTransport;
    use crate::provider::{Lane, Permission, Provider};

    /// Its invocation as such (a review gate's) keeps the user's home: only a dispatch, whose
    /// launch seeds a home of its own, names one (`dispatch::start::plan`).
    #[test]
    fn its_invocation_names_no_home_of_its_own() {
        for lane in [Lane::Headless, Lane::Interactive] {
            let inv = Provider::Gemini
                .invocation(&wanted(lane, Permission::Ask, 10))
                .unwrap();
            assert!(
                !inv.env.iter().any(|(k, _)| k == "GEMINI_CLI_HOME"),
                "{lane:?} {:?}",
                inv.env
            );
        }
    }

    #[test]
    fn the_roles_commands_run_unasked_by_a_policy_file_not_the_deprecated_flag() {
        let allow = ["cargo test".to_owned()];
        for lane in [Lane::Headless, Lane::Interactive] {
            let w = Wanted {
                allow: &allow,
                ..wanted(lane, Permission::Edits, 10)
            };
            let inv = Provider::Gemini.invocation(&w).unwrap();
            assert!(
                inv.argv
                    .windows(2)
                    .any(|p| p[0] == "--policy" && p[1].ends_with("hooks/gemini-policy.toml")),
                "{lane:?} {:?}",
                inv.argv
            );
            assert!(
                !inv.argv.iter().any(|a| a == "--allowed-tools"),
                "{:?}",
                inv.argv
            );
            assert!(inv.allowed_commands.iter().any(|c| c == "cargo test"));
        }
    }

    #[test]
    fn gemini_is_kept_in_the_process_vnx_started_in_every_lane() {
        for lane in [Lane::Headless, Lane::Interactive] {
            let inv = Provider::Gemini
                .invocation(&wanted(lane, Permission::Edits, 10))
                .unwrap();
            assert!(
                inv.env
                    .iter()
                    .any(|(k, v)| k == super::NO_RELAUNCH && v == "true"),
                "{lane:?} {:?}",
                inv.env
            );
        }
    }

    #[test]
    fn a_large_prompt_reaches_its_tui_as_a_file_with_its_hooks() {
        let big = Provider::Gemini
            .invocation(&wanted(
                Lane::Interactive,
                Permission::Ask,
                MAX_PROMPT_ARG + 1,
            ))
            .unwrap();
        assert_eq!(big.prompt_transport, PromptTransport::File);
        assert_eq!(big.hooks, super::super::TURN_END);
    }
}
