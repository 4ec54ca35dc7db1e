//! Dispatch ids as a person types them: the start of an id (with or without `D-`) names the
//! one dispatch it starts, an exact id wins over longer ones it starts, the start of several
//! is a usage error that lists them, and an unknown id is a usage error everywhere.

use crate::common::{Repo, completion, run};

fn dispatched(repo: &Repo, id: &str) {
    let r = repo.dispatch("commit", &["--instruction", "x", "--id", id]);
    assert_eq!(completion(&r)["status"], "done", "{}", r.stderr);
}

#[test]
fn the_start_of_an_id_names_the_one_dispatch_it_starts() {
    let repo = Repo::new();
    for id in ["D-abc1", "D-abc111", "D-abc222", "D-fff000"] {
        dispatched(&repo, id);
    }
    // With or without the `D-`, and through every kind of command that takes an id.
    for (args, want) in [
        (vec!["show", "D-fff"], "D-fff000"),
        (vec!["show", "fff0"], "D-fff000"),
        (vec!["status", "abc2"], "D-abc222"),
        (vec!["wait", "abc22"], "D-abc222"),
        (vec!["show", "D-abc1"], "D-abc1 "),
    ] {
        let r = run(repo.vnx().args(&args));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(r.stdout.contains(want), "{args:?}: {}", r.stdout);
    }
    // `vnx show D-abc1` is the dispatch of that exact id, not D-abc111.
    let exact = run(repo.vnx().args(["show", "D-abc1", "--json"]));
    let shown: serde_json::Value = serde_json::from_str(&exact.stdout).unwrap();
    assert_eq!(shown["dispatch_id"], "D-abc1", "{}", exact.stdout);

    let ambiguous = run(repo.vnx().args(["show", "abc1"]));
    assert_eq!(ambiguous.code, 2, "{}", ambiguous.stderr);
    assert!(
        ambiguous
            .stderr
            .contains("\"abc1\" is the start of 2 dispatch ids: D-abc1, D-abc111"),
        "{}",
        ambiguous.stderr
    );
    assert!(
        ambiguous.stderr.contains("hint: give more of the id"),
        "{}",
        ambiguous.stderr
    );
    let three = run(repo.vnx().args(["gate-check", "D-abc"]));
    assert_eq!(three.code, 2, "{}", three.stderr);
    assert!(
        three.stderr.contains("is the start of 3 dispatch ids"),
        "{}",
        three.stderr
    );
}

#[test]
fn an_unknown_id_is_a_usage_error_for_every_command_that_takes_one() {
    let repo = Repo::new();
    dispatched(&repo, "D-0000a11d");
    for args in [
        vec!["show", "D-999"],
        vec!["status", "D-999"],
        vec!["attach", "D-999"],
        vec!["gate-check", "D-999"],
        vec!["gate-check", "D-0000a11d", "D-999"],
        vec!["merge", "D-999"],
        vec!["merge", "D-999", "D-0000a11d"],
        vec!["cancel", "D-999"],
        vec!["replay", "D-999"],
        vec!["compare", "D-999", "D-0000a11d"],
        vec!["follow-up", "D-999", "--instruction", "more"],
    ] {
        let r = run(repo.vnx().args(&args));
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("D-999"), "{args:?}: {}", r.stderr);
    }
}
