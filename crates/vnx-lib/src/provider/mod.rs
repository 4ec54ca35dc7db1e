//! Worker CLIs as data: the built-in providers (each one module under `cli`, behind one trait,
//! listed by its registry; ADR 0054) and those a project declares. How each is started lives
//! in `invocation`, its completion hooks in `hooks`, the parsing of its output events in
//! `events`, their rendering as a transcript a person reads in `transcript`, and the flags vnx
//! passes it (for checking against its `--help`) in `flags`.

pub mod cache;
pub mod cli;
pub mod declared;
pub mod dialog;
pub mod events;
pub mod flags;
pub mod help;
pub mod hooks;
pub mod invocation;
pub mod lines;
pub mod name;
pub mod openai_chat;
pub mod relay;
pub mod session;
pub mod template;
pub mod transcript;
pub mod version;

pub use crate::receipts::kinds;
pub use cli::demo::DemoBehaviour;
pub use cli::{Provider, ProviderError};
pub use declared::{DeclaredLane, DeclaredPermissions, DeclaredProvider, DeclaredTui};
pub use invocation::{Invocation, MAX_PROMPT_ARG, PROMPT, PROMPT_FILE, Wanted};
pub use kinds::{Lane, OutputFormat, Permission, PromptTransport, ProviderCompletion};
pub use name::ProviderName;

/// Checks a model for a declared provider: any name vnx would pass to a CLI.
pub fn check_declared_model(provider: &str, model: Option<&str>) -> Result<(), ProviderError> {
    match model {
        Some(m) if !cli::valid_model(m) => Err(ProviderError::BadModel {
            provider: "declared",
            model: format!("{m} (provider {provider})"),
        }),
        _ => Ok(()),
    }
}
