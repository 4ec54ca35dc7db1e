//! The exit status each library error means: one arm per variant and no wildcard, so a new
//! variant does not compile until someone decides its status; a variant that wraps another
//! library error asks that error's own function.

use vnx::access::AccessError;
use vnx::config::ConfigError;
use vnx::constraints::LoadError;
use vnx::constraints::imports::ScanError;
use vnx::dispatch::DispatchError;
use vnx::dispatch::start::follow_up::FollowUpError;
use vnx::dispatch::start::ports::PortError;
use vnx::dispatch::start::rebase::RebaseError;
use vnx::dispatch::start::replay::ReplayError;
use vnx::dispatch::supervise::recover::RecoverError;
use vnx::dispatch::view::ResolveError;
use vnx::gate::GateError;
use vnx::group::GroupError;
use vnx::init::InitError;
use vnx::ledger::LedgerError;
use vnx::ledger::checkpoint::CheckpointError;
use vnx::ledger::receipt::ReceiptError;
use vnx::mcp::McpError;
use vnx::merge::MergeError;
use vnx::process::ProcessError;
use vnx::provider::ProviderError;
use vnx::release::ReleaseError;
use vnx::release::prune::PruneError;
use vnx::remote::RemoteError;
use vnx::sandbox::SandboxError;
use vnx::skills::SkillError;
use vnx::tmux::TmuxError;
use vnx::worktree::WorktreeError;
use vnx::yaml::YamlError;

use crate::cli::Exit;

/// A receipt too large for one line is the caller's input; a receipt that does not serialize
/// canonically is vnx's bug; anything else is the file or the OS.
pub fn ledger(e: &LedgerError) -> Exit {
    use LedgerError as E;
    match e {
        E::LineTooLong { .. } => Exit::Usage,
        E::NotCanonical { .. } => Exit::Bug,
        E::MissingDir { .. }
        | E::NotFound { .. }
        | E::Symlink { .. }
        | E::IsDirectory { .. }
        | E::NotRegular { .. }
        | E::ReadOnly { .. }
        | E::Open { .. }
        | E::Lock { .. }
        | E::Read { .. }
        | E::Write { .. }
        | E::Sync { .. }
        | E::Quarantine { .. }
        | E::TailUnreadable { .. } => Exit::Failed,
    }
}

/// The ledger, or the commit the checkpoint ref names, is not what was checkpointed: a verdict.
pub fn checkpoint(e: &CheckpointError) -> Exit {
    use CheckpointError as E;
    match e {
        E::LedgerBroken { .. } | E::NotACheckpoint { .. } => Exit::No,
        E::Git { .. }
        | E::NotInRepo { .. }
        | E::KeyIo { .. }
        | E::KeyInsecure { .. }
        | E::KeyMalformed { .. }
        | E::KeyInsideRepo { .. }
        | E::Witness { .. }
        | E::EmptyLedger { .. } => Exit::Failed,
        E::Ledger(e) => ledger(e),
    }
}

/// A receipt given on the command line or stdin: every way it can be wrong is the input's.
/// An attestation that does not hold (changed, signed by another key, not what the ledger
/// says) is a negative verdict, as is a dispatch with nothing to attest yet; one the ledger
/// never saw start is a usage error; reading is operational.
pub fn attest(e: &vnx::ledger::intoto::AttestError) -> Exit {
    use vnx::ledger::intoto::{AttestError as E, FactsError as F};
    match e {
        E::Facts(F::Ledger(e)) => ledger(e),
        E::Facts(F::Checkpoint(e)) => checkpoint(e),
        E::Facts(F::NotStarted(_)) => Exit::Usage,
        E::NoHead(_) | E::Malformed(_) | E::Signature(_) | E::Differs { .. } => Exit::No,
    }
}

