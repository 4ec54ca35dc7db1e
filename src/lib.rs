//! The `vnx` command line: parsing, settings from flags and the environment, one module per
//! subcommand, and rendering of results and errors (`error:`, causes, `hint:`, exit code).
//! The work is done by the dispatcher library (`vnx`, `crates/vnx-lib`) below it.

#[cfg(any(feature = "dashboard", feature = "serve"))]
mod action;
mod cli;
#[cfg(feature = "mcp")]
mod mcp_act;
#[cfg(feature = "mcp")]
pub mod mcp_server;
#[cfg(feature = "mcp")]
mod mcp_watch;
mod shown;
#[cfg(feature = "dashboard")]
pub mod tui;
#[cfg(feature = "serve")]
pub mod web;

pub use cli::run;
