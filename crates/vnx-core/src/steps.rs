//! The named steps of vnx's durable multi-step operations, and, in test builds, a crash at
//! any one of them.
//!
//! An operation that changes more than one durable thing (a ledger line, a ref, a worktree, a
//! file under `.vnx-data/`) names the point after each change with [`reached`]. Every step is
//! listed in [`STEPS`]; a build with the `crash-points` feature (the test suite's) can be
//! armed to kill its own process with SIGKILL when it reaches one, exactly as `kill -9` would
//! between two writes. The crash-point test (`tests/it/crash_points/`) kills each operation at
//! each of its steps and checks that nothing acknowledged or done is lost and that a rerun, or
//! the command `vnx doctor` names, brings the dispatch to its right recorded state
//! (ADR 0050).
//!
//! In a build without the feature, [`reached`] is an empty inline function.

/// One named step: the operation it belongs to, and the durable change just made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Step {
    /// The operation (`merge`, `launch`, …).
    pub op: &'static str,
    /// What it has just made durable (`base_moved`, …).
    pub name: &'static str,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.op, self.name)
    }
}

/// Declares each operation's module of steps, and [`STEPS`], every step in the order of
/// declaration.
macro_rules! steps {
    ($($(#[$op_doc:meta])* $op:ident {
        $($(#[$doc:meta])* $name:ident = $text:literal;)*
    })*) => {
        $(
            $(#[$op_doc])*
            pub mod $op {
                use super::Step;
                $(
                    $(#[$doc])*
                    pub const $name: Step = Step { op: stringify!($op), name: $text };
                )*
            }
        )*
        /// Every named step, in the order each operation reaches them.
        pub const STEPS: &[Step] = &[$($($op::$name,)*)*];
    };
}

steps! {
    /// `vnx approve`/`vnx deny` of a blocked worker's prompt (`dispatch/answer`), from every
    /// front end.
    answer {
        /// `dispatch_answering` is on the ledger (who decides, what); nothing given yet.
        INTENT_APPENDED = "intent_appended";
        /// The answer reached the worker's CLI (its hook took it, its pane took the keys, or
        /// its place's vnx answered); `dispatch_answered` is not on the ledger yet.
        GIVEN = "given";
    }

    /// `vnx pause` (`actions::pause`, ADR 0119).
    pause {
        /// `paused` is on the ledger; the pause is not in effect yet.
        RECORDED = "recorded";
        /// The pause is in effect (its file written); no running worker told yet.
        IN_EFFECT = "in_effect";
    }

    /// `vnx resume` lifting pauses (`actions::pause::lift`, ADR 0119).
    unpause {
        /// `pause_lifted` is on the ledger; the pause is still in effect.
        RECORDED = "recorded";
    }

    /// `vnx dispatch-agent` (and every other way a dispatch is launched).
    launch {
        /// The dispatch directory exists and claims the id, and the completion's space is
        /// reserved; no worktree yet.
        DIRECTORY_MADE = "directory_made";
        /// The worktree and its branch exist and the dispatch directory is written; nothing on
        /// the ledger yet.
        WORKTREE_MADE = "worktree_made";
        /// `dispatch_started` is on the ledger; no tmux session yet.
        STARTED_APPENDED = "started_appended";
    }

    /// A schedule's firing (`schedule::fire`, by `vnx schedule run` and `vnx serve`).
    schedule {
        /// `schedule_fired` is on the ledger, naming the dispatch it starts; the dispatch is
        /// not started yet (a rerun starts it).
        FIRED_APPENDED = "fired_appended";
    }

    /// A dispatch's launch in a place, a host, a container or a pod (`remote::launch`).
    place_launch {
        /// The place is made (a container, a pod; a host is there already) and the launch
        /// marked under `.vnx-data/remote/launching/`; nothing recorded here.
        PLACE_MADE = "place_made";
        /// The base is in the place and the dispatch's record kept here; the place has not
        /// been asked to start it.
        RECORD_KEPT = "record_kept";
        /// The place's vnx started it; its start has not reached this ledger.
        STARTED_THERE = "started_there";
    }

    /// A `vnx follow-up --rebase`'s launch (`dispatch/start/rebase`).
    rebase {
        /// The follow-up's worktree is open and the base is merged into it, conflicts left
        /// there; the dispatch directory is not written and nothing is on the ledger yet.
        BASE_MERGED = "base_merged";
    }

    /// The supervisor's end of a dispatch (`conclude`).
    conclude {
        /// The worker is stopped; nothing committed or recorded yet.
        WORKER_STOPPED = "worker_stopped";
        /// vnx committed the done worker's changes; the worktree is not released yet.
        WORK_COMMITTED = "work_committed";
        /// The worktree was released (or kept) as its teardown class says.
        TORN_DOWN = "torn_down";
        /// `dispatch_completed` is on the ledger; the supervisor's background work is not done.
        COMPLETED_APPENDED = "completed_appended";
    }

    /// `vnx resume` of an interrupted dispatch (`dispatch/resume`, `cli/resume`).
    resume {
        /// The interrupted dispatch's closing `dispatch_completed` (`closed_for_resume`) is on
        /// the ledger; the follow-up that continues it is not launched yet.
        CLOSED = "closed";
        /// The follow-up's start is on the ledger and its pane started; nothing is left to do.
        CONTINUED = "continued";
    }

    /// `vnx resume ID --to` moving a dispatch that waits out a usage limit to another CLI
    /// (`actions::limit_move`, issue 71).
    limit_move {
        /// `dispatch_failover` naming who moved it is on the ledger; its supervisor still
        /// waits out the limit.
        RECORDED = "recorded";
        /// Its supervisor ended it (`cancelled`, its work kept); the follow-up on the other
        /// CLI is not launched yet.
        ENDED = "ended";
    }

    /// A finished dispatch's worktree given back to its pool at teardown
    /// (`worktree/pool/release`), by its supervisor or by `vnx recover`.
    give_back {
        /// The worktree's HEAD is detached at the dispatch's head (its branch checked out
        /// nowhere); the worktree is still at the dispatch's path.
        HEAD_DETACHED = "head_detached";
        /// The worktree is moved into the pool, unproven; its lease is not removed yet, and the
        /// completion is not on the ledger.
        MOVED = "moved";
    }

    /// `vnx merge` and its queue.
    merge {
        /// The `merge` receipt is on the ledger; no merge commit yet.
        RECEIPT_APPENDED = "receipt_appended";
        /// The merge commit exists as an object; the base has not moved.
        COMMIT_FORMED = "commit_formed";
        /// The base branch points at the merge commit; no `merge_completed` yet.
        BASE_MOVED = "base_moved";
        /// `merge_completed` is on the ledger; no checkpoint after it yet.
        COMPLETED_APPENDED = "completed_appended";
    }

    /// `vnx approve`/`vnx deny` of a plan that waits (ADR 0092).
    plan {
        /// `plan_approved` (or `plan_denied`) is on the ledger; its follow-up has not started:
        /// the plan still waits, and deciding it again starts the follow-up.
        DECIDED_APPENDED = "decided_appended";
    }

    /// `vnx accept`.
    accept {
        /// vnx committed the kept worktree's uncommitted work; no `dispatch_accepted` yet.
        WORK_COMMITTED = "work_committed";
        /// `dispatch_accepted` is on the ledger; the worktree is not released yet.
        ACCEPTED_APPENDED = "accepted_appended";
    }

    /// `vnx review --send`.
    review {
        /// The `review_sent` naming the follow-up is on the ledger; the follow-up has not
        /// started.
        SENT_APPENDED = "sent_appended";
    }

    /// `vnx gate-check`.
    gate {
        /// The `gate_request` is on the ledger; the gate has not run.
        REQUEST_APPENDED = "request_appended";
        /// The `gate_result` is on the ledger; no `gate_report` yet.
        RESULT_APPENDED = "result_appended";
        /// The `gate_report` is on the ledger; no checkpoint after it yet.
        REPORT_APPENDED = "report_appended";
    }

    /// `vnx worktree-release`.
    release {
        /// A dispatch's worktree or branch was removed; no `worktree_released` receipt yet.
        RELEASED = "released";
    }

    /// A read writing the read index again (`.vnx-data/index/`).
    index {
        /// The new index is written to its temporary file; not yet renamed over the old one.
        TEMPORARY_WRITTEN = "temporary_written";
    }

    /// `vnx pr open`.
    pr_open {
        /// The recorded head is pushed to the forge's branch; no pull request made or updated yet.
        PUSHED = "pushed";
        /// The pull request is opened or updated on the forge; no `pr_opened` yet.
        PR_MADE = "pr_made";
    }

    /// `vnx pr merge`.
    pr_merge {
        /// vnx's intent to merge (the pull request, its head and the method) is written under
        /// `.vnx-data/`; `gh pr merge` has not run.
        INTENT_NOTED = "intent_noted";
        /// The forge merged the pull request; no `pr_merged` yet.
        MERGED = "merged";
    }

    /// One reaction of `vnx pr watch` (ADR 0093).
    pr_react {
        /// The signed `pr_reaction` is on the ledger; its fix follow-up is not started, or
        /// its merge not asked for, yet.
        REACTION_WRITTEN = "reaction_written";
    }
}

/// The step named `op:name`, if there is one.
pub fn named(text: &str) -> Option<Step> {
    STEPS.iter().copied().find(|s| {
        text.split_once(':')
            .is_some_and(|(op, name)| s.op == op && s.name == name)
    })
}

/// Marks that the operation has just made `step`'s change durable. In a `crash-points` build
/// armed for this step, the process writes the step to the arming's log and kills itself with
/// SIGKILL (or, armed to stop, stops itself with SIGSTOP until a test sends SIGCONT: how a
/// test looks at the world between two steps of a live operation); otherwise nothing
/// happens.
#[inline]
pub fn reached(step: Step) {
    #[cfg(feature = "crash-points")]
    armed::reached(step);
    #[cfg(not(feature = "crash-points"))]
    let _ = step;
}

#[cfg(feature = "crash-points")]
pub use armed::arm;

#[cfg(feature = "crash-points")]
mod armed {
    use super::Step;
    use std::io::Write;
    use std::path::PathBuf;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// What this process is armed for: the step, the time it reaches it, the log, and
    /// whether it stops there rather than dies.
    static ARMED: OnceLock<(Step, u32, Option<PathBuf>, bool)> = OnceLock::new();
    static TIMES: AtomicU32 = AtomicU32::new(0);

    /// Arms this process to die the `nth` time (from 1) it reaches `step` (an operation that
    /// works through several ids, like a merge queue, reaches each step once per id), first
    /// appending `op:name pid` to `log` (how a test knows the step was reached, also by a
    /// process it did not start itself); with `stop`, to stop there instead (SIGSTOP), and go
    /// on when continued.
    pub fn arm(step: Step, nth: u32, log: Option<PathBuf>, stop: bool) {
        let _ = ARMED.set((step, nth.max(1), log, stop));
    }

    pub(super) fn reached(step: Step) {
        let Some((target, nth, log, stop)) = ARMED.get() else {
            return;
        };
        if *target != step || TIMES.fetch_add(1, Ordering::SeqCst) + 1 < *nth {
            return;
        }
        if let Some(log) = log
            && let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
        {
            let _ = writeln!(f, "{step} {}", std::process::id());
            let _ = f.sync_all();
        }
        if *stop {
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::STOP,
            );
            return;
        }
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        // SIGKILL cannot be caught; this is never reached.
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_named_once_and_found_by_its_name() {
        let mut seen = std::collections::BTreeSet::new();
        for s in STEPS {
            assert!(seen.insert((s.op, s.name)), "{s} is listed twice");
            assert_eq!(named(&s.to_string()), Some(*s));
        }
        assert_eq!(named("merge:nowhere"), None);
        assert_eq!(named("merge"), None);
    }
}