pub fn receipt(e: &ReceiptError) -> Exit {
    use ReceiptError as E;
    match e {
        E::Json(_)
        | E::NotUtf8 { .. }
        | E::NotObject(_)
        | E::MissingEventType
        | E::BadEventType(_)
        | E::ReservedEventType(_)
        | E::ReservedField(_)
        | E::BadSchemaVersion(_)
        | E::BadTimestamp
        | E::BadDispatchId(_) => Exit::Usage,
    }
}

/// `--project-id` is the caller's input; the rest is the repository and the file system.
pub fn init(e: &InitError) -> Exit {
    use InitError as E;
    match e {
        E::BadProjectId { .. } | E::ProjectIdSet { .. } => Exit::Usage,
        E::NotInRepo { .. } | E::Symlink { .. } | E::Unreadable { .. } | E::Io { .. } => {
            Exit::Failed
        }
    }
}

/// `.vnx/config.yaml` that cannot be read or is invalid: the project cannot be worked in.
pub fn config(e: &ConfigError) -> Exit {
    match e {
        ConfigError::Yaml(e) => yaml(e),
        ConfigError::Invalid(_) => Exit::Failed,
    }
}

/// A project's YAML file that cannot be read, or is too large, not UTF-8 or not YAML of its
/// shape: the project's files, not the command line.
pub fn yaml(e: &YamlError) -> Exit {
    match e {
        YamlError::Io { .. } | YamlError::Invalid(_) => Exit::Failed,
    }
}

/// `provider_constraints.yaml` that is missing, unreadable or invalid.
pub fn constraints(e: &LoadError) -> Exit {
    match e {
        LoadError::Yaml(e) => yaml(e),
        LoadError::Missing { .. } | LoadError::Invalid(_) => Exit::Failed,
    }
}

/// The forbidden-import scan could not read a file or ask git.
pub fn scan(e: &ScanError) -> Exit {
    match e {
        ScanError::Io { .. } | ScanError::Git { .. } => Exit::Failed,
    }
}

/// A refusal by the constraints, the egress policy or the queue is a verdict; a request that
/// can never be planned is usage.
pub fn dispatch(e: &DispatchError) -> Exit {
    use DispatchError as E;
    match e {
        E::Uncommitted { .. } | E::Interrupted { .. } => Exit::Failed,
        E::Refused { .. }
        | E::EgressRefused { .. }
        | E::LinkLeadsOut { .. }
        | E::PinnedModel { .. }
        | E::Rejected { .. }
        | E::DependenciesConflict { .. } => Exit::No,
        E::UnknownDependency { .. }
        | E::DependencyCycle { .. }
        | E::BadRole { .. }
        | E::UnknownRole { .. }
        | E::UnknownGate { .. }
        | E::EmptyInstruction
        | E::NulInInstruction
        | E::BadDeadline { .. }
        | E::IdInUse { .. }
        | E::IdOnLedger { .. } => Exit::Usage,
        // The project's state or files, the machine, or a spec vnx wrote.
        E::NotInitialised { .. }
        | E::BadInclude { .. }
        | E::DirtyBase { .. }
        | E::DetachedBase
        | E::MissingCli { .. }
        | E::Io { .. }
        | E::BadSpec { .. } => Exit::Failed,
        E::Provider(e) => provider(e),
        E::Config(e) => config(e),
        E::Constraints(e) => constraints(e),
        E::Skill(e) => skill(e),
        E::Worktree(e) => worktree(e),
        E::Rebase(e) => rebase(e),
        E::Tmux(e) => tmux(e),
        E::Ledger(e) => ledger(e),
        E::Port(e) => port(e),
        E::Sandbox(e) => sandbox(e),
        E::Remote(e) => remote(e),
        E::Memory(e) => memory(e),
    }
}

