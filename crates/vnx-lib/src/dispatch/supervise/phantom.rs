//! The phantom guard: a `done` from a role that is expected to change files, whose branch
//! and worktree hold no change at all, is corrected to `failed` by a `dispatch_corrected`
//! receipt written right after the completion (in the same group commit). The completion
//! receipt itself stays as written. Before it, a `done` decided by the worker's exit (a CLI
//! that cannot report) with no change at all whose last message asks something is taken for
//! what it is, a question: `needs_input` (ADR 0079).

use crate::config::Config;
use crate::receipts::{
    CompletionSignal, DispatchCompleted, DispatchCorrected, DispatchStatus, Kind,
};

/// Roles expected to change files when nothing in `.vnx/config.yaml` says otherwise
/// (`roles.<role>.writes`).
pub const WRITING_ROLES: [&str; 2] = ["implementer", "test-writer"];

/// The reason a phantom `done` is corrected with.
pub const REASON: &str = "phantom done: no diff";

/// The failure reason of a `done` taken for a question ([`asked`]).
pub const ASKED: &str = "the worker asked a question and changed nothing";

/// Whether a completion is a question though it says `done`: decided by the worker's exit
/// (completion `exit` or `output`, a CLI that cannot run `vnx report`, which ends the same way
/// whether it finished or asks), with no change at all, committed or not, and a last message
/// that asks something ([`crate::provider::transcript::asks`]). Such a CLI has no other way
/// to ask; a built-in one's question ends its turn without a report, which is `needs_input`
/// already. A done with a change stands, whatever its last words.
pub fn asked(completed: &DispatchCompleted) -> bool {
    completed.status == DispatchStatus::Done
        && completed.completion_signal == CompletionSignal::Exit
        && no_diff(completed) == Some(true)
        && completed
            .cli_events
            .as_ref()
            .and_then(|e| e.last_message.as_deref())
            .is_some_and(crate::provider::transcript::asks)
}

/// Whether dispatches of `role` are expected to change files.
pub fn writes(role: &str, config: &Config) -> bool {
    config
        .roles
        .get(role)
        .and_then(|r| r.writes)
        .unwrap_or_else(|| WRITING_ROLES.contains(&role))
}

/// Whether a completion's `diff_stats` show no change, committed or not. `None` when they
/// are missing: the guard then abstains rather than guess.
fn no_diff(completed: &DispatchCompleted) -> Option<bool> {
    let stats = completed.diff_stats?;
    Some(
        [stats.committed, stats.uncommitted]
            .iter()
            .all(|s| s.files_changed == 0 && s.insertions == 0 && s.deletions == 0),
    )
}

/// The correction of a completion, if the guard fires: the completion says `done`, the role
/// writes, and its diff statistics show nothing changed.
pub fn correction(writes: bool, completed: &DispatchCompleted) -> Option<DispatchCorrected> {
    let done = completed.status == DispatchStatus::Done;
    if !writes || !done || no_diff(completed) != Some(true) {
        return None;
    }
    Some(DispatchCorrected {
        dispatch_id: completed.dispatch_id.clone(),
        status: DispatchStatus::Failed,
        previous_status: DispatchStatus::Done,
        corrects: DispatchCompleted::EVENT.to_owned(),
        phantom_rejected: true,
        reason: REASON.to_owned(),
        failure_reason: REASON.to_owned(),
        diff_stats: completed.diff_stats,
        teardown_class: completed.teardown_class,
        head_commit: completed.head_commit.clone(),
        remote: None,
        extra: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(status: &str, committed: u64, uncommitted: u64) -> DispatchCompleted {
        let line = format!(
            r#"{{"event_type":"dispatch_completed","dispatch_id":"D-1","status":"{status}",
            "completion_signal":"report",
            "diff_stats":{{"committed":{{"files_changed":{committed},"insertions":{committed},"deletions":0}},
            "uncommitted":{{"files_changed":{uncommitted},"insertions":0,"deletions":0}}}}}}"#
        );
        crate::receipts::read_line::<DispatchCompleted>(line.as_bytes())
            .unwrap()
            .receipt
    }

    #[test]
    fn only_a_writing_roles_empty_done_is_corrected() {
        let c = correction(true, &completed("done", 0, 0)).unwrap();
        let r = crate::receipts::write(&c);
        let o = r.object();
        assert_eq!(r.event_type(), "dispatch_corrected");
        use crate::ledger::json::Value;
        assert_eq!(o.get("status").and_then(Value::as_str), Some("failed"));
        assert_eq!(o.get("reason").and_then(Value::as_str), Some(REASON));
        assert_eq!(o.get("dispatch_id").and_then(Value::as_str), Some("D-1"));
        assert!(correction(false, &completed("done", 0, 0)).is_none());
        assert!(correction(true, &completed("failed", 0, 0)).is_none());
        assert!(correction(true, &completed("done", 1, 0)).is_none());
        assert!(correction(true, &completed("done", 0, 1)).is_none());
        let unknown = crate::receipts::read_line::<DispatchCompleted>(
            br#"{"event_type":"dispatch_completed","dispatch_id":"D-1","status":"done","completion_signal":"report"}"#,
        )
        .unwrap()
        .receipt;
        assert!(
            correction(true, &unknown).is_none(),
            "no diff stats: abstain"
        );
    }

    #[test]
    fn an_exits_done_without_a_change_that_asks_is_a_question() {
        let line = |signal: &str, files: u64, said: &str| {
            let line = format!(
                r#"{{"event_type":"dispatch_completed","dispatch_id":"D-1","status":"done",
                "completion_signal":"{signal}","cli_events":{{"last_message":"{said}"}},
                "diff_stats":{{"committed":{{"files_changed":{files},"insertions":0,"deletions":0}},
                "uncommitted":{{"files_changed":0,"insertions":0,"deletions":0}}}}}}"#
            );
            crate::receipts::read_line::<DispatchCompleted>(line.as_bytes())
                .unwrap()
                .receipt
        };
        assert!(asked(&line("exit", 0, "Which file? Please answer.")));
        assert!(asked(&line("exit", 0, "Please answer.")));
        // It changed something, it said nothing that asks, or it could report.
        assert!(!asked(&line("exit", 1, "Which file?")));
        assert!(!asked(&line("exit", 0, "I looked; nothing to change.")));
        assert!(!asked(&line("report", 0, "Which file?")));
        let mut failed = line("exit", 0, "Which file?");
        failed.status = DispatchStatus::Failed;
        assert!(!asked(&failed));
        let mut silent = line("exit", 0, "");
        silent.cli_events = None;
        assert!(!asked(&silent));
    }

    #[test]
    fn writing_roles_default_and_configure() {
        let mut config = Config::default();
        assert!(writes("implementer", &config));
        assert!(writes("test-writer", &config));
        assert!(!writes("reviewer", &config));
        config.roles.insert(
            "reviewer".into(),
            crate::config::RoleConfig {
                writes: Some(true),
                ..Default::default()
            },
        );
        config.roles.insert(
            "implementer".into(),
            crate::config::RoleConfig {
                writes: Some(false),
                ..Default::default()
            },
        );
        assert!(writes("reviewer", &config));
        assert!(!writes("implementer", &config));
    }
}
