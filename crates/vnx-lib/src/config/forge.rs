//! The `forge:` section of `.vnx/config.yaml`: where dispatches' pull requests go (the kind of
//! forge, the remote vnx pushes to, the repository when the remote does not name it), how
//! `vnx pr merge` merges (its method, whether green checks are required), how long one
//! call of the forge's command-line client may take, and whose words on a pull request a fix
//! quotes (`trusted_associations`), which issues are taken as work (`issues`, its own
//! file); validated with line and column.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{Checked, Validator};
use crate::receipts::PrMergeMethod;

/// The forges vnx drives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// GitHub, through the user's own `gh` and its login.
    #[default]
    Github,
}

impl ForgeKind {
    /// As the config spells it.
    pub fn name(self) -> &'static str {
        match self {
            ForgeKind::Github => "github",
        }
    }
}

/// `forge:`: the forge dispatches' pull requests are opened on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgeConfig {
    /// The kind of forge.
    pub kind: ForgeKind,
    /// The git remote pushed to; its URL names the repository.
    pub remote: String,
    /// The repository (`owner/name`), when the remote's URL does not name it.
    pub repo: Option<String>,
    /// How `vnx pr merge` merges.
    pub merge_method: PrMergeMethod,
    /// Whether `vnx pr merge` requires checks on the head, all passing (`false`: a head
    /// with no checks may merge; failing or pending ones still refuse it).
    pub require_checks: bool,
    /// Whether pull requests open as drafts unless `--draft` or `--ready` says.
    pub draft: bool,
    /// Seconds one call of the forge's client may take before it is killed.
    pub timeout_seconds: u64,
    /// Opens the pull request of a dispatch that ends done with its gates passed, as if
    /// `vnx pr open` had been run (`dispatch-agent --pr` for one dispatch).
    pub open_on_done: bool,
    /// Seconds a pull request's cached read stays fresh for the readers that share it
    /// (status, show, wait, the dashboard, the MCP server): at most one `gh` call per pull
    /// request per interval.
    pub refresh_seconds: u64,
    /// What `vnx pr watch` does by itself about pull requests (`reactions:`; ADR 0093).
    pub reactions: super::reactions::Reactions,
    /// The authors whose reviews and comments a fix quotes and reacts to, by how GitHub
    /// associates them with the repository (`authorAssociation`; ADR 0101); the others'
    /// words are left out.
    pub trusted_associations: Vec<String>,
    /// Which issues are taken as work, and how (`issues:`; issue 72).
    pub issues: super::issues::IssuesConfig,
}

/// How GitHub can associate an author with a repository (its `authorAssociation`).
pub(crate) const ASSOCIATIONS: [&str; 8] = [
    "OWNER",
    "MEMBER",
    "COLLABORATOR",
    "CONTRIBUTOR",
    "FIRST_TIME_CONTRIBUTOR",
    "FIRST_TIMER",
    "MANNEQUIN",
    "NONE",
];

/// The associations trusted unless `forge.trusted_associations` says: the repository's
/// owners, its organization's members and its collaborators.
pub(crate) const TRUSTED_BY_DEFAULT: [&str; 3] = ["OWNER", "MEMBER", "COLLABORATOR"];

impl Default for ForgeConfig {
    fn default() -> ForgeConfig {
        ForgeConfig {
            kind: ForgeKind::Github,
            remote: "origin".to_owned(),
            repo: None,
            merge_method: PrMergeMethod::Squash,
            require_checks: true,
            draft: false,
            timeout_seconds: 60,
            open_on_done: false,
            refresh_seconds: 30,
            reactions: Default::default(),
            trusted_associations: TRUSTED_BY_DEFAULT.map(str::to_owned).to_vec(),
            issues: Default::default(),
        }
    }
}

