//! What `vnx mcp` promises whatever it is asked: bad input is an MCP error and the server
//! goes on; and after every tool and resource was used, every file of the project, its git
//! directory and the user's vnx state are byte for byte as they were.

use super::*;

#[tokio::test]
async fn bad_input_is_an_mcp_error_and_the_server_goes_on() {
    let (repo, done, _, _) = project();
    let tmp = tempfile::tempdir().unwrap();
    let c = connect(&repo, tmp.path()).await;
    let cases = [
        (
            "show_dispatch",
            serde_json::json!({"dispatch_id": "D-00000000"}),
            "unknown dispatch D-00000000",
        ),
        (
            "show_dispatch",
            serde_json::json!({"dispatch_id": "../../etc/passwd"}),
            "is not a dispatch id",
        ),
        (
            "dispatch_log",
            serde_json::json!({"dispatch_id": "D-nope"}),
            "unknown dispatch D-nope",
        ),
        (
            "merge_readiness",
            serde_json::json!({"dispatch_id": "D-nope"}),
            "unknown dispatch D-nope",
        ),
        (
            "gate_results",
            serde_json::json!({"dispatch_id": ""}),
            "is not a dispatch id",
        ),
        (
            "wait_dispatches",
            serde_json::json!({"dispatch_ids": ["D-nope"]}),
            "unknown dispatch D-nope",
        ),
        (
            "wait_dispatches",
            serde_json::json!({"dispatch_ids": []}),
            "give 1 to 64 dispatch ids",
        ),
        (
            "wait_dispatches",
            serde_json::json!({"dispatch_ids": [done], "timeout_seconds": 86400}),
            "timeout_seconds 86400 is over the maximum of 600",
        ),
        (
            "list_dispatches",
            serde_json::json!({"limit": 18446744073709551615u64}),
            "limit 18446744073709551615 is over the maximum of 1000",
        ),
        (
            "list_dispatches",
            serde_json::json!({"states": ["sleeping"]}),
            "unknown state \"sleeping\"",
        ),
        (
            "tail_receipts",
            serde_json::json!({"limit": 1000000}),
            "over the maximum of 1000",
        ),
        (
            "tail_receipts",
            serde_json::json!({"event_type": "a b"}),
            "is not an event type",
        ),
        (
            "dispatch_log",
            serde_json::json!({"dispatch_id": done, "max_bytes": 1u64 << 40}),
            "max_bytes 1099511627776 is over the maximum",
        ),
        (
            "dispatch_diff",
            serde_json::json!({"dispatch_id": done, "paths": ["../../.ssh"]}),
            "leaves the project",
        ),
        (
            "dispatch_diff",
            serde_json::json!({"dispatch_id": done, "paths": ["/etc/passwd"]}),
            "leaves the project",
        ),
        (
            // More paths than one git command line can carry: refused, not an internal
            // error ("Argument list too long").
            "dispatch_diff",
            serde_json::json!({
                "dispatch_id": done,
                "paths": (0..200_000).map(|i| format!("dir/file-{i}.rs")).collect::<Vec<_>>(),
            }),
            "give at most 1000 paths",
        ),
        (
            "cost",
            serde_json::json!({"by": "colour"}),
            "cannot group by \"colour\"",
        ),
        (
            "cost",
            serde_json::json!({"since": "yesterday"}),
            "is not a day",
        ),
    ];
    for (tool, args, says) in cases {
        let e = call(&c, tool, args.clone())
            .await
            .expect_err(&format!("{tool} {args}"));
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{tool} {args}: {e:?}");
        assert!(e.message.contains(says), "{tool} {args}: {}", e.message);
    }
    // Arguments of the wrong type are refused before any answer is made.
    let params = CallToolRequestParams::new("list_dispatches").with_arguments(
        serde_json::json!({"limit": -1})
            .as_object()
            .unwrap()
            .clone(),
    );
    let r = c.call_tool(params).await.unwrap();
    assert_eq!(r.is_error, Some(true), "{r:?}");
    let text = &r.content[0].as_text().unwrap().text;
    assert!(text.contains("invalid value: integer `-1`"), "{text}");
    for uri in [
        "file:///etc/passwd",
        "vnx://dispatch/../../etc/passwd",
        "vnx://ledger/../x",
    ] {
        let e = c
            .read_resource(ReadResourceRequestParams::new(uri))
            .await
            .expect_err(uri);
        let ServiceError::McpError(e) = e else {
            panic!("{uri}: {e}")
        };
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{uri}: {e:?}");
    }
    // Still serving.
    let shown = ok(
        &c,
        "show_dispatch",
        serde_json::json!({"dispatch_id": done}),
    )
    .await;
    assert_eq!(shown["status"], "done");
    c.cancel().await.unwrap();
}

