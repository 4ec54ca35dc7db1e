//! The receipts of issues taken as work (issue 72): taken, declined, commented on and
//! released, each with every member set, checked as the other kinds are.

use vnx::receipts::{IssueIntake, IssueRelease};

use super::{ID, check, did, s};

/// Checks every sample, adding what fails to `failures`.
pub(super) fn check_all(failures: &mut Vec<String>) {
    check(
        vnx::receipts::IssueTaken {
            issue: 7,
            url: s("https://github.com/o/r/issues/7"),
            repo: s("o/r"),
            title: s("add a greeting"),
            author: s("ana"),
            association: s("COLLABORATOR"),
            labels: vec![s("vnx")],
            dispatch_id: did(ID),
            how: IssueIntake::Watch,
            by: Some(s("mcp:agent")),
            extra: Default::default(),
        },
        failures,
    );
    check(
        vnx::receipts::IssueDeclined {
            issue: 8,
            url: s("https://github.com/o/r/issues/8"),
            repo: s("o/r"),
            author: s("mallory"),
            association: s("NONE"),
            how: IssueIntake::Run,
            why: s("its author mallory is not associated with the repository"),
            extra: Default::default(),
        },
        failures,
    );
    check(
        vnx::receipts::IssueCommented {
            issue: 7,
            repo: s("o/r"),
            dispatch_id: did(ID),
            about: s("pull_request"),
            number: Some(9),
            extra: Default::default(),
        },
        failures,
    );
    check(
        vnx::receipts::IssueReleased {
            issue: 7,
            repo: s("o/r"),
            dispatch_id: did(ID),
            why: IssueRelease::StartFailed,
            cancelled: false,
            detail: Some(s("the constraints refused it")),
            extra: Default::default(),
        },
        failures,
    );
}
