//! One module per coding CLI behind one trait ([`CodingCli`], ADR 0054): everything vnx knows
//! about a built-in CLI lives in its module below (one per entry of [`CLIS`]), and the shared
//! code (the event parser, the transcript, the invocation, the hooks, `vnx approve`/`deny`,
//! doctor, the sandbox's plan, model checks) asks this registry
//! ([`CLIS`], [`of`], [`streaming`], [`transcript_for`]) instead of naming a CLI. What a CLI's
//! module implements and is handed lives beside it, in files that name no CLI (so a CLI's
//! files never import the registry that names them, ADR 0109): `coding_cli` (the trait),
//! `argv` (what an argv is made from), `hook` (what a hook is made of), `stream` (what an
//! event parser is given), `render` (what a transcript renderer writes to); `error` is why a
//! provider cannot be used.
//!
//! What has moved so far: the models a CLI takes and implies, its argv per lane and posture,
//! prompt delivery and resuming (the prompt's transport is decided for all in
//! `provider::invocation`), its headless event stream's parser, its transcripts (of the
//! headless stream and of the session file its TUI writes), the hooks it is given and what
//! their signals say, the keys and line of its permission dialog, whether doctor probes it, where `init --mcp`
//! registers vnx with it, where it keeps its state, the files that log it in (`login`).
//! What has not (ADR 0054 lists it): doctor's folder trust, egress
//! defaults, the session files' places (`provider/session`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::receipts::kinds::OutputFormat;
use demo::DemoBehaviour;
use hook::Hooks;
use render::TranscriptEvents;
use stream::HeadlessStream;

pub mod aider;
pub mod argv;
pub mod claude;
pub mod codex;
mod coding_cli;
pub mod copilot;
pub mod demo;
mod error;
pub mod gemini;
pub mod hook;
pub mod limit;
pub mod login;
pub mod ollama;
pub mod opencode;
pub mod qwen;
pub mod render;
pub mod session;
pub mod stream;
#[cfg(test)]
pub(crate) mod testing;
pub mod trust;
pub mod usage;

pub use coding_cli::{
    BOTH_LANES, CliFacts, CodingCli, KeyVars, McpConfig, OwnHome, TuiLimits, check_valid,
    valid_model,
};
pub use error::ProviderError;
pub use hook::DenialEnd;

/// A built-in provider, in the registry's order ([`Provider::ALL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Anthropic's Claude Code (`claude`).
    Claude,
    /// OpenAI's Codex CLI (`codex`).
    Codex,
    /// Google's Gemini CLI (`gemini`).
    Gemini,
    /// Alibaba's Qwen Code (`qwen`).
    Qwen,
    /// opencode (`opencode`).
    Opencode,
    /// GitHub's Copilot CLI (`copilot`).
    Copilot,
    /// aider (`aider`, PyPI `aider-chat`).
    Aider,
    /// Ollama (`ollama run`), local models.
    Ollama,
    /// vnx's own offline stand-in (`vnx __demo-worker`).
    Demo,
}

impl Provider {
    /// Every built-in provider, in the registry's order.
    pub const ALL: [Provider; 9] = [
        Provider::Claude,
        Provider::Codex,
        Provider::Gemini,
        Provider::Qwen,
        Provider::Opencode,
        Provider::Copilot,
        Provider::Aider,
        Provider::Ollama,
        Provider::Demo,
    ];

    /// The provider of a dispatch that names neither a provider nor a model.
    pub const DEFAULT: Provider = Provider::Claude;

    /// Every built-in provider's name, in [`Provider::ALL`]'s order (what the config refuses
    /// to declare again).
    pub const NAMES: [&'static str; 9] = [
        "claude", "codex", "gemini", "qwen", "opencode", "copilot", "aider", "ollama", "demo",
    ];

