//! How the CLI reports failure: `error: …`, the cause chain, a `hint:`, and the exit code
//! (one taxonomy for every command, see [`Exit`]).

use std::error::Error;
use std::fmt::Write as _;
use std::process::ExitCode;

/// What a command's exit status means, the same for every command (ordered by number: a
/// command that tries several things exits with the highest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: done, and the answer is yes (GO, the chain verifies, every dispatch succeeded).
    Ok = 0,
    /// 1: the command ran and the answer is no: HOLD, a broken chain, a doctor FAIL, a
    /// dispatch that did not succeed, a merge or dispatch refused by its conditions or
    /// constraints, forbidden imports found.
    No = 1,
    /// 2: the command line or its input is wrong (unknown flag, a malformed id or one the
    /// ledger never saw, invalid receipt);
    /// running it again unchanged will not help.
    Usage = 2,
    /// 3: the command could not do its work: git, tmux, I/O, a missing CLI, a locked or
    /// unreadable ledger, a project that is not initialised.
    Failed = 3,
    /// 4: a bug in vnx (a panic, or a state it should never reach). Please report it.
    Bug = 4,
}

impl Exit {
    /// This status when `cond` holds, else 0.
    pub fn when(self, cond: bool) -> ExitCode {
        if cond { self } else { Exit::Ok }.into()
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// The exit codes, as `--help` prints them.
pub const EXIT_CODES: &str = "Exit status: 0 ok; 1 the answer is no (HOLD, a broken chain, a \
doctor FAIL, a dispatch that did not succeed, a refusal); 2 usage (bad flags, arguments or \
input); 3 an operational failure (git, tmux, I/O, a missing CLI); 4 an internal bug in vnx.";

/// `vnx COMMAND` in a build without it: `bin/demo`'s first build leaves out the dashboard and
/// the MCP server (cargo features `dashboard` and `mcp`, on by default) to start sooner.
#[cfg(any(not(feature = "dashboard"), not(feature = "mcp")))]
pub fn left_out(command: &str) -> CliError {
    CliError::new(format!(
        "this vnx was built without `vnx {command}` (bin/demo's quick first build leaves it out)"
    ))
    .with_hint(format!(
        "`bin/vnx {command}` builds vnx whole first, as do `cargo build` and `cargo install`"
    ))
}

/// A failed command.
#[derive(Debug)]
pub struct CliError {
    message: String,
    causes: Vec<String>,
    hint: Option<String>,
    exit: Exit,
}

impl CliError {
    /// An operational failure (exit 3) with a message.
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            causes: Vec::new(),
            hint: None,
            exit: Exit::Failed,
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(message).exit(Exit::Usage)
    }

    /// A negative verdict (exit 1), told as an error line.
    pub fn verdict(message: impl Into<String>) -> CliError {
        CliError::new(message).exit(Exit::No)
    }

    /// The same error with another exit status.
    pub fn exit(mut self, exit: Exit) -> CliError {
        self.exit = exit;
        self
    }

    /// From any error: its message, then its sources as causes.
    pub fn from_error(e: &(dyn Error + 'static)) -> CliError {
        CliError::new(e.to_string()).with_causes(e.source())
    }

    /// Adds an error and its sources to the cause chain.
    pub fn with_cause(self, e: &(dyn Error + 'static)) -> CliError {
        self.with_causes(Some(e))
    }

    fn with_causes(mut self, mut source: Option<&(dyn Error + 'static)>) -> CliError {
        while let Some(s) = source {
            self.causes.push(s.to_string());
            source = s.source();
        }
        self
    }

    /// Puts a new top line above this error, which becomes the first cause.
    pub fn context(mut self, message: impl Into<String>) -> CliError {
        let old = std::mem::replace(&mut self.message, message.into());
        self.causes.insert(0, old);
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }

    pub(super) fn with_hint_opt(mut self, hint: Option<String>) -> CliError {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// Prints the error to stderr as a warning (the command goes on).
    pub fn warn(&self) {
        eprintln!("warning: {}", self.one_line());
    }

    /// The message and its causes on one line, escaped, as a warning says them.
    pub fn one_line(&self) -> String {
        use super::escape::escape;
        let mut text = escape(&self.message).into_owned();
        for cause in &self.causes {
            let _ = write!(text, ": {}", escape(cause));
        }
        text
    }

    /// What to do about it, when a person can act (an MCP tool's error, the web page's and
    /// the dashboard's refusals say it too).
    #[cfg(any(feature = "mcp", feature = "serve", feature = "dashboard"))]
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The exit status the error means.
    pub fn exit_status(&self) -> Exit {
        self.exit
    }

    /// Prints the error to stderr and returns its exit code.
    pub fn report(&self) -> ExitCode {
        eprint!("{}", self.rendered());
        self.exit.into()
    }

    /// `error:`, the causes and the hint, as printed. A full disk (ENOSPC anywhere in the
    /// chain, from vnx or from git's own message) says so first, whatever failed on it.
    fn rendered(&self) -> String {
        use super::escape::escape;
        let mut text = format!("error: {}\n", escape(&self.message));
        for cause in &self.causes {
            let _ = writeln!(text, "  caused by: {}", escape(cause));
        }
        let full = std::iter::once(&self.message)
            .chain(&self.causes)
            .any(|m| m.contains("No space left on device"));
        let hint = match (full, &self.hint) {
            (true, Some(h)) => Some(format!("{DISK_FULL}; then: {h}")),
            (true, None) => Some(DISK_FULL.to_owned()),
            (false, h) => h.clone(),
        };
        if let Some(hint) = hint {
            let _ = writeln!(text, "hint: {}", escape(&hint));
        }
        text
    }
}

/// The hint for an error a full disk caused.
const DISK_FULL: &str = "the disk is full: free space on the filesystem of the repository \
                         (`df -h .`) and run the command again";

/// The error a merge's entry that did not merge (or, with --check, cannot) stands for, its
/// hint the library's: what `vnx merge` prints, and what the web page and the dashboard
/// show of their Merge.
pub(crate) fn merge_verdict(e: &vnx::merge::Entry) -> Option<CliError> {
    use vnx::merge::{self, EntryResult};
    match e.result {
        EntryResult::Merged | EntryResult::Mergeable | EntryResult::AlreadyMerged => None,
        EntryResult::Refused => Some(match e.plan.as_ref().and_then(merge::refusal) {
            Some(
                refused @ merge::MergeError::Refused {
                    condition: "base_compatible",
                    ..
                },
            ) => CliError::from(refused).with_hint(
                e.plan
                    .as_ref()
                    .map_or_else(String::new, merge::conflict_hint),
            ),
            Some(refused) => refused.into(),
            None => CliError::verdict(e.refused.as_ref().map_or_else(
                || format!("{} was refused", e.dispatch_id),
                |r| r.detail.clone(),
            )),
        }),
        EntryResult::Dequeued => Some(
            CliError::verdict(format!(
                "{} was taken out of the merge queue: {}",
                e.dispatch_id,
                e.dequeued.as_ref().map_or("", |d| d.detail.as_str())
            ))
            .with_hint(match e.dequeued.as_ref().map(|d| d.reason) {
                Some(vnx::receipts::DequeueReason::Conflict) => e
                    .plan
                    .as_ref()
                    .map_or_else(String::new, merge::conflict_hint),
                _ => format!(
                    "the gates failed on the merge result: fix the work with `vnx follow-up {}`, \
                     then merge it again",
                    e.dispatch_id
                ),
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vnx::ledger::LedgerError;

    #[test]
    fn a_full_disk_is_named_in_the_hint_wherever_it_is_in_the_chain() {
        let git = CliError::new("could not create the worktree")
            .with_cause(&std::io::Error::other(
                "fatal: Unable to create '/r/.git/index.lock': No space left on device",
            ))
            .with_hint("check the repository");
        let text = git.rendered();
        assert!(
            text.ends_with(&format!("hint: {DISK_FULL}; then: check the repository\n")),
            "{text}"
        );
        let plain = CliError::new("no such dispatch").with_hint("vnx status lists them");
        assert!(plain.rendered().ends_with("hint: vnx status lists them\n"));
    }

    /// Every library error reaches the exit status [`exits`] gives it, with its own hint.
    #[test]
    fn a_library_error_exits_as_its_kind_means() {
        let bug = CliError::from(LedgerError::NotCanonical { index: 0 });
        assert_eq!(bug.exit, Exit::Bug);
        let unknown = CliError::from(vnx::gate::GateError::UnknownDispatch {
            id: "D-1".into(),
            ledger: "l".into(),
        });
        assert_eq!(unknown.exit, Exit::Usage);
        assert!(unknown.hint.is_some(), "{unknown:?}");
    }
}
