//! One review comment as a follow-up's instruction quotes it: a forge review thread (`vnx pr
//! fix`) and a local comment on a dispatch's diff (`vnx review --send`) are drawn by the same
//! function, so a pull request's review and a local one read the same to the worker (ADR
//! 0091): who, on which file and line, the code it points at where vnx has it, and what was
//! said. And the block all of it is quoted in: bounded, control characters escaped, inside a
//! fence longer than any backtick run in it, so nothing quoted can close it early.

use super::text;
use crate::gate::review::fence;

/// The most characters of one line of code quoted with a comment.
pub const CODE_WIDTH: usize = 300;

/// A review comment to draw.
#[derive(Clone, Debug, Default)]
pub struct Said<'a> {
    /// Who said it.
    pub author: &'a str,
    /// The file it is on.
    pub path: &'a str,
    /// The line, when there is one.
    pub line: Option<u64>,
    /// The lines around it, numbered, as vnx read them (none for a forge thread).
    pub code: &'a [(u64, String)],
    /// A word on the code, when it changed since (`None`: nothing to say).
    pub note: Option<&'a str>,
    /// What was said.
    pub text: &'a str,
}

/// `said` as the instruction quotes it: a blank line, `Unresolved review comment by AUTHOR on
/// FILE:LINE:`, the code it points at (its line marked `>`) when there is some, and the text.
/// Not yet escaped or bounded: [`quoted`] does that to the whole.
pub fn draw(said: &Said<'_>) -> String {
    let at = said
        .line
        .map_or_else(|| said.path.to_owned(), |l| format!("{}:{l}", said.path));
    let mut out = format!("\nUnresolved review comment by {} on {at}:\n", said.author);
    if !said.code.is_empty() {
        out.push_str("The code it points at (the line marked >):\n");
        for (n, code) in said.code {
            let mark = if Some(*n) == said.line { '>' } else { ' ' };
            let code = text::clean(code, CODE_WIDTH).replace(['\n', '\t'], " ");
            out.push_str(&format!("{mark}{n:>6} | {code}\n"));
        }
        if let Some(note) = said.note {
            out.push_str(&format!("({note})\n"));
        }
        out.push_str("The comment:\n");
    }
    out.push_str(said.text);
    out.push('\n');
    out
}

/// `quoted` as data: bounded to `max` characters, its control characters escaped, between
/// fences labelled `text` that are longer than any run of backticks in it, ending in a
/// newline.
pub fn quoted(quoted: &str, max: usize) -> String {
    let quoted = text::clean(quoted, max);
    let fence = fence(&quoted);
    format!("{fence}text\n{quoted}\n{fence}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forge_thread_reads_as_it_did() {
        let said = Said {
            author: "rev",
            path: "greeting.txt",
            line: Some(1),
            text: "rev: Say hello here, not hi.",
            ..Said::default()
        };
        assert_eq!(
            draw(&said),
            "\nUnresolved review comment by rev on greeting.txt:1:\nrev: Say hello here, not hi.\n"
        );
    }

    #[test]
    fn a_local_comment_shows_its_code_with_its_line_marked() {
        let code = [
            (41, "fn a() {".to_owned()),
            (42, "    hi()\t\u{1b}[2J".to_owned()),
        ];
        let said = Said {
            author: "ana",
            path: "src/x.rs",
            line: Some(42),
            code: &code,
            note: Some("this line has changed since the comment"),
            text: "Say hello.",
        };
        let drawn = draw(&said);
        assert!(
            drawn.contains("\n     41 | fn a() {\n>    42 |     hi() \\u{1b}[2J\n"),
            "{drawn}"
        );
        assert!(
            drawn.contains("(this line has changed since the comment)\nThe comment:\nSay hello.\n")
        );
        assert!(!drawn.contains('\u{1b}'));
    }

    #[test]
    fn what_is_quoted_cannot_close_its_fence() {
        let q = quoted("a ```` b\n`````", 100);
        assert!(q.starts_with("``````text\n"), "{q}");
        assert!(q.ends_with("\n``````\n"), "{q}");
    }
}
