//! A model Ollama serves, as a coding worker (`--provider ollama --model NAME:TAG`): Ollama's
//! own CLI (`ollama run`) only chats, so vnx runs opencode pointed at Ollama's
//! OpenAI-compatible API (`$OLLAMA_HOST/v1/chat/completions`) with that model as the only
//! one it may use (ADR 0056). It edits files, runs the commands its posture allows and
//! reports with `vnx report`, as a hosted model's CLI does; its argv, posture, events,
//! transcript, state and TUI sessions are opencode's.

use std::path::{Path, PathBuf};

use super::coding_cli::{CliFacts, CodingCli, check_valid};
use super::error::ProviderError;
use super::opencode::{self, Served};

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

/// What it is as data: opencode's (its sessions, dialog, state and logins, as it runs
/// through opencode), but for its name, its argv (opencode's, pointed at Ollama), its version
/// (`--version` is run), its stream (opencode's format, which opencode's parser reads) and
/// where `vnx init --mcp` registers vnx (nowhere).
static FACTS: CliFacts = CliFacts {
    name: "ollama",
    argv: |s| opencode::argv(s, Some(SERVED)),
    // A `name:tag`.
    implied_by: |model| model.contains(':'),
    npm_package: None,
    stream: None,
    mcp_config: None,
    ..opencode::FACTS
};

impl CodingCli for Ollama {
    fn facts(&self) -> &'static CliFacts {
        &FACTS
    }

    /// A local model: exempt from the egress policy by default (opencode is given no other
    /// provider).
    fn egress_exempt(&self) -> bool {
        true
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

    fn home(&self, var: &dyn Fn(&str) -> Option<PathBuf>, h: Option<&Path>) -> Option<PathBuf> {
        opencode::home(var, h)
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
