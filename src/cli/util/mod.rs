//! What the commands share (as jj's `cli_util`): settings, output, errors and exit codes, the
//! queue's start, the remote host's hand-off, the foreground wait, the forge's rows; a command
//! names these and never another command.

#[cfg(any(feature = "dashboard", feature = "serve"))]
pub(crate) mod acts;
pub(crate) mod answer;
pub(crate) mod command_groups;
pub(crate) mod context;
pub(crate) mod drain;
pub(crate) mod error;
pub(crate) mod escape;
pub(crate) mod exits;
pub(crate) mod follow;
pub(crate) mod foreground;
pub(crate) mod forge;
pub(crate) mod from_lib;
pub(crate) mod groups;
pub(crate) mod hosts;
pub(crate) mod ids;
pub(crate) mod launch;
pub(crate) mod lines;
pub(crate) mod open_pr;
pub(crate) mod output;
pub(crate) mod pending;
pub(crate) mod pr_watch;
pub(crate) mod remote;
pub(crate) mod remote_log;
pub(crate) mod schedules;
pub(crate) mod settings;
pub(crate) mod states;
pub(crate) mod waiting;
