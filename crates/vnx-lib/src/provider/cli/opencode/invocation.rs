//! How opencode is started: `opencode run --format json` headless, the prompt on stdin (an
//! argument would reach the model wrapped in double quotes); the posture as opencode's own
//! permission rules in `OPENCODE_PERMISSION`, which it applies over every config file, with
//! `--auto` for `full`; `--session=ID` continues a session (in the TUI lane with `--mini`, the
//! one interface of its TUI that sends `--prompt` into a session it continues). Its defaults
//! allow every tool, so vnx always sets the rules.

use serde_json::{Map, Value, json};

use crate::provider::cli::ProviderError;
use crate::provider::cli::argv::{Argv, Start, Wanted, strs};
use crate::receipts::kinds::{HookKind, Lane, Permission};

/// The variable whose JSON opencode merges over its configured permissions, last.
pub(super) const PERMISSION_VAR: &str = "OPENCODE_PERMISSION";
/// The variable holding a config opencode merges over the files it read.
pub(super) const CONFIG_VAR: &str = "OPENCODE_CONFIG_CONTENT";

/// The flags of each posture: `--auto` approves every ask that no rule denies.
pub(super) fn permission_flags(permission: Permission) -> &'static [&'static str] {
    match permission {
        Permission::Ask | Permission::Edits => &[],
        Permission::Full => &["--auto"],
    }
}

/// A model server opencode is pointed at for another provider (a local model's): the name
/// of the provider it is given in opencode's config, and the server's OpenAI-compatible
/// base URL, where `{env:VAR}` is the worker's variable (opencode substitutes it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Served {
    /// The provider's name in opencode's config (the models are `NAME/MODEL`).
    pub(crate) name: &'static str,
    /// Its display name.
    pub(crate) title: &'static str,
    /// The base URL of its `/chat/completions`.
    pub(crate) base_url: &'static str,
}

/// Its argv in the lane asked for, and the variables that carry the posture (and the model
/// server it is pointed at, if any).
pub(crate) fn argv(s: &Start<'_>, served: Option<Served>) -> Result<Argv, ProviderError> {
    let w = &s.w;
    let mut argv: Vec<String> = vec!["opencode".into()];
    let model = match (served, w.model) {
        (Some(served), Some(m)) => vec!["--model".to_owned(), format!("{}/{m}", served.name)],
        _ => s.model("--model"),
    };
    match w.lane {
        Lane::Headless => {
            argv.extend(strs(&["run", "--format", "json"]));
            argv.extend(model);
            argv.extend(s.perms.iter().cloned());
            argv.extend(s.resume("--session"));
            // The prompt is read from stdin (`provider::invocation`, `prompt_on_stdin`).
        }
        Lane::Interactive => {
            argv.extend(model);
            argv.extend(s.perms.iter().cloned());
            // Its full TUI opens a session it continues without sending `--prompt` (only
            // its home screen takes one); its minimal interface sends it into the session
            // (seen on 1.18.33), so a follow-up continues there.
            if s.w.resume.is_some() {
                argv.push("--mini".into());
            }
            argv.extend(s.resume("--session"));
            // One word: whatever the prompt, yargs reads it as the option's value.
            argv.push(format!("--prompt={}", s.prompt_arg));
        }
    }
    Ok(Argv {
        env: env(w, served),
        ..Argv::reported(argv, w.lane, super::STREAM, HookKind::NONE)
    })
}