    /// The provider as `--provider` and receipts spell it.
    pub fn name(self) -> &'static str {
        Provider::NAMES[self as usize]
    }

    /// The built-in provider `name` names.
    pub fn parse(name: &str) -> Result<Provider, ProviderError> {
        Provider::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| ProviderError::Unknown {
                name: name.to_owned(),
            })
    }

    /// The provider a model name implies (as VNX; each CLI's
    /// [`CodingCli::implied_by`]). A name that fits two CLIs is an error, not a guess.
    pub fn infer(model: &str) -> Result<Provider, ProviderError> {
        let m = model.to_ascii_lowercase();
        let found: Vec<Provider> = CLIS
            .iter()
            .filter(|cli| cli.implied_by(&m))
            .map(|cli| cli.provider())
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(ProviderError::CannotInfer {
                model: model.to_owned(),
            }),
            [first, second, ..] => Err(ProviderError::Ambiguous {
                model: model.to_owned(),
                first: first.name(),
                second: second.name(),
            }),
        }
    }

    /// Its CLI's module ([`of`]).
    pub fn cli(self) -> &'static dyn CodingCli {
        of(self)
    }

    /// Checks a model for this provider (its module's [`CodingCli::check_model`]).
    pub fn check_model(self, model: Option<&str>) -> Result<(), ProviderError> {
        of(self).check_model(model)
    }
}

impl dyn CodingCli {
    /// The built-in provider this CLI is (the one [`CodingCli::name`] names).
    pub fn provider(&self) -> Provider {
        Provider::parse(self.name()).expect("every CLI in CLIS is a provider")
    }
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
                let aliases = named(provider).map_or(&[][..], |c| c.model_aliases());
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

/// Every built-in CLI, in the order [`Provider::ALL`] lists them; inference reports them in
/// it.
pub static CLIS: [&dyn CodingCli; 9] = [
    &claude::Claude,
    &codex::Codex,
    &gemini::Gemini,
    &qwen::Qwen,
    &opencode::Opencode,
    &copilot::Copilot,
    &aider::Aider,
    &ollama::Ollama,
    &demo::Demo,
];

/// Every built-in CLI's own program, once each, in [`CLIS`]'s order: what a machine installs
/// (and the tests stand in for, or run for real). The demo is vnx itself; a provider run
/// through another's program (ollama, through opencode) adds none.
pub fn programs() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for cli in CLIS.iter().filter(|c| c.separate_binary()) {
        if !out.contains(&cli.program()) {
            out.push(cli.program());
        }
    }
    out
}

/// The CLI of a built-in provider.
pub fn of(provider: Provider) -> &'static dyn CodingCli {
    CLIS.iter()
        .copied()
        .find(|cli| cli.provider() == provider)
        .expect("every provider has a module in CLIS")
}

/// The CLI of the built-in provider `name` (as a dispatch's spec and receipts record it);
/// `None` for a declared provider's name.
pub fn named(name: &str) -> Option<&'static dyn CodingCli> {
    Provider::parse(name).ok().map(of)
}

/// The memory folder of a dispatch of CLI `provider` ([`CodingCli::memory_folder`]; the
/// dispatch's own folder for a CLI vnx does not know).
pub fn memory_folder(provider: &str, dispatch_dir: &Path, main_checkout: &Path) -> PathBuf {
    named(provider).map_or_else(
        || crate::memory::dir(dispatch_dir),
        |cli| cli.memory_folder(dispatch_dir, main_checkout),
    )
}

/// The CLI whose hooks send `event` (as `vnx __hook` names it).
pub fn of_hook_event(event: &str) -> Option<&'static dyn CodingCli> {
    CLIS.iter()
        .copied()
        .find(|cli| cli.hooks().is_some_and(|h| h.events().contains(&event)))
}

/// Every built-in CLI's hooks, for the CLIs that have them, in [`CLIS`]'s order.
pub fn all_hooks() -> impl Iterator<Item = &'static dyn Hooks> {
    CLIS.iter().filter_map(|cli| cli.hooks())
}

/// The hooks that send `event` (as `vnx __hook` names it).
pub fn hooks_of_event(event: &str) -> Option<&'static dyn Hooks> {
    of_hook_event(event)?.hooks()
}

/// Every built-in CLI's headless stream, for the CLIs that write one, in [`CLIS`]'s order.
pub fn all_streams() -> impl Iterator<Item = &'static HeadlessStream> {
    CLIS.iter().filter_map(|cli| cli.stream())
}

/// The headless stream in `format`, if it is one vnx parses.
pub fn streaming(format: &OutputFormat) -> Option<&'static HeadlessStream> {
    all_streams().find(|s| s.format == *format)
}

