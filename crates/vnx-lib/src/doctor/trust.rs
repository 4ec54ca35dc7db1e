//! Whether the interactive lane's TUIs will start without a dialog: Claude Code and Codex ask
//! once per folder whether to trust it, and their trust of the main checkout covers the
//! dispatch worktrees under it. vnx cannot answer for the user (gemini's trust it passes per
//! dispatch), so doctor says what to do once.

use std::path::Path;

use super::Check;

/// Claude Code: `~/.claude.json` `projects[<dir>].hasTrustDialogAccepted` for the repository
/// or a directory above it.
pub(super) fn claude(home: &Path, root: &Path) -> Check {
    let file = home.join(".claude.json");
    let trusted = std::fs::read(&file)
        .ok()
        .and_then(|d| serde_json::from_slice::<serde_json::Value>(&d).ok())
        .and_then(|v| v.get("projects").and_then(|p| p.as_object()).cloned())
        .is_some_and(|projects| {
            root.ancestors().any(|dir| {
                projects
                    .get(&*dir.to_string_lossy())
                    .and_then(|p| p.get("hasTrustDialogAccepted"))
                    .and_then(serde_json::Value::as_bool)
                    == Some(true)
            })
        });
    if trusted {
        Check::pass(
            "claude trust",
            "the repository is trusted (covers its worktrees)",
        )
    } else {
        Check::warn(
            "claude trust",
            format!(
                "{} does not trust {}: an interactive claude dispatch stops at the trust dialog",
                file.display(),
                root.display()
            ),
            format!(
                "run `claude` once in {} and accept \"Yes, I trust this folder\"",
                root.display()
            ),
        )
    }
}

/// Codex: `[projects."<repo>"] trust_level = "trusted"` in `$CODEX_HOME/config.toml`.
pub(super) fn codex(codex_home: &Path, root: &Path) -> Check {
    let file = codex_home.join("config.toml");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let header = format!("[projects.\"{}\"]", root.display());
    let mut in_section = false;
    let mut trusted = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == header;
        } else if in_section && line.replace(' ', "").starts_with("trust_level=\"trusted\"") {
            trusted = true;
        }
    }
    if trusted {
        Check::pass(
            "codex trust",
            "the repository is trusted (covers its worktrees)",
        )
    } else {
        Check::warn(
            "codex trust",
            format!(
                "{} does not trust {}: an interactive codex dispatch stops at \"Trust this folder?\"",
                file.display(),
                root.display()
            ),
            format!(
                "run `codex` once in {} and choose \"Trust and continue\"",
                root.display()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn trust_of_the_repository_or_above_counts() {
        let home = tempfile::tempdir().unwrap();
        let root = Path::new("/work/repo");
        assert_eq!(claude(home.path(), root).status, Status::Warn);
        std::fs::write(
            home.path().join(".claude.json"),
            r#"{"projects":{"/work":{"hasTrustDialogAccepted":true}}}"#,
        )
        .unwrap();
        assert_eq!(claude(home.path(), root).status, Status::Pass);

        assert_eq!(codex(home.path(), root).status, Status::Warn);
        std::fs::write(
            home.path().join("config.toml"),
            "model = \"x\"\n[projects.\"/work/repo\"]\ntrust_level = \"trusted\"\n",
        )
        .unwrap();
        assert_eq!(codex(home.path(), root).status, Status::Pass);
    }
}