/// Nothing (or not that) to promote or drop is a negative verdict; the ledger and the
/// dispatch's directory decide their own.
pub fn memory(e: &vnx::memory::MemoryError) -> Exit {
    use vnx::memory::MemoryError as E;
    match e {
        E::Nothing { .. } | E::NotProposed { .. } | E::NotKept { .. } => Exit::No,
        E::NoMemory { .. } => Exit::Usage,
        E::Write { .. } => Exit::Failed,
        E::Ledger(e) => ledger(e),
    }
}

/// Nothing to answer is a negative verdict; a pane that cannot be typed into, or a CLI that
/// cannot be answered from outside, is operational.
pub fn answer(e: &vnx::dispatch::answer::AnswerError) -> Exit {
    use vnx::dispatch::answer::AnswerError as E;
    match e {
        E::NothingPending { .. } | E::WhilePlanning { .. } => Exit::No,
        E::Unsupported { .. } | E::Unreachable { .. } | E::NotTaken { .. } | E::Io { .. } => {
            Exit::Failed
        }
        E::Ledger(e) => ledger(e),
    }
}

/// An action on a dispatch never recorded is a usage error; the rest is its parts' to say.
pub fn action(e: &vnx::actions::ActionError) -> Exit {
    use vnx::actions::ActionError as E;
    match e {
        E::Unknown { .. } | E::NotPreserved { .. } => Exit::Usage,
        E::Release(e) => release(e),
        E::Ledger(e) => ledger(e),
        E::Dispatch(e) => dispatch(e),
        E::Answer(e) => answer(e),
        E::Dismiss(e) => dismiss(e),
        E::Memory(e) => memory(e),
        E::GroupObjects { .. } => Exit::No,
        E::Merge(e) => merge(e),
        E::Gate(e) => gate(e),
        E::Accept(e) => accept(e),
        E::Config(e) => config(e),
        E::FollowUp(e) => follow_up(e),
        E::Rebase(e) => rebase(e),
        E::Recover(e) => recover(e),
        E::Worktree(e) => worktree(e),
        E::Forge(e) => forge(e),
        E::Prune(e) => prune(e),
        E::Review(e) => review(e),
        E::Group(e) => group(e),
        E::Remote(e) => remote(e),
        E::NotInterrupted { .. } => Exit::Usage,
        E::Move(e) => limit_move(e),
        E::PrNeedsForge => Exit::Usage,
        E::RebaseOnHost { .. } => Exit::Usage,
        E::NotYours { .. } => Exit::No,
        E::NothingToFix { .. } => Exit::No,
        E::NoPlanWaiting { .. } | E::PlanChanged { .. } | E::PlanningChanged { .. } => Exit::No,
        E::InPlace { .. } | E::TakesTheTerminal { .. } => Exit::Failed,
        E::NoBudgetReached { .. } => Exit::No,
        E::RaiseMissesLimit { .. } => Exit::No,
        E::Io { .. } => Exit::Failed,
        E::Notice(e) => notice(e),
    }
}

/// A move of a dispatch that is not limited, to nowhere or to its own provider, or of one on
/// a host, is the caller's; a supervisor out of reach is the machine's.
pub fn limit_move(e: &vnx::actions::limit_move::MoveError) -> Exit {
    use vnx::actions::limit_move::MoveError as E;
    match e {
        E::NotLimited { .. } | E::Nowhere { .. } | E::Itself { .. } | E::OnHost { .. } => {
            Exit::Usage
        }
        E::Unreachable { .. } => Exit::Failed,
    }
}

/// A notice that could not be posted, or a link's file that could not be read, is the
/// machine's or the network's.
pub fn budget(e: &vnx::dispatch::budget::BudgetError) -> Exit {
    match e {
        vnx::dispatch::budget::BudgetError::Malformed { .. } => Exit::Usage,
    }
}

pub fn notice(e: &vnx::notice::NoticeError) -> Exit {
    use vnx::notice::NoticeError as E;
    match e {
        E::KeptInRepository { .. } | E::BadAddress { .. } => Exit::Usage,
        E::Io { .. } | E::NoCurl { .. } | E::Post { .. } | E::TimedOut { .. } => Exit::Failed,
    }
}

