//! The dashboard's state and what each key does: selection, the view shown (pane, diff,
//! receipts), confirmations, the follow-up prompt, a review comment on the diff's top line
//! and the help; its clock (ages tick, a message goes stale). Keys become [`Effect`]s; the caller carries them out, so every
//! action goes through the same commands as the shell.

use std::cell::Cell;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use vnx::dashboard::model::{Row, Snapshot};
use vnx::ids::DispatchId;

/// What the lower pane shows of the selected dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Its live pane (or the end of its log once it ended).
    Pane,
    /// Its diff against its base.
    Diff,
    /// Its receipts.
    Receipts,
}

pub use crate::action::Action;

/// One key (or keys) of the dashboard, as the key bar and the help show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// The key as typed (`m`, `Enter/a`, `↑↓ j k`).
    pub keys: &'static str,
    /// The key bar's short form (`m:merge`).
    pub short: &'static str,
    /// What it does, as the help says it.
    pub does: &'static str,
    /// Whether it asks before it acts.
    pub asks: bool,
}

const fn key(keys: &'static str, short: &'static str, does: &'static str, asks: bool) -> Key {
    Key {
        keys,
        short,
        does,
        asks,
    }
}

/// The dashboard's own keys (they move about, open an editor or act on every dispatch) that
/// come before the table's (`actions::table`, each row with its key's help) in the help.
const FIRST: &[Key] = &[key(
    "↑↓ j k",
    "↑↓:select",
    "select a dispatch (Home, End: the first, the last)",
    false,
)];

/// Those that come right after a key of the table's.
const AFTER: &[(char, Key)] = &[
    (
        'a',
        key(
            "f",
            "f:follow-up",
            "follow up with a new instruction (typed; Enter sends it)",
            false,
        ),
    ),
    (
        'i',
        key(
            "b",
            "b:budget",
            "raise the budget it stopped at (typed: +50k, +$2)",
            true,
        ),
    ),
];

/// Those that come after the table's.
const LAST: &[Key] = &[
    key(
        "o",
        "o:comment",
        "comment on the diff's top line (typed; Enter adds it)",
        false,
    ),
    key(
        "t",
        "t:tidy",
        "tidy every settled dispatch (vnx tidy --yes)",
        true,
    ),
    key(
        "Tab 1 2 3",
        "⇥:view",
        "show its pane, its diff or its receipts",
        false,
    ),
    key(
        "PgUp PgDn",
        "PgUp/Dn:scroll",
        "scroll the pane, diff or receipts",
        false,
    ),
    key(
        "[ ]",
        "[]:line",
        "scroll by a line (o comments on the diff's top one)",
        false,
    ),
    key("?", "?:help", "show or close this help", false),
    key("q Esc", "q:quit", "quit (Ctrl-C too)", false),
];

/// Every key of the dashboard, in the help's order: its own, and each of the table's with
/// its help (in the table's order) followed by those of its own that come after it.
pub static KEYS: std::sync::LazyLock<Vec<Key>> = std::sync::LazyLock::new(|| {
    let mut all = FIRST.to_vec();
    for r in vnx::actions::table::ACTIONS {
        if let (Some(typed), Some((keys, short, does))) = (r.key, r.key_help) {
            all.push(key(keys, short, does, r.asks_first));
            all.extend(AFTER.iter().filter(|(c, _)| *c == typed).map(|(_, k)| *k));
        }
    }
    all.extend(LAST);
    all
});