impl ForgeConfig {
    /// Whether an author GitHub associates with the repository as `association` is trusted:
    /// one of `forge.trusted_associations` (an unknown or missing association never is).
    pub fn trusts(&self, association: &str) -> bool {
        !association.is_empty() && self.trusted_associations.iter().any(|t| t == association)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawForge {
    kind: Option<Spanned<ForgeKind>>,
    remote: Option<Spanned<String>>,
    repo: Option<Spanned<String>>,
    merge_method: Option<Spanned<String>>,
    require_checks: Option<bool>,
    draft: Option<bool>,
    timeout_seconds: Option<Spanned<i64>>,
    open_on_done: Option<bool>,
    refresh_seconds: Option<Spanned<i64>>,
    reactions: Option<super::reactions::RawReactions>,
    trusted_associations: Option<Vec<Spanned<String>>>,
    issues: Option<super::issues::RawIssues>,
}

/// The longest one forge call may take: 10 minutes.
const MAX_TIMEOUT: u64 = 600;
/// The longest a pull request's cached read stays fresh: a day.
const MAX_REFRESH: u64 = 86_400;

/// Whether `text` is a repository as GitHub names one: `owner/name`, each of letters,
/// digits, `-`, `_` and `.`, the owner not starting with `-` and neither being `.` or `..`.
pub fn is_repo_name(text: &str) -> bool {
    let Some((owner, name)) = text.split_once('/') else {
        return false;
    };
    let part = |p: &str| {
        (1..=100).contains(&p.len())
            && !p.starts_with('-')
            && p != "."
            && p != ".."
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    part(owner) && part(name)
}

/// The GitHub repository (`owner/name`) a remote URL names, if it is on github.com:
/// `https://github.com/o/r(.git)`, `git@github.com:o/r(.git)`, `ssh://git@github.com/o/r`.
pub fn github_repo(url: &str) -> Option<String> {
    let url = url.trim();
    let path = url
        .strip_prefix("https://github.com/")
        .or_else(|| url.strip_prefix("http://github.com/"))
        .or_else(|| url.strip_prefix("git@github.com:"))
        .or_else(|| url.strip_prefix("ssh://git@github.com/"))
        .or_else(|| url.strip_prefix("git://github.com/"))?;
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    is_repo_name(path).then(|| path.to_owned())
}

impl Validator<'_> {
    /// `forge:`.
    pub(super) fn forge(&self, raw: RawForge) -> Checked<ForgeConfig> {
        let mut forge = ForgeConfig::default();
        if let Some(k) = raw.kind {
            forge.kind = k.value;
        }
        if let Some(r) = raw.remote {
            let ok = !r.value.is_empty()
                && !r.value.starts_with('-')
                && r.value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
            if !ok {
                let msg = format!(
                    "forge.remote must name a git remote (letters, digits, `-`, `_`, `.`, \
                     `/`, not starting with `-`), not {:?}",
                    r.value
                );
                return self.err(&r.referenced, msg);
            }
            forge.remote = r.value;
        }
        if let Some(r) = raw.repo {
            if !is_repo_name(&r.value) {
                let msg = format!("forge.repo must be `owner/name`, not {:?}", r.value);
                return self.err(&r.referenced, msg);
            }
            forge.repo = Some(r.value);
        }
        if let Some(m) = raw.merge_method {
            let Some(method) = PrMergeMethod::chosen(&m.value) else {
                let msg = format!(
                    "forge.merge_method must be merge, squash or rebase, not {:?}",
                    m.value
                );
                return self.err(&m.referenced, msg);
            };
            forge.merge_method = method;
        }
        if let Some(b) = raw.require_checks {
            forge.require_checks = b;
        }
        if let Some(b) = raw.draft {
            forge.draft = b;
        }
        if let Some(b) = raw.open_on_done {
            forge.open_on_done = b;
        }
        if let Some(t) = raw.timeout_seconds {
            forge.timeout_seconds = self.between("forge.timeout_seconds", &t, 1..=MAX_TIMEOUT)?;
        }
        if let Some(t) = raw.refresh_seconds {
            forge.refresh_seconds = self.between("forge.refresh_seconds", &t, 1..=MAX_REFRESH)?;
        }
        if let Some(r) = raw.reactions {
            forge.reactions = self.reactions(r, "forge.reactions")?;
        }
        if let Some(list) = raw.trusted_associations {
            forge.trusted_associations = self.distinct(Some(list), |a| {
                if ASSOCIATIONS.contains(&a.as_str()) {
                    return Ok(a);
                }
                Err(format!(
                    "forge.trusted_associations holds GitHub's author associations ({}), not \
                     {a:?}",
                    ASSOCIATIONS.join(", ")
                ))
            })?;
        }
        if let Some(i) = raw.issues {
            forge.issues = self.issues(i)?;
        }
        Ok(forge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forge(text: &str) -> Result<ForgeConfig, String> {
        crate::config::parse(
            &format!("version: 1\nforge: {{kind: github, remote: origin{text}}}\n"),
            std::path::Path::new("c.yaml"),
        )
        .map(|c| c.forge.expect("a forge"))
        .map_err(|e| e.to_string())
    }

    #[test]
    fn owners_members_and_collaborators_are_trusted_unless_the_config_says() {
        let default = forge("").unwrap();
        for a in ["OWNER", "MEMBER", "COLLABORATOR"] {
            assert!(default.trusts(a), "{a}");
        }
        for a in [
            "CONTRIBUTOR",
            "FIRST_TIME_CONTRIBUTOR",
            "FIRST_TIMER",
            "MANNEQUIN",
            "NONE",
            "",
        ] {
            assert!(!default.trusts(a), "{a}");
        }
        let wider = forge(", trusted_associations: [OWNER, CONTRIBUTOR, OWNER]").unwrap();
        assert_eq!(wider.trusted_associations, ["OWNER", "CONTRIBUTOR"]);
        assert!(wider.trusts("CONTRIBUTOR") && !wider.trusts("MEMBER"));
        let none = forge(", trusted_associations: []").unwrap();
        assert!(!none.trusts("OWNER"));
        let e = forge(", trusted_associations: [owner]").unwrap_err();
        assert!(e.contains("trusted_associations"), "{e}");
    }
}
