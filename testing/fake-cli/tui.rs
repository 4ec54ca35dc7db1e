//! The fake full-screen session shared by the three TUIs: a scrolling transcript above a
//! redrawn status area (busy line, approval dialog or input prompt), keys read from the TTY.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use rustix::termios::{self, LocalModes, OptionalActions, SpecialCodeIndex, Termios};

use crate::engine::{self, Ctx, Observer, ToolCall, ToolResult, Turn};
use crate::log::InvocationLog;

/// What one personality's TUI looks like and does between turns.
pub trait Agent {
    fn banner(&self) -> Vec<String>;
    fn user_lines(&self, prompt: &str) -> Vec<String>;
    fn tool_line(&self, call: &ToolCall) -> String;
    fn result_line(&self, call: &ToolCall, result: &ToolResult) -> String;
    fn busy(&self, secs: u64) -> String;
    /// Idle status lines and where the cursor sits (row within them, column).
    fn idle(&self) -> (Vec<String>, usize, usize);
    fn approval(&self, call: &ToolCall) -> Vec<String>;
    fn approves(&self, key: u8) -> bool {
        key == b'1'
    }
    /// Transcript lines once a turn is over (final message, "worked for", errors).
    fn end_lines(&self, turn: &Turn, secs: u64) -> Vec<String>;
    /// Hooks, notifications, transcripts.
    fn end_of_turn(&mut self, turn: &Turn);
    /// The approval dialog for `call` is about to show: permission hooks.
    fn permission_asked(&mut self, _call: &ToolCall) {}
    /// A decision a permission hook returned while the dialog shows, if any yet (for a CLI
    /// whose permission hook can answer its dialog).
    fn hook_decision(&mut self) -> Option<bool> {
        None
    }
    /// The dialog has shown for `waited` without an answer (for a late notification).
    fn still_asking(&mut self, _waited: Duration) {}
    /// `call` ran (approved or allowed outright): post-tool hooks.
    fn tool_ran(&mut self, _call: &ToolCall, _result: &ToolResult) {}
    /// Starts a background task (`@fake background`), where its CLI has them.
    fn background(&mut self, _command: &str, _ctx: &crate::engine::Ctx) {
        eprintln!("vnx-fake-cli: this personality has no background tasks; directive ignored");
    }
    fn is_exit(&self, line: &str) -> bool;
    fn goodbye(&self) -> Vec<String>;
    /// A turn starts with `prompt` (transcripts that record as they go).
    fn turn_started(&mut self, _prompt: &str) {}
    /// A dialog shown before the first turn that waits for a key (a review of its hooks),
    /// asked again after each key until it is `None`.
    fn startup_dialog(&self) -> Option<Vec<String>> {
        None
    }
    /// The key that answered the startup dialog.
    fn startup_answer(&mut self, _key: Option<u8>) {}
}

/// Puts the TTY in "no line editing, no echo" mode for the session; restores it on drop.
pub struct TermMode {
    saved: Option<Termios>,
}

impl TermMode {
    pub fn enter() -> TermMode {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(&stdin).ok();
        if let Some(saved) = &saved {
            let mut raw = saved.clone();
            raw.local_modes
                .remove(LocalModes::ICANON | LocalModes::ECHO);
            raw.special_codes[SpecialCodeIndex::VMIN] = 1;
            raw.special_codes[SpecialCodeIndex::VTIME] = 0;
            let _ = termios::tcsetattr(&stdin, OptionalActions::Now, &raw);
        }
        TermMode { saved }
    }
}

impl Drop for TermMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(io::stdin(), OptionalActions::Now, saved);
        }
    }
}

/// Whether the TTY has input (or EOF) within `wait`.
fn stdin_ready(wait: Duration) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let stdin = io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: i64::try_from(wait.as_nanos()).unwrap_or(0),
    };
    match poll(&mut fds, Some(&timeout)) {
        Ok(n) => n > 0,
        Err(rustix::io::Errno::INTR) => false,
        Err(_) => true,
    }
}

