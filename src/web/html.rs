//! The pages' HTML, written here and escaped here: every text that is not vnx's own (a
//! worker's question, transcript, diff, a title, a forge's words) goes through [`esc`] after
//! its control characters are removed, so nothing a worker writes becomes markup or script.
//! The page shell, the diff drawn per file with its lines coloured, and a light colouring of
//! code tokens.

use std::fmt::Write as _;

/// `text` as HTML text or attribute value: a terminal's escapes, control characters (but line
/// breaks) and bidirectional overrides removed, `& < > " '` escaped.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let plain = if text.contains('\n') {
        let mut lines = vnx::dashboard::model::plain_lines(text);
        if !text.ends_with('\n') {
            lines.pop();
        }
        lines
    } else {
        vnx::dashboard::model::plain(text)
    };
    for c in plain.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A whole page: its title, the device's anti-forgery value (empty before pairing) for the
/// script's requests, and its body.
pub fn page(title: &str, csrf: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"csrf\" content=\"{csrf}\">\
         <title>{title}</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\">\
         <script src=\"/static/app.js\" defer></script></head>\
         <body><header><a class=\"home\" href=\"/\">vnx</a></header>\n<main>{body}</main></body></html>\n",
        csrf = esc(csrf),
        title = esc(title),
    )
}

/// The most bytes of a diff drawn.
pub const DIFF_BYTES: usize = 512 << 10;
/// The most lines of one file's diff drawn.
const FILE_LINES: usize = 3_000;

/// A unified diff drawn per file: a `<details>` for each, its lines numbered on the new
/// side and coloured (added, removed, hunk, context), each line that exists on the new side
/// carrying `data-file` and `data-line` (what a review comment anchors to).
pub fn diff(text: &str) -> String {
    let text = match text.char_indices().nth(DIFF_BYTES) {
        Some((at, _)) => &text[..at],
        None => text,
    };
    let mut out = String::new();
    let mut file: Option<String> = None;
    let mut new_line = 0u64;
    let mut lines_in_file = 0usize;
    let mut open = false;
    let mut in_hunk = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            if open {
                out.push_str("</tbody></table></details>\n");
            }
            let name = rest.rsplit(" b/").next().unwrap_or(rest).to_owned();
            let _ = write!(
                out,
                "<details class=\"file\" open><summary>{}</summary><table class=\"diff\"><tbody>",
                esc(&name)
            );
            file = Some(name);
            open = true;
            lines_in_file = 0;
            in_hunk = false;
            continue;
        }
        // Git's headers (index, modes, renames, the two names): the file's summary says
        // enough.
        let header = !in_hunk && !line.starts_with("@@ ");
        if !open || header || line.starts_with("\\ ") {
            continue;
        }
        lines_in_file += 1;
        if lines_in_file > FILE_LINES {
            if lines_in_file == FILE_LINES + 1 {
                out.push_str("<tr class=\"cut\"><td></td><td>… cut here</td></tr>");
            }
            continue;
        }
        let ext = file.as_deref().and_then(|f| f.rsplit('.').next());
        if let Some(hunk) = line.strip_prefix("@@ ") {
            in_hunk = true;
            new_line = hunk
                .split(' ')
                .find_map(|p| p.strip_prefix('+'))
                .and_then(|p| p.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let _ = write!(
                out,
                "<tr class=\"hunk\"><td></td><td>@@ {}</td></tr>",
                esc(hunk)
            );
            continue;
        }
        let (class, body, numbered) = match line.as_bytes().first() {
            Some(b'+') => ("add", &line[1..], true),
            Some(b'-') => ("del", &line[1..], false),
            Some(b' ') => ("ctx", &line[1..], true),
            _ => ("meta", line, false),
        };
        let anchor = match (&file, numbered) {
            (Some(f), true) => {
                let n = new_line;
                new_line += 1;
                format!(" data-file=\"{}\" data-line=\"{n}\"", esc(f))
            }
            _ => String::new(),
        };
        let number = if anchor.is_empty() {
            String::new()
        } else {
            (new_line - 1).to_string()
        };
        let _ = write!(
            out,
            "<tr class=\"{class}\"{anchor}><td class=\"n\">{number}</td><td>{}</td></tr>",
            code(body, ext)
        );
    }
    if open {
        out.push_str("</tbody></table></details>\n");
    }
    if out.is_empty() {
        out.push_str("<p class=\"quiet\">No change against its base.</p>");
    }
    out
}

