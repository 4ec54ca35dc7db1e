//! What a remote dispatch was asked, read from its arguments, and a place's start held to it.

use super::*;
use crate::receipts::Permission;

fn example() -> DispatchStarted {
    let text = include_str!("../../../../../receipts/examples/dispatch_started.json");
    let mut v: serde_json::Value = serde_json::from_str(text).expect("the example");
    let o = v.as_object_mut().expect("an object");
    for envelope in [
        "seq",
        "prev_hash",
        "prev_line_sha256",
        "vnx_attestation",
        "timestamp",
    ] {
        o.remove(envelope);
    }
    o.insert(
        "instruction_sha256".into(),
        hex::encode(Sha256::digest(b"do it")).into(),
    );
    serde_json::from_value(v).expect("a dispatch_started")
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn what_was_asked_is_read_from_the_arguments_flag_by_flag() {
    let asked = Asked::of_args(
        &args(&[
            "--agent",
            "implementer",
            "--provider",
            "demo",
            "--instruction",
            "--plan",
            "--permission",
            "edits",
            "--budget",
            "tokens=5000",
            "--sandbox",
            "--network",
            "off",
            "--gate",
            "shots",
        ]),
        None,
    );
    assert_eq!(asked.gates, ["shots"]);
    assert_eq!(asked.role.as_deref(), Some("implementer"));
    assert_eq!(asked.provider.as_deref(), Some("demo"));
    // An instruction that reads `--plan` asks for no plan.
    assert!(!asked.plan);
    assert_eq!(
        asked.instruction_sha256,
        Some(hex::encode(Sha256::digest(b"--plan")))
    );
    assert_eq!(asked.permission.as_deref(), Some("edits"));
    assert_eq!(asked.budget.as_ref().and_then(|b| b.tokens), Some(5000));
    assert_eq!(asked.sandbox, Some(true));
    assert!(Asked::of_args(&args(&["--instruction", "x", "--plan"]), None).plan);
}

#[test]
fn a_start_that_holds_to_what_was_asked_passes() {
    let started = example();
    let asked = Asked::of_args(
        &args(&[
            "--agent",
            "implementer",
            "--provider",
            "demo",
            "--permission",
            "edits",
            "--instruction",
            "do it",
        ]),
        None,
    );
    assert_eq!(asked.contradicted_by(&started), None);
}

#[test]
fn a_start_with_another_role_posture_plan_sandbox_budget_or_task_is_a_contradiction() {
    let asked = Asked::of_args(
        &args(&[
            "--agent",
            "implementer",
            "--permission",
            "edits",
            "--instruction",
            "do it",
        ]),
        None,
    );
    let mut other_role = example();
    other_role.role = "reviewer".into();
    let said = asked.contradicted_by(&other_role).expect("a contradiction");
    assert!(
        said.contains("role \"reviewer\", but \"implementer\" was asked"),
        "{said}"
    );
    let mut yolo = example();
    yolo.permission = Permission::Full;
    assert!(
        asked
            .contradicted_by(&yolo)
            .is_some_and(|s| s.contains("posture"))
    );
    let mut task = example();
    task.instruction_sha256 = hex::encode(Sha256::digest(b"something else"));
    assert!(
        asked
            .contradicted_by(&task)
            .is_some_and(|s| s.contains("instruction"))
    );
    // A plan asked for and skipped; a sandbox asked for and dropped; a budget loosened.
    let planned = Asked {
        plan: true,
        ..asked.clone()
    };
    assert!(
        planned
            .contradicted_by(&example())
            .is_some_and(|s| s.contains("plan step"))
    );
    let mut planning = example();
    planning.permission = Permission::Ask;
    planning.plan = Some(crate::dispatch::planned::planning_step(Permission::Edits));
    assert_eq!(
        planned.contradicted_by(&planning),
        None,
        "planning runs `ask`"
    );
    let boxed = Asked {
        sandbox: Some(true),
        ..asked.clone()
    };
    assert!(
        boxed
            .contradicted_by(&example())
            .is_some_and(|s| s.contains("sandbox"))
    );
    let budgeted = Asked {
        budget: Some(Budget {
            tokens: Some(5000),
            ..Budget::default()
        }),
        ..asked.clone()
    };
    assert!(
        budgeted
            .contradicted_by(&example())
            .is_some_and(|s| s.contains("budget"))
    );
    let mut tighter = example();
    tighter.budget = Some(Budget {
        tokens: Some(4000),
        ..Budget::default()
    });
    assert_eq!(
        budgeted.contradicted_by(&tighter),
        None,
        "a role's smaller budget holds"
    );
    let mut looser = example();
    looser.budget = Some(Budget {
        tokens: Some(9000),
        ..Budget::default()
    });
    assert!(budgeted.contradicted_by(&looser).is_some());
    // A gate asked for and dropped: the merge would not require it.
    let gated = Asked {
        gates: vec!["shots".into()],
        ..asked.clone()
    };
    assert!(
        gated
            .contradicted_by(&example())
            .is_some_and(|s| s.contains("gates"))
    );
    let mut kept = example();
    kept.gates = vec!["tests".into(), "shots".into()];
    assert_eq!(gated.contradicted_by(&kept), None);
    // A start that claims to continue a dispatch it was not asked to.
    let mut continuing = example();
    continuing.continues = Some(
        serde_json::from_value(serde_json::json!({
            "dispatch_id": "D-000000000001", "first": "D-000000000001", "status": "done",
        "head_commit": "0000000000000000000000000000000000000001",
        }))
        .expect("continues"),
    );
    assert!(
        asked
            .contradicted_by(&continuing)
            .is_some_and(|s| s.contains("continues"))
    );
}