/// The ledger decides its own; a lock not taken is operational.
pub fn schedule(e: &vnx::schedule::ScheduleError) -> Exit {
    use vnx::schedule::ScheduleError as E;
    match e {
        E::Ledger { source, .. } => ledger(source),
        E::Lock { .. } => Exit::Failed,
    }
}

/// A place that is not `FILE:LINE` or a comment without text is a usage error; a place
/// outside the diff, a dispatch with no head to comment on and nothing to send are negative
/// verdicts; git and the ledger decide their own.
pub fn review(e: &vnx::review::ReviewError) -> Exit {
    use vnx::review::ReviewError as E;
    match e {
        E::BadAnchor { .. } | E::EmptyBody { .. } => Exit::Usage,
        E::NoHead { .. } | E::NotInDiff { .. } | E::NothingToSend { .. } => Exit::No,
        E::Git { .. } => Exit::Failed,
        E::Ledger(e) => ledger(e),
    }
}

/// A question that cannot be dismissed is a negative verdict; the ledger decides its own.
pub fn dismiss(e: &vnx::dispatch::dismiss::DismissError) -> Exit {
    use vnx::dispatch::dismiss::DismissError as E;
    match e {
        E::NotAsking { .. } | E::Settled { .. } | E::NoEvidence { .. } => Exit::No,
        E::Ledger(e) => ledger(e),
    }
}

/// A dispatch whose work cannot be accepted is a negative verdict; the configuration, git
/// and the ledger decide their own.
pub fn accept(e: &vnx::dispatch::accept::AcceptError) -> Exit {
    use vnx::dispatch::accept::AcceptError as E;
    match e {
        E::Running { .. }
        | E::NotEnded { .. }
        | E::AlreadyDone { .. }
        | E::AlreadyAccepted { .. }
        | E::Landed { .. }
        | E::Continued { .. }
        | E::NoEvidence { .. }
        | E::NoBranch { .. }
        | E::NothingCommitted { .. }
        | E::MergeUnfinished { .. }
        | E::Dirty { .. } => Exit::No,
        E::Config(e) => config(e),
        E::Worktree(e) => worktree(e),
        E::Ledger(e) => ledger(e),
    }
}

/// What was asked of the provider (its name, model, lane) is usage; what a declared
/// provider's configuration lacks is fixed in `.vnx/config.yaml`, not on the command line.
pub fn provider(e: &ProviderError) -> Exit {
    use ProviderError as E;
    match e {
        E::Unknown { .. }
        | E::CannotInfer { .. }
        | E::Ambiguous { .. }
        | E::BadModel { .. }
        | E::UnknownModel { .. }
        | E::NeedsModel { .. }
        | E::LaneUnsupported { .. }
        | E::PromptTooLarge { .. } => Exit::Usage,
        E::PostureUndeclared { .. } | E::NoModelArgs { .. } => Exit::Failed,
    }
}

/// A skill name that is malformed or given twice is usage; a skill that is missing or broken
/// is the project's files.
pub fn skill(e: &SkillError) -> Exit {
    use SkillError as E;
    match e {
        E::BadName { .. } | E::Duplicate { .. } => Exit::Usage,
        E::Yaml(e) => yaml(e),
        E::Missing { .. } | E::Io { .. } | E::Invalid(_) | E::Bad { .. } => Exit::Failed,
    }
}

/// tmux failed, or answered what vnx cannot read.
pub fn tmux(e: &TmuxError) -> Exit {
    match e {
        TmuxError::BadName { .. }
        | TmuxError::Tmux { .. }
        | TmuxError::NotAnswering { .. }
        | TmuxError::Unexpected { .. } => Exit::Failed,
    }
}

/// No port left, or the claim could not be written.
pub fn port(e: &PortError) -> Exit {
    match e {
        PortError::Exhausted { .. } | PortError::Io { .. } => Exit::Failed,
    }
}

