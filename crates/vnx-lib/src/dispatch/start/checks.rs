//! What a request must be before anything is made for it: a role of the right form that
//! the project knows, an instruction a worker can be given and a deadline in range, gates it
//! asks for that the config declares, and an id of its own.

use std::path::Path;

use crate::config::Config;
use crate::dispatch::spec::MAX_DEADLINE_SECS;
use crate::dispatch::{DispatchError, Request};
use crate::ids::DispatchId;
use crate::skills;
use crate::worktree::Repo;

/// A role is a name of the right form that the config declares or a skill names (a typo is
/// not a new role); a follow-up's is its dispatch's.
fn check_role(req: &Request, config: &Config, root: &Path) -> Result<(), DispatchError> {
    if !crate::config::is_name(&req.role, u8::is_ascii_lowercase, b"-_", 1..=32) {
        return Err(DispatchError::BadRole {
            role: req.role.clone(),
        });
    }
    if req.continues.is_none()
        && !config.roles.contains_key(&req.role)
        && !skills::available(root).contains(&req.role)
    {
        let mut known: Vec<String> = config.roles.keys().cloned().collect();
        known.extend(skills::available(root));
        known.sort();
        known.dedup();
        return Err(DispatchError::UnknownRole {
            role: req.role.clone(),
            known,
        });
    }
    Ok(())
}

/// The dispatch id: the one asked for, if it is well-formed and unused, else a fresh one (a
/// random id that happens to be taken is drawn again).
pub(super) fn choose_id(
    req: &Request,
    root: &Path,
    repo: &Repo,
) -> Result<DispatchId, DispatchError> {
    match &req.id {
        Some(id) => match crate::worktree::id_in_use(root, repo, id) {
            Some(what) => Err(DispatchError::IdInUse {
                id: id.to_string(),
                what,
            }),
            None => Ok(id.clone()),
        },
        None => Ok(std::iter::repeat_with(DispatchId::fresh)
            .take(64)
            .find(|id| crate::worktree::id_in_use(root, repo, id).is_none())
            .unwrap_or_else(DispatchId::fresh)),
    }
}

/// An instruction a worker can be given, and a deadline in range.
pub(super) fn check_instruction_and_deadline(req: &Request) -> Result<(), DispatchError> {
    if req.instruction.trim().is_empty() {
        return Err(DispatchError::EmptyInstruction);
    }
    let secs = req.deadline.as_secs();
    if !(1..=MAX_DEADLINE_SECS).contains(&secs) {
        return Err(DispatchError::BadDeadline { secs });
    }
    if req.instruction.contains('\0') {
        return Err(DispatchError::NulInInstruction);
    }
    Ok(())
}

/// [`check_role`], then the gates its task asks for ([`asked_gates`]).
pub(super) fn role_and_gates(
    req: &Request,
    config: &Config,
    root: &Path,
) -> Result<Vec<String>, DispatchError> {
    check_role(req, config, root)?;
    asked_gates(req, config)
}

/// The gates a dispatch's merge will require beside its role's: those its chain asked for
/// (a follow-up's), then those it asks for, each one the config declares.
fn asked_gates(req: &Request, config: &Config) -> Result<Vec<String>, DispatchError> {
    let chain = req.continues.as_ref().map(|c| c.started.gates.as_slice());
    let mut gates: Vec<String> = chain.unwrap_or_default().to_vec();
    for gate in &req.gates {
        if !config.gates.contains_key(gate) {
            return Err(DispatchError::UnknownGate {
                gate: gate.clone(),
                known: config.gates.keys().cloned().collect(),
            });
        }
        if !gates.contains(gate) {
            gates.push(gate.clone());
        }
    }
    Ok(gates)
}