/// The keys the key bar offers first for `row`: what its state asks of a person.
pub fn suggested(row: Option<&Row>) -> &'static [&'static str] {
    use vnx::dispatch::view::State;
    use vnx::receipts::DispatchStatus;
    let Some(s) = row.map(|r| &r.state) else {
        return &[];
    };
    match s.state {
        State::Blocked => &["p", "n", "Enter a", "c"],
        State::Stalled => &["Enter a", "f", "c"],
        State::Running => &["Enter a", "f", "c"],
        State::Queued => &["c"],
        State::Limited => &["v", "Enter a", "c"],
        _ if s.waiting() && s.budget.as_ref().is_some_and(|b| b.reached) => {
            &["b", "f", "i", "Enter a", "x"]
        }
        _ if s.waiting() => &["f", "d", "i", "Enter a", "x"],
        State::Ended(DispatchStatus::Done) if s.landed.is_none() => &["m", "g", "r", "f", "x"],
        State::Ended(_) if s.landed.is_none() => &["f", "d", "x", "g"],
        _ => &["r", "x", "f"],
    }
}

/// How long a message stays in the footer (a key clears it sooner).
pub const MESSAGE_SECONDS: i64 = 10;

/// What the dashboard is doing with the keyboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Keys select, switch views and start actions.
    Normal,
    /// Waiting for y (anything else declines).
    Confirm(Action),
    /// Typing a follow-up's instruction for this dispatch.
    FollowUp {
        /// The dispatch to continue.
        dispatch_id: DispatchId,
        /// The instruction so far.
        text: String,
    },
    /// Typing a review comment on a line of this dispatch's diff.
    Comment {
        /// The dispatch whose diff it is.
        dispatch_id: DispatchId,
        /// The line, `FILE:LINE` of the diff's new side.
        anchor: String,
        /// The comment so far.
        text: String,
    },
    /// Typing how much to raise this dispatch's budget by (`+50k`, `+$2` or both).
    Budget {
        /// The dispatch stopped at its budget.
        dispatch_id: DispatchId,
        /// The raise so far.
        text: String,
    },
    /// Showing every key (any key closes it).
    Help,
}

/// What the caller should do after a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing beyond drawing again.
    None,
    /// Leave the dashboard.
    Quit,
    /// Carry out this action.
    Run(Action),
    /// The selection or view changed: read the selected dispatch's pane, diff or receipts.
    Reload,
}

/// The dashboard.
#[derive(Debug)]
pub struct App {
    /// What it shows.
    pub snapshot: Snapshot,
    /// The selected dispatch's id (kept across reloads that reorder the list).
    pub selected: Option<vnx::ids::DispatchId>,
    /// The lower pane's view.
    pub view: View,
    /// The lower pane's text (pane with escapes, diff or receipts), set by the caller.
    pub content: String,
    /// Lines scrolled in the lower pane (back from the end for a pane or log, down from the
    /// top for a diff or the receipts).
    pub scroll: u16,
    /// What the keyboard is doing.
    pub mode: Mode,
    /// The last thing to tell the user (an action's outcome); see [`App::say`].
    pub message: Option<String>,
    /// When the message was said (it goes after [`MESSAGE_SECONDS`]).
    pub said_at: Option<jiff::Timestamp>,
    /// Actions started and not yet finished.
    pub running: Vec<Action>,
    /// The dashboard's clock: ages are measured to it (see [`App::tick`]).
    pub now: jiff::Timestamp,
    /// The first row shown of the dispatches that do not wait (the list keeps it where it
    /// was, moving it only as far as the selection needs).
    pub offset: Cell<usize>,
    /// The first row shown of the waiting ones, when they are more than the list holds.
    pub waiting_offset: Cell<usize>,
    /// The pull request of each dispatch that has one, as the shared forge cache last read
    /// it (set by the caller from a reader off the drawing thread: drawing never reads the
    /// forge).
    pub prs: std::collections::BTreeMap<vnx::ids::DispatchId, vnx::forge::watch::PrStatus>,
}

