//! vnx's integration tests: one binary, one module per capability.

// The dispatch tests drive `vnx-fake-cli`, which is built only with the `fake-clis` feature.
// Refuse to build rather than silently skip them.
#[cfg(not(feature = "fake-clis"))]
compile_error!("the integration tests need the stand-in CLIs: run `cargo test --all-features`");

mod common;

mod canonical;
mod checkpoint;
mod cli;
mod concurrency;
mod constraints;
mod crash;
mod declared;
mod defaults;
mod dispatch;
mod doctor;
mod events_fixtures;
mod fake;
mod gates;
mod golden;
mod governed;
mod hooks;
mod init;
mod lanes;
mod launch;
mod merge;
mod real_clis;
mod receipt_types;
mod release;
mod skills;
mod tamper;
mod tmux;
mod worktree;

// Hardening against hostile workers and unlucky users.
mod anchoring;
mod forgery;
mod supervisor_faults;
mod untrusted_input;
mod worktree_safety;
