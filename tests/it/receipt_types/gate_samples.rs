//! Samples of the gate and merge-queue receipt kinds, every member set, for the round trip in
//! `receipt_types.rs`.

use super::*;

pub(super) fn request() -> GateRequest {
    GateRequest {
        dispatch_id: did(ID),
        gate: s("tests"),
        kind: s("command"),
        run: s("20261122T100000Z-ab12"),
        head_commit: cid(COMMIT),
        base_commit: cid(COMMIT),
        definition: serde_json::json!({"kind": "command", "argv": ["cargo", "test"]}),
        definition_sha256: s(HASH),
        request_path: s("/r/.vnx-data/gates/run/tests/request.json"),
        request_sha256: s(HASH),
        contract_hash: s(HASH),
        on_merge: Some(on_merge()),
        extra: Default::default(),
    }
}

pub(super) fn on_merge() -> OnMerge {
    OnMerge {
        dispatch_head: cid(COMMIT),
        base_ref: s("refs/heads/main"),
        base_tip: cid(COMMIT),
    }
}

pub(super) fn dequeued() -> MergeDequeued {
    MergeDequeued {
        dispatch_id: did(ID),
        status: MergeStatus::Dequeued,
        reason: DequeueReason::GatesFailed,
        failure_reason: s("gate `tests` failed on the merge result"),
        base_ref: s("refs/heads/main"),
        base_tip: cid(COMMIT),
        head_commit: cid(COMMIT),
        conflicts: vec![s("demo-output.txt")],
        merge_receipt: Some(s(HASH)),
        merge_receipt_seq: Some(9),
        merge_commit: Some(cid(COMMIT)),
        gates: vec![gate_evidence()],
        extra: Default::default(),
    }
}

pub(super) fn result() -> GateResult {
    GateResult {
        dispatch_id: did(ID),
        gate: s("review"),
        kind: s("review"),
        run: s("20261122T100000Z-ab12"),
        status: Status::Fail,
        reason: Some(s("1 blocking finding")),
        failure_reason: Some(s("1 blocking finding")),
        contract_hash: s(HASH),
        head_commit: cid(COMMIT),
        definition_sha256: s(HASH),
        request_sha256: s(HASH),
        duration_seconds: 3.25,
        argv: vec![s("codex"), s("exec")],
        exit: Some(Exit {
            code: Some(1),
            signal: Some(s("SIGTERM")),
        }),
        provider: Some(s("codex")),
        model: Some(s("gpt-5-codex")),
        session_id: Some(s("abc")),
        verdict: Some(ReviewVerdict::Fail),
        finding_counts: Some(Counts {
            blocking: 1,
            major: 0,
            minor: 2,
        }),
        findings: vec![Finding {
            severity: s("high"),
            weight: Weight::Blocking,
            message: s("the test does not assert"),
            file: Some(s("src/lib.rs")),
            line: Some(7),
        }],
        output_path: s("/r/output.log"),
        output_sha256: Some(s(HASH)),
        result_path: s("/r/result.json"),
        result_sha256: s(HASH),
        report_path: s("/r/report.md"),
        report_sha256: s(HASH),
        worktree_removed: true,
        pooled_worktree: Some(s("pool-0a1b2c3d")),
        on_merge: Some(on_merge()),
        sandbox: None,
        screenshots: vec![vnx::receipts::Screenshot {
            path: "/about".into(),
            width: 390,
            height: 844,
            file: "/p/.vnx-data/gates/D-1/run/looks/shots/1-390x844.png".into(),
            sha256: "ab".repeat(32),
            bytes: 4049,
        }],
        extra: Default::default(),
    }
}

pub(super) fn report() -> GateReport {
    GateReport {
        dispatch_id: did(ID),
        run: s("20261122T100000Z-ab12"),
        status: GateReportStatus::Hold,
        decision: Decision::Hold,
        reasons: vec![s("gate review failed")],
        notes: vec![s("role docs requires no gates")],
        role: Some(s("implementer")),
        head_commit: Some(cid(COMMIT)),
        required: Some(vec![s("tests"), s("review")]),
        gates: vec![GateReportEntry {
            gate: s("review"),
            kind: s("review"),
            status: Status::Fail,
            contract_hash: s(HASH),
            head_commit: cid(COMMIT),
        }],
        report_path: s("/r/gate-report.json"),
        report_sha256: s(HASH),
        extra: Default::default(),
    }
}
