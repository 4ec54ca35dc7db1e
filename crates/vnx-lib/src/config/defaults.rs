//! The `defaults:` section of `.vnx/config.yaml`: the role, provider, model and lane a
//! dispatch gets when its command line names none, so the everyday dispatch is
//! `vnx run "TASK"`; validated with line and column, and applied by [`Defaults::fill`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{Checked, Validator, q};
use crate::provider::DeclaredProvider;
use crate::provider::kinds::Lane;

/// `defaults:`: what a dispatch that names none of these gets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Defaults {
    /// The role (`--agent`) of a dispatch that names none.
    pub role: Option<String>,
    /// The provider of a dispatch that names neither a provider nor a model (a model alone
    /// still names its own provider).
    pub provider: Option<String>,
    /// The model, with the default provider (see [`Defaults::fill`]).
    pub model: Option<String>,
    /// The lane, with the default provider (see [`Defaults::fill`]).
    pub lane: Option<Lane>,
}

/// What a dispatch's command line named.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Named {
    /// `--agent`.
    pub role: Option<String>,
    /// `--provider`.
    pub provider: Option<String>,
    /// `--model`.
    pub model: Option<String>,
    /// `--lane`.
    pub lane: Option<Lane>,
}

impl Defaults {
    /// `named`, completed from the defaults. The role is the default's when none is named.
    /// The provider, model and lane are taken together, as one worker: when the dispatch
    /// names neither a provider nor a model, or names the default provider itself, each it
    /// leaves out is the default's; a dispatch naming another provider, or only a model
    /// (which names its provider), takes none of them.
    pub fn fill(&self, named: Named) -> Named {
        let same_worker = match (&named.provider, &named.model) {
            (None, None) => true,
            (Some(p), _) => self.provider.as_ref() == Some(p),
            (None, Some(_)) => false,
        };
        let from_default = |given: Option<String>, default: &Option<String>| {
            given.or_else(|| default.clone().filter(|_| same_worker))
        };
        Named {
            role: named.role.or_else(|| self.role.clone()),
            provider: from_default(named.provider, &self.provider),
            model: from_default(named.model, &self.model),
            lane: named.lane.or(self.lane.filter(|_| same_worker)),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub(super) role: Option<Spanned<String>>,
    pub(super) provider: Option<Spanned<String>>,
    pub(super) model: Option<Spanned<String>>,
    pub(super) lane: Option<Spanned<Lane>>,
}

impl Validator<'_> {
    /// `defaults:`; `declared` are the providers the file declares.
    pub(super) fn defaults(
        &self,
        raw: RawDefaults,
        declared: &BTreeMap<String, DeclaredProvider>,
    ) -> Checked<Defaults> {
        let mut out = Defaults::default();
        if let Some(role) = raw.role {
            self.name("defaults.role: ", &role, "role")?;
            out.role = Some(role.value);
        }
        if let Some(provider) = raw.provider {
            self.known_provider("defaults.provider", &provider, declared)?;
            out.provider = Some(provider.value);
        }
        if let Some(model) = raw.model {
            let bad = model.value.trim().is_empty()
                || model.value.len() > 128
                || model.value.chars().any(char::is_control);
            if bad {
                let msg = format!(
                    "defaults.model: {} is not a model name (1-128 characters, no control \
                     characters)",
                    q(&model.value)
                );
                return self.err(&model.referenced, msg);
            }
            out.model = Some(model.value);
        }
        if let Some(lane) = raw.lane {
            if let Some(def) = out.provider.as_ref().and_then(|p| declared.get(p)) {
                let has = match lane.value {
                    Lane::Headless => def.headless.is_some(),
                    Lane::Interactive => def.interactive.is_some(),
                };
                if !has {
                    let msg = format!(
                        "defaults.lane is {0}, but provider `{1}` declares no `{0}:` lane",
                        lane.value.name(),
                        out.provider.as_deref().unwrap_or_default()
                    );
                    return self.err(&lane.referenced, msg);
                }
            }
            out.lane = Some(lane.value);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(role: Option<&str>, provider: Option<&str>, model: Option<&str>) -> Named {
        Named {
            role: role.map(Into::into),
            provider: provider.map(Into::into),
            model: model.map(Into::into),
            lane: None,
        }
    }

    #[test]
    fn the_default_worker_is_taken_whole_or_not_at_all() {
        let d = Defaults {
            role: Some("implementer".into()),
            provider: Some("first".into()),
            model: Some("big".into()),
            lane: Some(Lane::Headless),
        };
        let all = d.fill(named(None, None, None));
        assert_eq!(all.role.as_deref(), Some("implementer"));
        assert_eq!(all.provider.as_deref(), Some("first"));
        assert_eq!(all.model.as_deref(), Some("big"));
        assert_eq!(all.lane, Some(Lane::Headless));
        // The default provider named: its model and lane still apply.
        let same = d.fill(named(Some("reviewer"), Some("first"), None));
        assert_eq!(same.role.as_deref(), Some("reviewer"));
        assert_eq!(same.model.as_deref(), Some("big"));
        assert_eq!(same.lane, Some(Lane::Headless));
        // Another provider, or a model alone: none of the default worker.
        let other = d.fill(named(None, Some("second"), None));
        assert_eq!((other.model, other.lane), (None, None));
        let model = d.fill(named(None, None, Some("small")));
        assert_eq!(model.provider, None);
        assert_eq!(model.model.as_deref(), Some("small"));
        assert_eq!(model.lane, None);
        // A lane given is kept.
        let lane = d.fill(Named {
            lane: Some(Lane::Interactive),
            ..Named::default()
        });
        assert_eq!(lane.lane, Some(Lane::Interactive));
        // No defaults: what was named, unchanged.
        let given = named(Some("a"), Some("b"), Some("c"));
        assert_eq!(Defaults::default().fill(given.clone()), given);
    }

    fn parse(text: &str) -> Result<crate::config::Config, String> {
        crate::config::parse(text, std::path::Path::new(".vnx/config.yaml"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_checked_where_they_are_written() {
        let ok = parse(
            "providers:\n  kimi: {binary: kimi, headless: {argv: [\"{prompt}\"]}}\n\
             defaults: {role: reviewer, provider: kimi, model: k2, lane: headless}\n",
        )
        .unwrap();
        assert_eq!(
            ok.defaults,
            Defaults {
                role: Some("reviewer".into()),
                provider: Some("kimi".into()),
                model: Some("k2".into()),
                lane: Some(Lane::Headless),
            }
        );
        for (text, says) in [
            (
                "defaults: {role: Big}\n",
                "1:18: defaults.role: `Big` is not a valid role",
            ),
            (
                "defaults:\n  provider: nope\n",
                "2:13: defaults.provider names `nope`",
            ),
            (
                "defaults: {model: \" \"}\n",
                "defaults.model: ` ` is not a model name",
            ),
            ("defaults: {lane: sideways}\n", "sideways"),
            ("defaults: {colour: red}\n", "colour"),
            (
                "providers:\n  kimi: {binary: kimi, headless: {argv: [\"{prompt}\"]}}\n\
                 defaults: {provider: kimi, lane: interactive}\n",
                "defaults.lane is interactive, but provider `kimi` declares no `interactive:` lane",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }
}
