//! vnx-core: the lowest layer of vnx, which every other crate of the workspace may use and
//! which uses none of them: the one place processes are started, how vnx's files are written
//! and untrusted files read, the ids it makes, where a repository's main checkout is, and the
//! named steps of its durable operations.

#![warn(missing_docs, unreachable_pub)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod env_file;
pub mod files;
pub mod ids;
pub mod main_checkout;
pub mod process;
pub mod steps;
