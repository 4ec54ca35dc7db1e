//! Library errors as CLI errors: each with its cause chain, its own hint when it has one, and
//! the exit status `exits` gives its variant.

use vnx::ledger::LedgerError;
use vnx::ledger::checkpoint::CheckpointError;

use super::error::CliError;
use super::exits;

/// Library errors become CLI errors with their cause chain, their own hint, and the exit
/// status their kind means: [`super::exits`] decides it for every variant.
macro_rules! hinted {
    ($($error:ty => $exit:path),* $(,)?) => {$(
        impl From<$error> for CliError {
            fn from(e: $error) -> CliError {
                CliError::from_error(&e).with_hint_opt(e.hint()).exit($exit(&e))
            }
        }
    )*};
}

hinted!(
    LedgerError => exits::ledger,
    vnx::init::InitError => exits::init,
    CheckpointError => exits::checkpoint,
    vnx::constraints::LoadError => exits::constraints,
    vnx::dispatch::DispatchError => exits::dispatch,
    vnx::gate::GateError => exits::gate,
    vnx::merge::MergeError => exits::merge,
    vnx::release::ReleaseError => exits::release,
    vnx::dispatch::start::replay::ReplayError => exits::replay,
    vnx::dispatch::start::follow_up::FollowUpError => exits::follow_up,
    vnx::dispatch::start::rebase::RebaseError => exits::rebase,
    vnx::remote::RemoteError => exits::remote,
    vnx::dispatch::supervise::recover::RecoverError => exits::recover,
    vnx::config::ConfigError => exits::config,
    vnx::worktree::WorktreeError => exits::worktree,
    vnx::group::GroupError => exits::group,
    vnx::dispatch::answer::AnswerError => exits::answer,
    vnx::dispatch::accept::AcceptError => exits::accept,
    vnx::dispatch::dismiss::DismissError => exits::dismiss,
    vnx::forge::ForgeError => exits::forge,
    vnx::actions::ActionError => exits::action,
    vnx::notice::NoticeError => exits::notice,
    vnx::review::ReviewError => exits::review,
    vnx::dispatch::budget::BudgetError => exits::budget,
    vnx::ledger::intoto::AttestError => exits::attest,
    vnx::schedule::ScheduleError => exits::schedule,
    vnx::memory::MemoryError => exits::memory,
);

/// The errors without a hint of their own.
macro_rules! plain {
    ($($error:ty => $exit:path),* $(,)?) => {$(
        impl From<$error> for CliError {
            fn from(e: $error) -> CliError {
                CliError::from_error(&e).exit($exit(&e))
            }
        }
    )*};
}

plain!(
    vnx::constraints::imports::ScanError => exits::scan,
    vnx::mcp::McpError => exits::mcp,
    vnx::access::AccessError => exits::access,
);

impl From<vnx::dispatch::view::ResolveError> for CliError {
    fn from(e: vnx::dispatch::view::ResolveError) -> CliError {
        use vnx::dispatch::view::ResolveError as E;
        let hint = match &e {
            E::Malformed { .. } => {
                Some("a dispatch id looks like D-1a2b3c4d5e6f; `vnx status` lists them")
            }
            E::Ambiguous { .. } => Some("give more of the id"),
            E::Ledger(_) => None,
        };
        CliError::from_error(&e)
            .with_hint_opt(hint.map(str::to_owned))
            .exit(exits::resolve(&e))
    }
}
