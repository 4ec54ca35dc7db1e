//! How the Codex CLI is started: `codex exec --json` headless (`exec resume` for a
//! follow-up), its TUI with the `notify` and hooks overrides interactive; the posture as
//! `--sandbox` and `--ask-for-approval`; the session and prompt as positionals after `--`.

use std::path::Path;

use super::hooks;
use crate::provider::cli::ProviderError;
use crate::provider::cli::argv::{Argv, Start, literal, strs};
use crate::provider::cli::hook::toml_string;
use crate::receipts::kinds::{Lane, Permission, PromptTransport};

/// The flags of each posture in a lane.
pub(super) fn permission_flags(lane: Lane, permission: Permission) -> &'static [&'static str] {
    match (lane, permission) {
        (Lane::Headless, Permission::Ask) => &["--sandbox", "read-only"],
        (Lane::Headless, Permission::Edits) => &["--sandbox", "workspace-write"],
        (Lane::Interactive, Permission::Ask) => {
            &["--sandbox", "read-only", "--ask-for-approval", "on-request"]
        }
        (Lane::Interactive, Permission::Edits) => &[
            "--sandbox",
            "workspace-write",
            "--ask-for-approval",
            "on-request",
        ],
        (_, Permission::Full) => &["--dangerously-bypass-approvals-and-sandbox"],
    }
}

/// Its argv in the lane asked for.
pub(super) fn argv(s: &Start<'_>) -> Result<Argv, ProviderError> {
    let w = &s.w;
    let lane = w.lane;
    let mut argv: Vec<String> = vec!["codex".into()];
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
    argv.extend(s.model("--model"));
    if exec_resume {
        argv.extend(exec_resume_flags(&s.perms, w.dispatch_dir));
    } else {
        argv.extend(s.perms.iter().cloned());
        // A read-only sandbox takes no writable root: codex's TUI exits at once with
        // "Error adding directories: Ignoring --add-dir … the effective permissions do not
        // allow additional writable roots" (codex 0.169), and `exec` warns. In the ask
        // posture the worker's `vnx report` asks to leave the sandbox, as every write does.
        if !read_only(&s.perms) {
            argv.extend(["--add-dir".into(), s.dir.clone()]);
        }
    }
    // No `--add-dir` for the git directory: codex's sandbox keeps every `.git`
    // read-only even when it is named (seen on codex 0.169), so a sandboxed
    // worker cannot commit; vnx commits for it.
    // Codex runs the model's commands in a login shell, whose profile resets
    // PATH and loses the dispatch's `bin/` (so `vnx report` is "command not
    // found"); a plain shell keeps the PATH vnx gives the worker.
    argv.extend(strs(&["-c", "allow_login_shell=false"]));
    // Its memories (feature `memories`, off unless its user turned it on; codex 0.169)
    // are made from earlier sessions' rollouts, workers' among them, and loaded into later
    // sessions unreviewed: never in a dispatch (ADR 0126).
    argv.extend(strs(&["-c", "features.memories=false"]));
    if lane == Lane::Interactive {
        argv.push("-c".into());
        argv.push(literal(&hooks::notify_override(w.vnx, w.dispatch_dir)));
        // An approval prompt and a tool that ran, from codex's hooks engine.
        for value in hooks::hook_overrides(w.vnx, w.dispatch_dir) {
            argv.extend(["-c".into(), literal(&value)]);
        }
    }
    // The session (`[SESSION_ID] [PROMPT]`), then the prompt; `-` makes codex
    // read the prompt from stdin. After `--`, so clap reads both as positionals
    // whatever they hold.
    if let Some(session) = s.resumed() {
        argv.extend(["--".into(), session]);
    }
    argv.push(if s.transport == PromptTransport::Stdin {
        "-".into()
    } else {
        s.prompt_arg.clone()
    });
    Ok(Argv::reported(argv, lane, super::STREAM, super::TURN_END))
}

/// Whether the posture's flags give codex a read-only sandbox.
fn read_only(perms: &[String]) -> bool {
    perms
        .windows(2)
        .any(|w| w[0] == "--sandbox" && w[1] == "read-only")
}

/// The posture and the dispatch directory as `codex exec resume` takes them: `-c` overrides
/// in place of `--sandbox MODE` and `--add-dir DIR`.
fn exec_resume_flags(perms: &[String], dispatch_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut flags = perms.iter();
    while let Some(flag) = flags.next() {
        if flag == "--sandbox" {
            let mode = flags.next().map(String::as_str).unwrap_or("read-only");
            out.extend([
                "-c".into(),
                literal(&format!("sandbox_mode={}", toml_string(mode))),
            ]);
        } else {
            out.push(flag.clone());
        }
    }
    let roots = format!(
        "sandbox_workspace_write.writable_roots=[{}]",
        toml_string(&dispatch_dir.to_string_lossy())
    );
    out.extend(["-c".into(), literal(&roots)]);
    out
}

#[cfg(test)]
mod tests {
    use crate::provider::cli::testing::wanted;
    use crate::provider::invocation::{MAX_PROMPT_ARG, Wanted};
    use crate::provider::kinds::PromptTransport;
    use crate::provider::{Lane, Permission, Provider};

    #[test]
    fn headless_it_reads_the_prompt_on_stdin_whatever_its_size() {
        let inv = Provider::Codex
            .invocation(&wanted(Lane::Headless, Permission::Edits, 10))
            .unwrap();
        assert_eq!(inv.prompt_transport, PromptTransport::Stdin);
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
                "-c",
                "features.memories=false",
                "-"
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
    fn its_sandbox_not_an_allow_list_runs_the_roles_commands() {
        let allow = ["cargo test".to_owned()];
        let w = Wanted {
            allow: &allow,
            ..wanted(Lane::Headless, Permission::Edits, 10)
        };
        let argv = Provider::Codex.invocation(&w).unwrap().argv;
        assert!(!argv.iter().any(|a| a.contains("cargo test")), "{argv:?}");
    }

    #[test]
    fn a_read_only_sandbox_is_given_no_writable_root() {
        for lane in [Lane::Headless, Lane::Interactive] {
            for (permission, writable) in [
                (Permission::Ask, false),
                (Permission::Edits, true),
                (Permission::Full, true),
            ] {
                let argv = Provider::Codex
                    .invocation(&wanted(lane, permission, 10))
                    .unwrap()
                    .argv;
                let added = argv.iter().any(|a| a == "--add-dir");
                assert_eq!(added, writable, "{lane:?} {permission:?}: {argv:?}");
            }
        }
    }

    #[test]
    fn its_tui_is_notified_from_outside_the_worktree() {
        let inv = Provider::Codex
            .invocation(&wanted(Lane::Interactive, Permission::Ask, 10))
            .unwrap();
        assert!(inv.argv.contains(&"--no-daemon".to_owned()));
        assert!(inv.argv.iter().any(|a| a.starts_with("notify=[")));
        assert_eq!(inv.hooks, super::super::TURN_END);
    }
}
