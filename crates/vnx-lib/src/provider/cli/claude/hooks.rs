//! The hooks Claude Code is given: a settings file passed with `--settings`.

use std::path::Path;

use crate::provider::cli::hook::{
    EngineHooks, HOOK_TIMEOUT_SECS, PERMISSION_HOOK_TIMEOUT_SECS, command_hook, hook_command,
};

/// The events of its hooks, as `vnx __hook` takes them.
pub(super) const EVENTS: [&str; 4] = [
    "claude-stop",
    "claude-notification",
    "claude-permission-request",
    "claude-post-tool-use",
];

/// Where its settings go in the dispatch directory.
pub(super) const SETTINGS_FILE: &str = "hooks/claude-settings.json";

/// `hooks/claude-settings.json`: passed with `--settings`, merged by Claude Code over the
/// user's own settings; nothing is written into the worktree. `Stop` ends a turn;
/// `PermissionRequest` (as the prompt shows, naming the tool and command) and `Notification`
/// (about 6 s later) say the worker waits for a person; `PostToolUse` says it goes on. The
/// `PermissionRequest` hook also waits for `vnx approve`/`vnx deny` (the dialog stays
/// usable meanwhile, seen on claude 2.1.197), so it is given longer. Its auto memory is
/// the dispatch's own folder ([`memory_settings`]).
pub fn settings(vnx: &Path, dispatch_dir: &Path) -> serde_json::Value {
    let hook =
        |event: &str| command_hook(hook_command(vnx, event, dispatch_dir), HOOK_TIMEOUT_SECS);
    let permission = command_hook(
        hook_command(vnx, "claude-permission-request", dispatch_dir),
        PERMISSION_HOOK_TIMEOUT_SECS,
    );
    serde_json::json!({
        "autoMemoryDirectory": memory_settings(dispatch_dir)["autoMemoryDirectory"],
        "hooks": {
            "Stop": hook("claude-stop"),
            "Notification": hook("claude-notification"),
            "PermissionRequest": permission,
            "PostToolUse": hook("claude-post-tool-use"),
        }
    })
}

/// Its auto memory in the dispatch's own folder ([`crate::memory`]), not the one every
/// worktree of the repository shares (`~/.claude/projects/<the main checkout>/memory/`, its
/// `MEMORY.md` loaded into each session's context: both seen on claude 2.1.197). A flag's
/// settings outrank the user's and the project's; only a managed policy's outrank them.
pub fn memory_settings(dispatch_dir: &Path) -> serde_json::Value {
    serde_json::json!({ "autoMemoryDirectory": crate::memory::dir(dispatch_dir) })
}

