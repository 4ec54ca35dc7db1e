//! The busy shape of benchmark 10's history (`--shape busy`): what a project used daily for
//! a long time records per dispatch besides its start and end, and the checkpoints its merges
//! anchor. Each generated dispatch gets, around the real dispatch's two receipts:
//!
//! - a `constraint_decision` before its start;
//! - one in three, a permission prompt: `dispatch_blocked` then `dispatch_answered`;
//! - a gate run: `gate_request` and `gate_result` for `tests` and `review`, then a
//!   `gate_report`;
//! - its `dispatch_completed` (one in ten `failed`, one in a thousand `needs_input` and left
//!   waiting for a person; one in a thousand never ends: a lost dispatch whose worktree is
//!   left on disk);
//! - one in four of those done, a merge: `merge_completed` and `worktree_released`, and a
//!   checkpoint on `refs/vnx/checkpoints` at that line, as `vnx merge` anchors one.
//!
//! The receipts are the library's typed kinds (as `vnx` writes them), signed with the
//! project's key; the checkpoints are signed with it too and match the ledger (the first read
//! verifies the whole ledger against them).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vnx::ids::{CommitId, DispatchId};
use vnx::ledger::Receipt;
use vnx::receipts::{self, *};

use crate::Result;

const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// What the busy shape does with the `i`-th dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It ends `done` and is merged (a checkpoint at its `merge_completed`).
    Merged,
    /// It ends as the template's completion says (`done`, or `failed` one in ten).
    Ended,
    /// It ends `needs_input` and nobody answered.
    Waiting,
    /// It never ends: lost, its worktree left behind.
    Lost,
}

impl Fate {
    /// The fate of dispatch `i`.
    pub fn of(i: usize) -> Fate {
        match i {
            i if i % 1000 == 499 => Fate::Lost,
            i if i % 1000 == 999 => Fate::Waiting,
            i if i % 10 == 9 => Fate::Ended,
            i if i % 4 == 1 => Fate::Merged,
            _ => Fate::Ended,
        }
    }
}

/// The receipts before dispatch `id`'s start.
pub fn before_start(id: &DispatchId) -> Vec<Receipt> {
    vec![receipts::write(&constraint(id))]
}

/// The receipts between dispatch `id`'s start and its end (the `i`-th generated).
pub fn while_running(id: &DispatchId, i: usize) -> Result<Vec<Receipt>> {
    let mut out = Vec::new();
    if i.is_multiple_of(3) {
        out.push(receipts::write(&blocked(id)));
        out.push(receipts::write(&answered(id)));
    }
    let run = format!("20261122T{:06}Z-{:04x}", i % 240_000, i % 65_536);
    for gate in ["tests", "review"] {
        out.push(receipts::write(&gate_request(id, gate, &run)?));
        out.push(receipts::write(&gate_result(id, gate, &run)?));
    }
    out.push(receipts::write(&gate_report(id, &run)?));
    Ok(out)
}

/// The receipts after dispatch `id`'s end, when it is merged.
pub fn after_merge(id: &DispatchId) -> Result<Vec<Receipt>> {
    Ok(vec![
        receipts::write(&merged(id)?),
        receipts::write(&released(id)?),
    ])
}

fn cid() -> Result<CommitId> {
    Ok(CommitId::parse(COMMIT)?)
}

fn constraint(id: &DispatchId) -> ConstraintDecision {
    ConstraintDecision {
        dispatch_id: id.clone(),
        constraint_id: "no-headless-claude".into(),
        rule: "forbid_route".into(),
        decision: ConstraintVerdict::Warned,
        audit_severity: ConstraintSeverity::Warn,
        enforcement: ConstraintEnforcement::CodeRaise,
        reason: "watch claude".into(),
        detail: "provider demo via interactive".into(),
        override_variable: "VNX_ALLOW_NO_HEADLESS_CLAUDE".into(),
        override_allowed: true,
        override_requested: false,
        override_reason: None,
        route: RouteRef {
            provider: "demo".into(),
            model: None,
            role: "implementer".into(),
            lane: vnx::provider::Lane::Interactive,
            permission: vnx::provider::Permission::Edits,
            via: vec!["interactive".into()],
            sandboxed: true,
        },
        constraints_file: "provider_constraints.yaml".into(),
        constraints_sha256: HASH.into(),
        extra: Default::default(),
    }
}

fn blocked(id: &DispatchId) -> DispatchBlocked {
    DispatchBlocked {
        dispatch_id: id.clone(),
        waiting_for: WaitingFor::Permission,
        tool: Some("Bash".into()),
        command: Some("cargo test --workspace".into()),
        message: Some("Claude needs your permission to use Bash".into()),
        source: "claude-permission-request".into(),
        answer_with: format!("vnx attach {id}"),
        remote: None,
        extra: Default::default(),
    }
}

