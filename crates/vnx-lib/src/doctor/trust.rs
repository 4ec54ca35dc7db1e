//! Whether the interactive lane's TUIs will start without a dialog: some CLIs ask once per
//! folder whether to trust it, and their trust of the main checkout covers the dispatch
//! worktrees under it. vnx cannot answer for the user, so doctor says what to do once; what
//! each CLI records is its module's (`CodingCli::folder_trust`).

use crate::provider::cli::trust::FolderTrust;

use super::Check;

/// The check of one CLI's trust of the repository at `root`.
pub(super) fn check(cli: &str, trust: &FolderTrust, root: &std::path::Path) -> Check {
    let name = format!("{cli} trust");
    if trust.trusted {
        Check::pass(name, "the repository is trusted (covers its worktrees)")
    } else {
        Check::warn(
            name,
            format!(
                "{} does not trust {}: an interactive {cli} dispatch stops at {}",
                trust.file.display(),
                root.display(),
                trust.dialog
            ),
            format!(
                "run `{cli}` once in {} and {}",
                root.display(),
                trust.answer
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn an_untrusted_repository_warns_with_what_to_answer() {
        let mut trust = FolderTrust {
            file: "/h/.tool.json".into(),
            trusted: false,
            dialog: "\"Trust?\"",
            answer: "say yes",
        };
        let root = std::path::Path::new("/work/repo");
        let c = check("tool", &trust, root);
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.detail.contains("/h/.tool.json does not trust /work/repo"),
            "{c:?}"
        );
        assert!(c.detail.ends_with("stops at \"Trust?\""), "{c:?}");
        trust.trusted = true;
        assert_eq!(check("tool", &trust, root).status, Status::Pass);
    }
}
