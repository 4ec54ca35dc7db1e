//! Why a provider, model or lane cannot be used, and what to do about it.

use super::demo::DemoBehaviour;
use super::{Lane, Permission, Provider};

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

impl ProviderError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ProviderError::Unknown { .. } => {
                format!(
                    "built-in providers: {}",
                    Provider::ALL.map(Provider::name).join(", ")
                )
            }
            ProviderError::CannotInfer { .. } | ProviderError::Ambiguous { .. } => {
                "pass --provider explicitly".into()
            }
            ProviderError::BadModel {
                provider: "demo", ..
            }
            | ProviderError::NeedsModel { provider: "demo" } => format!(
                "demo models: {}",
                DemoBehaviour::ALL.map(DemoBehaviour::name).join(", ")
            ),
            ProviderError::BadModel { .. } => {
                "model names are letters, digits, `.`, `_`, `-`, `:` and `/`".into()
            }
            ProviderError::NeedsModel { .. } => "pass --model".into(),
            ProviderError::UnknownModel { provider, .. } => {
                let aliases = super::named(provider).map_or(&[][..], |c| c.model_aliases());
                format!(
                    "{provider}'s aliases: {}; or a full model name ({provider}-…); or drop \
                     --model for {provider}'s own default",
                    aliases.join(", ")
                )
            }
            ProviderError::LaneUnsupported { .. } => {
                "pass --lane with a lane the provider has".into()
            }
            ProviderError::PromptTooLarge { .. } => {
                "declare `prompt: file` or `prompt: stdin` for that lane in .vnx/config.yaml".into()
            }
            ProviderError::PostureUndeclared { .. } => {
                "declare the posture's flags under `permissions:` in .vnx/config.yaml, or \
                 pass another --permission"
                    .into()
            }
            ProviderError::NoModelArgs { .. } => {
                "declare `model_args: [\"--model\", \"{model}\"]` for it, or drop --model".into()
            }
        })
    }
}
