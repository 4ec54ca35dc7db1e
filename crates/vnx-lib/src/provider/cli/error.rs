//! Why a provider, model or lane cannot be used (its `hint` is the registry's: it names them).

use crate::receipts::kinds::{Lane, Permission};

/// Why a provider, model or lane cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    /// Neither a built-in nor a declared provider.
    #[error("unknown provider {name:?}")]
    Unknown {
        /// The name given.
        name: String,
    },
    /// No provider given, and the model names none.
    #[error("no provider given and none can be inferred from model {model:?}")]
    CannotInfer {
        /// The model given.
        model: String,
    },
    /// The model could belong to two providers.
    #[error("model {model:?} could belong to {first} or {second}; refusing to guess")]
    Ambiguous {
        /// The model given.
        model: String,
        /// One provider it fits.
        first: &'static str,
        /// Another.
        second: &'static str,
    },
    /// The provider does not take the model.
    #[error("model {model:?} is not valid for provider {provider}")]
    BadModel {
        /// The provider.
        provider: &'static str,
        /// The model.
        model: String,
    },
    /// The provider has no default model (a local model server, the demo).
    #[error("provider {provider} needs a model")]
    NeedsModel {
        /// The provider.
        provider: &'static str,
    },
    /// The provider cannot run in the lane asked for.
    #[error("provider {provider} has no {} lane", lane.name())]
    LaneUnsupported {
        /// The provider.
        provider: String,
        /// The lane.
        lane: Lane,
    },
    /// The prompt is too large to pass as an argument.
    #[error("the prompt is {bytes} bytes, too large for provider {provider}'s argument transport")]
    PromptTooLarge {
        /// The provider.
        provider: String,
        /// The prompt's length in bytes.
        bytes: usize,
    },
    /// A built-in CLI does not know the model (a typo vnx catches before launching).
    #[error("model {model:?} is not one {provider} knows{}", suggestion.as_ref().map(|s| format!("; did you mean {s:?}?")).unwrap_or_default())]
    UnknownModel {
        /// The provider.
        provider: &'static str,
        /// The model given.
        model: String,
        /// The closest known alias, if one is close.
        suggestion: Option<String>,
    },
    /// A declared provider has no flags for the posture asked for.
    #[error("provider {provider} declares no flags for --permission {}", permission.name())]
    PostureUndeclared {
        /// The provider.
        provider: String,
        /// The posture.
        permission: Permission,
    },
    /// A declared provider has no `model_args`, so a model cannot be passed.
    #[error("provider {provider} declares no model_args, so model {model:?} cannot be passed")]
    NoModelArgs {
        /// The provider.
        provider: String,
        /// The model given.
        model: String,
    },
}
