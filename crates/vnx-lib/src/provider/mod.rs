//! Worker CLIs as data: the built-in providers, which one a model name implies, and the
//! demo's scripted behaviours. How each is started lives in `invocation`, its completion hooks
//! in `hooks`, the parsing of its output events in `events`, their rendering as a transcript a
//! person reads in `transcript`, and the flags vnx passes it (for checking against its
//! `--help`) in `flags`. The built-in `demo` provider is vnx's own binary acting out scripted
//! behaviours, offline.

pub mod cache;
pub mod declared;
pub mod events;
pub mod flags;
pub mod help;
pub mod hooks;
pub mod invocation;
pub mod lines;
pub mod session;
pub mod template;
pub mod transcript;
pub mod version;

pub use crate::receipts::kinds;
pub use declared::{DeclaredLane, DeclaredPermissions, DeclaredProvider};
pub use invocation::{Invocation, MAX_PROMPT_ARG, PROMPT, PROMPT_FILE, Wanted};
pub use kinds::{Lane, OutputFormat, Permission, PromptTransport, ProviderCompletion};

/// A built-in provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Anthropic's Claude Code (`claude`).
    Claude,
    /// OpenAI's Codex CLI (`codex`).
    Codex,
    /// Google's Gemini CLI (`gemini`).
    Gemini,
    /// Ollama (`ollama run`), local models.
    Ollama,
    /// vnx's own offline stand-in (`vnx __demo-worker`).
    Demo,
}

/// What the demo provider acts out; the model name selects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DemoBehaviour {
    /// Writes a file and commits it.
    Commit,
    /// Writes a file, leaves it uncommitted and reports done (vnx then commits it).
    Dirty,
    /// Changes nothing.
    Noop,
    /// Writes a file, leaves it uncommitted, reports `failed` and exits with status 3.
    Fail,
    /// Ends with a question and no report (needs input).
    Ask,
    /// Writes a file and commits it, then ends without a report (needs input): work a person
    /// accepts with `vnx accept`.
    Forget,
    /// Sleeps for an hour (past any deadline).
    Slow,
    /// Sleeps for an hour ignoring SIGTERM (only SIGKILL stops it).
    Stubborn,
}

impl DemoBehaviour {
    /// Every behaviour, in the order `--model` lists them.
    pub const ALL: [DemoBehaviour; 8] = [
        DemoBehaviour::Commit,
        DemoBehaviour::Dirty,
        DemoBehaviour::Noop,
        DemoBehaviour::Fail,
        DemoBehaviour::Ask,
        DemoBehaviour::Forget,
        DemoBehaviour::Slow,
        DemoBehaviour::Stubborn,
    ];

    /// The behaviour as `--model` names it.
    pub fn name(self) -> &'static str {
        match self {
            DemoBehaviour::Commit => "commit",
            DemoBehaviour::Dirty => "dirty",
            DemoBehaviour::Noop => "noop",
            DemoBehaviour::Fail => "fail",
            DemoBehaviour::Ask => "ask",
            DemoBehaviour::Forget => "forget",
            DemoBehaviour::Slow => "slow",
            DemoBehaviour::Stubborn => "stubborn",
        }
    }

    /// The behaviour a `--model` names, if any.
    pub fn parse(name: &str) -> Option<DemoBehaviour> {
        DemoBehaviour::ALL.into_iter().find(|b| b.name() == name)
    }
}

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
    /// The provider has no default model (ollama, the demo).
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
    #[error("model {model:?} is not one claude knows{}", suggestion.as_ref().map(|s| format!("; did you mean {s:?}?")).unwrap_or_default())]
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
                "built-in providers: claude, codex, gemini, ollama, demo".into()
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
            ProviderError::UnknownModel { .. } => format!(
                "claude's aliases: {}; or a full model name (claude-…); or drop --model for \
                 claude's own default",
                CLAUDE_ALIASES.join(", ")
            ),
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

/// Checks a model for a declared provider: any name vnx would pass to a CLI.
pub fn check_declared_model(provider: &str, model: Option<&str>) -> Result<(), ProviderError> {
    match model {
        Some(m) if !valid_model(m) => Err(ProviderError::BadModel {
            provider: "declared",
            model: format!("{m} (provider {provider})"),
        }),
        _ => Ok(()),
    }
}

/// A model name vnx will pass to a CLI: no spaces, quotes or control characters.
fn valid_model(model: &str) -> bool {
    !model.is_empty()
        && model.len() <= 128
        && !model.starts_with('-')
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/[]".contains(&b))
}

/// The model aliases Claude Code 2.1.197 resolves itself (its `--model` list), and
/// `default`, its own choice.
pub const CLAUDE_ALIASES: [&str; 10] = [
    "default",
    "sonnet",
    "opus",
    "haiku",
    "fable",
    "best",
    "sonnet[1m]",
    "opus[1m]",
    "fable[1m]",
    "opusplan",
];

