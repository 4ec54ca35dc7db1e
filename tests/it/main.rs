//! vnx's integration tests: one binary, one module per capability.

mod common;

mod canonical;
mod checkpoint;
mod cli;
mod concurrency;
mod crash;
mod declared;
mod defaults;
mod dispatch;
mod golden;
mod init;
mod lanes;
mod tamper;
mod tmux;
mod worktree;
