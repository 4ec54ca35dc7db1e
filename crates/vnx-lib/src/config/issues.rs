//! `forge.issues:` of `.vnx/config.yaml` (issue 72): which of the forge's open issues the
//! watcher takes as work (by a label, an assignee, or both), the label vnx claims one with,
//! whose issues it takes (by default only those the repository's owners, members and
//! collaborators opened: GitHub's `authorAssociation`; `authors: any` widens it) and the
//! role its dispatch plays; validated with line and column.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{Checked, Validator};

/// Whose issues vnx takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IssueAuthors {
    /// Only those whose author GitHub associates with the repository as its owner, a member
    /// of its organization or a collaborator (`OWNER`, `MEMBER`, `COLLABORATOR`).
    #[default]
    Collaborators,
    /// Anyone's.
    Any,
}

/// The associations whose issues are taken unless `forge.issues.authors: any`.
pub const COLLABORATORS: [&str; 3] = ["OWNER", "MEMBER", "COLLABORATOR"];

/// The label vnx claims an issue it takes with, unless `forge.issues.claim_label` says.
pub const CLAIM_LABEL: &str = "vnx-taken";

/// `forge.issues:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuesConfig {
    /// The watcher takes open issues carrying this label.
    pub label: Option<String>,
    /// The watcher takes open issues assigned to this login.
    pub assignee: Option<String>,
    /// The label vnx puts on an issue it takes.
    pub claim_label: String,
    /// Whose issues are taken.
    pub authors: IssueAuthors,
    /// The role an issue's dispatch plays; `None`: `defaults.role`.
    pub role: Option<String>,
}

impl Default for IssuesConfig {
    fn default() -> IssuesConfig {
        IssuesConfig {
            label: None,
            assignee: None,
            claim_label: CLAIM_LABEL.to_owned(),
            authors: IssueAuthors::Collaborators,
            role: None,
        }
    }
}

impl IssuesConfig {
    /// Whether the watcher looks for issues at all: a label or an assignee names them.
    pub fn watches(&self) -> bool {
        self.label.is_some() || self.assignee.is_some()
    }

    /// Whether an issue whose author GitHub associates with the repository as `association`
    /// may be taken.
    pub fn takes_from(&self, association: &str) -> bool {
        match self.authors {
            IssueAuthors::Any => true,
            IssueAuthors::Collaborators => COLLABORATORS.contains(&association),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIssues {
    label: Option<Spanned<String>>,
    assignee: Option<Spanned<String>>,
    claim_label: Option<Spanned<String>>,
    authors: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
}

/// Whether `text` may be a label vnx asks the forge for: 1 to 50 characters (GitHub's
/// longest), no control character, no comma (the REST API's separator of labels), not
/// starting with `-` or a space.
fn is_label(text: &str) -> bool {
    (1..=50).contains(&text.chars().count())
        && !text.starts_with(['-', ' '])
        && !text.chars().any(|c| c.is_control() || c == ',')
}

/// Whether `text` is a GitHub login: 1 to 39 letters, digits or single `-`, not at either
/// end.
fn is_login(text: &str) -> bool {
    (1..=39).contains(&text.len())
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--")
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Validator<'_> {
    /// The label `forge.issues.<what>` names.
    fn label(&self, v: Spanned<String>, what: &str) -> Checked<String> {
        if is_label(&v.value) {
            return Ok(v.value);
        }
        let msg = format!(
            "forge.issues.{what} must be a label of 1 to 50 characters, without a comma or a \
             control character, not starting with `-`, not {:?}",
            v.value
        );
        self.err(&v.referenced, msg)
    }

    /// `forge.issues`.
    pub(super) fn issues(&self, raw: RawIssues) -> Checked<IssuesConfig> {
        let mut issues = IssuesConfig::default();
        if let Some(l) = raw.label {
            issues.label = Some(self.label(l, "label")?);
        }
        if let Some(l) = raw.claim_label {
            issues.claim_label = self.label(l, "claim_label")?;
        }
        if let Some(a) = raw.assignee {
            if !is_login(&a.value) {
                let msg = format!(
                    "forge.issues.assignee must be a GitHub login, not {:?}",
                    a.value
                );
                return self.err(&a.referenced, msg);
            }
            issues.assignee = Some(a.value);
        }
        if let Some(a) = raw.authors {
            issues.authors = match a.value.as_str() {
                "collaborators" => IssueAuthors::Collaborators,
                "any" => IssueAuthors::Any,
                other => {
                    let msg = format!(
                        "forge.issues.authors must be collaborators (the repository's owners, \
                         members and collaborators) or any, not {other:?}"
                    );
                    return self.err(&a.referenced, msg);
                }
            };
        }
        if let Some(r) = raw.role {
            self.name("", &r, "role")?;
            issues.role = Some(r.value);
        }
        Ok(issues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(text: &str) -> Result<IssuesConfig, String> {
        crate::config::parse(
            &format!("version: 1\nforge: {{kind: github, issues: {{{text}}}}}\n"),
            std::path::Path::new("c.yaml"),
        )
        .map(|c| c.forge.expect("a forge").issues)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn only_collaborators_issues_are_taken_unless_the_config_widens_it() {
        let default = issues("label: vnx").unwrap();
        assert!(default.watches());
        assert_eq!(default.claim_label, CLAIM_LABEL);
        for a in ["OWNER", "MEMBER", "COLLABORATOR"] {
            assert!(default.takes_from(a), "{a}");
        }
        for a in ["CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "NONE", ""] {
            assert!(!default.takes_from(a), "{a}");
        }
        let any = issues("assignee: vnx-bot, authors: any, claim_label: 'vnx: taken'").unwrap();
        assert!(any.takes_from("NONE") && any.watches());
        assert_eq!(any.claim_label, "vnx: taken");
        assert!(!issues("").unwrap().watches());
    }

    #[test]
    fn bad_labels_logins_and_authors_are_refused_with_their_key() {
        for (text, key) in [
            ("label: 'a,b'", "forge.issues.label"),
            ("label: '-x'", "forge.issues.label"),
            ("claim_label: ''", "forge.issues.claim_label"),
            ("assignee: 'a b'", "forge.issues.assignee"),
            ("authors: everyone", "forge.issues.authors"),
            ("role: Bad", "role name"),
            ("labels: [x]", "labels"),
        ] {
            let e = issues(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