/// One byte from the TTY; `None` at EOF or on an error.
pub fn read_byte() -> Option<u8> {
    let mut b = [0u8; 1];
    loop {
        match rustix::io::read(io::stdin(), &mut b) {
            Ok(0) => return None,
            Ok(_) => return Some(b[0]),
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
}

/// The transcript-plus-status-area drawing model.
pub struct Screen {
    status: Vec<String>,
    cursor: Option<(usize, usize)>,
    /// Row of the status area the terminal cursor is on.
    row: usize,
}

impl Screen {
    pub fn new() -> Screen {
        Screen {
            status: Vec::new(),
            cursor: None,
            row: 0,
        }
    }

    fn put(&self, s: &str) {
        put_bytes(s.as_bytes());
    }

    fn erase_status(&mut self) {
        let mut s = String::new();
        if self.row > 0 {
            s.push_str(&format!("\x1b[{}A", self.row));
        }
        s.push_str("\r\x1b[J");
        self.put(&s);
        self.row = 0;
    }

    fn draw_status(&mut self) {
        if self.status.is_empty() {
            return;
        }
        let mut s = self.status.join("\n");
        self.row = self.status.len() - 1;
        if let Some((row, col)) = self.cursor {
            let row = row.min(self.row);
            if self.row > row {
                s.push_str(&format!("\x1b[{}A", self.row - row));
            }
            s.push('\r');
            if col > 0 {
                s.push_str(&format!("\x1b[{col}C"));
            }
            self.row = row;
        }
        self.put(&s);
    }

    /// Adds a transcript line above the status area.
    pub fn line(&mut self, line: &str) {
        self.erase_status();
        self.put(&format!("{line}\n"));
        self.draw_status();
    }

    pub fn set_status(&mut self, lines: Vec<String>, cursor: Option<(usize, usize)>) {
        self.erase_status();
        self.status = lines;
        self.cursor = cursor;
        self.draw_status();
    }

    /// Reads one line with minimal editing (backspace, ^U), echoing at the cursor.
    /// `None` on EOF or ^D on an empty line.
    pub fn read_line(&mut self) -> Option<String> {
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let b = read_byte()?;
            match b {
                b'\r' | b'\n' => return Some(String::from_utf8_lossy(&buf).into_owned()),
                0x04 if buf.is_empty() => return None,
                0x7f | 0x08 => {
                    while let Some(last) = buf.pop() {
                        if last & 0xc0 != 0x80 {
                            break;
                        }
                    }
                    self.put("\x08 \x08");
                }
                0x15 => {
                    buf.clear();
                    self.draw_status_line_again();
                }
                0x1b => skip_escape(),
                b if b >= 0x20 => {
                    if buf.is_empty() {
                        self.put("\x1b[K"); // the placeholder goes once typing starts
                    }
                    buf.push(b);
                    put_bytes(&[b]);
                }
                _ => {}
            }
        }
    }

    fn draw_status_line_again(&mut self) {
        let lines = self.status.clone();
        let cursor = self.cursor;
        self.set_status(lines, cursor);
    }
}

fn put_bytes(bytes: &[u8]) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// Swallows the rest of an escape sequence (arrow keys and the like).
fn skip_escape() {
    if read_byte() == Some(b'[') {
        while let Some(b) = read_byte() {
            if (0x40..=0x7e).contains(&b) {
                break;
            }
        }
    }
}

struct TuiObserver<'a, A: Agent> {
    screen: &'a mut Screen,
    agent: &'a mut A,
    started: Instant,
}

impl<A: Agent> TuiObserver<'_, A> {
    fn busy(&mut self) {
        let line = self.agent.busy(self.started.elapsed().as_secs());
        self.screen.set_status(vec![line], None);
    }
}

impl<A: Agent> Observer for TuiObserver<'_, A> {
    fn tool_started(&mut self, call: &ToolCall) {
        self.screen.line(&self.agent.tool_line(call));
    }

    fn approve(&mut self, call: &ToolCall) -> bool {
        self.agent.permission_asked(call);
        self.screen.set_status(self.agent.approval(call), None);
        // A key, or a permission hook's decision, whichever comes first.
        let asked = Instant::now();
        let ok = loop {
            self.agent.still_asking(asked.elapsed());
            if let Some(allow) = self.agent.hook_decision() {
                break allow;
            }
            if stdin_ready(Duration::from_millis(100)) {
                break read_byte().is_some_and(|key| self.agent.approves(key));
            }
        };
        self.busy();
        ok
    }

    fn background(&mut self, command: &str, ctx: &crate::engine::Ctx) {
        self.agent.background(command, ctx);
    }

    fn tool_finished(&mut self, call: &ToolCall, result: &ToolResult) {
        self.screen.line(&self.agent.result_line(call, result));
        if result.status != crate::engine::Status::Denied {
            self.agent.tool_ran(call, result);
        }
    }

    fn sleep(&mut self, secs: f64) {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(500)));
            self.busy();
        }
    }
}

/// Runs the session: the initial prompt (if any) as the first turn, then one turn per line
/// typed, until the agent's exit command or EOF. Returns the exit code.
pub fn run_session<A: Agent>(
    agent: &mut A,
    ctx: &mut Ctx,
    initial: Option<String>,
    log: &mut InvocationLog,
) -> i32 {
    let _mode = TermMode::enter();
    let mut screen = Screen::new();
    for line in agent.banner() {
        screen.line(&line);
    }
    while let Some(lines) = agent.startup_dialog() {
        screen.set_status(lines, None);
        agent.startup_answer(read_byte());
    }
    let mut next = initial.filter(|p| !p.trim().is_empty());
    loop {
        if let Some(prompt) = next.take() {
            for line in agent.user_lines(&prompt) {
                screen.line(&line);
            }
            agent.turn_started(&prompt);
            let started = Instant::now();
            let turn = {
                let mut obs = TuiObserver {
                    screen: &mut screen,
                    agent,
                    started,
                };
                obs.busy();
                engine::run_turn(&prompt, ctx, &mut obs)
            };
            let secs = started.elapsed().as_secs().max(1);
            screen.set_status(Vec::new(), None);
            for line in agent.end_lines(&turn, secs) {
                screen.line(&line);
            }
            agent.end_of_turn(&turn);
            log.push_turn(turn.record()).write();
        }
        let (lines, row, col) = agent.idle();
        screen.set_status(lines, Some((row, col)));
        let Some(line) = screen.read_line() else {
            break;
        };
        let line = line.trim().to_string();
        if agent.is_exit(&line) {
            break;
        }
        if !line.is_empty() {
            next = Some(line);
        }
    }
    screen.set_status(Vec::new(), None);
    for line in agent.goodbye() {
        screen.line(&line);
    }
    0
}
