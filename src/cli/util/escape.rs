//! A text with every character a terminal may act on written as an escape, for every line vnx
//! prints of what receipts, workers, configuration and git say.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters a terminal may act on: C0 controls but the tab, DEL, C1 controls (U+0080 to
/// U+009F; U+009B is a CSI), and the bidirectional overrides that reorder what is shown.
pub(super) fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every character a terminal may act on written as an escape (`\n`, `\r`,
/// `\e`, `\u{9b}`, …); unchanged (borrowed) when there is none.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`escape`] line by line: newlines (and tabs) stay, other control characters are escaped.
pub fn escape_keep_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            line.split('\t')
                .map(|part| escape(part).into_owned())
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
