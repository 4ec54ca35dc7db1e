//! A role's allowlist (`roles.<role>.allow`): the command prefixes its workers run without
//! asking, each given to the CLI's own allow mechanism; by default the role's command gates
//! and read-only git.

use super::{Config, GateKind};

/// The read-only git commands every role may run unasked unless its `allow:` says otherwise.
pub const READ_ONLY_GIT: [&str; 4] = ["git status", "git diff", "git log", "git show"];

/// The longest allowed command prefix, in bytes.
const MAX_LEN: usize = 200;

/// Whether `command` can be an allow rule for every CLI: words of letters, digits and
/// `-_./=:,+@%` separated by single spaces, not starting with `-`. Shell operators, quotes,
/// parentheses and globs are refused: a rule is a prefix of one command, never a shell
/// text (the CLIs' allow mechanisms match whole words).
pub fn allowable(command: &str) -> bool {
    !command.is_empty()
        && command.len() <= MAX_LEN
        && !command.starts_with('-')
        && command.split(' ').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
        })
}

impl Config {
    /// The command prefixes a dispatch of `role` may run without asking: its `allow:` list
    /// when it has one (`[]`: none), else each of its command gates (when the gate's argv is
    /// [`allowable`] as one command) and [`READ_ONLY_GIT`].
    pub fn allowed_commands(&self, role: &str) -> Vec<String> {
        let role = self.roles.get(role);
        if let Some(allow) = role.and_then(|r| r.allow.clone()) {
            return allow;
        }
        let mut out: Vec<String> = Vec::new();
        let gates = role.and_then(|r| r.gates.as_deref()).unwrap_or_default();
        for gate in gates.iter().filter_map(|g| self.gates.get(g)) {
            if let GateKind::Command { argv } = &gate.kind {
                let command = argv.join(" ");
                if allowable(&command) && !out.contains(&command) {
                    out.push(command);
                }
            }
        }
        out.extend(READ_ONLY_GIT.map(str::to_owned));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::parse;
    use super::super::tests::parse_err;
    use super::*;

    #[test]
    fn a_role_allows_its_command_gates_and_read_only_git_by_default() {
        let reviewer = crate::provider::Provider::DEFAULT.name();
        let c = parse(
            &format!(
                "version: 1\ngates:\n  tests: {{kind: command, argv: [cargo, test]}}\n  \
                 shell: {{kind: command, argv: [sh, -c, 'make && make check']}}\n  \
                 review: {{kind: review, provider: {reviewer}}}\nroles:\n  implementer:\n    \
                 gates: [tests, shell, review]\n  scout:\n    allow: [npm test, 'git log']\n  \
                 quiet:\n    allow: []\n"
            ),
            Path::new("c.yaml"),
        )
        .unwrap();
        assert_eq!(
            c.allowed_commands("implementer"),
            [
                "cargo test",
                "git status",
                "git diff",
                "git log",
                "git show"
            ]
        );
        assert_eq!(c.allowed_commands("scout"), ["npm test", "git log"]);
        assert!(c.allowed_commands("quiet").is_empty());
        assert_eq!(c.allowed_commands("nobody"), READ_ONLY_GIT);
    }

    #[test]
    fn an_allow_rule_is_one_plain_command_prefix() {
        for ok in ["cargo test", "npm run test:unit", "make -j4", "./bin/test"] {
            assert!(allowable(ok), "{ok}");
        }
        for bad in [
            "",
            "-rf",
            "cargo  test",
            "a && b",
            "rm $(x)",
            "echo 'x'",
            "ls *",
            "a\nb",
        ] {
            assert!(!allowable(bad), "{bad:?}");
        }
        let (line, column, message) =
            parse_err("version: 1\nroles:\n  r:\n    allow: ['make && rm -rf /']\n");
        assert_eq!((line, column), (4, 13), "{message}");
        assert!(
            message.starts_with("role `r`: `make && rm -rf /` cannot be an allow rule"),
            "{message}"
        );
    }
}
