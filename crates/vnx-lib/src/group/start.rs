//! Starting a group: every candidate planned as a normal dispatch (a constraint's refusal is
//! a candidate that lost, recorded; any other planning error stops the group before anything
//! is launched), each launched with its `group` member in `dispatch_started`, then one
//! signed `group_started` listing them all.

use crate::ids::{DispatchId, GroupId};
use sha2::{Digest, Sha256};

use super::GroupError;
use crate::config::{Defaults, Named};
use crate::dispatch::{self, Context, DispatchError, Launched, Request};
use crate::provider::kinds::Lane;
use crate::receipts::{CandidateEntry, GroupCandidate, GroupMember, GroupStarted};

/// One candidate: a provider and, optionally, a model and a lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The provider (built-in or declared).
    pub provider: String,
    /// The model; the provider's default when `None`.
    pub model: Option<String>,
    /// The lane; the template's (else the provider's own) when `None`.
    pub lane: Option<Lane>,
}

impl Candidate {
    /// The candidate completed from `defaults:` as a dispatch naming its provider and model
    /// is ([`Defaults::fill`]): the default provider's candidate takes the default model and
    /// lane it leaves out; another provider's takes neither.
    pub fn filled(self, defaults: &Defaults) -> Candidate {
        let named = defaults.fill(Named {
            role: None,
            provider: Some(self.provider),
            model: self.model,
            lane: self.lane,
        });
        Candidate {
            provider: named.provider.unwrap_or_default(),
            model: named.model,
            lane: named.lane,
        }
    }
}

impl std::str::FromStr for Candidate {
    type Err = GroupError;

    /// `PROVIDER` or `PROVIDER:MODEL`; the model may itself hold colons (`local:model:7b`).
    fn from_str(s: &str) -> Result<Candidate, GroupError> {
        let bad = || GroupError::BadCandidate {
            given: s.to_owned(),
        };
        let (provider, model) = match s.split_once(':') {
            Some((_, "")) => return Err(bad()),
            Some((p, m)) => (p, Some(m.to_owned())),
            None => (s, None),
        };
        if provider.is_empty() || provider.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        Ok(Candidate {
            provider: provider.to_owned(),
            model,
            lane: None,
        })
    }
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.model {
            Some(m) => write!(f, "{}:{m}", self.provider),
            None => f.write_str(&self.provider),
        }
    }
}

/// A started group: its id and every candidate, launched or not.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Started {
    /// The group's id.
    pub group_id: GroupId,
    /// Each candidate as `group_started` lists it.
    pub candidates: Vec<GroupCandidate>,
    /// The launched ones, as `vnx dispatch-agent --detach` reports a launch.
    pub launched: Vec<Launched>,
}

/// Starts a group: `template` is the request every candidate shares (its `id`, `provider`
/// and `model` are replaced per candidate); `group_id` a fresh id when `None`.
pub fn start(
    ctx: &Context<'_>,
    template: &Request,
    candidates: &[Candidate],
    group_id: Option<GroupId>,
) -> Result<Started, GroupError> {
    if !(super::MIN_CANDIDATES..=super::MAX_CANDIDATES).contains(&candidates.len()) {
        return Err(GroupError::CandidateCount {
            count: candidates.len(),
        });
    }
    let group_id = group_id.unwrap_or_else(GroupId::fresh);
    if super::read::exists(ctx.ledger, &group_id)? {
        return Err(GroupError::IdInUse {
            id: group_id.into_string(),
        });
    }
    let size = candidates.len() as u32;
    // Plan every candidate before launching any: a usage error stops the whole group.
    let mut planned = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        let request = Request {
            id: Some(DispatchId::fresh()),
            provider: Some(c.provider.clone()),
            model: c.model.clone(),
            lane: c.lane.or(template.lane),
            continues: None,
            ..template.clone()
        };
        let id = request.id.clone().unwrap_or_else(DispatchId::fresh);
        let entry = GroupCandidate {
            index: i as u32 + 1,
            dispatch_id: id,
            provider: c.provider.clone(),
            model: c.model.clone(),
            entry: CandidateEntry::Launched,
            reason: None,
        };
        match dispatch::plan(ctx, &request) {
            Ok(mut plan) => {
                // One budget for the group: each candidate holds its share (ADR 0094).
                if let Some(budget) = plan.spec.budget.as_mut() {
                    crate::dispatch::budget::share(budget, size);
                }
                plan.spec.group = Some(GroupMember {
                    group_id: group_id.clone(),
                    index: entry.index,
                    size,
                });
                planned.push((entry, Some(plan)));
            }
            Err(e @ (DispatchError::Refused { .. } | DispatchError::EgressRefused { .. })) => {
                planned.push((
                    GroupCandidate {
                        entry: CandidateEntry::Refused,
                        reason: Some(e.to_string()),
                        ..entry
                    },
                    None,
                ))
            }
            Err(source) => {
                return Err(GroupError::Plan {
                    index: i + 1,
                    candidate: c.to_string(),
                    source: Box::new(source),
                });
            }
        }
    }
    let mut started = Started {
        group_id: group_id.clone(),
        candidates: Vec::new(),
        launched: Vec::new(),
    };
    for (mut entry, plan) in planned {
        if let Some(plan) = plan {
            match dispatch::launch(ctx, &plan) {
                Ok(l) => started.launched.push(l),
                Err(e) => {
                    entry.entry = CandidateEntry::LaunchFailed;
                    entry.reason = Some(e.to_string());
                }
            }
        }
        started.candidates.push(entry);
    }
    ctx.attestor.record(
        ctx.ledger,
        &GroupStarted {
            group_id,
            role: template.role.clone(),
            instruction_sha256: hex::encode(Sha256::digest(template.instruction.as_bytes())),
            base_ref: template.base_ref.clone(),
            candidates: started.candidates.clone(),
            extra: Default::default(),
        },
    )?;
    Ok(started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_provider_and_optional_model() {
        let c: Candidate = "demo:commit".parse().unwrap();
        assert_eq!(c.provider, "demo");
        assert_eq!(c.model.as_deref(), Some("commit"));
        let c: Candidate = "local:model:7b".parse().unwrap();
        assert_eq!(c.model.as_deref(), Some("model:7b"));
        assert_eq!(c.to_string(), "local:model:7b");
        let c: Candidate = "other".parse().unwrap();
        assert_eq!(c.model, None);
        for bad in ["", ":x", "demo:", "a b"] {
            assert!(bad.parse::<Candidate>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_the_default_providers_candidate_takes_the_default_model_and_lane() {
        let defaults = Defaults {
            role: Some("implementer".into()),
            provider: Some("demo".into()),
            model: Some("commit".into()),
            lane: Some(Lane::Interactive),
        };
        let filled = |s: &str| s.parse::<Candidate>().unwrap().filled(&defaults);
        let c = filled("demo");
        assert_eq!(c.model.as_deref(), Some("commit"));
        assert_eq!(c.lane, Some(Lane::Interactive));
        // Its own model wins; the lane still comes with the provider.
        let c = filled("demo:dirty");
        assert_eq!(c.model.as_deref(), Some("dirty"));
        assert_eq!(c.lane, Some(Lane::Interactive));
        let c = filled("other");
        assert_eq!((c.model, c.lane), (None, None));
        assert_eq!(c.provider, "other");
    }
}
