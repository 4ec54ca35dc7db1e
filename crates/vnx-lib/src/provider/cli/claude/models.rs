//! The models Claude Code takes: its own aliases, full model names; a typo caught before the
//! launch with the closest alias suggested.

/// The model aliases Claude Code 2.1.197 resolves itself (its `--model` list), and
/// `default`, its own choice.
pub(super) const ALIASES: [&str; 10] = [
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
pub(super) fn knows(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    ALIASES.contains(&m.as_str()) || m.contains("claude")
}

/// The alias closest to `model`, if it is a likely typo of it (at most two edits).
pub(super) fn closest_alias(model: &str) -> Option<String> {
    let m = model.to_ascii_lowercase();
    ALIASES
        .iter()
        .map(|a| (strsim::levenshtein(&m, a), *a))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, a)| a.to_owned())
}

#[cfg(test)]
mod tests {
    use crate::provider::{Provider, ProviderError};

    #[test]
    fn a_claude_model_typo_is_caught_with_a_suggestion() {
        for known in ["sonnet", "Opus", "sonnet[1m]", "claude-opus-4-1", "default"] {
            assert_eq!(Provider::Claude.check_model(Some(known)), Ok(()), "{known}");
        }
        let typo = Provider::Claude
            .cli()
            .check_model(Some("sonet"))
            .unwrap_err();
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
    }
}
