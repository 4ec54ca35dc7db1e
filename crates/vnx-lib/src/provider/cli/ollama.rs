//! A model Ollama serves, as a coding worker (`--provider ollama --model NAME:TAG`): Ollama's
//! own CLI (`ollama run`) only chats, so vnx runs opencode pointed at Ollama's
//! OpenAI-compatible API (`$OLLAMA_HOST/v1/chat/completions`) with that model as the only
//! one it may use (ADR 0056). It edits files, runs the commands its posture allows and
//! reports with `vnx report`, as a hosted model's CLI does; its argv, posture, events,
//! transcript, state and TUI sessions are opencode's.

use std::path::{Path, PathBuf};

use super::argv::{Argv, Start, Wanted};
use super::coding_cli::{CodingCli, check_valid};
use super::error::ProviderError;
use super::opencode::{self, Served};
use super::session::SessionStore;
use super::trust::PaneDialog;
use crate::receipts::kinds::{Lane, Permission};
use crate::sandbox::StatePath;

/// Ollama's API, as opencode is given it: `OLLAMA_HOST` is the server's URL
/// (`http://127.0.0.1:11434`), read by opencode from the worker's environment.
const SERVED: Served = Served {
    name: "ollama",
    title: "Ollama",
    base_url: "{env:OLLAMA_HOST}/v1",
};

/// Ollama.
#[derive(Debug)]
pub struct Ollama;

impl CodingCli for Ollama {
    /// opencode's: it runs through opencode.
    fn sessions(&self) -> Option<&'static dyn SessionStore> {
        Some(&opencode::OpencodeSessions)
    }

    /// A local model: exempt from the egress policy by default (opencode is given no other
    /// provider).
    fn egress_exempt(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "ollama"
    }

    /// A `name:tag`.
    fn implied_by(&self, model: &str) -> bool {
        model.contains(':')
    }

    /// It has no default model.
    fn check_model(&self, model: Option<&str>) -> Result<(), ProviderError> {
        match model {
            None => Err(ProviderError::NeedsModel { provider: "ollama" }),
            Some(_) => check_valid(self.name(), model),
        }
    }

    /// opencode, pointed at Ollama.
    fn program(&self) -> &'static str {
        "opencode"
    }

    fn prompt_on_stdin(&self, lane: Lane) -> bool {
        lane == Lane::Headless
    }

    /// As opencode: `--session=ID`, in its TUI's minimal interface there.
    fn resumes_sessions(&self, _lane: Lane) -> bool {
        true
    }

    fn permission_flags(&self, _lane: Lane, permission: Permission) -> &'static [&'static str] {
        opencode::permission_flags(permission)
    }

    fn argv(&self, s: &Start<'_>) -> Result<Argv, ProviderError> {
        opencode::argv(s, Some(SERVED))
    }

    /// As opencode.
    fn allowed_commands(&self, w: &Wanted<'_>) -> Vec<String> {
        w.unasked_commands()
    }

    fn pane_dialog(&self) -> Option<PaneDialog> {
        Some(opencode::DIALOG)
    }

    fn state_paths(&self) -> &'static [StatePath] {
        opencode::STATE_PATHS
    }

    fn login_files(&self) -> &'static [super::login::LoginFile] {
        opencode::LOGIN_FILES
    }

    fn home(&self, var: &dyn Fn(&str) -> Option<PathBuf>, h: Option<&Path>) -> Option<PathBuf> {
        opencode::home(var, h)
    }

    fn turn_end_signal(&self) -> Option<&'static str> {
        Some(opencode::TURN_END)
    }
}

#[cfg(test)]
mod tests {
    use crate::provider::Provider;
    use crate::provider::cli::testing::group;

    #[test]
    fn a_model_ollama_serves_runs_in_the_coding_cli_with_its_flags() {
        let local = group(Provider::Ollama, &["run"]);
        for f in ["--format", "--model", "--auto", "--session"] {
            assert!(local.contains(&f.to_owned()), "{f}: {local:?}");
        }
    }
}
