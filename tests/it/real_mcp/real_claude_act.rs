//! The real claude as the orchestrating client of `vnx mcp --act`, offline against the
//! scripted model: it dispatches a demo task, waits for it, and merges it, each receipt
//! naming claude as the MCP client. `#[ignore]`d with the real CLIs (`real_mcp::real_claude`).

use crate::common::run;

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claude_dispatches_waits_and_merges_through_vnx_mcp_act() {
    let rig = super::acting_rig();

    let id = "D-0a1b2c3d4e5f";
    let prompt = format!(
        "Dispatch the demo task, wait for it, and merge it.\n\
         \\@model tool mcp__vnx__dispatch {{\"instruction\": \"add the demo output\", \"provider\": \"demo\", \"model\": \"commit\", \"dispatch_id\": \"{id}\"}}\n\
         \\@model tool mcp__vnx__wait {{\"dispatch_ids\": [\"{id}\"], \"timeout_seconds\": 60}}\n\
         \\@model tool mcp__vnx__merge {{\"dispatch_id\": \"{id}\"}}\n\
         \\@model say Merged."
    );
    let tools = "mcp__vnx__dispatch,mcp__vnx__wait,mcp__vnx__merge";
    let cmd = super::claude(&rig, &prompt, "180", tools);
    let r = run(cmd);
    assert_eq!(r.code, 0, "[claude -p] {}\n{}", r.stdout, r.stderr);

    let receipts = rig.repo.receipts(id);
    let of = |kind: &str| {
        receipts
            .iter()
            .find(|r| r["event_type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} of {id}: {receipts:#?}\n{}", r.stdout))
    };
    let by = of("dispatch_started")["started_by"]
        .as_str()
        .unwrap()
        .to_owned();
    // claude names itself in MCP's initialize: its name and version, then "via MCP".
    assert!(
        by.starts_with("claude-code ") && by.ends_with(" via MCP"),
        "{by}"
    );
    assert_eq!(of("dispatch_completed")["status"], "done");
    assert!(
        of("merge_completed")["merge_commit"].is_string(),
        "{receipts:#?}"
    );
    // The model saw the merge's answer, naming claude too.
    let requests = rig.server.requests();
    let saw = requests.iter().any(|q| {
        q["body"]
            .to_string()
            .contains("\\\"result\\\":\\\"merged\\\"")
            || q["body"]
                .to_string()
                .contains(&format!("\\\"by\\\":\\\"{by}\\\""))
    });
    assert!(
        saw,
        "[claude] never sent the merge's answer back to the model"
    );
}
