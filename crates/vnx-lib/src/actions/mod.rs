//! The things a person or an agent does to dispatches, one function each over a [`Desk`]:
//! typed inputs, a typed outcome (what happened, the receipts written, a line to show), no
//! printing, no prompt, nothing read from the environment. Every front end calls these and
//! renders what they return: the CLI's commands, the dashboard, and the MCP server's and a
//! web page's acting tools to come (ADR 0083). The pieces they compose are the dispatch's
//! own (`dispatch::answer`, `dispatch::dismiss`, `dispatch::cancel`, `dispatch::queue`,
//! `dispatch::accept`), and the signed links of notices (`notice`);
//! what an action adds is what every front end would otherwise repeat: which dispatches are
//! meant, in which order, what to do when one changed meanwhile.

use crate::dispatch::Context;
use crate::dispatch::view::{self, DispatchState};
use crate::ids::DispatchId;

pub mod accept;
pub mod act;
pub mod answer;
pub mod budget;
pub mod cancel;
pub mod dismiss;
pub mod follow_up;
pub mod gate;
pub mod group;
pub mod guard;
pub mod issues;
pub mod limit_move;
pub mod link;
pub mod memory;
pub mod merge;
pub mod pause;
pub mod plan;
pub mod pr;
pub mod prune;
pub mod react;
pub mod recover;
pub mod release;
pub mod remote;
pub mod resume;
pub mod review;
pub mod start;
pub use crate::action_table as table;
pub mod wait;

/// What an action is done with: the dispatch context of the project (its ledger, tmux,
/// signing key), the keys whose receipts are trusted, and who acts.
pub struct Desk<'a> {
    /// The project's dispatch context.
    pub ctx: &'a Context<'a>,
    /// The public keys whose signatures the evidence read is trusted under.
    pub trusted: &'a [[u8; 32]],
    /// Who acts, as receipts record it.
    pub by: &'a str,
    /// The agent acting through an agent front end (`vnx mcp --act`), whose worker, when it
    /// runs in one, decides for none of its own dispatches ([`guard::may_govern`]); `None`
    /// for a person.
    pub actor: Option<&'a guard::Actor>,
}

