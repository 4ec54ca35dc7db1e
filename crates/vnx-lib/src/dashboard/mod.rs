//! What the live dashboard (`vnx dashboard`) shows, read from the ledger and tmux: every
//! dispatch in the order a person acts on them, its proof, the ledger's health, a pane's
//! preview and a dispatch's detail. The terminal, the keys and the drawing belong to the CLI.

pub mod model;

pub use model::{Health, Reloader, Row, Snapshot, Sources};
