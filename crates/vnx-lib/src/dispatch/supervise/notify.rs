//! The user's notification command (`notify:` in `.vnx/config.yaml`), run by a dispatch's
//! supervisor on every change of its state: started, blocked, stalled, running again,
//! needs_input, done, failed, timeout, cancelled. It is an argv, never a shell string; `{id}`,
//! `{state}`, `{hash}`, `{title}` and `{message}` in its arguments become the dispatch id,
//! the state, the entry hash of the receipt that records the change, the dispatch's title
//! and a line saying what it is about (the worker's question for needs_input, what a blocked
//! one waits for; else empty), which it also gets as `VNX_DISPATCH_ID`, `VNX_STATE`,
//! `VNX_RECEIPT_HASH`, `VNX_TITLE` and `VNX_MESSAGE`. It runs beside the dispatch, never
//! holding it up, and is stopped after [`TIME_LIMIT`].

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::ids::DispatchId;
use crate::process::{self, Cmd};

/// The longest a notification command may run.
pub const TIME_LIMIT: Duration = Duration::from_secs(30);

/// The argv with the placeholders replaced.
pub fn expand(
    argv: &[String],
    id: &DispatchId,
    state: &str,
    hash: &str,
    title: &str,
    message: &str,
) -> Vec<String> {
    argv.iter()
        .map(|a| {
            // The title and then the message last: neither the person's words nor the
            // worker's may form another placeholder.
            let mut out = a
                .replace("{id}", id.as_str())
                .replace("{state}", state)
                .replace("{hash}", hash)
                .replace("{title}", title)
                .replace("{message}", message);
            // Words that would make an argument start with `-` (a worker's question of
            // `--exec=…`) are never read as an option: they get a leading space.
            if out.starts_with('-') && !a.starts_with('-') {
                out.insert(0, ' ');
            }
            out
        })
        .collect()
}

/// Runs the notification command of one dispatch.
#[derive(Debug, Default)]
pub struct Notifier {
    argv: Vec<String>,
    title: String,
    running: Vec<JoinHandle<()>>,
}

impl Notifier {
    /// A notifier for `argv` (empty: none).
    pub fn new(argv: &[String]) -> Notifier {
        Notifier {
            argv: argv.to_vec(),
            title: String::new(),
            running: Vec::new(),
        }
    }

    /// The same, naming the dispatch's title (`{title}`, `VNX_TITLE`).
    pub fn titled(mut self, title: &str) -> Notifier {
        self.title = title.to_owned();
        self
    }

    /// Starts the command for one change, on its own thread; its failure is its own.
    pub fn fire(&mut self, id: &DispatchId, state: &str, hash: &str, message: &str) {
        let Some((program, args)) = self.argv.split_first() else {
            return;
        };
        let args = expand(args, id, state, hash, &self.title, message);
        let cmd = Cmd::new(program)
            .args(args)
            .env("VNX_DISPATCH_ID", id)
            .env("VNX_STATE", state)
            .env("VNX_RECEIPT_HASH", hash)
            .env("VNX_TITLE", &self.title)
            .env("VNX_MESSAGE", message)
            .timeout(TIME_LIMIT);
        self.running.retain(|t| !t.is_finished());
        self.running.push(std::thread::spawn(move || {
            let _ = process::run(&cmd);
        }));
    }

    /// Waits up to `limit` for the commands still running (the last notification must not
    /// die with the supervisor).
    pub fn finish(self, limit: Duration) {
        let until = Instant::now() + limit;
        for t in self.running {
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one() -> DispatchId {
        DispatchId::parse("D-0a1b2c3d4e5f").unwrap()
    }

    #[test]
    fn a_workers_words_never_start_an_argument_as_an_option() {
        let argv = vec![
            "{message}".to_owned(),
            "-t".to_owned(),
            "{title}".to_owned(),
        ];
        let out = expand(&argv, &one(), "needs_input", "h", "-v", "--exec=rm -rf ~");
        assert_eq!(out, [" --exec=rm -rf ~", "-t", " -v"]);
    }

    #[test]
    fn placeholders_are_replaced_in_each_argument_and_nothing_is_a_shell() {
        let argv = vec![
            "--title=vnx {id}".to_owned(),
            "{state}: {hash}".to_owned(),
            "$(rm -rf ~) {id}".to_owned(),
            "{title}".to_owned(),
            "{message}".to_owned(),
        ];
        assert_eq!(
            expand(&argv, &one(), "blocked", "ab12", "fix {hash}", "asks {id}?"),
            [
                "--title=vnx D-0a1b2c3d4e5f",
                "blocked: ab12",
                "$(rm -rf ~) D-0a1b2c3d4e5f",
                "fix {hash}",
                "asks {id}?"
            ]
        );
    }
}