/// Words coloured as keywords in any language the page draws.
const KEYWORDS: &[&str] = &[
    "fn",
    "let",
    "mut",
    "pub",
    "use",
    "mod",
    "impl",
    "struct",
    "enum",
    "trait",
    "match",
    "if",
    "else",
    "for",
    "while",
    "loop",
    "return",
    "def",
    "class",
    "import",
    "from",
    "const",
    "function",
    "var",
    "async",
    "await",
    "func",
    "package",
    "type",
    "interface",
    "true",
    "false",
    "None",
    "null",
    "self",
    "Self",
];

/// One line of code, escaped, its strings, comments and keywords in spans.
pub fn code(line: &str, ext: Option<&str>) -> String {
    let comment = match ext {
        Some("py" | "sh" | "rb" | "yaml" | "yml" | "toml") => "#",
        _ => "//",
    };
    let mut out = String::new();
    let mut word = String::new();
    let mut chars = line.char_indices().peekable();
    let flush = |word: &mut String, out: &mut String| {
        if KEYWORDS.contains(&word.as_str()) {
            let _ = write!(out, "<span class=\"k\">{}</span>", esc(word));
        } else {
            out.push_str(&esc(word));
        }
        word.clear();
    };
    while let Some((at, c)) = chars.next() {
        if line[at..].starts_with(comment) {
            flush(&mut word, &mut out);
            let _ = write!(out, "<span class=\"c\">{}</span>", esc(&line[at..]));
            return out;
        }
        if c == '"' || c == '\'' {
            flush(&mut word, &mut out);
            let mut end = line.len();
            let mut escaped = false;
            for (i, d) in chars.by_ref() {
                if !escaped && d == c {
                    end = i + d.len_utf8();
                    break;
                }
                escaped = !escaped && d == '\\';
            }
            let _ = write!(out, "<span class=\"s\">{}</span>", esc(&line[at..end]));
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push_str(&esc(c.encode_utf8(&mut [0; 4])));
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_text_never_becomes_markup() {
        let evil = "<script>alert(1)</script>\u{1b}[31m\"' onload=x &amp;";
        let e = esc(evil);
        assert!(!e.contains('<') && !e.contains('"') && !e.contains('\'') && !e.contains('\u{1b}'));
        assert!(e.contains("&lt;script&gt;"));
        let d = diff(&format!(
            "diff --git a/x.rs b/{evil}\n--- a/x.rs\n+++ b/x.rs\n@@ -1 +1,2 @@ {evil}\n-old\n+\"{evil}\" // {evil}\n+let x = '{evil}';\n"
        ));
        assert!(!d.contains("<script"), "{d}");
        assert!(
            d.contains("data-line=\"1\"") && d.contains("data-line=\"2\""),
            "{d}"
        );
    }

    #[test]
    fn code_tokens_are_coloured() {
        assert_eq!(
            code("let s = \"a\\\"b\"; // hi", Some("rs")),
            "<span class=\"k\">let</span> s = <span class=\"s\">&quot;a\\&quot;b&quot;</span>; \
             <span class=\"c\">// hi</span>"
        );
        assert_eq!(code("# x", Some("py")), "<span class=\"c\"># x</span>");
    }

    proptest::proptest! {
        #[test]
        fn no_text_escapes_its_cell(text in ".{0,200}") {
            let d = diff(&format!("diff --git a/f b/f\n@@ -1 +1 @@\n+{text}\n"));
            let opened = d.matches('<').count();
            let closed = d.matches('>').count();
            proptest::prop_assert_eq!(opened, closed);
            proptest::prop_assert!(!d.contains("<script"));
            proptest::prop_assert!(!esc(&text).contains('<'));
        }
    }
}