/// A renderer of the log whose first recognised event is `event` (of type `kind`).
/// The streams that claim narrowly ([`HeadlessStream::claims_narrowly`]) are asked first.
pub fn transcript_for(kind: &str, event: &Value) -> Option<Box<dyn TranscriptEvents>> {
    let narrow = all_streams().filter(|s| s.claims_narrowly);
    let broad = all_streams().filter(|s| !s.claims_narrowly);
    narrow
        .chain(broad)
        .find(|s| (s.claims)(kind, event))
        .and_then(|s| s.transcript)
        .map(|transcript| transcript())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_imply_providers_and_ambiguity_is_an_error() {
        assert_eq!(Provider::infer("sonnet"), Ok(Provider::Claude));
        assert_eq!(Provider::infer("claude-opus-4-1"), Ok(Provider::Claude));
        assert_eq!(Provider::infer("gpt-5.5"), Ok(Provider::Codex));
        assert_eq!(Provider::infer("gemini-2.5-pro"), Ok(Provider::Gemini));
        assert_eq!(Provider::infer("gemma3:4b"), Ok(Provider::Ollama));
        assert!(matches!(
            Provider::infer("gpt-oss:20b"),
            Err(ProviderError::Ambiguous { .. })
        ));
        assert!(matches!(
            Provider::infer("mystery"),
            Err(ProviderError::CannotInfer { .. })
        ));
    }

    #[test]
    fn models_are_checked() {
        assert!(Provider::Demo.check_model(Some("commit")).is_ok());
        assert!(Provider::Demo.check_model(Some("sonnet")).is_err());
        assert!(Provider::Claude.check_model(Some("--evil")).is_err());
        assert!(Provider::Claude.check_model(Some("a b")).is_err());
        assert!(Provider::Claude.check_model(None).is_ok());
        assert!(Provider::Ollama.check_model(None).is_err());
        // A claude alias's typo is claude's to judge, not other CLIs'.
        assert_eq!(Provider::Gemini.check_model(Some("sonet")), Ok(()));
    }

    #[test]
    fn each_program_is_installed_once() {
        assert_eq!(
            super::programs(),
            [
                "claude", "codex", "gemini", "qwen", "opencode", "copilot", "aider"
            ]
        );
    }

    #[test]
    fn the_names_are_the_providers() {
        assert_eq!(Provider::ALL.map(Provider::name), Provider::NAMES);
        for p in Provider::ALL {
            assert_eq!(serde_json::to_value(p).unwrap(), p.name());
        }
    }

    #[test]
    fn every_provider_has_one_module_in_its_order() {
        for (provider, cli) in Provider::ALL.iter().zip(CLIS) {
            assert_eq!(cli.provider(), *provider);
        }
        assert_eq!(CLIS.len(), Provider::ALL.len());
    }

    #[test]
    fn each_streamed_format_has_one_parser() {
        for stream in all_streams() {
            let found = streaming(&stream.format).unwrap();
            assert!(std::ptr::eq(found, stream), "{:?}", stream.format);
        }
        assert!(streaming(&OutputFormat::TEXT).is_none());
    }

    #[test]
    fn each_sample_is_drawn_by_its_own_transcript() {
        // The first event of a log that a CLI's transcript claims picks the renderer
        // (`transcript_for`: the narrow claims first, then the rest in CLIS' order).
        let asked: Vec<&HeadlessStream> = all_streams()
            .filter(|s| s.claims_narrowly)
            .chain(all_streams().filter(|s| !s.claims_narrowly))
            .collect();
        let drawing = |event: &Value| {
            let kind = event["type"].as_str().unwrap_or("");
            asked
                .iter()
                .copied()
                .find(|s| (s.claims)(kind, event))
                .filter(|s| s.transcript.is_some())
        };
        let mut checked = 0;
        for stream in all_streams().filter(|s| {
            s.transcript.is_some() && !s.sample.is_empty() && !(s.parser)().reads_text()
        }) {
            let first = stream
                .sample
                .iter()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter(Value::is_object)
                .find_map(|event| drawing(&event))
                .unwrap_or_else(|| {
                    panic!("{:?}: no event of its sample is claimed", stream.format)
                });
            assert!(
                std::ptr::eq(first, stream),
                "{:?}'s sample is drawn as {:?}'s",
                stream.format,
                first.format
            );
            checked += 1;
        }
        assert!(checked >= 3, "{checked}");
    }
}
