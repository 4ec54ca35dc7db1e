//! A TUI's permission dialog as its pane's screen shows it, generic over where it is known
//! from: a built-in CLI's module (a line the dialog shows and the key each answer takes,
//! `CodingCli::pane_dialog`) or a declared provider's `interactive.dialog:`
//! ([`DeclaredDialog`]: a regex matched against the screen, an optional regex capturing what
//! it asks, and the tmux keys of each answer). The supervisor watches the screen with it and
//! `vnx approve`/`vnx deny` type its keys (`dispatch/supervise/worker`, `dispatch/answer`).
//!
//! A declared dialog's regexes come from the project's config: compiled with bounded program
//! sizes by the `regex` crate (no backtracking, so a match is linear in the screen), and only
//! the last [`MAX_SCREEN`] bytes of a screen are looked at.

use serde::{Deserialize, Serialize};

use super::cli::CodingCli;
use crate::receipts::PermissionAnswer;

/// The most bytes of a pane's screen a dialog is looked for in (its end).
pub const MAX_SCREEN: usize = 64 * 1024;
/// The longest regex a config may give, in bytes.
pub const MAX_PATTERN: usize = 1024;
/// The most keys one answer types.
pub const MAX_KEYS: usize = 8;
/// The most memory a compiled regex (and its lazy DFA) may take.
const REGEX_SIZE: usize = 1 << 20;
/// Lines of the pane kept above a dialog's line (the question and what it is about), and
/// below it (the other choices).
const ABOVE: usize = 8;
const BELOW: usize = 4;
/// Most characters of a pane's dialog kept.
pub const MAX_DIALOG: usize = 2048;

/// A declared TUI's permission dialog, as `interactive.dialog:` gives it (checked when the
/// config is loaded: the regexes compile within bounds, the keys are tmux key names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredDialog {
    /// A regex that matches the screen while the dialog is up (`^`/`$` match at each line).
    pub pattern: String,
    /// A regex run on the dialog's lines: its first group (else its match) is what the dialog
    /// asks about, recorded as the blocked receipt's command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asks: Option<String>,
    /// The tmux keys that approve, in order.
    pub approve: Vec<String>,
    /// The tmux keys that deny, in order.
    pub deny: Vec<String>,
}

/// Why a declared dialog cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DialogError {
    /// A regex that does not compile, or compiles too large.
    #[error("{pattern:?} is not a usable regex: {why}")]
    BadRegex {
        /// The regex.
        pattern: String,
        /// What the regex crate said.
        why: String,
    },
    /// A key tmux has no name for.
    #[error("{key:?} is not a tmux key name")]
    BadKey {
        /// The key.
        key: String,
    },
}

/// Compiles a regex from a config, bounded in length and size; `^`/`$` match at lines.
pub fn regex(pattern: &str) -> Result<regex::Regex, DialogError> {
    let bad = |why: String| DialogError::BadRegex {
        pattern: pattern.to_owned(),
        why,
    };
    if pattern.len() > MAX_PATTERN {
        return Err(bad(format!("longer than {MAX_PATTERN} bytes")));
    }
    regex::RegexBuilder::new(pattern)
        .multi_line(true)
        .size_limit(REGEX_SIZE)
        .dfa_size_limit(REGEX_SIZE)
        .build()
        .map_err(|e| {
            bad(e
                .to_string()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_owned())
        })
}

/// Named keys tmux's `send-keys` takes (its key table), besides single characters.
const NAMED_KEYS: &[&str] = &[
    "Enter", "Escape", "Tab", "BTab", "Space", "BSpace", "Up", "Down", "Left", "Right", "Home",
    "End", "PageUp", "PageDown", "PPage", "NPage", "IC", "DC", "Insert", "Delete", "F1", "F2",
    "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12",
];

