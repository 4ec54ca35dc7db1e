//! The `queue:` section of `.vnx/config.yaml`: what happens to a dispatch whose provider's
//! `concurrency:` slots are all taken — queued (the default) or rejected — and how long a
//! provider's queue may grow, globally and per provider, validated with line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::Entries;
use super::checked::{Checked, Validator};
use crate::provider::DeclaredProvider;

/// What a dispatch meets when every slot of its provider is taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueuePolicy {
    /// It waits in the queue for a slot (by priority, then arrival).
    #[default]
    Queue,
    /// It is refused at once (exit 1), with a receipt.
    Reject,
}

impl QueuePolicy {
    /// As the config spells it.
    pub fn name(self) -> &'static str {
        match self {
            QueuePolicy::Queue => "queue",
            QueuePolicy::Reject => "reject",
        }
    }
}

/// The queue rule of one provider: its policy and the most dispatches its queue holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueRule {
    /// Queue or reject.
    pub policy: QueuePolicy,
    /// The longest the provider's queue may be (`None`: unbounded); a dispatch that would
    /// make it longer is rejected.
    pub max_length: Option<u32>,
}

/// `queue:`: the rule for every provider, and overrides by provider name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueConfig {
    /// The rule of providers not named under `providers:`.
    pub default: QueueRule,
    /// Rules by provider.
    pub providers: BTreeMap<String, QueueRule>,
}

impl QueueConfig {
    /// The rule for `provider`.
    pub fn rule(&self, provider: &str) -> QueueRule {
        self.providers
            .get(provider)
            .copied()
            .unwrap_or(self.default)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueue {
    pub(super) policy: Option<Spanned<QueuePolicy>>,
    pub(super) max_length: Option<Spanned<i64>>,
    pub(super) providers: Option<Entries<RawQueueRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueueRule {
    pub(super) policy: Option<Spanned<QueuePolicy>>,
    pub(super) max_length: Option<Spanned<i64>>,
}

/// The longest queue a config may allow.
const MAX_LENGTH: u32 = 10_000;

impl Validator<'_> {
    /// `queue:`; `declared` are the providers the file declares.
    pub(super) fn queue(
        &self,
        raw: RawQueue,
        declared: &BTreeMap<String, DeclaredProvider>,
    ) -> Checked<QueueConfig> {
        let default = self.queue_rule("queue", raw.policy, raw.max_length, QueueRule::default())?;
        let mut config = QueueConfig {
            default,
            providers: BTreeMap::new(),
        };
        for (name, rule) in raw.providers.map_or_else(Vec::new, |e| e.0) {
            self.known_provider("queue.providers", &name, declared)?;
            let at = format!("queue.providers.{}", name.value);
            let rule = self.queue_rule(&at, rule.policy, rule.max_length, default)?;
            config.providers.insert(name.value, rule);
        }
        Ok(config)
    }

    fn queue_rule(
        &self,
        at: &str,
        policy: Option<Spanned<QueuePolicy>>,
        max_length: Option<Spanned<i64>>,
        inherit: QueueRule,
    ) -> Checked<QueueRule> {
        let mut rule = inherit;
        if let Some(p) = policy {
            rule.policy = p.value;
        }
        if let Some(n) = max_length {
            let len = self.between(&format!("{at}.max_length"), &n, 1..=MAX_LENGTH)?;
            rule.max_length = Some(len);
        }
        Ok(rule)
    }
}
