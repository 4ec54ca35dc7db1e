//! The real claude as a manager agent through `vnx mcp --act`, offline against the scripted
//! model: it splits a task into three dispatches, each after the one before (`after`), is
//! woken as each ends (`wait` with `any`: the first of those still running that ends), and
//! merges them in order. `#[ignore]`d with the real CLIs (`real_mcp::real_claude`).

use crate::common::run;

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claude_splits_a_task_into_a_chain_is_woken_as_each_ends_and_merges_it() {
    let rig = super::acting_rig();
    let [a, b, c] = ["D-0a1b2c3d4e01", "D-0a1b2c3d4e02", "D-0a1b2c3d4e03"];
    let dispatch = |id: &str, step: &str, after: &[&str]| {
        format!(
            "\\@model tool mcp__vnx__dispatch {{\"instruction\": \"{step}\", \"provider\": \
             \"demo\", \"model\": \"commit\", \"dispatch_id\": \"{id}\", \"after\": {}}}\n",
            serde_json::json!(after)
        )
    };
    let wait = |ids: &[&str]| {
        format!(
            "\\@model tool mcp__vnx__wait {{\"dispatch_ids\": {}, \"any\": true, \
             \"timeout_seconds\": 120}}\n",
            serde_json::json!(ids)
        )
    };
    let merge = |id: &str| format!("\\@model tool mcp__vnx__merge {{\"dispatch_id\": \"{id}\"}}\n");
    let prompt = format!(
        "Split the task into three steps, each on the one before, then merge them.\n{}{}{}{}{}{}{}{}{}\\@model say Merged.",
        dispatch(a, "write the parser", &[]),
        dispatch(b, "use the parser", &[a]),
        dispatch(c, "document it", &[b]),
        wait(&[a, b, c]),
        wait(&[b, c]),
        wait(&[c]),
        merge(a),
        merge(b),
        merge(c),
    );
    let tools = "mcp__vnx__dispatch,mcp__vnx__wait,mcp__vnx__merge";
    let cmd = super::claude(&rig, &prompt, "300", tools);
    let r = run(cmd);
    assert_eq!(r.code, 0, "[claude -p] {}\n{}", r.stdout, r.stderr);

    let first = |id: &str, kind: &str| {
        (rig.repo.receipts(id).into_iter())
            .find(|r| r["event_type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} of {id}\n{}", r.stdout))
    };
    // Each after the one before, from its head, started by claude.
    for (dep, id) in [(a, b), (b, c)] {
        let started = first(id, "dispatch_started");
        let head = first(dep, "dispatch_completed")["head_commit"].clone();
        assert_eq!(
            started["base_commit"], head,
            "{id} starts from {dep}'s head"
        );
        assert_eq!(started["after"]["on"][0]["dispatch_id"], dep);
        let by = started["started_by"].as_str().unwrap();
        assert!(
            by.starts_with("claude-code ") && by.ends_with(" via MCP"),
            "{by}"
        );
    }
    let merged: Vec<String> = (rig.repo.events("merge_completed").iter())
        .map(|m| m["dispatch_id"].as_str().unwrap().to_owned())
        .filter(|d| [a, b, c].contains(&d.as_str()))
        .collect();
    assert_eq!(merged, [a, b, c]);
    // Each wait woke it with the one that ended, the others still running or queued: what
    // the waits answered, as claude sent it back to the model.
    let ended: Vec<serde_json::Value> = (rig.server.requests().iter())
        .flat_map(|q| {
            q["body"]["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter(|b| b["type"] == "tool_result")
        .filter_map(|b| match &b["content"] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(parts) => {
                Some(parts.iter().filter_map(|p| p["text"].as_str()).collect())
            }
            _ => None,
        })
        .filter_map(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .filter_map(|v| v.get("ended").cloned())
        .collect();
    for id in [a, b, c] {
        let told = ended
            .iter()
            .any(|e| e.as_array().is_some_and(|e| e.iter().any(|x| x == id)));
        assert!(told, "[claude] was never told {id} ended: {ended:?}");
    }
    rig.repo.verify_ok();
}
