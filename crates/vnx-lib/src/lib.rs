//! vnx: a tmux and git-worktree dispatcher for AI coding CLIs, with a hash-chained receipt
//! ledger that `vnx audit-chain verify` checks before anything is merged.
//!
//! This library does the work and never prints or reads the environment; the `vnx` binary
//! resolves settings, calls into it and renders results and errors.

#![warn(missing_docs, unreachable_pub)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub use vnx_core::{env_file, files, main_checkout, process, steps};
pub use vnx_ledger::{self as ledger, audit, evidence, ids, mirror, receipts};

pub mod access;
pub mod action_table;
pub mod actions;
pub mod admission;
pub mod complete;
pub mod config;
pub mod constraints;
pub mod cost;
pub mod dashboard;
pub mod defaults;
pub mod demo;
pub mod dispatch;
pub mod doctor;
pub mod egress;
pub mod evidence_reach;
pub mod forge;
pub mod gate;
pub mod group;
pub mod init;
pub mod mcp;
pub mod memory;
pub mod merge;
pub mod notice;
pub mod place_name;
pub mod project;
pub mod provider;
pub mod radar;
pub mod release;
pub mod remote;
pub mod review;
pub mod sandbox;
pub mod schedule;
pub mod skills;
pub mod tmux;
pub mod worktree;
pub mod yaml;
