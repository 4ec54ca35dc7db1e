//! Forge text made safe to keep and show: bounded to a number of characters (cut on a
//! character boundary, marked with `…`), and every control character but newline and tab
//! replaced by its `\u{…}` escape, so a comment, a review or a check's log can neither grow
//! vnx's memory nor drive the terminal it is shown on.

use std::fmt::Write as _;

/// `text` bounded to `max` characters and its control characters (newline and tab kept)
/// escaped.
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 8);
    for (n, c) in text.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// One line of forge text: [`clean`], with newlines and tabs made spaces.
pub fn line(text: &str, max: usize) -> String {
    clean(text.trim(), max).replace(['\n', '\t'], " ")
}

/// `text` (a worker's words) as an inert Markdown block: [`clean`], inside a fence longer than
/// any run of backticks in it, so the forge renders it as written: no closing keyword, mention,
/// image, link or hidden comment in it takes effect.
pub fn quoted_block(text: &str, max: usize) -> String {
    let text = clean(text, max);
    let fence = crate::gate::review::fence(&text);
    format!("{fence}text\n{}\n{fence}", text.trim_end_matches('\n'))
}

/// The last `lines` lines of `text`, each bounded to `width` characters, cleaned.
pub fn tail(text: &str, lines: usize, width: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let from = all.len().saturating_sub(lines);
    all[from..]
        .iter()
        .map(|l| clean(l, width).replace('\t', " "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workers_words_are_quoted_whole_in_a_fence_longer_than_theirs() {
        let words = "Fixes #1, thanks @octocat ![x](https://evil.example/t.png) <!-- hidden -->\n\
                     ```\nclosed\n```` early\n";
        let q = quoted_block(words, 4000);
        assert!(q.starts_with("`````text\n"), "{q}");
        assert!(q.ends_with("\n`````"), "{q}");
        assert!(q.contains("Fixes #1, thanks @octocat ![x]"), "{q}");
        // No line of the words closes the fence early.
        let inner: Vec<&str> = q.lines().collect();
        assert!(
            inner[1..inner.len() - 1]
                .iter()
                .all(|l| !l.starts_with("`````"))
        );
        assert_eq!(quoted_block("plain", 10), "```text\nplain\n```");
    }

    #[test]
    fn control_characters_are_escaped_and_text_is_bounded() {
        assert_eq!(clean("a\u{1b}[31mb\nc", 100), "a\\u{1b}[31mb\nc");
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(line(" x\ny\t", 10), "x y");
        assert_eq!(clean("\u{9b}2J", 10), "\\u{9b}2J");
        assert_eq!(tail("1\n2\n3\n4", 2, 10), "3\n4");
    }
}