/// The machine cannot sandbox, or the sandboxed worker's work could not be brought in.
pub fn sandbox(e: &SandboxError) -> Exit {
    use SandboxError as E;
    match e {
        E::NoBubblewrap
        | E::Unusable { .. }
        | E::RefFormat { .. }
        | E::LinkedDataDir { .. }
        | E::Io { .. }
        | E::Import { .. }
        | E::BadTip { .. } => Exit::Failed,
    }
}

/// A program that is missing, could not start, failed or took too long.
pub fn process(e: &ProcessError) -> Exit {
    use ProcessError as E;
    match e {
        E::NotFound { .. } | E::Spawn { .. } | E::Failed { .. } | E::TimedOut { .. } => {
            Exit::Failed
        }
    }
}

/// A dispatch id that is malformed or a base that names no commit is usage.
pub fn worktree(e: &WorktreeError) -> Exit {
    use WorktreeError as E;
    match e {
        E::BadBase { .. } => Exit::Usage,
        E::MergeUnfinished { .. } => Exit::No,
        E::NotInRepo { .. }
        | E::BranchExists { .. }
        | E::PathExists { .. }
        | E::Lock { .. }
        | E::Io { .. }
        | E::NotOnBranch { .. }
        | E::ForeignGit { .. }
        | E::Git { .. } => Exit::Failed,
    }
}

/// An id that is malformed or names no dispatch is usage.
pub fn gate(e: &GateError) -> Exit {
    use GateError as E;
    match e {
        E::UnknownDispatch { .. } => Exit::Usage,
        E::NotInitialised { .. } | E::Io { .. } => Exit::Failed,
        E::Config(e) => config(e),
        E::Ledger(e) => ledger(e),
        E::Worktree(e) => worktree(e),
    }
}

/// A merge refused by its conditions, or done before, is a verdict; an id that is malformed or
/// names no dispatch is usage.
pub fn merge(e: &MergeError) -> Exit {
    use MergeError as E;
    match e {
        E::Refused { .. } | E::AlreadyMerged { .. } | E::Interrupted { .. } => Exit::No,
        E::UnknownDispatch { .. } => Exit::Usage,
        // Failures of a step, named by the step even when another error is their cause.
        E::NotInitialised { .. }
        | E::GitMerge { .. }
        | E::CheckpointAfterMerge { .. }
        | E::NoKey { .. }
        | E::Lock { .. }
        | E::Git { .. } => Exit::Failed,
        E::Gate { source, .. } => gate(source),
        E::Config(e) => config(e),
        E::Ledger(e) => ledger(e),
        E::Checkpoint(e) => checkpoint(e),
        E::Worktree(e) => worktree(e),
    }
}

/// vnx's conditions, a push or merge the forge refuses, and a pull request closed or merged
/// meanwhile are verdicts; a missing forge section or dispatch is usage; gh missing or logged
/// out, no remote, an unreachable or rate-limited forge are failures of the environment.
pub fn forge(e: &vnx::forge::ForgeError) -> Exit {
    use vnx::forge::ForgeError as E;
    match e {
        E::Refused { .. }
        | E::PushRejected { .. }
        | E::Closed { .. }
        | E::AlreadyMerged { .. }
        | E::MergeRefused { .. }
        | E::NoPullRequest { .. }
        | E::StackedOnSeveral { .. }
        | E::IssueNotTaken { .. } => Exit::No,
        E::NotConfigured { .. } | E::UnknownDispatch { .. } | E::NoIssue { .. } => Exit::Usage,
        E::GhMissing { .. }
        | E::LoggedOut { .. }
        | E::NoRemote { .. }
        | E::NotGitHub { .. }
        | E::PushFailed { .. }
        | E::Unreachable { .. }
        | E::RateLimited { .. }
        | E::TimedOut { .. }
        | E::Gh { .. }
        | E::Git { .. }
        | E::Unreadable { .. }
        | E::Io { .. } => Exit::Failed,
        E::Config(e) => config(e),
        E::Ledger(e) => ledger(e),
        E::Merge(e) => merge(e),
        E::Gate(e) => gate(e),
    }
}