/// Its hooks (see the module's documentation), of the engine it shares: `PermissionRequest`
/// comes before the prompt shows, with the tool and its input, and may return a decision
/// while its dialog shows (seen on claude 2.1.197: "Allowed by PermissionRequest hook");
/// `Notification` comes about 6 s after it, its type telling a prompt from an idle TUI, and
/// names a prompt the permission hook can answer; `PostToolUse` and `Stop`, the worker goes
/// on. A tool ran, the turn ended or another prompt came: the worker went on.
pub(super) static HOOKS: EngineHooks = EngineHooks {
    events: &EVENTS,
    went_on: &[
        "claude-post-tool-use",
        "claude-stop",
        "claude-permission-request",
    ],
    notified_answers: true,
    background: true,
};

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::dispatch::supervise::live::Change;
    use crate::dispatch::supervise::outcome::testing::{Ended, decide};
    use crate::dispatch::supervise::outcome::{StopCause, hook_session};
    use crate::dispatch::supervise::signals::HookSignal;
    use crate::provider::ProviderCompletion;
    use crate::provider::cli::hook::tests::{live, signal};
    use crate::receipts::kinds::{HookKind, Lane};
    use crate::receipts::{CompletionSignal, DispatchStatus};

    #[test]
    fn a_permission_request_blocks_and_a_tool_run_resumes() {
        let t0 = Instant::now();
        let mut live = live("vnx attach D-1", None, t0);
        let ask = signal(
            "claude-permission-request",
            serde_json::json!({"tool_name": "Bash", "tool_input": {"command": "git commit -m x"}}),
        );
        let changes = live.on_signal(&ask, t0);
        let [Change::Blocked(b)] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        assert_eq!(b.tool.as_deref(), Some("Bash"));
        assert_eq!(b.command.as_deref(), Some("git commit -m x"));
        assert_eq!(b.answer_with, "vnx attach D-1");
        // Claude's notification about the same prompt comes later: still one block.
        let note = signal(
            "claude-notification",
            serde_json::json!({"notification_type": "permission_prompt", "message": "Claude needs your permission"}),
        );
        assert!(
            live.on_signal(&note, t0 + Duration::from_secs(6))
                .is_empty()
        );
        assert!(live.is_blocked());
        let ran = signal("claude-post-tool-use", serde_json::json!({}));
        let changes = live.on_signal(&ran, t0 + Duration::from_secs(9));
        let [Change::Resumed(r)] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        assert_eq!((r.after.as_str(), r.waited_seconds), ("blocked", 9.0));
        assert!(!live.is_blocked());
    }

    #[test]
    fn an_idle_notification_or_a_turn_end_does_not_block() {
        let mut live = live("", None, Instant::now());
        for s in [
            signal(
                "claude-notification",
                serde_json::json!({"notification_type": "idle_prompt"}),
            ),
            signal("claude-stop", serde_json::json!({})),
        ] {
            assert!(live.on_signal(&s, Instant::now()).is_empty(), "{s:?}");
        }
    }

    #[test]
    fn a_worker_blocked_on_a_permission_request_is_never_called_stalled() {
        let t0 = Instant::now();
        let mut live = live("", Some(Duration::from_secs(5)), t0);
        let ask = signal(
            "claude-permission-request",
            serde_json::json!({"tool_name": "Bash"}),
        );
        live.on_signal(&ask, t0 + Duration::from_secs(1));
        assert!(live.is_blocked());
        assert!(live.tick(t0 + Duration::from_secs(60)).is_none());
    }

    #[test]
    fn a_turn_that_ends_without_a_report_needs_input() {
        let mut e = Ended {
            lane: Lane::Interactive,
            completion: ProviderCompletion::Report,
            hooks: HookKind::named("claude-stop"),
            exit_ends_turn: false,
            exit: Some(std::os::unix::process::ExitStatusExt::from_raw(0)),
            stopped: None,
            spawn_error: None,
            report: None,
            turn_end: Some(HookSignal {
                event: "claude-stop".into(),
                received_at: "t".into(),
                payload: serde_json::json!({"session_id": "abc"}),
            }),
            hook_session: None,
            stream: Default::default(),
            temp_files: 0,
        };
        e.stopped = Some((StopCause::Completed, String::new()));
        let d = decide(&e);
        assert_eq!(
            (d.status, d.signal),
            (
                DispatchStatus::NeedsInput,
                CompletionSignal::TurnEnded("claude_stop_hook".into())
            )
        );
        assert_eq!(
            hook_session(e.turn_end.as_ref().unwrap(), true).as_deref(),
            Some("abc")
        );
        e.turn_end = None;
        assert_eq!(
            decide(&e).status,
            DispatchStatus::Failed,
            "a TUI that exits without reporting"
        );
    }

    mod background {
        use std::time::Instant;

        use crate::dispatch::supervise::background::Background;
        use crate::dispatch::supervise::live::Change;
        use crate::dispatch::supervise::signals::HookSignal;
        use crate::ids::DispatchId;
        use crate::provider::cli::hook::tests::signal;
        use crate::receipts::BackgroundTask;

        fn bg_id() -> DispatchId {
            DispatchId::parse("D-1").unwrap()
        }

        fn stop_with(tasks: serde_json::Value) -> HookSignal {
            signal(
                "claude-stop",
                serde_json::json!({"hook_event_name": "Stop", "background_tasks": tasks}),
            )
        }

        #[test]
        fn a_turn_end_naming_running_work_waits_until_one_names_none() {
            let t0 = Instant::now();
            let mut bg = Background::default();
            let first = stop_with(
                serde_json::json!([{"id": "b1", "type": "shell", "status": "running",
            "description": "slow tests", "command": "sleep 20"}]),
            );
            let (ends, change) = bg.turn_end(&bg_id(), &first, t0);
            assert!(!ends);
            let Some(Change::Background(b)) = change else {
                panic!("{change:?}")
            };
            assert_eq!(b.describe(), "1 background task: slow tests");
            assert!(bg.waiting());
            // The same work named again is no new change.
            assert_eq!(bg.turn_end(&bg_id(), &first, t0), (false, None));
            let (ends, change) = bg.turn_end(&bg_id(), &stop_with(serde_json::json!([])), t0);
            assert!(ends);
            assert!(
                matches!(change, Some(Change::Resumed(r)) if r.after == "background"),
                "the wait's end is recorded"
            );
            assert!(!bg.waiting());
            // A turn end of a CLI whose hooks say nothing of background work ends the turn.
            let other = signal(
                "other-stop",
                serde_json::json!({"background_tasks": [{"id": "x"}]}),
            );
            assert_eq!(bg.turn_end(&bg_id(), &other, t0), (true, None));
        }

        #[test]
        fn ended_work_does_not_hold_and_a_hostile_list_is_bounded() {
            let t0 = Instant::now();
            let mut bg = Background::default();
            let done = stop_with(
                serde_json::json!([{"id": "b1", "type": "shell", "status": "completed"}]),
            );
            assert_eq!(bg.turn_end(&bg_id(), &done, t0), (true, None));
            let many: Vec<_> = (0..10_000)
                .map(|i| {
                    serde_json::json!({"id": format!("b{i}"), "type": "subagent",
                "status": "running", "description": "x".repeat(100_000)})
                })
                .collect();
            let (ends, change) =
                bg.turn_end(&bg_id(), &stop_with(serde_json::Value::Array(many)), t0);
            assert!(!ends);
            let Some(Change::Background(b)) = change else {
                panic!()
            };
            assert_eq!(b.tasks.len(), BackgroundTask::MAX_TASKS);
            assert_eq!(b.more, Some(10_000 - BackgroundTask::MAX_TASKS as u32));
            assert!(b.tasks[0].what.len() <= BackgroundTask::MAX_TEXT + 3);
            assert!(b.describe().starts_with("10000 background tasks: "));
        }
    }
}