/// Why an action could not be done at all (one dispatch's refusal among several is that
/// dispatch's outcome, not this).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// A dispatch named is not on the ledger.
    #[error("unknown dispatch {id}")]
    Unknown {
        /// The id named.
        id: DispatchId,
    },
    /// A dispatch named has no worktree or branch preserved.
    #[error("dispatch {id} has no preserved worktree or branch")]
    NotPreserved {
        /// The id named.
        id: DispatchId,
    },
    /// The preserved worktrees could not be read or released.
    #[error(transparent)]
    Release(#[from] crate::release::ReleaseError),
    /// The ledger could not be read or appended to.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// A dispatch could not be acted on (its queue, its directory).
    #[error(transparent)]
    Dispatch(Box<crate::dispatch::DispatchError>),
    /// A prompt could not be answered.
    #[error(transparent)]
    Answer(#[from] crate::dispatch::answer::AnswerError),
    /// A question could not be dismissed.
    #[error(transparent)]
    Dismiss(#[from] crate::dispatch::dismiss::DismissError),
    /// A best-of candidate that is not its group's winner (ADR 0029).
    #[error("refused: {objection}")]
    GroupObjects {
        /// Why its group objects.
        objection: String,
        /// The group.
        group: crate::ids::GroupId,
    },
    /// The merge could not be checked or done.
    #[error(transparent)]
    Merge(Box<crate::merge::MergeError>),
    /// Gates could not be run.
    #[error(transparent)]
    Gate(#[from] crate::gate::GateError),
    /// Work could not be accepted.
    #[error(transparent)]
    Accept(#[from] crate::dispatch::accept::AcceptError),
    /// The project's configuration could not be read.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A dispatch cannot be continued (ended, merged, continued already).
    #[error(transparent)]
    FollowUp(#[from] crate::dispatch::start::follow_up::FollowUpError),
    /// A branch cannot be brought onto its base.
    #[error(transparent)]
    Rebase(Box<crate::dispatch::start::rebase::RebaseError>),
    /// A lost dispatch's end could not be recorded from its worker's report.
    #[error(transparent)]
    Recover(Box<crate::dispatch::supervise::recover::RecoverError>),
    /// The repository could not be read.
    #[error(transparent)]
    Worktree(#[from] crate::worktree::WorktreeError),
    /// A pull request could not be asked for.
    #[error(transparent)]
    Forge(Box<crate::forge::ForgeError>),
    /// A best-of group could not be read or decided.
    #[error(transparent)]
    Group(Box<crate::group::GroupError>),
    /// A remote dispatch's place could not be reached or asked.
    #[error(transparent)]
    Remote(Box<crate::remote::RemoteError>),
    /// Old directories could not be judged.
    #[error(transparent)]
    Prune(#[from] crate::release::prune::PruneError),
    /// A CLI's memory could not be read or promoted.
    #[error(transparent)]
    Memory(#[from] crate::memory::MemoryError),
    /// Review comments could not be read, added or sent.
    #[error(transparent)]
    Review(#[from] crate::review::ReviewError),
    /// A pull request with nothing to fix: no failing check, no unresolved review thread,
    /// no change requested.
    #[error(
        "pull request #{number} of {id} has nothing to fix: no failing check, no unresolved \
         review thread, no change requested{outsiders}"
    )]
    NothingToFix {
        /// The dispatch.
        id: DispatchId,
        /// Its pull request.
        number: u64,
        /// `; N comments by outsiders left out: @x, …` when some were (ADR 0101), else empty.
        outsiders: String,
    },
    /// A file could not be written.
    #[error("could not write {}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A link's files (its key, the used links) could not be read or written.
    #[error(transparent)]
    Notice(#[from] crate::notice::NoticeError),
    /// `vnx approve`/`vnx deny` of a plan on a dispatch whose plan waits for no decision.
    #[error("dispatch {id} has no plan waiting for a decision")]
    NoPlanWaiting {
        /// The id named.
        id: DispatchId,
    },
    /// The plan a person read is not the plan the dispatch waits with now (ADR 0092).
    #[error("the plan of {id} is not the one read: its sha256 is {now}, not {seen}")]
    PlanChanged {
        /// The dispatch.
        id: DispatchId,
        /// The SHA-256 the person read.
        seen: String,
        /// The SHA-256 of its plan now.
        now: String,
    },
    /// The place a dispatch ran in refused what its own vnx was asked to do there.
    #[error("{place} could not {command} {id} there: {said}")]
    InPlace {
        /// The dispatch.
        id: DispatchId,
        /// Its place.
        place: String,
        /// The command asked of the place's vnx.
        command: String,
        /// What it said (the place's words, made one safe line).
        said: String,
    },
    /// The planning turns of the dispatch's chain changed files (ADR 0092, issue 69): its plan
    /// is not a plan before any edit, and it is not approved.
    #[error("the plan of {id} is not approved: {change}")]
    PlanningChanged {
        /// The planning dispatch.
        id: DispatchId,
        /// What its planning changed, in words.
        change: String,
    },
    /// A dispatch's worker, acting through an agent front end, asked to decide for itself
    /// or for a dispatch it started (ADR 0095).
    #[error("refused: {by} may not {doing} {target}: {why}")]
    NotYours {
        /// Who asked.
        by: String,
        /// What it asked to do (`approve`, `merge`).
        doing: String,
        /// The dispatch.
        target: DispatchId,
        /// Why not, in words.
        why: String,
    },
    /// Attaching to a dispatch's pane, which only a front end with a terminal does.
    #[error("attaching to {id} takes a terminal")]
    TakesTheTerminal {
        /// The dispatch.
        id: DispatchId,
    },
    /// `vnx approve --budget` of a dispatch that waits on no budget it reached.
    #[error("dispatch {id} is not waiting on a budget it reached")]
    NoBudgetReached {
        /// The id named.
        id: DispatchId,
    },
    /// `vnx approve --budget` that does not raise the limit the dispatch was stopped at (its
    /// tokens, or its dollars: ADR 0098).
    #[error("dispatch {id} was stopped at its budget's {limit}, which this raise leaves as it was")]
    RaiseMissesLimit {
        /// The id named.
        id: DispatchId,
        /// The limit it was stopped at: `tokens` or `cost`.
        limit: &'static str,
    },
    /// A rebase asked of a follow-up of a dispatch that ran on a host.
    #[error("{id} ran on {place}: a rebase brings only a local dispatch onto its base")]
    RebaseOnHost {
        /// The dispatch followed up.
        id: DispatchId,
        /// The place it ran in.
        place: crate::place_name::PlaceName,
    },
    /// A wait on pull requests in a project without a forge.
    #[error("waiting on pull requests needs a forge")]
    PrNeedsForge,
    /// A dispatch named to resume was not interrupted.
    #[error("dispatch {id} is {state}, not lost: nothing interrupted it")]
    NotInterrupted {
        /// The id named.
        id: DispatchId,
        /// The state it is in.
        state: &'static str,
    },
    /// A limited dispatch could not be moved to another CLI (`vnx resume --to`).
    #[error(transparent)]
    Move(#[from] limit_move::MoveError),
}

/// The larger errors an action meets, boxed: an action's result stays small.
macro_rules! boxed_from {
    ($($variant:ident($error:ty)),* $(,)?) => {$(
        impl From<$error> for ActionError {
            fn from(e: $error) -> ActionError {
                ActionError::$variant(Box::new(e))
            }
        }
    )*};
}

boxed_from!(
    Dispatch(crate::dispatch::DispatchError),
    Merge(crate::merge::MergeError),
    Rebase(crate::dispatch::start::rebase::RebaseError),
    Recover(crate::dispatch::supervise::recover::RecoverError),
    Forge(crate::forge::ForgeError),
    Group(crate::group::GroupError),
    Remote(crate::remote::RemoteError),
);

impl ActionError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ActionError::Unknown { .. } => {
                Some("`vnx status` lists the dispatches of this project".into())
            }
            ActionError::NotPreserved { .. } => {
                Some("`vnx worktree-release` lists the preserved dispatches".into())
            }
            ActionError::Release(e) => e.hint(),
            ActionError::Ledger(e) => e.hint(),
            ActionError::Dispatch(e) => e.hint(),
            ActionError::Answer(e) => e.hint(),
            ActionError::Dismiss(e) => e.hint(),
            ActionError::GroupObjects { group, .. } => Some(format!(
                "decide the group with `vnx group decide {group}`, merge its winner, or pass \
                 --override-group to merge this candidate anyway"
            )),
            ActionError::Merge(e) => e.hint(),
            ActionError::Gate(e) => e.hint(),
            ActionError::Accept(e) => e.hint(),
            ActionError::Config(e) => e.hint(),
            ActionError::FollowUp(e) => e.hint(),
            ActionError::Rebase(e) => e.hint(),
            ActionError::Recover(e) => e.hint(),
            ActionError::Worktree(e) => e.hint(),
            ActionError::Forge(e) => e.hint(),
            ActionError::Group(e) => e.hint(),
            ActionError::Remote(e) => e.hint(),
            ActionError::Prune(e) => Some(e.hint().into()),
            ActionError::Review(e) => e.hint(),
            ActionError::Memory(e) => e.hint(),
            ActionError::NothingToFix { id, .. } => Some(format!(
                "`vnx pr merge {id}` merges it once its checks pass"
            )),
            ActionError::Io { .. } => None,
            ActionError::Notice(e) => e.hint(),
            ActionError::NoPlanWaiting { id } => Some(format!(
                "`vnx show {id}` shows what it waits for; a plan waits only on the planning \
                 step of a dispatch of `--plan` that ended with it"
            )),
            ActionError::PlanChanged { id, .. } => Some(format!(
                "read the plan again with `vnx show {id}` and decide on that one"
            )),
            ActionError::InPlace { id, .. } => Some(format!(
                "`vnx attach {id}` shows its place; `vnx doctor --host` checks the place"
            )),
            ActionError::PlanningChanged { id, .. } => Some(format!(
                "`vnx show {id} --diff` shows the change; send the plan back (`vnx deny {id}`) or \
                 discard the dispatch (`vnx clean {id}`) and plan afresh"
            )),
            ActionError::RebaseOnHost { .. } => None,
            ActionError::PrNeedsForge => Some(
                "name the forge in .vnx/config.yaml (`forge: {kind: github, remote: origin}`)"
                    .into(),
            ),
            ActionError::NotInterrupted { id, .. } => Some(format!("`vnx status {id}` shows it")),
            ActionError::Move(e) => e.hint(),
            ActionError::NotYours { doing, target, .. } => Some(format!(
                "a dispatch's worker never decides for its own work: a person (or an agent \
                 outside the dispatch) runs `vnx {doing} {target}`"
            )),
            ActionError::RaiseMissesLimit { id, limit } => Some(format!(
                "raise its {}: `vnx approve {id} --budget {}`",
                if *limit == "cost" {
                    "dollars"
                } else {
                    "tokens"
                },
                if *limit == "cost" { "+$2" } else { "+50k" }
            )),
            ActionError::TakesTheTerminal { id } => Some(format!("`vnx attach {id}`")),
            ActionError::NoBudgetReached { id } => Some(format!(
                "`vnx show {id}` shows where it stands against its budget; only a dispatch \
                 stopped at its budget is raised"
            )),
        }
    }
}

impl Desk<'_> {
    /// Signs a receipt of `kind` and appends it to the ledger.
    pub(crate) fn record<K: crate::receipts::Kind>(&self, kind: &K) -> Result<(), ActionError> {
        self.ctx.attestor.record(self.ctx.ledger, kind)?;
        Ok(())
    }

    /// Every dispatch as the ledger and tmux show it now (none before the first).
    pub fn states(&self) -> Result<Vec<DispatchState>, ActionError> {
        if !self.ctx.ledger.exists() {
            return Ok(Vec::new());
        }
        Ok(view::list(self.ctx.ledger, self.ctx.tmux)?)
    }

    /// The dispatches `ids` name, in that order, from `states`; an id none of them has is
    /// [`ActionError::Unknown`].
    pub fn named<'s>(
        states: &'s [DispatchState],
        ids: &[DispatchId],
    ) -> Result<Vec<&'s DispatchState>, ActionError> {
        ids.iter()
            .map(|id| {
                states
                    .iter()
                    .find(|s| s.id == *id)
                    .ok_or_else(|| ActionError::Unknown { id: id.clone() })
            })
            .collect()
    }
}