/// Whether `key` is a tmux key name: a named key or a letter, digit or one of `-_.,/?!`
/// (not `;`, tmux's command separator), optionally after `C-`, `M-` or `S-`.
pub fn valid_key(key: &str) -> bool {
    let mut rest = key;
    while let Some(r) = ["C-", "M-", "S-"]
        .iter()
        .find_map(|m| rest.strip_prefix(m))
        .filter(|r| !r.is_empty())
    {
        rest = r;
    }
    NAMED_KEYS.contains(&rest)
        || (rest.len() == 1
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.,/?!".contains(&b)))
}

/// Checks a declared dialog: its regexes compile within bounds, its keys are key names.
pub fn check(d: &DeclaredDialog) -> Result<(), DialogError> {
    Dialog::declared(d).map(drop)
}

/// How a dialog is told on the screen, and what it asks.
#[derive(Clone, Debug)]
enum Find {
    /// A line holding this text (a built-in CLI's), and what it asks whatever its lines say
    /// (a trust dialog's; else what it names below that line).
    Line(&'static str, Option<&'static str>),
    /// A regex's last match, and the regex that captures what it asks.
    Pattern(regex::Regex, Option<regex::Regex>),
}

/// A permission dialog a TUI draws, ready to be looked for and answered.
#[derive(Clone, Debug)]
pub struct Dialog {
    find: Find,
    approve: Vec<String>,
    deny: Vec<String>,
}

/// A dialog seen on a screen: its lines, and the target and command it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The non-blank lines around it (at most [`MAX_DIALOG`] chars, the end kept).
    pub lines: String,
    /// The target it names (`→ …` below a built-in CLI's line).
    pub target: Option<String>,
    /// The command it names.
    pub command: Option<String>,
}

impl Dialog {
    /// A built-in CLI's dialog, if its pane can be answered.
    pub fn of_cli(cli: &dyn CodingCli) -> Option<Dialog> {
        cli.pane_dialog()
            .map(|d| Dialog::line(d.marker, None, d.approve, d.deny))
    }

    /// The dialogs a built-in CLI's TUI may show before its first turn
    /// ([`CodingCli::start_dialogs`]).
    pub fn start_of(cli: &dyn CodingCli) -> Vec<Dialog> {
        (cli.start_dialogs().iter())
            .map(|t| Dialog::line(t.marker, Some(t.asks), t.approve, t.deny))
            .collect()
    }

    /// A built-in CLI's dialog: the line it shows, what it asks, the key of each answer.
    fn line(marker: &'static str, says: Option<&'static str>, approve: &str, deny: &str) -> Dialog {
        Dialog {
            find: Find::Line(marker, says),
            approve: vec![approve.to_owned()],
            deny: vec![deny.to_owned()],
        }
    }

    /// A declared provider's dialog.
    pub fn declared(d: &DeclaredDialog) -> Result<Dialog, DialogError> {
        for key in d.approve.iter().chain(&d.deny) {
            if !valid_key(key) {
                return Err(DialogError::BadKey { key: key.clone() });
            }
        }
        Ok(Dialog {
            find: Find::Pattern(
                regex(&d.pattern)?,
                d.asks.as_deref().map(regex).transpose()?,
            ),
            approve: d.approve.iter().take(MAX_KEYS).cloned().collect(),
            deny: d.deny.iter().take(MAX_KEYS).cloned().collect(),
        })
    }

    /// The keys that give `answer`, in order; empty when it takes none.
    pub fn keys(&self, answer: PermissionAnswer) -> Vec<&str> {
        match answer {
            PermissionAnswer::Approve => &self.approve,
            PermissionAnswer::Deny => &self.deny,
        }
        .iter()
        .map(String::as_str)
        .collect()
    }

    /// Whether `screen` shows the dialog.
    pub fn shows(&self, screen: &str) -> bool {
        self.line_of(tail(screen)).is_some()
    }

    /// The dialog `screen` shows, if it shows one: its lines and what it names.
    pub fn seen(&self, screen: &str) -> Option<Seen> {
        let screen = tail(screen);
        let at = self.line_of(screen)?;
        let lines = around(screen, at);
        let (target, command) = match &self.find {
            Find::Line(_, Some(says)) => (None, Some((*says).to_owned())),
            Find::Line(marker, None) => match asks_below(&lines, marker) {
                (None, None) => (None, question_above(&lines, marker)),
                named => named,
            },
            Find::Pattern(_, asks) => (None, asks.as_ref().and_then(|a| asked(a, screen, at))),
        };
        Some(Seen {
            lines,
            target,
            command,
        })
    }