/// A `--base` that names no commit is usage, as dispatch's `--base-ref`; else the ledger, git
/// or a worktree step failed.
pub fn release(e: &ReleaseError) -> Exit {
    use ReleaseError as E;
    match e {
        E::BadBase { .. } => Exit::Usage,
        // Released, but not recorded: a failure, whatever the ledger said.
        E::Git { .. } | E::Unrecorded { .. } | E::Journal { .. } => Exit::Failed,
        E::Keys(e) => checkpoint(e),
        E::Worktree(e) => worktree(e),
        E::Ledger(e) => ledger(e),
    }
}

/// `vnx prune`: the ledger could not tell what is open, or `.vnx-data` could not be listed.
pub fn prune(e: &PruneError) -> Exit {
    match e {
        PruneError::Ledger(e) => ledger(e),
        PruneError::List { .. } => Exit::Failed,
    }
}

/// An id or prefix that names no single dispatch is usage.
pub fn resolve(e: &ResolveError) -> Exit {
    use ResolveError as E;
    match e {
        E::Malformed { .. } | E::Ambiguous { .. } => Exit::Usage,
        E::Ledger(e) => ledger(e),
    }
}

/// An id that names no dispatch, or a follow-up instead of the first of its chain, is usage.
pub fn replay(e: &ReplayError) -> Exit {
    use ReplayError as E;
    match e {
        E::Unknown { .. } | E::FollowUp { .. } => Exit::Usage,
        E::Instruction { .. } | E::Git { .. } => Exit::Failed,
        E::Ledger(e) => ledger(e),
    }
}

/// A base already in the branch is a refusal; a base that names no branch is usage; git
/// failing is an operational failure.
pub fn rebase(e: &RebaseError) -> Exit {
    use RebaseError as E;
    match e {
        E::BadBase { .. } => Exit::Usage,
        E::UpToDate { .. } => Exit::No,
        E::Git { .. } | E::Merge { .. } => Exit::Failed,
    }
}

/// An unknown id is usage; a dispatch that cannot be continued (still running, continued,
/// merged, released, gone, or its instruction not the one recorded) is a refusal.
pub fn follow_up(e: &FollowUpError) -> Exit {
    use FollowUpError as E;
    match e {
        E::Unknown { .. } => Exit::Usage,
        E::NotEnded { .. }
        | E::Continued { .. }
        | E::Merged { .. }
        | E::Released { .. }
        | E::BranchGone { .. }
        | E::Instruction { .. } => Exit::No,
        E::Ledger(e) => ledger(e),
    }
}

/// An unknown id is usage; a dispatch that is not lost, or whose evidence does not allow
/// recording its end, is a refusal.
pub fn recover(e: &RecoverError) -> Exit {
    use RecoverError as E;
    match e {
        E::Unknown { .. } => Exit::Usage,
        E::Ended { .. }
        | E::NotStarted { .. }
        | E::Running { .. }
        | E::OnHost { .. }
        | E::Alive { .. }
        | E::Unattested { .. }
        | E::NoReport { .. }
        | E::Spec { .. } => Exit::No,
        E::Ledger(e) => ledger(e),
        E::Dispatch(e) => dispatch(e),
    }
}

