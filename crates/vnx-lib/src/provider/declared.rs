//! Worker CLIs a project declares under `providers:` in `.vnx/config.yaml`, as validated
//! data: each lane's argv templates, how the prompt reaches it, what ends it, and its flags
//! per permission posture.

use super::kinds::{Lane, OutputFormat, PromptTransport, ProviderCompletion};
use super::template::expand;

/// A worker CLI declared under `providers:`.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclaredProvider {
    /// A program name looked up on PATH, or an absolute path.
    pub binary: String,
    /// How it runs headless, if it can.
    pub headless: Option<DeclaredLane>,
    /// How it runs as a TUI in the pane, if it can.
    pub interactive: Option<DeclaredLane>,
    /// Templates appended when a model is given (see [`DeclaredProvider::model_argv`]);
    /// together they use `{model}` at least once and no other placeholder. Empty: the
    /// provider takes no model.
    pub model_args: Vec<String>,
    /// Templates appended when a follow-up resumes a recorded session (see
    /// [`DeclaredProvider::resume_argv`]); together they use `{session}` at least once and no
    /// other placeholder. Empty: the provider cannot resume a session.
    pub resume_args: Vec<String>,
    /// Its flags per permission posture.
    pub permissions: DeclaredPermissions,
    /// Always names a declared lane.
    pub default_lane: Lane,
}

impl DeclaredProvider {
    /// The declared lane of that kind, if any.
    pub fn lane(&self, lane: Lane) -> Option<&DeclaredLane> {
        match lane {
            Lane::Headless => self.headless.as_ref(),
            Lane::Interactive => self.interactive.as_ref(),
        }
    }

    /// `model_args` for `model`: placeholders substituted, braces unescaped.
    pub fn model_argv(&self, model: &str) -> Vec<String> {
        let values = [("model", model)];
        self.model_args.iter().map(|a| expand(a, &values)).collect()
    }

    /// `resume_args` for `session`: placeholders substituted, braces unescaped.
    pub fn resume_argv(&self, session: &str) -> Vec<String> {
        let values = [("session", session)];
        self.resume_args
            .iter()
            .map(|a| expand(a, &values))
            .collect()
    }
}

/// One lane of a declared provider. `argv` holds templates that use `{prompt}` or
/// `{prompt_file}` exactly as `prompt` requires.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclaredLane {
    /// The command line, as templates.
    pub argv: Vec<String>,
    /// How the prompt reaches it.
    pub prompt: PromptTransport,
    /// What its stdout is (text, or a CLI's event stream).
    pub output: OutputFormat,
    /// What ends it successfully: its exit, or `vnx report`.
    pub completion: ProviderCompletion,
}

/// Flags per permission posture, final (`{{`/`}}` already unescaped); `None`: not declared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeclaredPermissions {
    /// Flags for `--permission ask`.
    pub ask: Option<Vec<String>>,
    /// Flags for `--permission edits`.
    pub edits: Option<Vec<String>>,
    /// Flags for `--permission full`.
    pub full: Option<Vec<String>>,
}
