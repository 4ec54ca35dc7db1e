//! Claude Code's folder trust: `projects[<dir>].hasTrustDialogAccepted` in `~/.claude.json`,
//! for the repository or a directory above it.

use std::path::Path;

use super::super::trust::{FolderTrust, trusted_in_projects_json};

/// What `~/.claude.json` in `home` says of `root`.
pub(super) fn of(home: &Path, root: &Path) -> FolderTrust {
    let file = home.join(".claude.json");
    FolderTrust {
        trusted: trusted_in_projects_json(&file, root, "hasTrustDialogAccepted"),
        file,
        dialog: "the trust dialog",
        answer: "accept \"Yes, I trust this folder\"",
    }
}

#[cfg(test)]
mod tests {
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