/// The variables of a start: the posture's permission rules; a config that keeps the turn
/// going after a denied tool (so the model can still report) and, for a model server it is
/// pointed at, defines that provider, takes its model for the session's title too and
/// enables no other provider (nothing leaves for a hosted model); no project config or
/// plugins from the worktree, whose files the worker writes; no self-update.
fn env(w: &Wanted<'_>, served: Option<Served>) -> Vec<(String, String)> {
    let mut config = json!({"experimental": {"continue_loop_on_deny": true}});
    if let Some(served) = served {
        let mut models = Map::new();
        if let Some(m) = w.model {
            models.insert(m.into(), json!({"name": m, "tool_call": true}));
            config["model"] = format!("{}/{m}", served.name).into();
            config["small_model"] = config["model"].clone();
        }
        config["enabled_providers"] = json!([served.name]);
        config["share"] = "disabled".into();
        config["provider"] = json!({ served.name: {
            "npm": "@ai-sdk/openai-compatible",
            "name": served.title,
            "options": {"baseURL": served.base_url},
            "models": models,
        }});
    }
    let mut vars = vec![
        (PERMISSION_VAR.into(), permission(w).to_string()),
        (CONFIG_VAR.into(), config.to_string()),
        ("OPENCODE_DISABLE_PROJECT_CONFIG".into(), "1".into()),
        ("OPENCODE_DISABLE_AUTOUPDATE".into(), "1".into()),
    ];
    if served.is_some() {
        vars.push(("OPENCODE_DISABLE_MODELS_FETCH".into(), "1".into()));
    }
    vars
}

