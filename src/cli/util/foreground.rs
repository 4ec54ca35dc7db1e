//! A foreground dispatch's wait (`vnx dispatch-agent` without --detach): until the end,
//! saying when the worker blocks and goes on, offering to answer on a terminal (one key; a
//! denial's reason on a line after it), and asking what Ctrl-C means.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use vnx::actions::Desk;
use vnx::dispatch::queue;
use vnx::dispatch::view;

use super::output::say;
use crate::cli::CliError;

/// Waits for the dispatch's completion. Ctrl-C asks whether to cancel the dispatch or leave
/// it running (without a terminal to ask on, it cancels); leaving it prints its id and exits.
/// While it waits, it drains the queue now and then (a queued dispatch starts even if the
/// supervisor that should have started it died), and says when the worker blocks on a
/// prompt (what it asks, how to answer) and when it goes on; on a terminal, it offers to
/// answer a permission prompt right there, as `vnx approve`/`vnx deny` would.
pub(crate) fn wait_or_interrupt(
    desk: &Desk<'_>,
    id: &vnx::ids::DispatchId,
    interrupted: &AtomicBool,
) -> Result<std::collections::BTreeMap<vnx::ids::DispatchId, view::Waited>, CliError> {
    use std::io::IsTerminal;
    let ctx = desk.ctx;
    let (ledger, tmux) = (ctx.ledger, ctx.tmux);
    let mut ticks = 0u32;
    // The wait's answer comes over a channel, so it is taken the moment it is there (a
    // polled `is_finished` added half a tick to every foreground dispatch).
    let (answer, answered) = std::sync::mpsc::channel();
    {
        let (ledger, ids, tmux) = (ledger.to_owned(), vec![id.clone()], tmux.clone());
        std::thread::spawn(move || {
            let _ = answer.send(view::wait(&ledger, &ids, &tmux, false));
        });
    }
    let changes = follow_live(ledger, id);
    let ask = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    // What is typed on the terminal, read on a thread of their own so the wait goes on while
    // a question is open: a key at a time while one is ([`OneKey`]), else a line at a time.
    let mut typed = ask.then(|| {
        let (chunk, chunks) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 1024];
            while let Ok(n) = std::io::stdin().read(&mut buf) {
                if n == 0 || chunk.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Typed {
            chunks,
            pending: Vec::new(),
        }
    });
    // The question open on the terminal, and the prompt it is about.
    let mut offered: Option<Open> = None;
    let mut cancelled = false;
    loop {
        match answered.recv_timeout(Duration::from_millis(50)) {
            Ok(waited) => {
                if offered.is_some() {
                    eprintln!();
                }
                // What the follower has still to say comes first: until it saw the end, for
                // a second at most (an end without a completion, such as a queued dispatch
                // closed, it never sees).
                let until = std::time::Instant::now() + Duration::from_secs(1);
                while let Some(left) = until.checked_duration_since(std::time::Instant::now())
                    && let Ok(change) = changes.recv_timeout(left)
                {
                    match change {
                        Live::Ended => break,
                        change => tell(id, change),
                    }
                }
                return waited.map_err(CliError::from);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(CliError::new("the wait for the dispatch panicked"));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        ticks += 1;
        if ticks.is_multiple_of(20) {
            super::drain::recover_queue(ctx, true);
        }
        while let Ok(change) = changes.try_recv() {
            if !matches!(change, Live::Idle) && offered.take().is_some() {
                eprintln!();
            }
            let offer = match &change {
                Live::Blocked(b) if ask && answerable(b) => Some(b.clone()),
                _ => None,
            };
            tell(id, change);
            if let Some(b) = offer {
                if let Some(t) = typed.as_mut() {
                    // Typed before the question: not its answer.
                    t.drain();
                    t.pending.clear();
                }
                let one = OneKey::on();
                eprint!("approve it? [y]es  [n]o  [Enter] keep waiting: ");
                offered = Some(Open::Key(b, one));
            }
        }
        if let Some(t) = typed.as_mut()
            && let Some(open) = offered.take()
        {
            t.drain();
            offered = answer_typed(desk, id, open, t);
        }
        if !interrupted.swap(false, Ordering::Relaxed) || cancelled {
            continue;
        }
        if offered.take().is_some() {
            eprintln!();
        }
        let leave = ask && {
            eprint!("\ncancel dispatch {id}? [Y] cancel it  [n] leave it running: ");
            let answer = typed.as_mut().and_then(Typed::line).unwrap_or_default();
            matches!(answer.trim(), "n" | "N" | "no")
        };
        if leave {
            println!("{id}");
            say!("left {id} running: `vnx wait {id}`, `vnx attach {id}` or `vnx cancel {id}`");
            std::process::exit(0);
        }
        let states = view::list(ledger, tmux)?;
        if let Some(state) = states.iter().find(|s| s.id == *id) {
            say!("cancelling {id}");
            let done = vnx::dispatch::cancel::cancel(
                ledger,
                &ctx.project.data_dir(),
                state,
                tmux,
                ctx.attestor,
            )?;
            if done == vnx::dispatch::cancel::Cancelled::Queued {
                queue::cancel(ctx, id)?;
            }
        }
        cancelled = true;
    }
}

/// A question open on the terminal about a blocked worker's prompt.
enum Open {
    /// `approve it?`: a key answers, or a line where the terminal reads no single key.
    Key(vnx::receipts::DispatchBlocked, Option<OneKey>),
    /// `why? `, after `n`: a line, the denial's message (none when empty).
    Why(vnx::receipts::DispatchBlocked),
}

/// What was typed on the terminal and not taken yet.
struct Typed {
    /// What the reading thread sends, as it reads it.
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    /// Typed and not taken.
    pending: Vec<u8>,
}

impl Typed {
    /// Takes what the reading thread read since.
    fn drain(&mut self) {
        while let Ok(chunk) = self.chunks.try_recv() {
            self.pending.extend(chunk);
        }
    }

    /// The first line typed and complete, without its newline.
    fn take_line(&mut self) -> Option<String> {
        let end = self.pending.iter().position(|&b| b == b'\n')?;
        let line: Vec<u8> = self.pending.drain(..=end).take(end).collect();
        Some(String::from_utf8_lossy(&line).into_owned())
    }

    /// Waits for a whole line; `None` when stdin ended.
    fn line(&mut self) -> Option<String> {
        loop {
            if let Some(line) = self.take_line() {
                return Some(line);
            }
            self.pending.extend(self.chunks.recv().ok()?);
        }
    }
}

/// Answers the open question from what was typed: `y` approves, `n` denies (asking why, on a
/// line, first), any other key leaves it for later; the question still open, if any.
fn answer_typed(
    desk: &Desk<'_>,
    id: &vnx::ids::DispatchId,
    open: Open,
    typed: &mut Typed,
) -> Option<Open> {
    use vnx::receipts::PermissionAnswer;
    let (b, answer) = match open {
        // One key: the first typed; whatever came with a `n` starts its reason.
        Open::Key(b, Some(one)) => {
            if typed.pending.is_empty() {
                return Some(Open::Key(b, Some(one)));
            }
            let key = typed.pending.remove(0);
            drop(one);
            // Not echoed: the key taken is shown (Enter as the end of the line).
            if key.is_ascii_graphic() {
                eprintln!("{}", key as char);
            } else {
                eprintln!();
            }
            if !matches!(key, b'n' | b'N') {
                typed.pending.clear();
            }
            (b, char::from(key.to_ascii_lowercase()).to_string())
        }
        Open::Key(b, None) => match typed.take_line() {
            Some(line) => (b, line.trim().to_ascii_lowercase()),
            None => return Some(Open::Key(b, None)),
        },
        Open::Why(b) => match typed.take_line() {
            Some(line) => {
                let message = line.trim();
                let message = (!message.is_empty()).then_some(message);
                answer_here(desk, id, PermissionAnswer::Deny, message);
                return None;
            }
            None => return Some(Open::Why(b)),
        },
    };
    match answer.as_str() {
        "y" | "yes" => answer_here(desk, id, PermissionAnswer::Approve, None),
        "n" | "no" => {
            eprint!("why? ");
            return answer_typed(desk, id, Open::Why(b), typed);
        }
        _ => say!(
            "still waiting: `vnx approve {id}` or `vnx deny {id}` answers it ({})",
            super::output::escape(b.tool.as_deref().unwrap_or("its prompt"))
        ),
    }
    None
}

/// The terminal reading one key at a time without echoing it (Ctrl-C still interrupts) while
/// a question is open; as it was again when dropped. `None` when stdin's terminal cannot be
/// set so: a line answers then.
struct OneKey {
    /// The terminal's settings before.
    saved: rustix::termios::Termios,
}

impl OneKey {
    fn on() -> Option<OneKey> {
        use rustix::termios::{LocalModes, OptionalActions, SpecialCodeIndex};
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut one = saved.clone();
        one.local_modes
            .remove(LocalModes::ICANON | LocalModes::ECHO);
        one.special_codes[SpecialCodeIndex::VMIN] = 1;
        one.special_codes[SpecialCodeIndex::VTIME] = 0;
        rustix::termios::tcsetattr(&stdin, OptionalActions::Now, &one).ok()?;
        Some(OneKey { saved })
    }
}

impl Drop for OneKey {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

/// Says a change of the dispatch's live state on stderr.
fn tell(id: &vnx::ids::DispatchId, change: Live) {
    match change {
        Live::Blocked(b) => say!("{id} is blocked: {}", super::output::escape(&b.describe())),
        Live::Resumed(r) => say!(
            "{id} goes on, after {:.0} s {}",
            r.waited_seconds,
            super::output::escape(&r.after)
        ),
        Live::Answered(a) => say!(
            "{id} goes on: {} {} it",
            super::output::escape(&a.by),
            match a.answer {
                vnx::receipts::PermissionAnswer::Approve => "approved",
                vnx::receipts::PermissionAnswer::Deny => "denied",
            }
        ),
        Live::Idle | Live::Ended => {}
    }
}

/// A change of a running dispatch's live state, as the foreground dispatch says it.
enum Live {
    /// Its worker waits for a person.
    Blocked(vnx::receipts::DispatchBlocked),
    /// It waited and goes on.
    Resumed(vnx::receipts::DispatchResumed),
    /// A person answered its prompt (`vnx approve`/`deny`, or here).
    Answered(vnx::receipts::DispatchAnswered),
    /// Nothing new (the follower's check that the wait still listens).
    Idle,
    /// Its completion was seen: nothing more comes.
    Ended,
}

/// Whether a prompt can be answered from here, as `vnx approve` answers it: a permission
/// prompt of a worker on this machine.
fn answerable(b: &vnx::receipts::DispatchBlocked) -> bool {
    b.waiting_for == vnx::receipts::WaitingFor::Permission && b.remote.is_none()
}

/// Answers dispatch `id`'s pending prompt as `vnx approve`/`vnx deny` does, through the same
/// library path and with the same receipt; says on stderr what was done.
fn answer_here(
    desk: &Desk<'_>,
    id: &vnx::ids::DispatchId,
    decision: vnx::receipts::PermissionAnswer,
    message: Option<&str>,
) {
    let answered = vnx::actions::answer::answer(desk, id, decision, message);
    let verb = match decision {
        vnx::receipts::PermissionAnswer::Approve => "approved",
        vnx::receipts::PermissionAnswer::Deny => "denied",
    };
    match answered {
        Ok(r) => say!(
            "{id}: {verb} {} (dispatch_answered, {})",
            super::output::escape(
                r.command
                    .as_deref()
                    .or(r.tool.as_deref())
                    .unwrap_or("its prompt")
            ),
            match r.via {
                vnx::receipts::AnsweredVia::Hook => "through its permission hook",
                vnx::receipts::AnsweredVia::Pane => "by its keys in its pane",
                vnx::receipts::AnsweredVia::Place => "by its place's vnx",
            }
        ),
        Err(e) => {
            // The error and its hint; the dispatch is still waited for.
            let _ = CliError::from(e)
                .context(format!("could not answer {id}'s prompt from here"))
                .report();
        }
    }
}

/// Follows the ledger on a thread of its own from the dispatch's receipts so far, sending
/// each change of its live state (blocked, resumed) until it completes or the receiver is
/// gone. A ledger that cannot be read sends nothing more: the wait itself reports it.
fn follow_live(
    ledger: &std::path::Path,
    id: &vnx::ids::DispatchId,
) -> std::sync::mpsc::Receiver<Live> {
    use vnx::dispatch::fold::{CiteReader, LineAt, Records};
    let (send, changes) = std::sync::mpsc::channel();
    let (ledger, id) = (ledger.to_owned(), id.clone());
    std::thread::spawn(move || {
        let Ok(mut records) = Records::read_only(&ledger, &[id.as_str()]) else {
            return;
        };
        if records.get(&id).is_some_and(|r| r.completion.is_some()) {
            let _ = send.send(Live::Ended);
            return;
        }
        let blocked_now = |records: &Records| records.get(&id).and_then(|r| r.blocked_now());
        let mut blocked = blocked_now(&records);
        // Blocked already when the wait began: said at once.
        if let Some(line) = blocked.and_then(|c| CiteReader::open(&ledger).ok()?.read(c).ok())
            && let Some(b) = vnx::receipts::read_line::<vnx::receipts::DispatchBlocked>(&line)
            && send.send(Live::Blocked(b.receipt)).is_err()
        {
            return;
        }
        let (mut lines, mut offset) = (records.lines, records.offset);
        let _ = vnx::ledger::tail::follow(&ledger, records.offset, |event| match event {
            vnx::ledger::tail::Followed::Line(bytes) => {
                lines += 1;
                let at = LineAt {
                    number: lines,
                    offset,
                    bytes,
                };
                offset += bytes.len() as u64 + 1;
                if !bytes
                    .windows(id.as_str().len())
                    .any(|w| w == id.as_str().as_bytes())
                {
                    return true;
                }
                let seen = records.apply(at);
                let now = blocked_now(&records);
                let change = match (blocked, now) {
                    (_, Some(_)) if now != blocked => {
                        vnx::receipts::read_line::<vnx::receipts::DispatchBlocked>(bytes)
                            .map(|b| Live::Blocked(b.receipt))
                    }
                    // A person's answer, or the worker going on by itself (its CLI's
                    // hook); a stall or the end says nothing here.
                    (Some(_), None) => {
                        vnx::receipts::read_line::<vnx::receipts::DispatchResumed>(bytes)
                            .map(|r| Live::Resumed(r.receipt))
                            .or_else(|| {
                                vnx::receipts::read_line::<vnx::receipts::DispatchAnswered>(bytes)
                                    .map(|r| Live::Answered(r.receipt))
                            })
                    }
                    _ => None,
                };
                blocked = now;
                use vnx::dispatch::fold::Seen;
                let completed = matches!(
                    seen,
                    Some((_, Seen::Completed | Seen::QueueClosed | Seen::RemoteLost))
                );
                if let Some(c) = change
                    && send.send(c).is_err()
                {
                    return false;
                }
                if completed {
                    let _ = send.send(Live::Ended);
                }
                !completed
            }
            vnx::ledger::tail::Followed::Restarted => {
                records = Records::default();
                (lines, offset) = (0, 0);
                true
            }
            // Nothing to say; the receiver gone means the wait is over.
            vnx::ledger::tail::Followed::Idle => send.send(Live::Idle).is_ok(),
        });
    });
    changes
}