impl App {
    /// A dashboard on `snapshot`, its first row selected.
    pub fn new(mut snapshot: Snapshot) -> App {
        // The waiting ones first, whatever the order given (the list pins them at its top).
        snapshot.rows.sort_by_key(Row::group);
        let mut app = App {
            selected: None,
            now: snapshot.now,
            snapshot,
            view: View::Pane,
            content: String::new(),
            scroll: 0,
            mode: Mode::Normal,
            message: None,
            said_at: None,
            running: Vec::new(),
            offset: Cell::new(0),
            waiting_offset: Cell::new(0),
            prs: Default::default(),
        };
        app.keep_selection();
        app
    }

    /// Shows a newer snapshot. The selected dispatch stays selected where it moved to,
    /// except one that no longer waits (it was answered, accepted, merged…): the selection
    /// then stays where it was in the list, on the next one that waits, rather than follow
    /// it down among the finished.
    pub fn update(&mut self, mut snapshot: Snapshot) {
        snapshot.rows.sort_by_key(Row::group);
        let was = self.index().map(|i| (i, self.snapshot.rows[i].group()));
        self.now = self.now.max(snapshot.now);
        self.snapshot = snapshot;
        if let (Some((at, 0)), Some(now)) = (was, self.index())
            && self.snapshot.rows[now].group() != 0
            && let Some(last) = self.snapshot.rows.len().checked_sub(1)
        {
            self.selected = Some(self.snapshot.rows[at.min(last)].state.id.clone());
            self.scroll = 0;
        }
        self.keep_selection();
    }

    /// Moves the clock to `now`: ages tick, and a message said [`MESSAGE_SECONDS`] before
    /// goes.
    pub fn tick(&mut self, now: jiff::Timestamp) {
        self.now = now;
        if self
            .said_at
            .is_some_and(|at| now.as_second() - at.as_second() >= MESSAGE_SECONDS)
        {
            self.message = None;
            self.said_at = None;
        }
    }

    /// Puts `message` in the footer until the next key or [`MESSAGE_SECONDS`].
    pub fn say(&mut self, message: impl Into<String>) {
        self.message = Some(message.into());
        self.said_at = Some(self.now);
    }

    /// Seconds from the clock until something on screen changes by itself: an age shown
    /// turns (`59s` to `1m`, `7m` to `8m`…) or a message goes. `None`: nothing will.
    pub fn next_change(&self) -> Option<i64> {
        let now = self.now.as_second();
        let ages = self.snapshot.rows.iter().filter_map(|r| {
            let started = r.state.started_at.as_deref()?;
            let started = started.parse::<jiff::Timestamp>().ok()?.as_second();
            let age = (now - started).max(0);
            let unit = match age {
                a if a < 60 => 1,
                a if a < 3_600 => 60,
                a if a < 86_400 => 3_600,
                _ => 86_400,
            };
            Some(unit - age % unit)
        });
        let message = self
            .said_at
            .map(|at| (at.as_second() + MESSAGE_SECONDS - now).max(1));
        ages.chain(message).min()
    }

    fn keep_selection(&mut self) {
        let rows = &self.snapshot.rows;
        if !self
            .selected
            .as_ref()
            .is_some_and(|id| rows.iter().any(|r| &r.state.id == id))
        {
            self.selected = rows.first().map(|r| r.state.id.clone());
        }
    }

    /// The selected row's index.
    pub fn index(&self) -> Option<usize> {
        let id = self.selected.as_ref()?;
        self.snapshot.rows.iter().position(|r| &r.state.id == id)
    }

    /// The selected row.
    pub fn row(&self) -> Option<&Row> {
        self.index().map(|i| &self.snapshot.rows[i])
    }

    fn select(&mut self, index: usize) -> Effect {
        match self.snapshot.rows.get(index) {
            Some(r) if Some(&r.state.id) != self.selected.as_ref() => {
                self.selected = Some(r.state.id.clone());
                self.scroll = 0;
                Effect::Reload
            }
            _ => Effect::None,
        }
    }