/// Whether claude takes `model`: one of its aliases, or a full model name (which names
/// claude: `claude-sonnet-4-5`, a cloud provider's `us.anthropic.claude-…`).
fn claude_knows(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    CLAUDE_ALIASES.contains(&m.as_str()) || m.contains("claude")
}

/// The edit distance between two short names (insertions, deletions, substitutions).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The alias closest to `model`, if it is a likely typo of it (at most two edits).
fn closest_alias(model: &str) -> Option<String> {
    let m = model.to_ascii_lowercase();
    CLAUDE_ALIASES
        .iter()
        .map(|a| (distance(&m, a), *a))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, a)| a.to_owned())
}

impl Provider {
    /// Every built-in provider.
    pub const ALL: [Provider; 5] = [
        Provider::Claude,
        Provider::Codex,
        Provider::Gemini,
        Provider::Ollama,
        Provider::Demo,
    ];

    /// The provider as `--provider` and receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Claude => "claude",
            Provider::Codex => "codex",
            Provider::Gemini => "gemini",
            Provider::Ollama => "ollama",
            Provider::Demo => "demo",
        }
    }

    /// Where the CLI keeps its own state (login, settings, sessions), relative to the home
    /// directory: what a sandboxed worker of this provider may write besides its worktree.
    pub fn state_paths(self) -> &'static [crate::sandbox::StatePath] {
        use crate::sandbox::StatePath;
        const CLAUDE: &[StatePath] = &[
            StatePath::dir(".claude", Some("CLAUDE_CONFIG_DIR")),
            StatePath::file(".claude.json"),
        ];
        const CODEX: &[StatePath] = &[StatePath::dir(".codex", Some("CODEX_HOME"))];
        const GEMINI: &[StatePath] = &[StatePath::dir(".gemini", None)];
        const OLLAMA: &[StatePath] = &[StatePath::dir(".ollama", None)];
        match self {
            Provider::Claude => CLAUDE,
            Provider::Codex => CODEX,
            Provider::Gemini => GEMINI,
            Provider::Ollama => OLLAMA,
            Provider::Demo => &[],
        }
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

    /// The provider a model name implies (as VNX): sonnet/opus/haiku/claude-* → claude,
    /// `gpt*`/`codex*`/`o<digit>*` → codex, gemini* → gemini, `name:tag` → ollama. A name that
    /// fits two rules is an error, not a guess.
    pub fn infer(model: &str) -> Result<Provider, ProviderError> {
        let m = model.to_ascii_lowercase();
        let mut found: Vec<Provider> = Vec::new();
        if ["sonnet", "opus", "haiku"].contains(&m.as_str()) || m.starts_with("claude") {
            found.push(Provider::Claude);
        }
        if m.starts_with("gpt") || m.starts_with("codex") {
            found.push(Provider::Codex);
        }
        if m.starts_with("gemini") {
            found.push(Provider::Gemini);
        }
        if m.contains(':') {
            found.push(Provider::Ollama);
        }
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

    /// Checks a model for this provider (the demo's model names its behaviour).
    pub fn check_model(self, model: Option<&str>) -> Result<(), ProviderError> {
        match (self, model) {
            (Provider::Demo, None) | (Provider::Ollama, None) => Err(ProviderError::NeedsModel {
                provider: self.name(),
            }),
            (Provider::Demo, Some(m)) if DemoBehaviour::parse(m).is_none() => {
                Err(ProviderError::BadModel {
                    provider: "demo",
                    model: m.to_owned(),
                })
            }
            (_, Some(m)) if !valid_model(m) => Err(ProviderError::BadModel {
                provider: self.name(),
                model: m.to_owned(),
            }),
            (Provider::Claude, Some(m)) if !claude_knows(m) => Err(ProviderError::UnknownModel {
                provider: "claude",
                model: m.to_owned(),
                suggestion: closest_alias(m),
            }),
            _ => Ok(()),
        }
    }
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
    }

    #[test]
    fn a_claude_model_typo_is_caught_with_a_suggestion() {
        for known in ["sonnet", "Opus", "sonnet[1m]", "claude-opus-4-1", "default"] {
            assert_eq!(Provider::Claude.check_model(Some(known)), Ok(()), "{known}");
        }
        let typo = Provider::Claude.check_model(Some("sonet")).unwrap_err();
        assert_eq!(
            typo.to_string(),
            "model \"sonet\" is not one claude knows; did you mean \"sonnet\"?"
        );
        assert!(matches!(
            Provider::Claude.check_model(Some("gpt-5.5")),
            Err(ProviderError::UnknownModel {
                suggestion: None,
                ..
            })
        ));
        // Other CLIs' names are theirs to judge.
        assert_eq!(Provider::Gemini.check_model(Some("sonet")), Ok(()));
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