/// An unknown host or an id in use is usage; a host whose ledger no longer extends the mirror
/// is a verdict.
pub fn remote(e: &RemoteError) -> Exit {
    use RemoteError as E;
    match e {
        E::UnknownHost { .. }
        | E::IdInUse { .. }
        | E::Devcontainer { .. }
        | E::Mount { .. }
        | E::KeyGivenThere { .. } => Exit::Usage,
        E::ChainBroken { .. } | E::Forged { .. } => Exit::No,
        E::Unreachable { .. }
        | E::Gone { .. }
        | E::VnxMissing { .. }
        | E::VnxTooOld { .. }
        | E::Remote { .. }
        | E::BadAnswer { .. }
        | E::Git { .. }
        | E::BadBase { .. }
        | E::LoginsTooLarge { .. }
        | E::KeyRelay { .. }
        | E::Io { .. } => Exit::Failed,
        E::Worktree(e) => worktree(e),
        E::Process(e) => process(e),
        E::Ledger(e) => ledger(e),
    }
}

/// Group arguments that are wrong, or a group id that is malformed, used or unknown, are
/// usage; a candidate that could not be planned or gated says why itself.
pub fn group(e: &GroupError) -> Exit {
    use GroupError as E;
    match e {
        E::CandidateCount { .. }
        | E::BadCandidate { .. }
        | E::IdInUse { .. }
        | E::Unknown { .. } => Exit::Usage,
        E::Plan { source, .. } => dispatch(source),
        E::Gate { source, .. } => gate(source),
        E::Ledger(e) => ledger(e),
    }
}

/// The MCP server ended: what a request asked wrongly is usage, the session or a read failed.
pub fn mcp(e: &McpError) -> Exit {
    use McpError as E;
    match e {
        E::BadInput { .. } | E::UnknownDispatch { .. } | E::UnknownResource { .. } => Exit::Usage,
        E::Io { .. } | E::Session { .. } | E::Diff(_) => Exit::Failed,
        E::Ledger(e) => ledger(e),
        E::Checkpoint(e) => checkpoint(e),
        E::Merge { source, .. } => merge(source),
        E::Constraints(e) => constraints(e),
        E::Review(e) => review(e),
    }
}

/// A device named that is not paired is the caller's; the files and the random source are
/// the system's.
pub fn access(e: &AccessError) -> Exit {
    use AccessError as E;
    match e {
        E::UnknownDevice { .. } => Exit::Usage,
        E::Io { .. } | E::Corrupt { .. } | E::Random { .. } => Exit::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_that_does_not_serialize_canonically_is_a_bug_wherever_it_surfaces() {
        let bug = || LedgerError::NotCanonical { index: 0 };
        assert_eq!(ledger(&bug()), Exit::Bug);
        assert_eq!(dispatch(&DispatchError::Ledger(bug())), Exit::Bug);
        assert_eq!(merge(&MergeError::Ledger(bug())), Exit::Bug);
    }

    /// A variant that wraps another library error exits as that error does on its own.
    #[test]
    fn a_wrapped_error_exits_as_it_would_alone() {
        let too_long = || LedgerError::LineTooLong {
            index: 0,
            len: 2,
            max: 1,
        };
        let broken = || CheckpointError::LedgerBroken {
            path: "l".into(),
            violations: 1,
        };
        let bad_id = || WorktreeError::BadBase {
            base: "x".into(),
            source: vnx::process::ProcessError::Failed {
                command: "resolve x".into(),
                status: "libgit2".into(),
                stderr: String::new(),
            },
        };
        assert_eq!(ledger(&too_long()), Exit::Usage);
        assert_eq!(gate(&GateError::Ledger(too_long())), Exit::Usage);
        assert_eq!(checkpoint(&broken()), Exit::No);
        assert_eq!(merge(&MergeError::Checkpoint(broken())), Exit::No);
        assert_eq!(worktree(&bad_id()), Exit::Usage);
        assert_eq!(release(&ReleaseError::Worktree(bad_id())), Exit::Usage);
        assert_eq!(
            recover(&RecoverError::Dispatch(DispatchError::EmptyInstruction)),
            Exit::Usage
        );
        assert_eq!(
            follow_up(&FollowUpError::Ledger(LedgerError::NotFound {
                path: "l".into()
            })),
            Exit::Failed
        );
    }
}
