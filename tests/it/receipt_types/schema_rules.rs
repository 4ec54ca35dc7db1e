//! The schema's rules beyond one receipt per kind: its enums are exactly the codes, what a
//! kind does not allow is refused, the shipped examples validate; and reading keeps kinds
//! and values this version does not know.

use super::*;

/// The values an enum definition of the schema allows, as a set.
fn schema_enum(pointer: &str) -> BTreeSet<String> {
    schema()
        .pointer(pointer)
        .unwrap_or_else(|| panic!("the schema has no {pointer}"))
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["const"].as_str().unwrap().to_owned())
        .collect()
}

fn names<T: serde::Serialize>(values: &[T]) -> BTreeSet<String> {
    values
        .iter()
        .map(|v| {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn the_schemas_enums_are_the_codes() {
    use CompletionSignal as C;
    use DispatchStatus as D;
    assert_eq!(
        schema_enum("/$defs/CompletionSignal/oneOf"),
        names(&[
            C::Report,
            C::Exit,
            C::ClaudeStopHook,
            C::GeminiAfterAgentHook,
            C::CodexNotify,
            C::CopilotAgentStopHook,
            C::Deadline,
            C::SupervisorSignal,
            C::SpawnFailed,
            C::LaunchFailed,
            C::ClosedLost,
        ])
    );
    assert_eq!(
        schema_enum("/$defs/DispatchStatus/oneOf"),
        names(&[D::Done, D::Failed, D::NeedsInput, D::Timeout, D::Cancelled])
    );
    assert_eq!(
        schema_enum("/$defs/TeardownClass/oneOf"),
        names(&[
            TeardownClass::Dirty,
            TeardownClass::Clean,
            TeardownClass::Pushed,
            TeardownClass::Committed,
        ])
    );
    assert_eq!(
        schema_enum("/$defs/Lane/oneOf"),
        names(&[Lane::Interactive, Lane::Headless])
    );
}

#[test]
fn unknown_kinds_and_values_are_kept() {
    let line = br#"{"event_type":"from_the_future","dispatch_id":"D-1","x":1}"#;
    match Typed::of_line(line).unwrap() {
        Typed::Other(o) => assert_eq!(o.get("x"), Some(&Value::int(1u64))),
        other => panic!("{other:?}"),
    }
    // A status a later version writes reads as unknown, never as done.
    let line = br#"{"event_type":"dispatch_completed","dispatch_id":"D-1","status":"paused","completion_signal":"telepathy"}"#;
    let r = receipts::read_line::<DispatchCompleted>(line).unwrap();
    assert_eq!(r.receipt.status, DispatchStatus::Unknown);
    assert_eq!(r.receipt.completion_signal, CompletionSignal::Unknown);
    // The write path leaves out the ledger's own members, whatever `extra` holds.
    let mut c = completed();
    c.extra.insert("seq".into(), serde_json::json!(99));
    c.extra.insert("prev_hash".into(), serde_json::json!("x"));
    let o = receipts::write(&c).object().clone();
    assert!(o.get("seq").is_none() && o.get("prev_hash").is_none());
    assert_eq!(
        json::to_canonical(o.get("event_type").unwrap()),
        br#""dispatch_completed""#
    );
}

#[test]
fn the_schema_refuses_what_a_kind_does_not_allow() {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut line = stamped(&completed());
    assert!(validator.is_valid(&line));
    line["status"] = serde_json::json!("paused");
    assert!(!validator.is_valid(&line), "a status vnx never writes");
    let mut line = stamped(&started());
    line.as_object_mut().unwrap().remove("worktree");
    assert!(
        !validator.is_valid(&line),
        "a started dispatch without its worktree"
    );
    let mut line = stamped(&merged());
    line["tree_as_planned"] = serde_json::json!("yes");
    assert!(!validator.is_valid(&line), "a boolean as a string");
}

#[test]
fn the_shipped_examples_validate() {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("receipts/examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            let example: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&example)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 4);
}
