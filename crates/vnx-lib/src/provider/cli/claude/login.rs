//! What logs Claude Code in, for a place's `logins:`: `~/.claude/.credentials.json` (its
//! OAuth tokens on Linux), `~/.claude/settings.json` (the user's settings: an API key helper,
//! the Bypass Permissions mode accepted), and of `~/.claude.json` only the account and the
//! onboarding it shows once (`oauthAccount`, `primaryApiKey`, the API keys approved, the
//! onboarding seen) with the trust of the folder it works in there: never the rest of its
//! `projects`, which keeps each project's prompt history, nor `~/.claude/history.jsonl`, its
//! sessions or anything else of `~/.claude`.

use std::path::Path;

use serde_json::{Map, Value};

use crate::provider::cli::login::{LoginFile, json_members};

/// The files.
pub(super) const FILES: &[LoginFile] = &[
    LoginFile::whole(".claude/.credentials.json"),
    LoginFile::whole(".claude/settings.json"),
    LoginFile::part(".claude.json", account),
];

/// The members of `~/.claude.json` that say who is logged in and what it showed once.
const ACCOUNT: &[&str] = &[
    "oauthAccount",
    "primaryApiKey",
    "customApiKeyResponses",
    "userID",
    "hasCompletedOnboarding",
    "lastOnboardingVersion",
    "lastReleaseNotesSeen",
    "numStartups",
    "theme",
    "autoUpdates",
    "bypassPermissionsModeAccepted",
];

/// What a project's entry keeps: its folder trusted, its onboarding seen.
const TRUST: &[&str] = &[
    "hasTrustDialogAccepted",
    "hasCompletedProjectOnboarding",
    "projectOnboardingSeenCount",
];

/// `~/.claude.json`'s account members, and of `projects` only the entries of `workdir` and
/// the folders above it (its trust covers the folders below), each with its trust only.
fn account(bytes: &[u8], workdir: &str) -> Option<Vec<u8>> {
    let mut kept = json_members(bytes, ACCOUNT)?;
    let all: Value = serde_json::from_slice(bytes).ok()?;
    let mut projects = Map::new();
    for dir in Path::new(workdir).ancestors() {
        let dir = dir.to_string_lossy();
        let Some(Value::Object(entry)) = all["projects"].get(&*dir) else {
            continue;
        };
        let trust: Map<String, Value> = (entry.iter())
            .filter(|(k, _)| TRUST.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        projects.insert(dir.into_owned(), Value::Object(trust));
    }
    if !projects.is_empty() {
        kept.insert("projects".into(), Value::Object(projects));
    }
    serde_json::to_vec_pretty(&Value::Object(kept)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_account_and_the_trust_of_the_folder_there_are_kept() {
        let whole = serde_json::json!({
            "oauthAccount": {"emailAddress": "a@example.com", "accountUuid": "u"},
            "hasCompletedOnboarding": true,
            "customApiKeyResponses": {"approved": ["abc"], "rejected": []},
            "mcpServers": {"x": {"command": "run-me"}},
            "projects": {
                "/home/me/secret-project": {
                    "history": [{"display": "the prompt of another project"}],
                    "hasTrustDialogAccepted": true,
                },
                "/work/repo": {
                    "hasTrustDialogAccepted": true,
                    "history": [{"display": "an old prompt"}],
                    "allowedTools": ["Bash"],
                },
            },
        });
        let bytes = serde_json::to_vec(&whole).unwrap();
        let kept: Value = serde_json::from_slice(&account(&bytes, "/work/repo").unwrap()).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({
                "oauthAccount": {"emailAddress": "a@example.com", "accountUuid": "u"},
                "hasCompletedOnboarding": true,
                "customApiKeyResponses": {"approved": ["abc"], "rejected": []},
                "projects": {"/work/repo": {"hasTrustDialogAccepted": true}},
            })
        );
        assert!(account(b"not json", "/work/repo").is_none());
        assert!(account(b"[1]", "/work/repo").is_none());
    }
}
