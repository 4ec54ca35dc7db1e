//! Claude Code's folder trust: `projects[<dir>].hasTrustDialogAccepted` in `~/.claude.json`,
//! for the repository or a directory above it; and its dialog as its TUI shows it.

use std::path::Path;

use serde_json::Value;

use super::super::trust::FolderTrust;

/// What `~/.claude.json` in `home` says of `root`: trusted when its `projects` map, keyed by
/// folder, has `hasTrustDialogAccepted: true` for `root` or a folder above it.
pub(super) fn of(home: &Path, root: &Path) -> FolderTrust {
    let file = home.join(".claude.json");
    let json: Value = crate::files::read_named(&file, 64 << 20)
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or_default();
    let trusted = root
        .ancestors()
        .any(|dir| json["projects"][&*dir.to_string_lossy()]["hasTrustDialogAccepted"] == true);
    FolderTrust {
        trusted,
        file,
        dialog: "the trust dialog",
        answer: "accept \"Yes, I trust this folder\"",
    }
}

#[cfg(test)]
mod tests {
    /// claude 2.1.197's trust dialog in a worktree, as its pane showed it.
    const CLAUDE_TRUST: &str = "────────────\n Accessing workspace:\n\n \
        /tmp/r/.vnx-data/worktrees/w1\n\n Quick safety check: Is this a project you created \
        or one you trust?\n\n Security guide\n\n ❯ 1. Yes, I trust this folder\n   2. No, \
        exit\n\n Enter to confirm · Esc to cancel\n";

    /// claude 2.1.197's dialog before its TUI runs with `--dangerously-skip-permissions`
    /// for the first time in a home, as its pane showed it.
    const CLAUDE_BYPASS: &str = "────────────\n  WARNING: Claude Code running in Bypass \
        Permissions mode\n\n  In Bypass Permissions mode, Claude Code will not ask for your \
        approval before running potentially dangerous commands.\n\n  ❯ 1. No, exit\n    2. \
        Yes, I accept\n\n  Enter to confirm · Esc to cancel\n";

    /// The start dialog of claude's that `screen` shows, and what it saw.
    fn start_dialog_on(
        screen: &str,
    ) -> Option<(
        crate::provider::dialog::Dialog,
        crate::provider::dialog::Seen,
    )> {
        let claude = crate::provider::cli::of(crate::provider::Provider::Claude);
        crate::provider::dialog::Dialog::start_of(claude)
            .into_iter()
            .find_map(|d| d.seen(screen).map(|s| (d, s)))
    }

    #[test]
    fn its_bypass_disclaimer_is_accepted_with_2_and_refused_with_escape() {
        let (d, seen) = start_dialog_on(CLAUDE_BYPASS).unwrap();
        assert_eq!(
            seen.command.as_deref(),
            Some(
                "accept Bypass Permissions mode (claude asks once per home; a sandboxed \
                 worker's is a copy)"
            )
        );
        assert!(seen.lines.contains("WARNING"), "{}", seen.lines);
        assert_eq!(d.keys(crate::receipts::PermissionAnswer::Approve), ["2"]);
        assert_eq!(d.keys(crate::receipts::PermissionAnswer::Deny), ["Escape"]);
    }

    #[test]
    fn its_trust_dialog_names_what_it_asks_and_takes_its_keys() {
        let (d, seen) = start_dialog_on(CLAUDE_TRUST).unwrap();
        assert_eq!(
            seen.command.as_deref(),
            Some("trust this folder (claude then trusts the repository)")
        );
        assert!(
            seen.lines.contains("/tmp/r/.vnx-data/worktrees/w1"),
            "{}",
            seen.lines
        );
        assert_eq!(
            d.keys(crate::receipts::PermissionAnswer::Approve),
            ["Enter"]
        );
        assert_eq!(d.keys(crate::receipts::PermissionAnswer::Deny), ["Escape"]);
        assert!(start_dialog_on("❯ \n  ? for shortcuts\n").is_none());
    }

    use super::*;

    #[test]
    fn trust_of_the_repository_or_above_counts() {
        let home = tempfile::tempdir().unwrap();
        let root = Path::new("/work/repo");
        assert!(!of(home.path(), root).trusted);
        std::fs::write(
            home.path().join(".claude.json"),
            r#"{"projects":{"/work":{"hasTrustDialogAccepted":true}}}"#,
        )
        .unwrap();
        assert!(of(home.path(), root).trusted);
        assert!(!of(home.path(), Path::new("/elsewhere")).trusted);
    }
}