    /// What a key does. A key also clears the footer's message.
    pub fn key(&mut self, key: KeyEvent) -> Effect {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Effect::Quit;
        }
        self.message = None;
        self.said_at = None;
        // A text being written: a key edits it, Esc drops it, Enter does what it is for below.
        let max = if matches!(self.mode, Mode::Budget { .. }) {
            40
        } else {
            usize::MAX
        };
        if let Mode::FollowUp { text, .. }
        | Mode::Comment { text, .. }
        | Mode::Budget { text, .. } = &mut self.mode
        {
            match key.code {
                KeyCode::Esc => self.mode = Mode::Normal,
                KeyCode::Backspace => _ = text.pop(),
                KeyCode::Char(c) if !c.is_control() && text.len() < max => text.push(c),
                _ => {}
            }
            if key.code != KeyCode::Enter {
                return Effect::None;
            }
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Help => Effect::None,
            Mode::Confirm(action) => {
                if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                    Effect::Run(action)
                } else {
                    self.say(format!("not done: {}", action.question()));
                    Effect::None
                }
            }
            Mode::FollowUp { dispatch_id, text } if !text.trim().is_empty() => {
                Effect::Run(Action::FollowUp(dispatch_id, text))
            }
            Mode::Comment {
                dispatch_id,
                anchor,
                text,
            } if !text.trim().is_empty() => Effect::Run(Action::Comment(dispatch_id, anchor, text)),
            Mode::Budget { dispatch_id, text } => {
                match vnx::dispatch::budget::parse_raise(text.trim()) {
                    Ok(r) => {
                        let micros = vnx::dispatch::state::micros(r.usd);
                        self.mode =
                            Mode::Confirm(Action::RaiseBudget(dispatch_id, r.tokens, micros));
                    }
                    Err(e) => {
                        self.say(format!("not a raise: {e}"));
                        self.mode = Mode::Budget { dispatch_id, text };
                    }
                }
                Effect::None
            }
            // Enter on an empty text: it is still being written.
            typing @ (Mode::FollowUp { .. } | Mode::Comment { .. }) => {
                self.mode = typing;
                Effect::None
            }
            Mode::Normal => self.normal_key(key),
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Effect {
        let last = self.snapshot.rows.len().saturating_sub(1);
        let at = self.index().unwrap_or(0);
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return Effect::Quit,
            KeyCode::Char('?') => {
                self.mode = Mode::Help;
                return Effect::None;
            }
            KeyCode::Down | KeyCode::Char('j') => return self.select((at + 1).min(last)),
            KeyCode::Up | KeyCode::Char('k') => return self.select(at.saturating_sub(1)),
            KeyCode::Home => return self.select(0),
            KeyCode::End => return self.select(last),
            KeyCode::PageDown | KeyCode::PageUp | KeyCode::Char('[' | ']') => {
                // A pane is read back from its end; a diff down from its top.
                let up = matches!(key.code, KeyCode::PageUp | KeyCode::Char('['));
                let by = if matches!(key.code, KeyCode::Char(_)) {
                    1
                } else {
                    10
                };
                self.scroll = if up == (self.view == View::Pane) {
                    self.scroll.saturating_add(by)
                } else {
                    self.scroll.saturating_sub(by)
                };
                return Effect::None;
            }
            KeyCode::Tab => {
                return self.show(match self.view {
                    View::Pane => View::Diff,
                    View::Diff => View::Receipts,
                    View::Receipts => View::Pane,
                });
            }
            KeyCode::Char('1') => return self.show(View::Pane),
            KeyCode::Char('2') => return self.show(View::Diff),
            KeyCode::Char('3') => return self.show(View::Receipts),
            // Not the selected dispatch's: every settled one's.
            KeyCode::Char('t') => {
                self.mode = Mode::Confirm(Action::Tidy);
                return Effect::None;
            }
            _ => {}
        }
        let Some(id) = self.selected.clone() else {
            return Effect::None;
        };
        let action = match key.code {
            KeyCode::Enter => Action::Attach(id),
            KeyCode::Char('f') => {
                self.mode = Mode::FollowUp {
                    dispatch_id: id,
                    text: String::new(),
                };
                return Effect::None;
            }
            KeyCode::Char('o') => {
                self.comment_on_top_line(id);
                return Effect::None;
            }
            KeyCode::Char('b') => {
                self.mode = Mode::Budget {
                    dispatch_id: id,
                    text: "+".to_owned(),
                };
                return Effect::None;
            }
            // The rest as the table of actions keys them.
            KeyCode::Char(c) => {
                let keyed = vnx::actions::table::by_key(c).and_then(|r| Action::on(r.command, id));
                let Some(action) = keyed else {
                    return Effect::None;
                };
                action
            }
            _ => return Effect::None,
        };
        if action.needs_confirmation() {
            self.mode = Mode::Confirm(action);
            Effect::None
        } else {
            Effect::Run(action)
        }
    }

    /// Opens the comment editor on the diff's top line, when it is a line of a hunk's new
    /// side; else says why not.
    fn comment_on_top_line(&mut self, dispatch_id: DispatchId) {
        if self.view != View::Diff {
            self.say("o comments on a line of the diff: show it first (2)");
            return;
        }
        match diff_anchor(&self.content, usize::from(self.scroll)) {
            Some(anchor) => {
                self.mode = Mode::Comment {
                    dispatch_id,
                    anchor,
                    text: String::new(),
                }
            }
            None => self
                .say("the diff's top line is not an added or context line: scroll one there ([ ])"),
        }
    }

    fn show(&mut self, view: View) -> Effect {
        if self.view == view {
            return Effect::None;
        }
        self.view = view;
        self.scroll = 0;
        Effect::Reload
    }
}

