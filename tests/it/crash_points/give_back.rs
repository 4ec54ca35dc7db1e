//! A pooled dispatch's end killed at each step of giving its worktree back to the pool — HEAD
//! detached at the dispatch's head, the worktree moved into the pool — by its supervisor or by
//! the `vnx recover` doctor names: the done, committed work stays on its branch, and what
//! doctor names records it done (never failed), so it merges.

use super::conclude::{POOL, recovery_killed_at, supervisor_killed_at};
use super::merge::GATES;
use super::steps_of;

#[test]
fn a_supervisor_killed_while_giving_back_its_worktree_is_recovered_as_done() {
    supervisor_killed_at(&steps_of("give_back"), &format!("{GATES}{POOL}"));
}

#[test]
fn a_recovery_killed_while_giving_back_the_worktree_is_finished_as_done() {
    recovery_killed_at(&steps_of("give_back"), &format!("{GATES}{POOL}"));
}