    /// The index of the line the dialog is at: the last holding the marker, or where the
    /// pattern's last match starts.
    fn line_of(&self, screen: &str) -> Option<usize> {
        match &self.find {
            Find::Line(marker, _) => line_holding(screen, marker),
            Find::Pattern(re, _) => {
                let at = re.find_iter(screen).last()?.start();
                Some(screen[..at].matches('\n').count())
            }
        }
    }
}

/// The index of the last line of `screen` holding `marker`.
pub fn line_holding(screen: &str, marker: &str) -> Option<usize> {
    let lines: Vec<&str> = screen.lines().collect();
    lines.iter().rposition(|l| l.contains(marker))
}

/// The end of a screen, at most [`MAX_SCREEN`] bytes, cut at a line.
fn tail(screen: &str) -> &str {
    if screen.len() <= MAX_SCREEN {
        return screen;
    }
    let mut from = screen.len() - MAX_SCREEN;
    while !screen.is_char_boundary(from) {
        from += 1;
    }
    let rest = &screen[from..];
    rest.find('\n').map_or(rest, |at| &rest[at + 1..])
}

/// What `re` captures nearest the dialog's line `at` of `screen`: its first match from that
/// line down to the dialog's end, else its last match in the lines above it (an earlier
/// dialog's text still on the screen is further up). Its first group, else its match;
/// trimmed, `None` if empty.
fn asked(re: &regex::Regex, screen: &str, at: usize) -> Option<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let to = (at + BELOW + 1).min(lines.len());
    let below = lines[at.min(to)..to].join("\n");
    let above = lines[at.saturating_sub(ABOVE).min(at)..at.min(lines.len())].join("\n");
    let caps = re
        .captures(&below)
        .or_else(|| re.captures_iter(&above).last())?;
    let text = caps.get(1).or_else(|| caps.get(0))?.as_str().trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The non-blank lines of `screen` around line `at`, their last [`MAX_DIALOG`] characters;
/// a box a TUI draws around its dialog left out (its edges, and lines of nothing else), so
/// the first line is the dialog's own.
pub fn around(screen: &str, at: usize) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let from = at.saturating_sub(ABOVE);
    let to = (at + BELOW + 1).min(lines.len());
    let text = lines[from.min(to)..to]
        .iter()
        .map(|l| unboxed(l))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    // The end holds the dialog's choices: a long line above them is what is cut.
    let n = text.chars().count();
    text.chars().skip(n.saturating_sub(MAX_DIALOG)).collect()
}

/// Whether `c` draws a box (its sides, corners and rules).
fn boxes(c: char) -> bool {
    ('\u{2500}'..='\u{257F}').contains(&c)
}

/// A line of a dialog without the box drawn around it: the side at each end taken off (a
/// rule or a corner line: nothing left); trailing blanks gone, its indent kept.
pub fn unboxed(line: &str) -> &str {
    let line = line.trim_end();
    if line.chars().all(|c| c.is_whitespace() || boxes(c)) {
        return "";
    }
    let inner = match line.trim_start().strip_prefix(['│', '┃', '║']) {
        Some(rest) => rest.strip_suffix(['│', '┃', '║']).unwrap_or(rest),
        None => line,
    };
    inner.trim_end()
}

/// The question a built-in CLI's dialog asks above its line `marker` (the nearest line
/// ending in `?`: copilot's `Do you want to create …/tui.txt?`), when it names no target or
/// command below it.
pub fn question_above(lines: &str, marker: &str) -> Option<String> {
    let above: Vec<&str> = lines.lines().take_while(|l| !l.contains(marker)).collect();
    (above.iter().rev())
        .map(|l| l.trim())
        .find(|l| l.ends_with('?'))
        .map(str::to_owned)
}

