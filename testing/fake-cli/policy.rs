//! Permission policy: the posture (ask / edits / full) a personality derives from its flags,
//! shell allow rules (matched part by part on compound commands) and the workspace roots.

use std::path::{Path, PathBuf};

use crate::engine::ToolKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Posture {
    /// Everything needs approval (headless: denied).
    Ask,
    /// Writes inside the workspace are allowed; shell commands need an allow rule.
    Edits,
    /// Everything is allowed.
    Full,
}

/// A shell allow rule from `--allowedTools`/`--allowed-tools`/settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunRule {
    Any,
    Prefix(String),
    Exact(String),
}

impl RunRule {
    fn matches(&self, command: &str) -> bool {
        match self {
            RunRule::Any => true,
            RunRule::Prefix(p) => command.starts_with(p.as_str()),
            RunRule::Exact(e) => command == e,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Policy {
    pub posture: Posture,
    pub run_rules: Vec<RunRule>,
    /// An allow rule (e.g. `Write`, `write_file`) grants every write.
    pub writes_allowed: bool,
    /// Where writes count as "in the workspace": the cwd and the extra directories.
    pub roots: Vec<PathBuf>,
    /// Shell commands run without asking where edits do (a sandboxed posture that lets both).
    pub edits_allow_run: bool,
    /// Whether approval can be asked for (interactive, approvals not turned off).
    pub prompts: bool,
    /// Every `.git` is read-only inside the sandbox, even one named as an extra directory,
    /// so `git add` and `git commit` fail (where a personality's sandbox does so).
    pub read_only_git: bool,
    /// A command the model asks to run outside the sandbox shows an approval prompt and,
    /// approved, runs unsandboxed (a TUI with approvals on, where a personality has it).
    pub escalation: bool,
}

impl Policy {
    /// `roots` are kept as given and, where they resolve through symlinks, also resolved.
    pub fn new(posture: Posture, mut roots: Vec<PathBuf>) -> Policy {
        let resolved: Vec<PathBuf> = roots
            .iter()
            .filter_map(|r| std::fs::canonicalize(r).ok())
            .filter(|r| !roots.contains(r))
            .collect();
        roots.extend(resolved);
        Policy {
            posture,
            run_rules: Vec::new(),
            writes_allowed: false,
            roots,
            edits_allow_run: false,
            prompts: false,
            read_only_git: false,
            escalation: false,
        }
    }

    pub fn in_roots(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| path.starts_with(root))
    }

    /// Whether every part of a (possibly compound) command matches an allow rule.
    pub fn run_allowed(&self, command: &str) -> bool {
        let parts = split_compound(command);
        !parts.is_empty()
            && parts
                .iter()
                .all(|part| self.run_rules.iter().any(|r| r.matches(part)))
    }

    /// `true` = allowed outright; `false` = needs approval.
    pub fn allows(&self, call: &ToolKind) -> bool {
        if self.posture == Posture::Full {
            return true;
        }
        match call {
            ToolKind::Write { abs, .. } => {
                self.writes_allowed || (self.posture == Posture::Edits && self.in_roots(abs))
            }
            ToolKind::Run { command, .. } => {
                (self.posture == Posture::Edits && self.edits_allow_run)
                    || self.run_allowed(command)
            }
        }
    }
}

/// Splits a shell command at `&&`, `||`, `;`, `|` and newlines outside quotes.
pub fn split_compound(command: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let (mut single, mut double) = (false, false);
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '\\' if !single => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                continue;
            }
            '&' | '|' | ';' | '\n' if !single && !double => {
                if (c == '&' || c == '|') && chars.peek() == Some(&c) {
                    chars.next();
                } else if c == '&' {
                    cur.push(c);
                    continue;
                }
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compound_commands_split_outside_quotes() {
        assert_eq!(
            split_compound("git add -A && git commit -m 'a && b; c' | cat; echo \"x|y\" & true"),
            vec![
                "git add -A",
                "git commit -m 'a && b; c'",
                "cat",
                "echo \"x|y\" & true"
            ]
        );
    }

    #[test]
    fn every_part_must_match_a_rule() {
        let mut p = Policy::new(Posture::Ask, vec![PathBuf::from("/w")]);
        p.run_rules = vec![RunRule::Prefix("vnx report".into())];
        assert!(p.run_allowed("vnx report --status done"));
        assert!(!p.run_allowed("vnx report --status done && rm -rf /"));
        assert!(!p.run_allowed("echo vnx report"));
    }

    #[test]
    fn edits_allow_writes_in_roots_only() {
        let p = Policy::new(
            Posture::Edits,
            vec![PathBuf::from("/w"), PathBuf::from("/extra")],
        );
        let write = |abs: &str| ToolKind::Write {
            path: abs.into(),
            abs: abs.into(),
            text: String::new(),
        };
        assert!(p.allows(&write("/w/a/b.txt")));
        assert!(p.allows(&write("/extra/c")));
        assert!(!p.allows(&write("/wx/c")));
        assert!(!p.allows(&ToolKind::Run {
            command: "ls".into(),
            commit: false,
            escalated: false,
        }));
    }
}
