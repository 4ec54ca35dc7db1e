//! Whether the interactive lane's TUIs will start without a dialog: some CLIs ask once per
//! folder whether to trust it, and their trust of the main checkout covers the dispatch
//! worktrees under it. vnx never answers for the user, so doctor says what to do once; what
//! each CLI records is its module's (`CodingCli::folder_trust`). Where a dispatch is blocked
//! on the dialog (`CodingCli::start_dialogs`), doctor says `vnx approve` answers it there.

use crate::provider::cli::trust::FolderTrust;

use super::Check;

/// The check of one CLI's trust of the repository at `root`; `blocks`: a dispatch stopped at
/// its dialog is blocked on it, which `vnx approve` answers.
pub(super) fn check(cli: &str, trust: &FolderTrust, root: &std::path::Path, blocks: bool) -> Check {
    let name = format!("{cli} trust");
    if trust.trusted {
        Check::pass(name, "the repository is trusted (covers its worktrees)")
    } else {
        Check::warn(
            name,
            format!(
                "{} does not trust {}: an interactive {cli} dispatch stops at {}{}",
                trust.file.display(),
                root.display(),
                trust.dialog,
                if blocks {
                    " (it shows as blocked; `vnx approve ID` trusts the folder)"
                } else {
                    ""
                }
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
        let c = check("tool", &trust, root, false);
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.detail.contains("/h/.tool.json does not trust /work/repo"),
            "{c:?}"
        );
        assert!(c.detail.ends_with("stops at \"Trust?\""), "{c:?}");
        let c = check("tool", &trust, root, true);
        assert!(
            c.detail.contains("`vnx approve ID` trusts the folder"),
            "{c:?}"
        );
        trust.trusted = true;
        assert_eq!(check("tool", &trust, root, false).status, Status::Pass);
    }
}
