//! aider (PyPI `aider-chat`, 0.86.2): what vnx knows about it. How it is started
//! (`invocation`): `--no-git`, so it edits files and vnx commits, its chat history in the
//! dispatch directory; its plain-text output read for the receipt (`events`). It sends the
//! model no tools, so it cannot run `vnx report`: its output decides (an edit applied is
//! done, a `litellm` error is a failure though it exits 0, an answer that changed nothing
//! is a question). A follow-up restores its chat history (it has no session ids: vnx
//! chooses one to name the conversation).

use super::coding_cli::{CliFacts, CodingCli, KeyVars};
use super::login::LoginFile;
use crate::receipts::kinds::{Lane, OutputFormat};
use crate::sandbox::StatePath;

mod events;
mod invocation;

/// Its output: plain text (`aider --message PROMPT`), its reply, `Tokens: N sent, M
/// received.`, `Applied edit to FILE`, a `litellm.…Error` after which it exits 0.
pub(crate) const STREAM: OutputFormat = OutputFormat::named("aider-text");

/// aider.
#[derive(Debug)]
pub struct Aider;

/// What it is as data.
static FACTS: CliFacts = CliFacts {
    // litellm's OpenAI key and base URL (`OPENAI_BASE_URL` before `OPENAI_API_BASE`, as
    // litellm reads them: seen going past the relay with only the second replaced); its
    // other providers' keys are not relayed.
    relayed_key: Some(KeyVars {
        key: "OPENAI_API_KEY",
        base_urls: &["OPENAI_BASE_URL", "OPENAI_API_BASE"],
        kept_suffix: 0,
        default_base: Some("https://api.openai.com/v1"),
    }),
    stream: Some(&events::HEADLESS),
    // `--restore-chat-history` replays the chat history of the dispatch it continues
    // (carried into the follow-up's directory), the earlier conversation resent.
    resumes_sessions: &[Lane::Headless],
    // It has no session id of its own: vnx names the conversation, so a follow-up can
    // resume it.
    chooses_session_id: &[Lane::Headless],
    // `~/.aider` (its analytics id, install record and caches); read-only, the user's
    // configuration in the home (its options, the model's metadata and settings), which a
    // worker must not rewrite for a later run outside the sandbox.
    state_paths: &[
        StatePath::dir(".aider", None),
        StatePath::config(".aider.conf.yml"),
        StatePath::config(".aider.model.metadata.json"),
        StatePath::config(".aider.model.settings.yml"),
    ],
    // The keys its OAuth login keeps (`~/.aider/oauth-keys.env`) and the user's
    // configuration (its options, which may hold keys, the model's metadata and settings):
    // never its analytics id or caches.
    login_files: &[
        LoginFile::whole(".aider/oauth-keys.env"),
        LoginFile::whole(".aider.conf.yml"),
        LoginFile::whole(".aider.model.metadata.json"),
        LoginFile::whole(".aider.model.settings.yml"),
    ],
    permission_flags: invocation::permission_flags,
    ..CliFacts::named("aider", invocation::argv)
};

impl CodingCli for Aider {
    fn facts(&self) -> &'static CliFacts {
        &FACTS
    }

    fn carried_files(&self) -> &'static [&'static str] {
        &[invocation::CHAT_HISTORY]
    }
}