/// The target (`→ …`) and command (`$ …`) a built-in CLI's dialog names below its line
/// `marker` (up to a gap of three spaces, where a TUI's next column starts).
pub fn asks_below(lines: &str, marker: &str) -> (Option<String>, Option<String>) {
    let below: Vec<&str> = lines
        .lines()
        .skip_while(|l| !l.contains(marker))
        .skip(1)
        .map(|l| l.trim_start_matches(|c: char| c.is_whitespace() || c == '┃'))
        .collect();
    let named = |prefix: &str| {
        below
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            // A TUI draws other columns beside it, after a wide gap.
            .and_then(|t| t.split("   ").next())
            .map(|t| t.trim().to_owned())
    };
    (named("→ "), named("$ "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(pattern: &str, asks: Option<&str>) -> Dialog {
        Dialog::declared(&DeclaredDialog {
            pattern: pattern.into(),
            asks: asks.map(Into::into),
            approve: vec!["y".into(), "Enter".into()],
            deny: vec!["n".into(), "Enter".into()],
        })
        .unwrap()
    }

    #[test]
    fn a_declared_dialog_is_found_by_its_pattern_and_names_what_it_asks() {
        let d = declared(r"Allow this command\?", Some(r"^\s*\$ (.+)$"));
        let screen = "working…\n\nAllow this command?\n  $ git commit -m 'x'\n  [y/n]\n";
        let seen = d.seen(screen).unwrap();
        assert_eq!(seen.command.as_deref(), Some("git commit -m 'x'"));
        assert_eq!(seen.target, None);
        assert_eq!(
            seen.lines,
            "working…\nAllow this command?\n  $ git commit -m 'x'\n  [y/n]"
        );
        assert!(d.shows(screen));
        assert_eq!(d.seen("all quiet\n"), None);
        assert_eq!(d.keys(PermissionAnswer::Approve), ["y", "Enter"]);
        assert_eq!(d.keys(PermissionAnswer::Deny), ["n", "Enter"]);
        // Without `asks`, the dialog names nothing.
        assert_eq!(declared("Allow", None).seen(screen).unwrap().command, None);
        // The last dialog on the screen is the one that waits.
        let two = format!("{screen}ok\nAllow this command?\n  $ rm -rf x\n");
        assert_eq!(d.seen(&two).unwrap().command.as_deref(), Some("rm -rf x"));
        // What it asks may be drawn above its question.
        let above = "  $ ls\nAllow this command?\n  [y/n]\n";
        assert_eq!(d.seen(above).unwrap().command.as_deref(), Some("ls"));
    }

    #[test]
    fn a_built_in_line_names_its_target_and_command_below_it() {
        let lines = "┃ △ Permission required\n┃ → Write a.txt   other column\n┃ $ ls -la\n";
        assert_eq!(
            asks_below(lines, "△ Permission required"),
            (Some("Write a.txt".into()), Some("ls -la".into()))
        );
    }

    #[test]
    fn copilots_dialog_is_read_without_its_box_and_names_its_question() {
        let screen = include_str!("../../../../tests/support/fixtures/copilot/tui-permission.txt");
        let cli = crate::provider::cli::named("copilot").unwrap();
        let seen = Dialog::of_cli(cli).unwrap().seen(screen).unwrap();
        assert_eq!(
            seen.command.as_deref(),
            Some("Do you want to create /work/tmp/tui-copilot/tui.txt?")
        );
        let first = seen.lines.lines().next().unwrap();
        assert_eq!(first.trim(), "tui.txt +1 -0", "{}", seen.lines);
        assert!(!seen.lines.contains('│'), "{}", seen.lines);
        assert!(seen.lines.contains(" ❯ 1. Yes"), "{}", seen.lines);
    }

    #[test]
    fn only_the_end_of_a_huge_screen_is_read() {
        let d = declared("Allow", None);
        let screen = format!("Allow\n{}", "x\n".repeat(MAX_SCREEN));
        assert!(!d.shows(&screen));
        assert!(d.shows(&format!("{}Allow\n", "x\n".repeat(MAX_SCREEN))));
    }

    #[test]
    fn regexes_and_keys_are_checked() {
        assert!(matches!(regex("("), Err(DialogError::BadRegex { .. })));
        assert!(matches!(
            regex(&"a".repeat(MAX_PATTERN + 1)),
            Err(DialogError::BadRegex { .. })
        ));
        // A regex whose program is too large is refused, not built.
        assert!(regex(r"\w{1000}\w{1000}").is_err());
        for good in [
            "y", "Enter", "C-c", "M-x", "1", "Escape", "F12", "C-M-a", "?",
        ] {
            assert!(valid_key(good), "{good}");
        }
        for bad in ["", ";", "yes", "Entr", "C-", "enter", " ", "\n", "C-;"] {
            assert!(!valid_key(bad), "{bad:?}");
        }
    }
}