/// Every file and directory under `dir`: its kind, mode and bytes (a link's target).
fn tree(dir: &Path) -> BTreeMap<PathBuf, (String, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let mode = m.permissions().mode();
            let entry = if m.is_dir() {
                todo.push(p.clone());
                ("dir".to_owned(), mode, Vec::new())
            } else if m.file_type().is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                (
                    "link".to_owned(),
                    mode,
                    target.into_os_string().into_encoded_bytes(),
                )
            } else {
                ("file".to_owned(), mode, std::fs::read(&p).unwrap())
            };
            out.insert(p, entry);
        }
    }
    out
}

#[tokio::test]
async fn nothing_in_the_project_or_the_users_state_changes() {
    let (repo, done, failed, asked) = project();
    // A supervisor deletes its released worktree's files after recording the completion:
    // the tree is compared once every supervisor has exited.
    assert!(repo.server.sessions_end(), "the supervisors did not exit");
    run(repo.vnx().args(["audit-chain", "checkpoint"]));
    // The base moves after the dispatch, so a merge check forms a new merge tree (objects
    // `git merge-tree` writes, which must not land in the repository).
    std::fs::write(repo.env.path().join("later.txt"), "later\n").unwrap();
    repo.env.git(&["add", "later.txt"]);
    repo.env.git(&["commit", "-q", "-m", "the base moves"]);
    let project_before = tree(repo.env.path());
    let home_before = tree(&repo.env.home());
    let tmp = tempfile::tempdir().unwrap();
    let c = connect(&repo, tmp.path()).await;
    let every_tool = [
        ("list_dispatches", serde_json::json!({})),
        ("list_dispatches", serde_json::json!({"running": true})),
        ("show_dispatch", serde_json::json!({"dispatch_id": done})),
        ("dispatch_log", serde_json::json!({"dispatch_id": failed})),
        ("dispatch_diff", serde_json::json!({"dispatch_id": done})),
        (
            "dispatch_diff",
            serde_json::json!({"dispatch_id": failed, "stat": true}),
        ),
        ("dispatch_diff", serde_json::json!({"dispatch_id": asked})),
        (
            "wait_dispatches",
            serde_json::json!({"dispatch_ids": [done, failed, asked], "timeout_seconds": 2}),
        ),
        ("tail_receipts", serde_json::json!({"limit": 1000})),
        ("verify_ledger", serde_json::json!({"strict": true})),
        ("gate_results", serde_json::json!({"dispatch_id": done})),
        ("merge_readiness", serde_json::json!({"dispatch_id": done})),
        (
            "merge_readiness",
            serde_json::json!({"dispatch_id": failed}),
        ),
        ("provider_constraints", serde_json::json!({})),
        ("cost", serde_json::json!({"by": "day"})),
    ];
    for (tool, args) in every_tool {
        ok(&c, tool, args).await;
    }
    let ready = ok(
        &c,
        "merge_readiness",
        serde_json::json!({"dispatch_id": done}),
    )
    .await;
    assert_eq!(ready["plan"]["base_moved"], true, "{ready:#}");
    assert!(ready["plan"]["merge_tree"].is_string(), "{ready:#}");
    for r in c.list_all_resources().await.unwrap() {
        c.read_resource(ReadResourceRequestParams::new(r.uri.clone()))
            .await
            .unwrap();
    }
    c.cancel().await.unwrap();
    let project_after = tree(repo.env.path());
    let changed: Vec<&PathBuf> = project_before
        .keys()
        .chain(project_after.keys())
        .filter(|p| project_before.get(*p) != project_after.get(*p))
        .collect();
    assert!(changed.is_empty(), "the server changed {changed:?}");
    assert!(
        home_before == tree(&repo.env.home()),
        "the server changed HOME"
    );
    // The merge tree's objects went to the scratch directory, which is gone.
    let tree_id = ready["plan"]["merge_tree"].as_str().unwrap();
    let r = run(std::process::Command::new("git")
        .current_dir(repo.env.path())
        .args(["cat-file", "-e", tree_id]));
    assert_ne!(
        r.code, 0,
        "merge tree {tree_id} was written to the repository"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "scratch left behind"
    );
}
