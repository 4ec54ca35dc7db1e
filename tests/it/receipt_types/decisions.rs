//! The receipts of a person's decisions on a dispatch's work (review comments and their
//! sending, a plan approved or sent back; a schedule fired or skipped), each checked as the other kinds are.

use vnx::receipts::LineRef;

use super::{COMMIT, HASH, ID, check, cid, did, s};

/// Checks every sample, adding what fails to `failures`.
pub(super) fn check_all(failures: &mut Vec<String>) {
    check(
        vnx::receipts::ReviewComment {
            dispatch_id: did(ID),
            head_commit: cid(COMMIT),
            file: s("src/x.rs"),
            line: 42,
            line_sha256: s(HASH),
            line_text: s("    println!(\"hi\");"),
            body: s("Say hello here, not hi."),
            by: s("ana"),
            extra: Default::default(),
        },
        failures,
    );
    check(
        vnx::receipts::PlanApproved {
            dispatch_id: did(ID),
            plan_sha256: s(HASH),
            by: s("ana"),
            message: Some(s("name it greeting.txt")),
            head_commit: Some(vnx::ids::CommitId::parse(&"a".repeat(40)).unwrap()),
            extra: Default::default(),
        },
        failures,
    );
    check(
        vnx::receipts::ReviewSent {
            dispatch_id: did(ID),
            comments: vec![LineRef {
                seq: Some(7),
                line_sha256: s(HASH),
            }],
            follow_up: did("D-2b3c4d5e6f7a"),
            continues: did(ID),
            by: s("ana"),
            extra: Default::default(),
        },
        failures,
    );
    check(
        vnx::receipts::PlanDenied {
            dispatch_id: did(ID),
            plan_sha256: s(HASH),
            by: s("ana"),
            message: Some(s("add a test first")),
            extra: Default::default(),
        },
        failures,
    );
    check(
        vnx::receipts::BudgetWarning {
            used: vnx::receipts::BudgetUse {
                dispatch_id: did(ID),
                tokens_used: 8000,
                tokens_limit: 10_000,
                cost_used_usd: Some(0.8),
                cost_limit_usd: Some(1.0),
                limit: Some(s("cost")),
                budget: None,
            },
            extra: Default::default(),
        },
        failures,
    );
    check(
        vnx::receipts::BudgetReached {
            used: vnx::receipts::BudgetUse {
                dispatch_id: did(ID),
                tokens_used: 10_200,
                tokens_limit: 10_000,
                cost_used_usd: None,
                cost_limit_usd: None,
                limit: Some(s("tokens")),
                budget: Some(s("project_day")),
            },
            how: s("interrupted"),
            extra: Default::default(),
        },
        failures,
    );
    check(
        vnx::receipts::BudgetRaised {
            dispatch_id: did(ID),
            added_tokens: 5000,
            tokens_limit: 15_000,
            added_usd: Some(2.0),
            cost_limit_usd: Some(3.0),
            budget: Some(s("project_day")),
            by: s("ana"),
            extra: Default::default(),
        },
        failures,
    );
    check(
        vnx::receipts::ScheduleFired {
            schedule: s("nightly"),
            slot: vnx::ids::Timestamp::parse("2026-12-01T03:00:00Z").unwrap(),
            dispatch_id: did(ID),
            when: s("cron 0 3 * * *"),
            missed: 2,
            extra: Default::default(),
        },
        failures,
    );
    check(
        vnx::receipts::ScheduleSkipped {
            schedule: s("nightly"),
            slot: vnx::ids::Timestamp::parse("2026-12-02T03:00:00Z").unwrap(),
            reason: vnx::receipts::ScheduleSkip::Overlap,
            missed: 0,
            dispatch_id: Some(did(ID)),
            detail: s("its previous dispatch still runs (overlap: skip)"),
            extra: Default::default(),
        },
        failures,
    );
}
