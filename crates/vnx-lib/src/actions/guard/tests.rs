//! The guard's cases: who is a worker, and what a worker may decide for.

use std::path::{Path, PathBuf};

use super::{Actor, Ancestor, Surroundings, Worker, may_govern, worker_of};
use crate::actions::ActionError;
use crate::ids::DispatchId;

fn id(n: u8) -> DispatchId {
    DispatchId::parse(&format!("D-0a1b2c3d4e{n:02}")).unwrap()
}

/// A ledger of `dispatch_started` lines: (id, continues the chain of, started by).
fn ledger(dir: &Path, starts: &[(DispatchId, Option<DispatchId>, Option<DispatchId>)]) -> PathBuf {
    let example: serde_json::Value = serde_json::from_str(include_str!(
        "../../../../../receipts/examples/dispatch_started.json"
    ))
    .unwrap();
    let mut text = String::new();
    for (d, first, by) in starts {
        let mut r = example.clone();
        r["dispatch_id"] = d.as_str().into();
        r["worktree"] = format!("/p/.vnx-data/worktrees/dispatch-{d}").into();
        if let Some(first) = first {
            r["continues"] = serde_json::json!({
                "dispatch_id": first, "first": first, "status": "done",
                "session_id": null, "head_commit": "0".repeat(40),
            });
        }
        if let Some(by) = by {
            r["started_by_dispatch"] = by.as_str().into();
        }
        text.push_str(&serde_json::to_string(&r).unwrap());
        text.push('\n');
    }
    let path = dir.join("ledger.ndjson");
    std::fs::write(&path, text).unwrap();
    path
}

fn worker(d: &DispatchId) -> Actor {
    Actor::mcp("orchestrator", "1.0", Some(Worker::Of(d.clone())))
}

#[test]
fn a_worker_decides_for_neither_its_own_work_nor_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    // 1 is the orchestrator; 2 its follow-up; 1's worker started 3, 3's started 4; 5 is
    // nobody's.
    let l = ledger(
        dir.path(),
        &[
            (id(1), None, None),
            (id(2), Some(id(1)), None),
            (id(3), None, Some(id(1))),
            (id(4), None, Some(id(3))),
            (id(5), None, None),
        ],
    );
    let refused = |who: &Actor, target: u8| match may_govern(&l, who, "merge", &id(target)) {
        Err(ActionError::NotYours { why, .. }) => Some(why),
        Err(e) => panic!("{e}"),
        Ok(()) => None,
    };
    for target in [1, 2, 3, 4] {
        assert!(refused(&worker(&id(1)), target).is_some(), "{target}");
        // Its follow-up is the same work.
        assert!(refused(&worker(&id(2)), target).is_some(), "{target}");
    }
    assert!(refused(&worker(&id(1)), 5).is_none());
    // 3's worker governs 4 (it started it) but not 1, which started it.
    assert!(refused(&worker(&id(3)), 4).is_some());
    assert!(refused(&worker(&id(3)), 1).is_none());
    let why = refused(&worker(&id(1)), 4).unwrap();
    assert!(why.contains("which started"), "{why}");
    // A person, or an agent outside every dispatch, decides for all.
    let outside = Actor::mcp("orchestrator", "1.0", None);
    for target in 1..=5 {
        assert!(refused(&outside, target).is_none());
    }
    // A worker whose dispatch is not known decides for none.
    let unknown = Actor::mcp(
        "x",
        "",
        Some(Worker::Unidentified("VNX_DISPATCH_ID=?".into())),
    );
    assert!(refused(&unknown, 5).is_some());
    // Its own id, never started on this ledger, is still itself.
    assert!(refused(&worker(&id(9)), 9).is_some());
}

