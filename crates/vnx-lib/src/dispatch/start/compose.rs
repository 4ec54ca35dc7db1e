//! The one prompt every provider gets for a dispatch, in four parts: the role and methodology
//! (the skills' bodies), the assignment (the instruction, byte for byte), a resource index
//! (the skills' files with their sizes and first lines), and the completion protocol
//! (`vnx report`). The layout is in `adr/0012-skills-and-prompt-composition.md`.

use std::fmt::Write as _;

use crate::ids::DispatchId;
use crate::provider::ProviderCompletion;
use crate::skills::Skill;

/// The line that opens the assignment; the instruction follows it unchanged. Skills may not
/// use this heading.
pub const ASSIGNMENT: &str = "## Assignment\n\n";
/// The line that closes the assignment: the resource index follows it. Everything after it is
/// written by vnx and never contains it.
pub const ASSIGNMENT_END: &str = "\n\n## Resources\n\n";

/// Composes the prompt. The instruction appears exactly once, unchanged, between
/// [`ASSIGNMENT`] and [`ASSIGNMENT_END`].
pub fn compose(
    id: &DispatchId,
    role: &str,
    instruction: &str,
    completion: ProviderCompletion,
    skills: &[Skill],
) -> String {
    let mut p = format!(
        "# vnx dispatch {id}\n\n\
         ## Role and methodology\n\n\
         You are the `{role}` worker of this dispatch. You are in a git worktree made for it, on \
         its own branch; work only inside it.\n\n"
    );
    if !skills.is_empty() {
        p.push_str("Apply the methodology below to the assignment.\n\n");
        for skill in skills {
            let _ = write!(p, "### Skill: {}\n\n{}\n\n", skill.name, skill.body);
        }
    }
    let _ = write!(p, "{ASSIGNMENT}{instruction}{ASSIGNMENT_END}");
    resources(&mut p, skills);
    protocol(&mut p, completion);
    p
}

/// The prompt of a follow-up that resumes the worker's CLI session: the session holds the
/// role, the skills and the earlier assignment, so only the new assignment and the
/// completion protocol (for this dispatch's own report) are sent. The instruction appears
/// exactly once, unchanged, between [`ASSIGNMENT`] and [`ASSIGNMENT_END`].
pub fn compose_resumed(
    id: &DispatchId,
    continued: &DispatchId,
    instruction: &str,
    completion: ProviderCompletion,
) -> String {
    let mut p = format!(
        "# vnx dispatch {id}, a follow-up of {continued}\n\n\
         You are continuing the work of dispatch {continued}, in the same worktree and on the \
         same branch. This is a new dispatch: whatever you reported before, report this one \
         when you finish.\n\n{ASSIGNMENT}{instruction}{ASSIGNMENT_END}\
         The skill files of your earlier assignment are where they were.\n"
    );
    protocol(&mut p, completion);
    p
}

/// What stopped a worker that vnx continues in its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interruption {
    /// Its provider's usage limit, now reset (ADR 0117).
    Limit,
    /// A person's pause, now lifted (ADR 0119).
    Pause,
}

impl Interruption {
    /// In a log line: `usage limit`, `pause`.
    pub fn name(self) -> &'static str {
        match self {
            Interruption::Limit => "usage limit",
            Interruption::Pause => "pause",
        }
    }

    /// What stopped the worker, as it is told.
    pub fn cause(self) -> &'static str {
        match self {
            Interruption::Limit => "your provider's usage limit",
            Interruption::Pause => "a pause its operator asked for",
        }
    }
}

/// What a worker stopped by a usage limit or a pause is told when vnx continues it in its
/// session (ADR 0117, ADR 0119): to go on from where it stopped, not to start again, and how
/// to end.
pub fn after(id: &DispatchId, completion: ProviderCompletion, why: Interruption) -> String {
    let mut p = format!(
        "# vnx dispatch {id}, continued after a {}\n\n\
         You were stopped by {}; it is over. Go on with your assignment from where you \
         stopped, in this worktree: do not redo what is already done here.\n",
        why.name(),
        why.cause()
    );
    protocol(&mut p, completion);
    p
}

/// What a TUI worker a usage limit stopped is told, typed at its input in the same session,
/// once the limit is over (ADR 0117): one line, as a person would type it.
pub const TUI_AFTER_LIMIT: &str = "Your provider's usage limit is over. Go on with your \
    assignment from where you stopped; do not redo what is already done here.";

/// The longest of the prompts that continue a worker ([`after`]), which decides how they
/// are handed to its CLI.
pub fn longest_after(id: &DispatchId, completion: ProviderCompletion) -> String {
    [Interruption::Limit, Interruption::Pause]
        .map(|why| after(id, completion, why))
        .into_iter()
        .max_by_key(String::len)
        .unwrap_or_default()
}

/// What the follow-up that moves a dispatch its provider's usage limit stopped to another
/// CLI is told (`vnx resume ID --to`, issue 71), after the earlier assignment
/// ([`follow_up_instruction`]): in a new session of that CLI, that the earlier worker, on
/// `from`, stopped at its usage limit and that its work so far is in this worktree.
pub fn moved_after_limit(from: &str) -> String {
    format!(
        "The previous worker on this assignment ran on another CLI ({from}) and was stopped \
         by its provider's usage limit before it finished. Its work so far is in this \
         worktree: the commits on this branch, and any files it left uncommitted. Look at \
         what is already done (git log, git status, git diff) before you change anything, do \
         not redo it, and finish the assignment above."
    )
}

