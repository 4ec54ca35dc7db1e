//! Writing to the terminal: data to stdout, where a closed pipe (`vnx … | head`) ends the
//! command quietly (exit 0), and every human-readable line — stdout or stderr — with its
//! control characters escaped, since receipts, workers, configuration and git can all carry
//! terminal escapes (a worker's `--summary $'\e]0;pwned\a'`, OSC 52 in a receipt).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::escape::is_unsafe;
pub use super::escape::{escape, escape_keep_lines};
use crate::cli::CliError;

/// Stdout, buffered; errors other than a closed pipe become a `CliError`.
pub struct Out {
    inner: io::BufWriter<io::Stdout>,
}

/// What a write to stdout came to.
pub enum Wrote {
    Ok,
    /// The reader went away; stop quietly.
    Closed,
}

impl Out {
    pub fn new() -> Out {
        Out {
            inner: io::BufWriter::new(io::stdout()),
        }
    }

    /// Writes one line, its control characters escaped (a newline inside it included: one
    /// call is one line).
    pub fn line(&mut self, text: &str) -> Result<Wrote, CliError> {
        self.raw_line(escape(text).as_bytes())
    }

    /// Writes one line that is escaped already, with colour codes added by [`paint`].
    pub fn styled(&mut self, text: &str) -> Result<Wrote, CliError> {
        self.raw_line(text.as_bytes())
    }

    /// Writes a raw line (a ledger line) followed by a newline; control bytes in it (which
    /// valid JSON never holds raw) are escaped.
    pub fn bytes_line(&mut self, bytes: &[u8]) -> Result<Wrote, CliError> {
        self.raw_line(&escape_bytes(bytes))
    }

    /// Writes `bytes` as they are, then a newline.
    fn raw_line(&mut self, bytes: &[u8]) -> Result<Wrote, CliError> {
        let r = (self.inner.write_all(bytes)).and_then(|()| self.inner.write_all(b"\n"));
        classify(r)
    }

    /// Pushes buffered output to the reader now.
    pub fn flush(&mut self) -> Result<Wrote, CliError> {
        classify(self.inner.flush())
    }

    /// What an action recorded about dispatch `id`: its receipt as one line of JSON with
    /// `--json` (`json`), else `ID  LINE` for each of `lines`.
    pub fn recorded(
        &mut self,
        json: bool,
        receipt: &impl serde::Serialize,
        id: &vnx::ids::DispatchId,
        lines: &[String],
    ) -> Result<(), CliError> {
        if json {
            self.json(receipt)?;
        }
        for line in lines.iter().filter(|_| !json) {
            self.line(&format!("{id}  {line}"))?;
        }
        Ok(())
    }

    /// Writes a value as one line of JSON.
    pub fn json(&mut self, value: &impl serde::Serialize) -> Result<Wrote, CliError> {
        let text = serde_json::to_string(value)
            .map_err(|e| CliError::new(format!("could not render JSON: {e}")))?;
        self.raw_line(json_safe(&text).as_bytes())
    }
}

/// A raw line with control bytes (and UTF-8 C1 controls) escaped as `\xNN`.
fn escape_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return match escape(text) {
            Cow::Borrowed(_) => Cow::Borrowed(bytes),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
    }
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if (b < 0x20 && b != b'\t') || b == 0x7f {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        } else {
            out.push(b);
        }
    }
    Cow::Owned(out)
}

/// JSON text with the characters JSON leaves raw but a terminal acts on (DEL, C1 controls,
/// bidirectional overrides) written as `\uXXXX` escapes: the same JSON value.
fn json_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Prints a human-readable message to stderr, escaped.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::cli::util::output::escape(&format!($($arg)*)))
    };
}
pub(crate) use say;

fn classify(r: io::Result<()>) -> Result<Wrote, CliError> {
    match r {
        Ok(()) => Ok(Wrote::Ok),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Wrote::Closed),
        Err(e) => Err(CliError::from_error(&e).with_hint("could not write to stdout")),
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        let _ = self.inner.flush();
    }
}

/// Standard input, read to its end but never more than `max` bytes: `None` when it holds
/// more.
pub fn read_stdin(max: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

/// Whether stdout gets colour: a terminal, and the environment allows it (see
/// [`super::settings::colour_allowed`]).
pub fn colour() -> bool {
    use std::io::IsTerminal;
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::io::stdout().is_terminal() && super::settings::colour_allowed())
}

/// `text` (escaped) in the colour of a dispatch state, when stdout takes colour: waiting for
/// a person yellow, running cyan, done and merged green, failures red, the rest dim.
pub fn paint(state: &str, text: &str) -> String {
    let text = escape(text);
    if !colour() {
        return text.into_owned();
    }
    let code = match state {
        "blocked" | "needs_input" | "stalled" => "33",
        "running" => "36",
        "done" | "merged" => "32",
        "failed" | "timeout" | "lost" => "31",
        _ => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Shows what a command is about to do: on stdout, or on stderr when stdout is kept for
/// `--json`.
pub fn plan_lines(out: &mut Out, lines: &[String], json: bool) -> Result<(), CliError> {
    for line in lines {
        if json {
            say!("{line}");
        } else {
            out.line(line)?;
        }
    }
    out.flush().map(drop)
}

/// Asks `question` on the terminal and reads a yes; refuses without a terminal to ask on
/// (the caller's `--yes` is then the way).
pub fn confirm(question: &str, refusal: &str) -> Result<bool, CliError> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(refusal.to_owned())
            .with_hint("pass --yes to go ahead without being asked"));
    }
    eprint!("{} [y/N] ", escape(question));
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_escaped_and_plain_text_is_not_copied() {
        assert!(matches!(escape("plain\ttext ✓"), Cow::Borrowed(_)));
        assert_eq!(
            escape("\u{1b}]0;pwned\u{7}\u{1b}[2J\nnext\r\u{9b}31m\u{202e}"),
            "\\e]0;pwned\\u{7}\\e[2J\\nnext\\r\\u{9b}31m\\u{202e}"
        );
        let json = serde_json::to_string(&"a\u{1b}b\u{9b}c\u{7f}").unwrap();
        let safe = json_safe(&json);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, "a\u{1b}b\u{9b}c\u{7f}");
        assert_eq!(&*escape_bytes(b"x\x1b[2J\xff"), b"x\\x1b[2J\xff");
    }
}