#[test]
fn a_worker_is_known_by_its_environment_or_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(dir.path(), &[(id(1), None, None)]);
    let root = Path::new("/p");
    let of = |seen: Surroundings| worker_of(root, &l, &seen).unwrap();
    assert_eq!(of(Surroundings::default()), None);
    let elsewhere = Surroundings {
        cwd: Some("/p/src".into()),
        ..Surroundings::default()
    };
    assert_eq!(of(elsewhere), None);
    // A variable the process set itself names no dispatch: it decides for none.
    let by_env = Surroundings {
        dispatch_id: Some(id(7).to_string()),
        ..Surroundings::default()
    };
    assert!(matches!(of(by_env), Some(Worker::Unidentified(_))));
    let in_worktree = Surroundings {
        cwd: Some(format!("/p/.vnx-data/worktrees/dispatch-{}/src", id(1)).into()),
        ..Surroundings::default()
    };
    assert_eq!(of(in_worktree), Some(Worker::Of(id(1))));
    let in_its_directory = Surroundings {
        cwd: Some(format!("/p/.vnx-data/dispatches/{}", id(4)).into()),
        ..Surroundings::default()
    };
    assert_eq!(of(in_its_directory), Some(Worker::Of(id(4))));
    let somewhere_inside = Surroundings {
        cwd: Some("/p/.vnx-data/state".into()),
        ..Surroundings::default()
    };
    assert!(matches!(
        of(somewhere_inside),
        Some(Worker::Unidentified(_))
    ));
    let bad_env = Surroundings {
        dispatch_id: Some("../not an id".into()),
        ..Surroundings::default()
    };
    assert!(matches!(of(bad_env), Some(Worker::Unidentified(_))));
    let worktree_var = Surroundings {
        worktree: Some("/elsewhere".into()),
        ..Surroundings::default()
    };
    assert!(matches!(of(worktree_var), Some(Worker::Unidentified(_))));
}

/// An ancestor `pid` that supervises `supervises` (and names it), or names `named` only.
fn up(pid: u32, supervises: Option<&DispatchId>, named: Option<&DispatchId>) -> Ancestor {
    Ancestor {
        pid,
        supervises: supervises.map(ToString::to_string),
        dispatch_id: supervises.or(named).map(ToString::to_string),
        cwd: None,
    }
}

#[test]
fn a_worker_is_known_by_the_supervisor_it_descends_from_whatever_it_sets() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(dir.path(), &[(id(1), None, None), (id(2), None, None)]);
    let root = Path::new("/p");
    let of = |seen: Surroundings| worker_of(root, &l, &seen).unwrap();
    // The worker of 1 (its shell, its CLI, its supervisor, tmux above), its own variables
    // unset, or set to another dispatch, or to a made-up one: 1's worker.
    let real = vec![
        up(40, None, Some(&id(1))),
        up(30, None, Some(&id(1))),
        up(20, Some(&id(1)), None),
        up(10, None, None),
    ];
    for own in [None, Some(id(2).to_string()), Some(id(9).to_string())] {
        let seen = Surroundings {
            dispatch_id: own.clone(),
            cwd: Some("/elsewhere".into()),
            ancestors: real.clone(),
            ..Surroundings::default()
        };
        assert_eq!(of(seen), Some(Worker::Of(id(1))), "{own:?}");
    }
    // A supervisor the worker made below its own (a process named so, in an environment it
    // chose) does not count: the outermost does.
    let mut forged = vec![up(50, Some(&id(2)), None)];
    forged.extend(real.clone());
    let seen = Surroundings {
        ancestors: forged,
        ..Surroundings::default()
    };
    assert_eq!(of(seen), Some(Worker::Of(id(1))));
    // A process that left its supervisor (its parent gone, or double-forked) but kept or
    // set the variable: a worker that decides for none.
    let orphan = Surroundings {
        ancestors: vec![up(60, None, Some(&id(2))), up(1, None, None)],
        ..Surroundings::default()
    };
    assert!(matches!(of(orphan), Some(Worker::Unidentified(_))));
    // One that unset everything and left its worktree, but whose parent works in it.
    let in_worktree = Ancestor {
        cwd: Some(format!("/p/.vnx-data/worktrees/dispatch-{}", id(2)).into()),
        ..up(70, None, None)
    };
    let seen = Surroundings {
        cwd: Some("/".into()),
        ancestors: vec![in_worktree, up(1, None, None)],
        ..Surroundings::default()
    };
    assert_eq!(of(seen), Some(Worker::Of(id(2))));
    // This process's own, as `/proc` shows it: its parent first.
    let mine = super::ancestry::of_this_process();
    assert_eq!(mine[0].pid, std::os::unix::process::parent_id(), "{mine:?}");
}

#[test]
fn the_client_is_named_cleanly_in_receipts() {
    let a = Actor::mcp("orchestrator\u{1b}[2J", "1.0", None);
    assert_eq!(a.by(), "orchestrator[2J 1.0 via MCP");
    assert_eq!(Actor::mcp("", "", None).by(), "an unnamed client via MCP");
    assert_eq!(
        worker(&id(1)).by(),
        format!("orchestrator 1.0 via MCP in the worker of {}", id(1))
    );
}
