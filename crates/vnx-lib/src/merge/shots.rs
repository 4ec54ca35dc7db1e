//! `evidence_present` (ADR 0125): a dispatch whose role requires a screenshots gate merges only
//! while that gate's latest result for its head passed (its preview started and every image
//! was taken) and each image it lists is still on disk with the bytes its signed receipt
//! hashed.

use crate::config::{Config, GateKind};
use crate::evidence::Evidence;

/// The condition's name, checked after `gates_passed` for a role that requires screenshots.
pub const NAME: &str = "evidence_present";

/// `None` when the dispatch's role requires no screenshots gate; else what holds, or why not.
pub(super) fn check(config: &Config, ev: &Evidence) -> Option<Result<String, String>> {
    let required = crate::gate::required_gates(config, ev.role(), ev.asked_gates()).ok()?;
    let wanted: Vec<&String> = (required.iter())
        .filter(|g| matches!(config.gates[*g].kind, GateKind::Screenshots { .. }))
        .collect();
    if wanted.is_empty() {
        return None;
    }
    let Some(head) = ev.head() else {
        return Some(Err("no recorded head to have screenshots of".into()));
    };
    let latest = crate::gate::shots::latest(ev);
    let (mut problems, mut images) = (Vec::new(), 0);
    for name in wanted {
        match latest.iter().find(|r| &r.gate == name) {
            None => problems.push(format!("gate `{name}` has taken no screenshots of {head}")),
            Some(r) if r.status != crate::gate::Status::Pass || r.screenshots.is_empty() => {
                problems.push(format!(
                    "gate `{name}` took no screenshots of {head}: {}",
                    r.reason.as_deref().unwrap_or("(no reason)")
                ))
            }
            Some(r) => {
                for shot in &r.screenshots {
                    match crate::gate::shots::image(shot) {
                        Ok(_) => images += 1,
                        Err(why) => problems.push(format!("gate `{name}`: {why}")),
                    }
                }
            }
        }
    }
    Some(if problems.is_empty() {
        Ok(format!(
            "{images} screenshot(s) of {head}, each as its receipt hashed"
        ))
    } else {
        Err(problems.join("; "))
    })
}
