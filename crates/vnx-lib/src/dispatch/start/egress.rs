//! The egress policy at dispatch time: the composed prompt and the `.worktreeinclude` files
//! scanned before anything is made, the prompt redacted and files withheld as the policy
//! says, a refusal recorded as the plan's only write, and the `egress_decision` receipt.

use std::path::Path;

use crate::constraints::Constraints;
use crate::egress::{self, Finding, Outcome, Source};
use crate::ledger::{Ledger, Receipt};
use crate::receipts::{self, EgressDecision, EgressFinding, EgressSource, EgressVerdict};

use crate::dispatch::start::include::{self, Included};
use crate::dispatch::{Context, DispatchError, Spec, attest_all, io_err};

/// Judges what `provider` would receive: the prompt and files as they would leave. Included
/// files are read only when the provider is not exempt.
pub(crate) fn judge(
    root: &Path,
    constraints: &Constraints,
    provider: &str,
    prompt: &str,
    included: &[Included],
) -> Result<Outcome, DispatchError> {
    let policy = &constraints.egress;
    if policy.provider_action(provider).is_none() {
        return Ok(Outcome::default());
    }
    let mut files = Vec::with_capacity(included.len());
    for f in included {
        let data = include::read(root, f).map_err(io_err(&root.join(&f.path)))?;
        files.push((f.path.clone(), data));
    }
    Ok(egress::check(policy, provider, prompt, &files))
}

/// The `egress_decision` receipt, when there are findings.
pub(crate) fn receipt(spec: &Spec, outcome: &Outcome, constraints_sha256: &str) -> Option<Receipt> {
    let strictest = outcome.strictest()?;
    let refused = strictest == egress::Action::Refuse;
    Some(receipts::write(&EgressDecision {
        dispatch_id: spec.id.clone(),
        provider: spec.provider.to_string(),
        decision: EgressVerdict::of(strictest),
        findings: outcome.findings.iter().map(finding).collect(),
        withheld: outcome.withheld.clone(),
        prompt_sha256: (!refused).then(|| spec.prompt_sha256.clone()),
        constraints_file: crate::constraints::FILE.to_owned(),
        constraints_sha256: constraints_sha256.to_owned(),
        extra: Default::default(),
    }))
}

fn finding(f: &Finding) -> EgressFinding {
    let (source, path) = match &f.source {
        Source::Prompt => (EgressSource::Prompt, None),
        Source::Included(p) => (EgressSource::WorktreeInclude, Some(p.clone())),
    };
    EgressFinding {
        rule: f.hit.rule.clone(),
        action: f.action,
        source,
        path,
        line: f.hit.line as u64,
        column: f.hit.column as u64,
        byte_offset: f.hit.start as u64,
        bytes: (f.hit.end - f.hit.start) as u64,
        sha256: f.hit.sha256.clone(),
    }
}

/// A finding under `refuse` refuses the dispatch: its `egress_decision` is the only write.
pub(crate) fn refuse_if_found(
    ctx: &Context<'_>,
    spec: &Spec,
    outcome: &Outcome,
    constraints_sha256: &str,
) -> Result<(), DispatchError> {
    if !outcome.refused() {
        return Ok(());
    }
    if let Some(r) = receipt(spec, outcome, constraints_sha256) {
        Ledger::new(&spec.ledger).append_all(&attest_all(ctx.attestor, vec![r]))?;
    }
    Err(DispatchError::EgressRefused {
        id: spec.id.to_string(),
        findings: outcome
            .findings
            .iter()
            .filter(|f| f.action == egress::Action::Refuse)
            .cloned()
            .collect(),
    })
}