/// The assignment of a follow-up that starts a new CLI session (none was recorded, or the
/// provider cannot resume one): the earlier assignment, then the new one.
pub fn follow_up_instruction(continued: &DispatchId, earlier: &str, instruction: &str) -> String {
    format!(
        "This continues dispatch {continued}. Its work so far is in this worktree. Its \
         assignment was:\n\n> {}\n\nYour assignment now:\n\n{instruction}",
        earlier.trim_end().replace('\n', "\n> ")
    )
}

/// The completion protocol: how the worker ends the dispatch.
fn protocol(p: &mut String, completion: ProviderCompletion) {
    p.push_str("\n## Completion protocol\n\n");
    match completion {
        ProviderCompletion::Report => p.push_str(
            "Leave your changes in this worktree. You need not commit them: when you report \
             done, vnx commits everything you changed here to the dispatch branch, with your \
             summary as the message. Do not switch branches or push.\n\n\
             As your last action, run exactly one of these shell commands:\n\n\
             - `vnx report --status done --summary \"<one line: what you changed>\"`\n\
             - `vnx report --status failed --summary \"<one line: what stopped you>\"`\n\n\
             If you need an answer from a person before you can finish, ask your question and \
             do not run `vnx report`: the dispatcher will see that the dispatch needs input.\n",
        ),
        ProviderCompletion::Exit => p.push_str(
            "Leave your changes in this worktree; vnx commits them to the dispatch branch when \
             you finish. Exit with status 0 when the assignment is done, and with a non-zero \
             status when it failed.\n",
        ),
        ProviderCompletion::Output => p.push_str(
            "Make your changes by editing files in this worktree; vnx commits what you \
             changed to the dispatch branch when you finish. Do not commit. If you need an \
             answer from a person before you can finish, change nothing and end your reply \
             with your question.\n",
        ),
    }
}

/// The resource index: one line per file, each written by vnx on a single line.
fn resources(p: &mut String, skills: &[Skill]) {
    let files: Vec<_> = skills.iter().flat_map(|s| &s.resources).collect();
    if skills.is_empty() {
        p.push_str("No skills were given for this dispatch, so there are no skill files.\n");
        return;
    }
    if files.is_empty() {
        p.push_str("The skills above bring no reference files or scripts.\n");
        return;
    }
    p.push_str(
        "Files the skills above bring, relative to the root of your worktree. Read a \
         reference or run a script when it helps with the assignment.\n\n",
    );
    for f in files {
        let kind = if f.script { ", script" } else { "" };
        let summary = if f.summary.is_empty() {
            String::new()
        } else {
            format!(": {}", f.summary)
        };
        let _ = writeln!(p, "- `{}` ({} bytes{kind}){summary}", f.path, f.bytes);
    }
}

/// The instruction inside a composed prompt.
pub fn instruction_of(prompt: &str) -> Option<&str> {
    // The first `## Assignment` at a line start: the header and the skills before it never
    // hold one. The last end marker: the index and protocol after it never hold one.
    let start = prompt.find(&format!("\n{ASSIGNMENT}"))? + 1 + ASSIGNMENT.len();
    let end = prompt.rfind(ASSIGNMENT_END)?;
    prompt.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skills::Resource;

    fn id() -> DispatchId {
        DispatchId::parse("D-0a1b2c3d4e5f").unwrap()
    }

    fn skill(name: &str, body: &str) -> Skill {
        Skill {
            name: name.into(),
            description: "d".into(),
            body: body.into(),
            sha256: String::new(),
            resources: vec![Resource {
                path: format!("skills/{name}/references/a.md"),
                bytes: 3,
                summary: "## Resources".into(),
                script: false,
            }],
        }
    }

    #[test]
    fn the_instruction_survives_composition() {
        let skills = [skill(
            "a",
            "### Assignment\n\nnot ours\n\n## Resources\n\nx",
        )];
        for instruction in [
            "x",
            "## Assignment\n\nnested",
            "a\n\n## Completion protocol\n\nb",
            "a\n\n## Resources\n\nb",
            "\n## Assignment\n\n",
        ] {
            for skills in [&skills[..], &[]] {
                for completion in [
                    ProviderCompletion::Report,
                    ProviderCompletion::Exit,
                    ProviderCompletion::Output,
                ] {
                    let p = compose(&id(), "implementer", instruction, completion, skills);
                    assert_eq!(instruction_of(&p), Some(instruction), "{p}");
                    assert_eq!(
                        p.matches("## Completion protocol\n\n").count(),
                        1 + instruction.matches("## Completion protocol\n\n").count()
                    );
                }
            }
        }
        let p = compose(&id(), "r", "x", ProviderCompletion::Report, &skills);
        assert!(p.contains("vnx report --status done"));
        assert!(p.contains("- `skills/a/references/a.md` (3 bytes): ## Resources\n"));
    }
}