fn answered(id: &DispatchId) -> DispatchAnswered {
    DispatchAnswered {
        dispatch_id: id.clone(),
        answer: PermissionAnswer::Approve,
        by: "ana".into(),
        source: "claude-permission-request".into(),
        tool: Some("Bash".into()),
        command: Some("cargo test --workspace".into()),
        via: AnsweredVia::Pane,
        keys: Some("1".into()),
        message: None,
        request_from: Some(RequestFrom::WorkerHook),
        pane_dialog: Some("Do you want to run cargo test --workspace?\n❯ 1. Yes".into()),
        concluded: None,
        extra: Default::default(),
    }
}

fn on_merge() -> Result<OnMerge> {
    Ok(OnMerge {
        dispatch_head: cid()?,
        base_ref: "refs/heads/main".into(),
        base_tip: cid()?,
    })
}

fn gate_request(id: &DispatchId, gate: &str, run: &str) -> Result<GateRequest> {
    Ok(GateRequest {
        dispatch_id: id.clone(),
        gate: gate.into(),
        kind: if gate == "review" {
            "review"
        } else {
            "command"
        }
        .into(),
        run: run.into(),
        head_commit: cid()?,
        base_commit: cid()?,
        definition: serde_json::json!({"kind": "command", "argv": ["cargo", "test"]}),
        definition_sha256: HASH.into(),
        request_path: format!("/r/.vnx-data/gates/{run}/{gate}/request.json"),
        request_sha256: HASH.into(),
        contract_hash: HASH.into(),
        on_merge: Some(on_merge()?),
        extra: Default::default(),
    })
}

fn gate_result(id: &DispatchId, gate: &str, run: &str) -> Result<GateResult> {
    let review = gate == "review";
    Ok(GateResult {
        dispatch_id: id.clone(),
        gate: gate.into(),
        kind: if review { "review" } else { "command" }.into(),
        run: run.into(),
        status: GateStatus::Pass,
        reason: None,
        failure_reason: None,
        contract_hash: HASH.into(),
        head_commit: cid()?,
        definition_sha256: HASH.into(),
        request_sha256: HASH.into(),
        duration_seconds: 41.25,
        argv: vec!["cargo".into(), "test".into()],
        exit: Some(GateExit {
            code: Some(0),
            signal: None,
        }),
        provider: review.then(|| "codex".into()),
        model: review.then(|| "gpt-5-codex".into()),
        session_id: None,
        verdict: review.then_some(ReviewVerdict::Pass),
        finding_counts: review.then_some(ReviewCounts {
            blocking: 0,
            major: 0,
            minor: 1,
        }),
        findings: if review {
            vec![ReviewFinding {
                severity: "low".into(),
                weight: ReviewWeight::Minor,
                message: "a name could say more".into(),
                file: Some("src/lib.rs".into()),
                line: Some(7),
            }]
        } else {
            Vec::new()
        },
        output_path: format!("/r/.vnx-data/gates/{run}/{gate}/output.log"),
        output_sha256: Some(HASH.into()),
        result_path: format!("/r/.vnx-data/gates/{run}/{gate}/result.json"),
        result_sha256: HASH.into(),
        report_path: format!("/r/.vnx-data/gates/{run}/{gate}/report.md"),
        report_sha256: HASH.into(),
        worktree_removed: true,
        pooled_worktree: None,
        on_merge: Some(on_merge()?),
        sandbox: None,
        screenshots: Vec::new(),
        extra: Default::default(),
    })
}

fn gate_report(id: &DispatchId, run: &str) -> Result<GateReport> {
    let entry = |gate: &str| -> Result<GateReportEntry> {
        Ok(GateReportEntry {
            gate: gate.into(),
            kind: if gate == "review" {
                "review"
            } else {
                "command"
            }
            .into(),
            status: GateStatus::Pass,
            contract_hash: HASH.into(),
            head_commit: cid()?,
        })
    };
    Ok(GateReport {
        dispatch_id: id.clone(),
        run: run.into(),
        status: GateReportStatus::Go,
        decision: GateDecision::Go,
        reasons: Vec::new(),
        notes: Vec::new(),
        role: Some("implementer".into()),
        head_commit: Some(cid()?),
        required: Some(vec!["tests".into(), "review".into()]),
        gates: vec![entry("tests")?, entry("review")?],
        report_path: format!("/r/.vnx-data/gates/{run}/gate-report.json"),
        report_sha256: HASH.into(),
        extra: Default::default(),
    })
}

