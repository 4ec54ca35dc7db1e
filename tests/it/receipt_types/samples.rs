//! Samples of the merge, release and group receipt kinds, every member set, for the round
//! trip in `receipt_types.rs`.

use super::*;

pub(super) fn gate_evidence() -> GateEvidence {
    GateEvidence {
        gate: s("tests"),
        status: s("pass"),
        contract_hash: Some(s(HASH)),
        run: Some(s("20261122T100000Z-ab12")),
        result_seq: Some(7),
        result_line_sha256: Some(s(HASH)),
    }
}

pub(super) fn planned() -> MergePlanned {
    MergePlanned {
        dispatch_id: did(ID),
        status: MergeStatus::Planned,
        role: Some(s("implementer")),
        branch: format!("dispatch/{ID}"),
        head_commit: cid(COMMIT),
        base_ref: s("refs/heads/main"),
        base_commit: Some(cid(COMMIT)),
        base_tip: Some(cid(COMMIT)),
        base_moved: false,
        merge_tree: Some(s(COMMIT)),
        strategy: s("git merge --no-ff"),
        gates: vec![gate_evidence()],
        conditions: vec![s("ledger_verifies"), s("dispatch_done")],
        checkpoint: Some(CheckpointRef {
            id: s(COMMIT),
            lines: 12,
        }),
        completion: Some(CompletionRef {
            seq: Some(5),
            line_sha256: s(HASH),
        }),
        acceptance: Some(CompletionRef {
            seq: Some(6),
            line_sha256: s(HASH),
        }),
        by: Some(s("ana via MCP")),
        extra: Default::default(),
    }
}

pub(super) fn merge_failed() -> MergeFailed {
    MergeFailed {
        dispatch_id: did(ID),
        status: MergeStatus::Failed,
        merge_receipt: s(HASH),
        merge_receipt_seq: 9,
        failure_reason: s("CONFLICT (content)"),
        extra: Default::default(),
    }
}

pub(super) fn merged() -> MergeCompleted {
    MergeCompleted {
        dispatch_id: did(ID),
        status: MergeStatus::Merged,
        merge_receipt: s(HASH),
        merge_receipt_seq: 9,
        merge_commit: cid(COMMIT),
        tree: s(COMMIT),
        tree_as_planned: true,
        branch: format!("dispatch/{ID}"),
        head_commit: cid(COMMIT),
        base_ref: s("refs/heads/main"),
        merge_result_gates: vec![gate_evidence()],
        resumed: None,
        extra: Default::default(),
    }
}

pub(super) fn released() -> WorktreeReleased {
    WorktreeReleased {
        dispatch_id: did(ID),
        branch: Some(format!("dispatch/{ID}")),
        worktree: Some(format!("/r/.vnx-data/worktrees/dispatch-{ID}")),
        dispatch_dir: Some(format!("/r/.vnx-data/dispatches/{ID}")),
        class: Class::Landed,
        reason: s("its tip is in main"),
        evidence: Some(Evidence {
            rule: Rule::Contained,
            tip: cid(COMMIT),
            base_ref: s("refs/heads/main"),
            base_commit: cid(COMMIT),
            merge_base: Some(s(COMMIT)),
            remote: Some(s("origin")),
            remote_commit: Some(s(COMMIT)),
            pull_request: Some(7),
            merge_commit: Some(cid(COMMIT)),
        }),
        action: ReleaseAction {
            worktree_unlocked: true,
            worktree_removed: true,
            branch_deleted: true,
            dispatch_dir_removed: true,
            branch_delete: Some(s("git branch -D")),
        },
        error: Some(s("could not delete the branch")),
        teardown_class: Some(TeardownClass::Committed),
        discarded: false,
        extra: Default::default(),
    }
}

pub(super) fn group_started() -> GroupStarted {
    GroupStarted {
        group_id: gid("G-1a2b3c4d5e6f"),
        role: s("implementer"),
        instruction_sha256: s(HASH),
        base_ref: s("HEAD"),
        candidates: vec![GroupCandidate {
            index: 1,
            dispatch_id: did(ID),
            provider: s("codex"),
            model: Some(s("o3")),
            entry: CandidateEntry::Refused,
            reason: Some(s("constraint `no-codex` refused it")),
        }],
        extra: Default::default(),
    }
}

pub(super) fn group_decision() -> GroupDecision {
    let line = LineRef {
        seq: Some(7),
        line_sha256: s(HASH),
    };
    GroupDecision {
        group_id: gid("G-1a2b3c4d5e6f"),
        rule: s("best-of/1"),
        winner: Some(did(ID)),
        reason: s("every required gate passed, 2 line(s) in 1 file(s)"),
        candidates: vec![CandidateEvidence {
            index: 1,
            dispatch_id: did(ID),
            provider: s("claude"),
            model: Some(s("sonnet")),
            entry: CandidateEntry::Launched,
            status: Some(DispatchStatus::Done),
            completion: Some(line.clone()),
            head_commit: Some(cid(COMMIT)),
            gate_run: Some(s("20261122T100000Z-ab12")),
            gate_decision: Some(Decision::Go),
            gate_report: Some(line),
            gates: vec![GateStanding {
                gate: s("review"),
                kind: s("review"),
                status: Status::Pass,
                contract_hash: s(HASH),
            }],
            review: Some(ReviewStanding {
                passed: true,
                gates: 1,
                findings: 2,
            }),
            change: Some(ChangeSize { lines: 2, files: 1 }),
            verdict: CandidateVerdict::Won,
            rank: Some(1),
            reason: s("won"),
        }],
        extra: Default::default(),
    }
}