/// The posture as opencode's rules, in this order (the last rule that matches decides).
/// `ask`: edits, commands, fetches and paths outside the worktree ask (headless, `run`
/// rejects every ask); `edits`: edits allowed, the rest asks; both allow the commands of
/// [`Wanted::unasked_commands`] (`P` and `P *`). `full`: everything allowed.
pub(super) fn permission(w: &Wanted<'_>) -> Value {
    if w.permission == Permission::Full {
        return json!({"*": "allow"});
    }
    let mut bash = Map::new();
    bash.insert("*".into(), "ask".into());
    for prefix in w.unasked_commands() {
        bash.insert(format!("{prefix} *"), "allow".into());
        bash.insert(prefix, "allow".into());
    }
    let edit = if w.permission == Permission::Edits {
        "allow"
    } else {
        "ask"
    };
    json!({
        "edit": edit,
        "bash": bash,
        "webfetch": "ask",
        "external_directory": "ask",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cli::argv::PROMPT;
    use crate::provider::cli::testing::test_start;
    use crate::receipts::kinds::{OutputFormat, PromptTransport, ProviderCompletion};

    const ALLOW: &[String] = &[];

    fn start(lane: Lane, permission: Permission, allow: &'static [String]) -> Start<'static> {
        let perms = permission_flags(permission);
        let mut s = test_start(lane, permission, "mock/mock-model", perms, false);
        s.w.allow = allow;
        if lane == Lane::Headless {
            s.transport = PromptTransport::Stdin;
            s.prompt_arg = String::new();
        }
        s
    }

    fn argv_of(s: &Start<'_>) -> Result<Argv, ProviderError> {
        argv(s, None)
    }

    fn var<'a>(made: &'a Argv, name: &str) -> &'a str {
        made.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn headless_reads_the_prompt_on_stdin_and_the_posture_is_its_rules() {
        let made = argv_of(&start(Lane::Headless, Permission::Edits, ALLOW)).unwrap();
        assert_eq!(
            made.argv,
            [
                "opencode",
                "run",
                "--format",
                "json",
                "--model",
                "mock/mock-model"
            ]
        );
        assert_eq!(made.output, super::super::STREAM);
        assert_eq!(made.completion, ProviderCompletion::Report);
        assert_eq!(
            var(&made, PERMISSION_VAR),
            r#"{"edit":"allow","bash":{"*":"ask","vnx report *":"allow","vnx report":"allow"},"webfetch":"ask","external_directory":"ask"}"#
        );
        assert_eq!(
            var(&made, CONFIG_VAR),
            r#"{"experimental":{"continue_loop_on_deny":true}}"#
        );
        assert_eq!(var(&made, "OPENCODE_DISABLE_PROJECT_CONFIG"), "1");
    }

    #[test]
    fn ask_asks_for_edits_and_full_allows_everything() {
        static ROLE: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new(|| vec!["cargo test".to_owned()]);
        let ask = argv_of(&start(Lane::Headless, Permission::Ask, &[])).unwrap();
        let rules: Value = serde_json::from_str(var(&ask, PERMISSION_VAR)).unwrap();
        assert_eq!(rules["edit"], "ask");
        assert_eq!(rules["bash"]["*"], "ask");
        assert_eq!(rules["bash"]["vnx report *"], "allow");
        let mut edits = start(Lane::Headless, Permission::Edits, &[]);
        edits.w.allow = ROLE.as_slice();
        let made = argv_of(&edits).unwrap();
        let rules: Value = serde_json::from_str(var(&made, PERMISSION_VAR)).unwrap();
        assert_eq!(rules["bash"]["cargo test *"], "allow");
        assert_eq!(rules["bash"]["cargo test"], "allow");
        assert_eq!(
            edits.w.unasked_commands(),
            ["vnx report".to_owned(), "cargo test".to_owned()]
        );
        let full = argv_of(&start(Lane::Headless, Permission::Full, &[])).unwrap();
        assert!(full.argv.contains(&"--auto".to_owned()));
        assert_eq!(var(&full, PERMISSION_VAR), r#"{"*":"allow"}"#);
        assert!(
            start(Lane::Headless, Permission::Full, &[])
                .w
                .unasked_commands()
                .is_empty()
        );
    }

    #[test]
    fn a_follow_up_resumes_its_session_in_one_word() {
        let mut s = start(Lane::Headless, Permission::Edits, ALLOW);
        s.w.resume = Some("ses_deb85821effesgz5kIu0Xu7fK9");
        let made = argv_of(&s).unwrap();
        assert_eq!(
            made.argv.last().map(String::as_str),
            Some("--session=ses_deb85821effesgz5kIu0Xu7fK9")
        );
    }

    #[test]
    fn a_tui_follow_up_resumes_its_session_in_the_minimal_interface() {
        let mut s = start(Lane::Interactive, Permission::Edits, ALLOW);
        s.w.resume = Some("ses_deb85821effesgz5kIu0Xu7fK9");
        let made = argv_of(&s).unwrap();
        let n = made.argv.len();
        assert_eq!(
            made.argv[n - 3..],
            [
                "--mini".to_owned(),
                "--session=ses_deb85821effesgz5kIu0Xu7fK9".to_owned(),
                format!("--prompt={PROMPT}"),
            ]
        );
        let fresh = argv_of(&start(Lane::Interactive, Permission::Edits, ALLOW)).unwrap();
        assert!(
            !fresh.argv.iter().any(|a| a == "--mini"),
            "{:?}",
            fresh.argv
        );
    }

    #[test]
    fn the_tui_takes_its_prompt_as_one_word() {
        let made = argv_of(&start(Lane::Interactive, Permission::Edits, ALLOW)).unwrap();
        assert_eq!(made.argv.last().unwrap(), &format!("--prompt={PROMPT}"));
        assert_eq!(made.output, OutputFormat::TEXT);
    }

    #[test]
    fn a_served_model_is_its_provider_and_the_only_one_enabled() {
        let served = Served {
            name: "local",
            title: "Local",
            base_url: "{env:LOCAL_HOST}/v1",
        };
        let mut s = start(Lane::Headless, Permission::Edits, ALLOW);
        s.w.model = Some("mistral:7b");
        let made = argv(&s, Some(served)).unwrap();
        assert_eq!(made.argv[4..], ["--model", "local/mistral:7b"]);
        let config: Value = serde_json::from_str(var(&made, CONFIG_VAR)).unwrap();
        assert_eq!(config["enabled_providers"], json!(["local"]));
        assert_eq!(config["small_model"], "local/mistral:7b");
        assert_eq!(
            config["provider"]["local"]["options"]["baseURL"],
            "{env:LOCAL_HOST}/v1"
        );
        assert_eq!(
            config["provider"]["local"]["models"]["mistral:7b"]["tool_call"],
            true
        );
        assert_eq!(config["experimental"]["continue_loop_on_deny"], true);
        assert_eq!(var(&made, "OPENCODE_DISABLE_MODELS_FETCH"), "1");
    }
}