fn merged(id: &DispatchId) -> Result<MergeCompleted> {
    Ok(MergeCompleted {
        dispatch_id: id.clone(),
        status: MergeStatus::Merged,
        merge_receipt: HASH.into(),
        merge_receipt_seq: 9,
        merge_commit: cid()?,
        tree: COMMIT.into(),
        tree_as_planned: true,
        branch: format!("dispatch/{id}"),
        head_commit: cid()?,
        base_ref: "refs/heads/main".into(),
        merge_result_gates: Vec::new(),
        resumed: None,
        extra: Default::default(),
    })
}

fn released(id: &DispatchId) -> Result<WorktreeReleased> {
    use vnx::release::{Class, Evidence, Rule};
    Ok(WorktreeReleased {
        dispatch_id: id.clone(),
        branch: Some(format!("dispatch/{id}")),
        worktree: Some(format!("/r/.vnx-data/worktrees/dispatch-{id}")),
        dispatch_dir: Some(format!("/r/.vnx-data/dispatches/{id}")),
        class: Class::Landed,
        reason: "its tip is in main".into(),
        evidence: Some(Evidence {
            rule: Rule::Contained,
            tip: cid()?,
            base_ref: "refs/heads/main".into(),
            base_commit: cid()?,
            merge_base: Some(COMMIT.into()),
            remote: None,
            remote_commit: None,
            pull_request: None,
            merge_commit: Some(cid()?),
        }),
        action: ReleaseAction {
            worktree_unlocked: true,
            worktree_removed: true,
            branch_deleted: true,
            dispatch_dir_removed: false,
            branch_delete: Some("git branch -d".into()),
        },
        error: None,
        teardown_class: Some(vnx::worktree::TeardownClass::Committed),
        discarded: false,
        extra: Default::default(),
    })
}

/// Anchors a checkpoint on `refs/vnx/checkpoints` at every `merge_completed` line of the
/// ledger at `ledger`, as `vnx merge` does after a merge: the statement of the ledger's
/// first lines (its last line's SHA-256 and the history digest), signed with the key at
/// `key`. Returns how many.
pub fn anchor_merges(ledger: &Path, key: &Path) -> Result<usize> {
    use ed25519_dalek::Signer;
    let seed_text = std::fs::read_to_string(key)?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(
        seed_text
            .trim()
            .strip_prefix("vnx-ed25519-seed-v1 ")
            .ok_or("the key is not a vnx key")?,
        &mut seed,
    )?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = hex::encode(signing.verifying_key().to_bytes());
    let name = vnx::ledger::checkpoint::Anchor::discover(ledger)?.ledger_name(ledger);
    let root: PathBuf = ledger
        .ancestors()
        .nth(3)
        .ok_or("the ledger is not in a project")?
        .to_owned();
    let repo = git2::Repository::open(&root)?;
    let who = git2::Signature::now("vnx", "vnx@localhost")?;
    let mut parent: Option<git2::Oid> = repo
        .find_reference("refs/vnx/checkpoints")
        .ok()
        .and_then(|r| r.target());
    let mut history = Sha256::new();
    let mut n = 0u64;
    let mut made = 0;
    let mut reader = BufReader::with_capacity(1 << 20, std::fs::File::open(ledger)?);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            break;
        }
        line.pop();
        n += 1;
        let hash: [u8; 32] = Sha256::digest(&line).into();
        history.update(hash);
        if !contains(&line, b"\"event_type\":\"merge_completed\"") {
            continue;
        }
        let at = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
        let text = format!(
            "vnx-ledger-checkpoint v1\nledger {name}\nlines {n}\nhead {}\nhistory {}\ntime {at}\n",
            hex::encode(hash),
            hex::encode(history.clone().finalize()),
        );
        let signature = hex::encode(signing.sign(text.as_bytes()).to_bytes());
        let mut tree = repo.treebuilder(None)?;
        tree.insert("checkpoint", repo.blob(text.as_bytes())?, 0o100644)?;
        tree.insert(
            "signature",
            repo.blob(format!("{signature}\n").as_bytes())?,
            0o100644,
        )?;
        tree.insert(
            "public_key",
            repo.blob(format!("{public}\n").as_bytes())?,
            0o100644,
        )?;
        let tree = repo.find_tree(tree.write()?)?;
        let message = format!("vnx checkpoint: {name} at line {n}\n\n{text}");
        let parents: Vec<git2::Commit<'_>> = parent
            .map(|p| repo.find_commit(p))
            .transpose()?
            .into_iter()
            .collect();
        let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        parent = Some(repo.commit(None, &who, &who, &message, &tree, &refs)?);
        made += 1;
    }
    if let Some(tip) = parent {
        repo.reference("refs/vnx/checkpoints", tip, true, "vnx-bench checkpoints")?;
    }
    Ok(made)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
