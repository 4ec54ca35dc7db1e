//! How the CLI reports failure: `error: …`, the cause chain, a `hint:`, and the exit code
//! (one taxonomy for every command, see [`Exit`]).

use std::error::Error;
use std::fmt::Write as _;
use std::process::ExitCode;

use vnx::ledger::LedgerError;
use vnx::ledger::checkpoint::CheckpointError;

/// What a command's exit status means, the same for every command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: done, and the answer is yes (GO, the chain verifies, every dispatch succeeded).
    Ok = 0,
    /// 1: the command ran and the answer is no: HOLD, a broken chain, a doctor FAIL, a
    /// dispatch that did not succeed, a merge or dispatch refused by its conditions or
    /// constraints, forbidden imports found.
    No = 1,
    /// 2: the command line or its input is wrong (unknown flag, bad id, invalid receipt);
    /// running it again unchanged will not help.
    Usage = 2,
    /// 3: the command could not do its work: git, tmux, I/O, a missing CLI, a locked or
    /// unreadable ledger, a project that is not initialised.
    Failed = 3,
    /// 4: a bug in vnx (a panic, or a state it should never reach). Please report it.
    Bug = 4,
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
        let mut err = CliError::new(e.to_string());
        let mut source = e.source();
        while let Some(s) = source {
            err.causes.push(s.to_string());
            source = s.source();
        }
        err
    }

    /// Adds an error and its sources to the cause chain.
    pub fn with_cause(mut self, e: &(dyn Error + 'static)) -> CliError {
        let mut source: Option<&(dyn Error + 'static)> = Some(e);
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

    fn with_hint_opt(mut self, hint: Option<String>) -> CliError {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// Prints the error to stderr as a warning (the command goes on).
    pub fn warn(&self) {
        use super::output::escape;
        let mut text = format!("warning: {}", escape(&self.message));
        for cause in &self.causes {
            let _ = write!(text, ": {}", escape(cause));
        }
        eprintln!("{text}");
    }

    /// Prints the error to stderr and returns its exit code.
    pub fn report(&self) -> ExitCode {
        eprint!("{}", self.rendered());
        self.exit.into()
    }

    /// `error:`, the causes and the hint, as printed. A full disk (ENOSPC anywhere in the
    /// chain, from vnx or from git's own message) says so first, whatever failed on it.
    fn rendered(&self) -> String {
        use super::output::escape;
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

/// Library errors become CLI errors with their cause chain, their own hint, and the exit
/// status their kind means (operational unless the classifier says otherwise).
macro_rules! hinted {
    ($($error:ty => $classify:expr),* $(,)?) => {$(
        impl From<$error> for CliError {
            fn from(e: $error) -> CliError {
                let exit: fn(&$error) -> Exit = $classify;
                CliError::from_error(&e).with_hint_opt(e.hint()).exit(exit(&e))
            }
        }
    )*};
}

hinted!(
    LedgerError => |e| match e {
        // The receipt given is too large to be one ledger line.
        LedgerError::LineTooLong { .. } => Exit::Usage,
        _ => Exit::Failed,
    },
    vnx::init::InitError => |e| match e {
        vnx::init::InitError::BadProjectId { .. } | vnx::init::InitError::ProjectIdSet { .. } => {
            Exit::Usage
        }
        _ => Exit::Failed,
    },
    CheckpointError => |e| match e {
        // The ledger, or the commit the checkpoint ref names, is not what was checkpointed.
        CheckpointError::LedgerBroken { .. } | CheckpointError::NotACheckpoint { .. } => Exit::No,
        _ => Exit::Failed,
    },
    vnx::constraints::LoadError => |_| Exit::Failed,
    vnx::dispatch::DispatchError => dispatch_exit,
    vnx::gate::GateError => |e| match e {
        vnx::gate::GateError::BadId { .. } => Exit::Usage,
        _ => Exit::Failed,
    },
    vnx::merge::MergeError => |e| match e {
        vnx::merge::MergeError::Refused { .. } | vnx::merge::MergeError::AlreadyMerged { .. } => {
            Exit::No
        }
        vnx::merge::MergeError::BadId { .. } => Exit::Usage,
        _ => Exit::Failed,
    },
    vnx::release::ReleaseError => |_| Exit::Failed,
    vnx::dispatch::replay::ReplayError => |e| match e {
        vnx::dispatch::replay::ReplayError::Unknown { .. }
        | vnx::dispatch::replay::ReplayError::FollowUp { .. } => Exit::Usage,
        _ => Exit::Failed,
    },
    vnx::remote::RemoteError => remote_exit,
    vnx::dispatch::recover::RecoverError => |e| {
        use vnx::dispatch::recover::RecoverError as E;
        match e {
            E::Unknown { .. } => Exit::Usage,
            E::NotLost { .. } | E::Alive { .. } | E::Unattested { .. } | E::NoReport { .. } => {
                Exit::No
            }
            E::Spec { .. } => Exit::No,
            E::Ledger(_) | E::Dispatch(_) => Exit::Failed,
            _ => Exit::Failed,
        }
    },
    vnx::config::ConfigError => |_| Exit::Failed,
    vnx::worktree::WorktreeError => |e| match e {
        vnx::worktree::WorktreeError::BadBase { .. } => Exit::Usage,
        _ => Exit::Failed,
    },
    vnx::group::GroupError => |e| match e {
        vnx::group::GroupError::CandidateCount { .. }
        | vnx::group::GroupError::BadCandidate { .. }
        | vnx::group::GroupError::BadId { .. }
        | vnx::group::GroupError::IdInUse { .. }
        | vnx::group::GroupError::Unknown { .. } => Exit::Usage,
        vnx::group::GroupError::Plan { source, .. } => dispatch_exit(source),
        _ => Exit::Failed,
    },
);

/// An unknown host is usage; a host whose ledger no longer extends the mirror, a verdict.
fn remote_exit(e: &vnx::remote::RemoteError) -> Exit {
    match e {
        vnx::remote::RemoteError::UnknownHost { .. } | vnx::remote::RemoteError::IdInUse { .. } => {
            Exit::Usage
        }
        vnx::remote::RemoteError::ChainBroken { .. } => Exit::No,
        _ => Exit::Failed,
    }
}

/// A refusal by the constraints is a verdict; a request that can never be planned is usage.
fn dispatch_exit(e: &vnx::dispatch::DispatchError) -> Exit {
    use vnx::dispatch::DispatchError as E;
    use vnx::provider::ProviderError as P;
    use vnx::skills::SkillError as S;
    use vnx::worktree::WorktreeError as W;
    match e {
        E::Refused { .. }
        | E::EgressRefused { .. }
        | E::PinnedModel { .. }
        | E::Rejected { .. } => Exit::No,
        E::BadRole { .. }
        | E::UnknownRole { .. }
        | E::EmptyInstruction
        | E::NulInInstruction
        | E::BadDeadline { .. }
        | E::IdInUse { .. }
        | E::IdOnLedger { .. } => Exit::Usage,
        E::Skill(S::BadName { .. } | S::Duplicate { .. }) => Exit::Usage,
        E::Worktree(W::BadBase { .. } | W::BadId { .. }) => Exit::Usage,
        E::Remote(r) => remote_exit(r),
        E::Provider(
            P::Unknown { .. }
            | P::CannotInfer { .. }
            | P::Ambiguous { .. }
            | P::BadModel { .. }
            | P::NeedsModel { .. }
            | P::LaneUnsupported { .. }
            | P::PromptTooLarge { .. },
        ) => Exit::Usage,
        _ => Exit::Failed,
    }
}

/// A dispatch id given on the command line, or a usage error.
pub fn check_dispatch_id(id: &str) -> Result<(), CliError> {
    if vnx::ledger::receipt::is_dispatch_id(id) {
        Ok(())
    } else {
        Err(CliError::usage(format!("{id:?} is not a dispatch id"))
            .with_hint("a dispatch id looks like D-1a2b3c4d5e6f; `vnx status` lists them"))
    }
}

/// The dispatches `ids` names, in that order, from `states` (what `vnx status` lists); an id
/// none of them has is a usage error.
pub fn named_dispatches<'a>(
    states: &'a [vnx::dispatch::view::DispatchState],
    ids: &[String],
) -> Result<Vec<&'a vnx::dispatch::view::DispatchState>, CliError> {
    ids.iter()
        .map(|id| {
            states.iter().find(|s| &s.id == id).ok_or_else(|| {
                CliError::usage(format!("unknown dispatch {id}"))
                    .with_hint("`vnx status` lists the dispatches of this project")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
