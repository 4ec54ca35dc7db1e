//! Planning and launching a dispatch: everything validated before disk is touched (`plan`;
//! where it works, `base`),
//! the constraint decisions recorded (`govern`), the prompt composed (`compose`) and held to
//! the egress policy (`egress`), the files placed in the worktree (`workspace`, `include`:
//! `.worktreeinclude`), a port per dispatch (`ports`), and the launch itself: worktree,
//! dispatch directory, `dispatch_started`, tmux pane (`launch`); a follow-up continuing a
//! dispatch (`follow_up`) and a recorded dispatch run again (`replay`) are launches too.

mod base;
pub(crate) mod carried;
mod checks;
pub mod compose;
pub mod egress;
pub mod follow_up;
pub(crate) mod govern;
pub mod include;
pub(crate) mod launch;
mod limits;
pub(crate) mod plan;
pub mod ports;
pub mod rebase;
pub mod replay;
pub mod workspace;