/// Line `index` (0 is the first) of the unified diff `diff` as `FILE:LINE` of its new side,
/// when it is an added or context line of a hunk.
pub fn diff_anchor(diff: &str, index: usize) -> Option<String> {
    let mut file: Option<&str> = None;
    let mut next: Option<u64> = None;
    for (i, l) in diff.lines().enumerate() {
        let mut here = None;
        if l.starts_with("diff --git ") {
            (file, next) = (None, None);
        } else if let Some(header) = l.strip_prefix("@@ ") {
            next = header
                .split(' ')
                .find_map(|t| t.strip_prefix('+'))
                .and_then(|t| t.split(',').next())
                .and_then(|n| n.parse().ok());
        } else if let Some(n) = next {
            if l.is_empty() || l.starts_with([' ', '+']) {
                here = Some(n);
                next = Some(n + 1);
            }
        } else if let Some(path) = l.strip_prefix("+++ ") {
            file = (path != "/dev/null").then(|| path.strip_prefix("b/").unwrap_or(path));
        }
        if i == index {
            return Some(format!("{}:{}", file?, here?));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_line_is_anchored_to_its_new_sides_file_and_line() {
        let diff = "diff --git a/x.txt b/x.txt\nindex 1..2 100644\n--- a/x.txt\n+++ b/x.txt\n\
                    @@ -1,3 +1,3 @@\n keep\n-old\n+new\n+++ added\n \n\
                    diff --git a/n.txt b/n.txt\n--- /dev/null\n+++ b/n.txt\n@@ -0,0 +7,1 @@\n+hi\n";
        let at = |i| diff_anchor(diff, i);
        assert_eq!(at(0), None);
        assert_eq!(at(3), None);
        assert_eq!(at(4), None);
        assert_eq!(at(5).as_deref(), Some("x.txt:1"));
        assert_eq!(at(6), None);
        assert_eq!(at(7).as_deref(), Some("x.txt:2"));
        assert_eq!(at(8).as_deref(), Some("x.txt:3"));
        assert_eq!(at(9).as_deref(), Some("x.txt:4"));
        assert_eq!(at(14).as_deref(), Some("n.txt:7"));
        assert_eq!(at(15), None);
    }
}
