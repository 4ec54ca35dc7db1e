//! The phantom guard: a `done` from a role that is expected to change files, whose branch
//! and worktree hold no change at all, is corrected to `failed` by a `dispatch_corrected`
//! receipt written right after the completion (in the same group commit). The completion
//! receipt itself stays as written.

use crate::config::Config;
use crate::ledger::Receipt;
use crate::ledger::json::{Object, Value};

/// Roles expected to change files when nothing in `.vnx/config.yaml` says otherwise
/// (`roles.<role>.writes`).
pub const WRITING_ROLES: [&str; 2] = ["implementer", "test-writer"];

/// The reason a phantom `done` is corrected with.
pub const REASON: &str = "phantom done: no diff";

/// Whether dispatches of `role` are expected to change files.
pub fn writes(role: &str, config: &Config) -> bool {
    config
        .roles
        .get(role)
        .and_then(|r| r.writes)
        .unwrap_or_else(|| WRITING_ROLES.contains(&role))
}

/// Whether a completion receipt's `diff_stats` show no change, committed or not. `None` when
/// they are missing or unreadable: the guard then abstains rather than guess.
fn no_diff(completed: &Object<'_>) -> Option<bool> {
    let stats = completed.get("diff_stats")?.as_object()?;
    let mut empty = true;
    for side in ["committed", "uncommitted"] {
        let s = stats.get(side)?.as_object()?;
        for key in ["files_changed", "insertions", "deletions"] {
            empty &= s.get(key)?.as_u64()? == 0;
        }
    }
    Some(empty)
}

/// The corrective receipt for a completion, if the guard fires: the completion says `done`,
/// the role writes, and its diff statistics show nothing changed.
pub fn correction(writes: bool, completed: &Receipt) -> Option<Receipt> {
    let o = completed.object();
    let done = o.get("status").and_then(Value::as_str) == Some("done");
    if !writes || !done || no_diff(o) != Some(true) {
        return None;
    }
    let mut c = Object::default();
    c.insert("event_type", Value::string("dispatch_corrected"));
    for key in ["dispatch_id", "diff_stats", "teardown_class", "head_commit"] {
        if let Some(v) = o.get(key) {
            c.insert(key, v.clone());
        }
    }
    c.insert("status", Value::string("failed"));
    c.insert("previous_status", Value::string("done"));
    c.insert("corrects", Value::string("dispatch_completed"));
    c.insert("phantom_rejected", Value::Bool(true));
    c.insert("reason", Value::string(REASON));
    c.insert("failure_reason", Value::string(REASON));
    Some(Receipt::from_object(c).expect("corrections are well-formed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(status: &str, committed: u64, uncommitted: u64) -> Receipt {
        Receipt::from_json(
            format!(
                r#"{{"event_type":"dispatch_completed","dispatch_id":"D-1","status":"{status}",
                "diff_stats":{{"committed":{{"files_changed":{committed},"insertions":{committed},"deletions":0}},
                "uncommitted":{{"files_changed":{uncommitted},"insertions":0,"deletions":0}}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn only_a_writing_roles_empty_done_is_corrected() {
        let c = correction(true, &completed("done", 0, 0)).unwrap();
        let o = c.object();
        assert_eq!(c.event_type(), "dispatch_corrected");
        assert_eq!(o.get("status").and_then(Value::as_str), Some("failed"));
        assert_eq!(o.get("reason").and_then(Value::as_str), Some(REASON));
        assert_eq!(o.get("dispatch_id").and_then(Value::as_str), Some("D-1"));
        assert!(correction(false, &completed("done", 0, 0)).is_none());
        assert!(correction(true, &completed("failed", 0, 0)).is_none());
        assert!(correction(true, &completed("done", 1, 0)).is_none());
        assert!(correction(true, &completed("done", 0, 1)).is_none());
        let unknown =
            Receipt::from_json(br#"{"event_type":"dispatch_completed","status":"done"}"#).unwrap();
        assert!(
            correction(true, &unknown).is_none(),
            "no diff stats: abstain"
        );
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
