//! Worker CLIs as data: which provider a model name implies, how each CLI is started in the
//! headless lane, and which flags each permission posture maps to. The built-in `demo`
//! provider is vnx's own binary acting out scripted behaviours, offline.

use std::path::Path;

/// A built-in provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Claude,
    Codex,
    Gemini,
    Ollama,
    /// vnx's own offline stand-in (`vnx __demo-worker`).
    Demo,
}

/// How much a worker may do without asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// The CLI's own default: ask (or refuse) before edits and commands.
    Ask,
    /// Edits inside the worktree without asking; commands still bounded.
    Edits,
    /// Everything without asking (skip-permissions / yolo). Never the default.
    Full,
}

/// What the demo provider acts out; the model name selects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DemoBehaviour {
    /// Writes a file and commits it.
    Commit,
    /// Writes a file and leaves it uncommitted.
    Dirty,
    /// Changes nothing.
    Noop,
    /// Exits with status 3.
    Fail,
    /// Sleeps for an hour (past any deadline).
    Slow,
    /// Sleeps for an hour ignoring SIGTERM (only SIGKILL stops it).
    Stubborn,
}

impl DemoBehaviour {
    pub const ALL: [DemoBehaviour; 6] = [
        DemoBehaviour::Commit,
        DemoBehaviour::Dirty,
        DemoBehaviour::Noop,
        DemoBehaviour::Fail,
        DemoBehaviour::Slow,
        DemoBehaviour::Stubborn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DemoBehaviour::Commit => "commit",
            DemoBehaviour::Dirty => "dirty",
            DemoBehaviour::Noop => "noop",
            DemoBehaviour::Fail => "fail",
            DemoBehaviour::Slow => "slow",
            DemoBehaviour::Stubborn => "stubborn",
        }
    }

    pub fn parse(name: &str) -> Option<DemoBehaviour> {
        DemoBehaviour::ALL.into_iter().find(|b| b.name() == name)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderError {
    #[error("unknown provider {name:?}")]
    Unknown { name: String },
    #[error("no provider given and none can be inferred from model {model:?}")]
    CannotInfer { model: String },
    #[error("model {model:?} could belong to {first} or {second}; refusing to guess")]
    Ambiguous {
        model: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("model {model:?} is not valid for provider {provider}")]
    BadModel {
        provider: &'static str,
        model: String,
    },
    #[error("provider {provider} needs a model")]
    NeedsModel { provider: &'static str },
}

impl ProviderError {
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
        })
    }
}

/// A model name vnx will pass to a CLI: no spaces, quotes or control characters.
fn valid_model(model: &str) -> bool {
    !model.is_empty()
        && model.len() <= 128
        && !model.starts_with('-')
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/".contains(&b))
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Claude => "claude",
            Provider::Codex => "codex",
            Provider::Gemini => "gemini",
            Provider::Ollama => "ollama",
            Provider::Demo => "demo",
        }
    }

    pub fn parse(name: &str) -> Result<Provider, ProviderError> {
        [
            Provider::Claude,
            Provider::Codex,
            Provider::Gemini,
            Provider::Ollama,
            Provider::Demo,
        ]
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| ProviderError::Unknown {
            name: name.to_owned(),
        })
    }

    /// The provider a model name implies (as VNX): sonnet/opus/haiku/claude-* → claude,
    /// gpt*/codex*/o<digit>* → codex, gemini* → gemini, `name:tag` → ollama. A name that
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
            _ => Ok(()),
        }
    }

    /// The flags a permission posture maps to for this CLI in the headless lane.
    pub fn permission_flags(self, permission: Permission) -> Vec<String> {
        let flags: &[&str] = match (self, permission) {
            (Provider::Claude, Permission::Ask) => &[],
            (Provider::Claude, Permission::Edits) => &["--permission-mode", "acceptEdits"],
            (Provider::Claude, Permission::Full) => &["--dangerously-skip-permissions"],
            (Provider::Codex, Permission::Ask) => &["--sandbox", "read-only"],
            (Provider::Codex, Permission::Edits) => &["--sandbox", "workspace-write"],
            (Provider::Codex, Permission::Full) => &["--dangerously-bypass-approvals-and-sandbox"],
            (Provider::Gemini, Permission::Ask) => &[],
            (Provider::Gemini, Permission::Edits) => &["--approval-mode", "auto_edit"],
            (Provider::Gemini, Permission::Full) => &["--yolo"],
            (Provider::Ollama | Provider::Demo, _) => &[],
        };
        flags.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The headless argv, with `PROMPT` standing for the prompt argument. `vnx` is vnx's own
    /// binary (the demo provider's worker).
    pub fn headless_argv(
        self,
        model: Option<&str>,
        permission: Permission,
        vnx: &Path,
    ) -> Vec<String> {
        let mut argv: Vec<String> = Vec::new();
        let model_flag = |argv: &mut Vec<String>, flag: &str| {
            if let Some(m) = model {
                argv.push(flag.into());
                argv.push(m.into());
            }
        };
        match self {
            Provider::Claude => {
                argv.extend(
                    [
                        "claude",
                        "-p",
                        PROMPT,
                        "--output-format",
                        "stream-json",
                        "--verbose",
                    ]
                    .map(String::from),
                );
                model_flag(&mut argv, "--model");
            }
            Provider::Codex => {
                argv.extend(["codex", "exec", "--json", "--skip-git-repo-check"].map(String::from));
                model_flag(&mut argv, "--model");
            }
            Provider::Gemini => {
                argv.extend(
                    ["gemini", "-p", PROMPT, "--output-format", "stream-json"].map(String::from),
                );
                model_flag(&mut argv, "--model");
            }
            Provider::Ollama => {
                argv.extend(["ollama", "run"].map(String::from));
                argv.push(model.unwrap_or_default().into());
                argv.push(PROMPT.into());
            }
            Provider::Demo => {
                argv.push(vnx.to_string_lossy().into_owned());
                argv.push("__demo-worker".into());
                argv.push(model.unwrap_or_default().into());
                argv.push(PROMPT.into());
            }
        }
        argv.extend(self.permission_flags(permission));
        if self == Provider::Codex {
            argv.push(PROMPT.into());
        }
        argv
    }
}

/// The placeholder for the prompt in an argv template.
pub const PROMPT: &str = "{prompt}";

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
    fn nothing_defaults_to_skipping_permissions() {
        for p in [Provider::Claude, Provider::Codex, Provider::Gemini] {
            let ask = p.permission_flags(Permission::Ask).join(" ");
            let edits = p.permission_flags(Permission::Edits).join(" ");
            for risky in ["dangerously", "yolo", "bypass"] {
                assert!(!ask.contains(risky) && !edits.contains(risky), "{p:?}");
            }
            assert!(!p.permission_flags(Permission::Full).is_empty());
        }
        let argv =
            Provider::Codex.headless_argv(Some("gpt-5.5"), Permission::Edits, Path::new("vnx"));
        assert_eq!(
            argv,
            [
                "codex",
                "exec",
                "--json",
                "--skip-git-repo-check",
                "--model",
                "gpt-5.5",
                "--sandbox",
                "workspace-write",
                PROMPT
            ]
        );
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
}
