//! The prompt every provider gets for a dispatch: who it is working for, the assignment
//! (the instruction, byte for byte), and the completion protocol (`vnx report`).

use crate::provider::CompletionSignal;

/// The line that opens the assignment; the instruction follows it unchanged.
pub const ASSIGNMENT: &str = "## Assignment\n\n";
/// The line that closes the assignment.
pub const ASSIGNMENT_END: &str = "\n\n## Completion protocol\n\n";

/// Composes the prompt. The instruction appears exactly once, unchanged, between
/// [`ASSIGNMENT`] and [`ASSIGNMENT_END`].
pub fn compose(id: &str, role: &str, instruction: &str, completion: CompletionSignal) -> String {
    let mut p = format!(
        "# vnx dispatch {id}\n\n\
         You are the `{role}` worker of this dispatch. You are in a git worktree made for it, on \
         its own branch; work only inside it.\n\n"
    );
    p.push_str(ASSIGNMENT);
    p.push_str(instruction);
    p.push_str(ASSIGNMENT_END);
    match completion {
        CompletionSignal::Report => p.push_str(
            "Commit your work on the current branch. Then, as your last action, run exactly \
             one of these shell commands:\n\n\
             - `vnx report --status done --summary \"<one line: what you changed>\"`\n\
             - `vnx report --status failed --summary \"<one line: what stopped you>\"`\n\n\
             If your shell cannot find `vnx` (a login shell resets `PATH`), run \
             `\"$VNX_DISPATCH_DIR/bin/vnx\" report …` with the same arguments.\n\n\
             If you need an answer from a person before you can finish, ask your question and \
             do not run `vnx report`: the dispatcher will see that the dispatch needs input.\n",
        ),
        CompletionSignal::Exit => p.push_str(
            "Commit your work on the current branch. Exit with status 0 when the assignment is \
             done, and with a non-zero status when it failed.\n",
        ),
    }
    p
}

/// The instruction inside a composed prompt.
pub fn instruction_of(prompt: &str) -> Option<&str> {
    let start = prompt.find(ASSIGNMENT)? + ASSIGNMENT.len();
    let end = prompt.rfind(ASSIGNMENT_END)?;
    prompt.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instruction_survives_composition() {
        for instruction in [
            "x",
            "## Assignment\n\nnested",
            "a\n\n## Completion protocol\n\nb",
        ] {
            let p = compose("D-1", "implementer", instruction, CompletionSignal::Report);
            assert_eq!(instruction_of(&p), Some(instruction));
            assert!(p.contains("vnx report --status done"));
        }
    }
}
