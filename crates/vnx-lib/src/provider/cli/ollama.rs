//! Ollama (`ollama run MODEL PROMPT`), local models: what vnx knows about it. Headless only;
//! it answers in text and has no tools, so it cannot run `vnx report` (its exit ends the
//! dispatch); where it keeps its state.

use super::argv::{Argv, Start, literal};
use super::{CodingCli, Provider, ProviderError, check_valid};
use crate::receipts::kinds::{HookKind, Lane, OutputFormat, ProviderCompletion};
use crate::sandbox::StatePath;

/// Ollama.
#[derive(Debug)]
pub struct Ollama;

impl CodingCli for Ollama {
    /// A local model: exempt from the egress policy by default.
    fn egress_exempt(&self) -> bool {
        true
    }

    fn provider(&self) -> Provider {
        Provider::Ollama
    }

    /// A `name:tag`.
    fn implied_by(&self, model: &str) -> bool {
        model.contains(':')
    }

    /// It has no default model.
    fn check_model(&self, model: Option<&str>) -> Result<(), ProviderError> {
        match model {
            None => Err(ProviderError::NeedsModel { provider: "ollama" }),
            Some(_) => check_valid(Provider::Ollama, model),
        }
    }

    fn argv(&self, s: &Start<'_>) -> Result<Argv, ProviderError> {
        if s.w.lane == Lane::Interactive {
            return Err(ProviderError::LaneUnsupported {
                provider: "ollama".into(),
                lane: Lane::Interactive,
            });
        }
        let mut argv = vec!["ollama".into(), "run".into()];
        argv.push(literal(s.w.model.unwrap_or_default()));
        if !s.large {
            argv.push(s.prompt_arg.clone());
        }
        Ok(Argv {
            argv,
            output: OutputFormat::Text,
            completion: ProviderCompletion::Exit,
            hooks: HookKind::None,
            env: Vec::new(),
        })
    }

    fn state_paths(&self) -> &'static [StatePath] {
        const PATHS: &[StatePath] = &[StatePath::dir(".ollama", None)];
        PATHS
    }
}
