//! A worker that tries to hide its spend from its budget (issue 69): a line of its session
//! file claiming over 10^12 tokens is skipped and the rest still counts; its session file
//! deleted (or replaced, or cut short) while it runs is followed by what it is, not its name,
//! and the count never goes down; a run that ended over its budget where no live reading
//! could see it is held at its end, by the usage its completion records; a dispatch resumed
//! after its supervisor was killed counts what was spent before; and a worker never raises
//! its own budget, whatever variables it unsets or where its leftover process goes.

use std::time::{Duration, Instant};

use super::{dispatch, one};
use crate::common::{Fakes, Repo, configure, run};

/// The shell that finds the worker's own claude session file, in its project's directory
/// (as the stand-in claude keeps it), as `$f`.
const OWN_SESSION: &str = "d=\"$HOME/.claude/projects/$(pwd | tr -c 'A-Za-z0-9\\n' '-')\"; \
                           f=$(ls -t \"$d\"/*.jsonl | head -n 1)";

/// A dispatch under a budget of 5,000 tokens whose worker runs `script.sh` (written from
/// `script`) between `before` and `after` (directives); its completion.
fn runs_script(
    repo: &Repo,
    fakes: &Fakes,
    script: &str,
    (before, after): (&str, &str),
) -> serde_json::Value {
    configure(
        repo,
        "roles:\n  implementer:\n    allow: [\"sh script.sh\"]\n",
    );
    dispatch(
        repo,
        fakes,
        Some("tokens=5000"),
        &format!(
            "hides its spend\n@fake write script.sh {OWN_SESSION}; {script}\n{before}\
             @fake run sh script.sh\n{after}@fake sleep 60\n\
             @fake run vnx report --status done --summary never"
        ),
    )
}

/// The worker was stopped at its budget while it ran (not at its end, nor at its deadline);
/// its `budget_reached`.
fn stopped_while_it_ran(repo: &Repo, c: &serde_json::Value) -> serde_json::Value {
    let id = c["dispatch_id"].as_str().unwrap();
    assert_eq!(c["status"], "needs_input", "{c:#}");
    let reached = one(repo, id, "budget_reached");
    assert_eq!(reached.len(), 1, "{reached:#?}");
    assert_eq!(reached[0]["how"], "interrupted", "{:#}", reached[0]);
    assert!(c["duration_seconds"].as_f64().unwrap() < 60.0, "{c:#}");
    reached[0].clone()
}

#[test]
fn a_session_line_claiming_over_a_trillion_tokens_hides_no_spend() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let forged = r#"{"type":"assistant","message":{"id":"forged","usage":{"input_tokens":2000000000000,"output_tokens":0}}}"#;
    let c = runs_script(
        &repo,
        &fakes,
        &format!("printf '%s\\n' '{forged}' >> \"$f\""),
        ("", "@fake spend 4200\n@fake sleep 3\n@fake spend 1000\n"),
    );
    let reached = stopped_while_it_ran(&repo, &c);
    assert_eq!(reached["tokens_used"], 5200, "{reached:#}");
    let id = c["dispatch_id"].as_str().unwrap();
    assert_eq!(one(&repo, id, "budget_warning").len(), 1);
    // The line skipped is said.
    assert_eq!(c["token_usage_lines_skipped"], 1, "{c:#}");
}

#[test]
fn a_session_file_deleted_while_the_worker_runs_does_not_freeze_its_count() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    // 3,000 counted, the file deleted, and 3,000 more in the file claude writes again.
    let c = runs_script(
        &repo,
        &fakes,
        "rm -f \"$f\"",
        ("@fake spend 3000\n@fake sleep 3\n", "@fake spend 3000\n"),
    );
    let reached = stopped_while_it_ran(&repo, &c);
    assert!(
        reached["tokens_used"].as_u64().unwrap() >= 6000,
        "{reached:#}"
    );
    let tampered = c["session_file_tampered"].as_array().unwrap();
    assert!(tampered.contains(&"replaced".into()), "{c:#}");
    let id = c["dispatch_id"].as_str().unwrap();
    let log = run(repo.vnx().args(["show", "--log", id]));
    assert!(
        log.stdout
            .contains("the worker's session file was replaced while it ran"),
        "{}",
        log.stdout
    );
}

#[test]
fn a_run_that_ended_over_its_budget_unseen_is_held_by_its_completions_usage() {
    let repo = Repo::new();
    // A declared TUI whose session file records its usage, which no live reading follows:
    // held to it at its end (333 tokens of 100).
    let tools = tempfile::tempdir().unwrap();
    crate::declared::chat_tui(&repo, tools.path());
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "reviewer",
        "--provider",
        "chatui",
        "--instruction",
        "write notes",
        "--budget",
        "tokens=100",
        "--json",
    ]));
    let c = crate::common::completion(&r);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(c["token_usage"]["total_tokens"], 333, "{c:#}");
    assert_eq!(c["status"], "needs_input", "{c:#}");
    assert_eq!(
        c["failure_reason"], "budget reached: 333 of 100 tokens",
        "{c:#}"
    );
    let reached = one(&repo, &id, "budget_reached");
    assert_eq!(reached.len(), 1, "{reached:#?}");
    assert_eq!(reached[0]["how"], "ended", "{:#}", reached[0]);
}

/// `vnx status --json`'s state of dispatch `id`, once it is `state` (waited for, bounded).
fn once_it_is(repo: &Repo, fakes: &Fakes, id: &str, state: &str) {
    let give_up = Instant::now() + Duration::from_secs(90);
    loop {
        let s = fakes.run_vnx(repo, &["status", "--json", id]);
        let all: serde_json::Value = serde_json::from_str(s.stdout.trim()).unwrap_or_default();
        if all[0]["status"] == state {
            return;
        }
        assert!(Instant::now() < give_up, "never {state}: {all}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_resumed_dispatch_counts_what_was_spent_before_its_supervisor_was_killed() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    configure(
        &repo,
        "roles:\n  implementer:\n    allow: [\"sh kill.sh\"]\n",
    );
    // 3,000 of 5,000 spent (no warning yet), then its supervisor killed (the worker dies
    // with it): once, so that the follow-up goes on and spends 3,000 more.
    let kill = "test -e killed && exit 0; touch killed; p=$PPID; while [ \"$p\" -gt 1 ]; do \
                a=$(head -z -n 2 /proc/$p/cmdline | tail -z -n 1 | tr -d '\\0'); \
                if [ \"$a\" = __supervise ]; then kill -9 $p; exit 0; fi; \
                p=$(cut -d' ' -f4 /proc/$p/stat); done";
    let r = fakes.run_vnx(
        &repo,
        &super::dispatch_args(
            Some("tokens=5000"),
            &format!(
                "spends, then loses its supervisor\n@fake write kill.sh {kill}\n@fake spend 3000\n\
                 @fake run sh kill.sh\n@fake sleep 60\n@fake run vnx report --status done --summary x"
            ),
            "--detach",
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = r.stdout.trim().to_owned();
    once_it_is(&repo, &fakes, &id, "lost");
    let resumed = fakes.run_vnx(&repo, &["resume"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    let next = resumed.stdout.trim().to_owned();
    let closed = super::completion_of(&repo, &id);
    assert_eq!(closed["token_usage"]["input_tokens"], 3000, "{closed:#}");
    assert_eq!(closed["token_usage_source"], "session_file", "{closed:#}");
    let started = &one(&repo, &next, "dispatch_started")[0];
    assert_eq!(started["budget"]["spent_before"], 3000, "{started:#}");
    assert_eq!(started["budget"]["tokens"], 5000, "{started:#}");
    // Its 3,000 more cross the chain's budget: stopped as it runs.
    fakes.run_vnx(&repo, &["wait", &next]);
    let reached = one(&repo, &next, "budget_reached");
    assert_eq!(reached.len(), 1, "{reached:#?}");
    assert!(
        reached[0]["tokens_used"].as_u64().unwrap() >= 6000,
        "{:#}",
        reached[0]
    );
}

#[test]
fn a_worker_never_raises_its_own_budget_whatever_it_unsets_or_leaves_behind() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    configure(
        &repo,
        "roles:\n  implementer:\n    allow: [\"sh raise.sh\"]\n",
    );
    let bare = "env -u VNX_DISPATCH_ID -u VNX_WORKTREE -u VNX_DISPATCH_DIR -u VNX_REPORT_SEAL";
    // While it runs: from the main checkout, its variables unset (its real ancestry is its
    // dispatch's supervisor). And a process left behind in its own session, its variables
    // unset, that tries again once a second after the worker was stopped. Twelve tries, not
    // forty: the worker is stopped within a second or two of its spend (the budget's poll),
    // so most tries still come after the stop, and the other 28 only repeated the same
    // refusal for 28 s.
    const TRIES: usize = 12;
    let raise = format!(
        "id=$VNX_DISPATCH_ID; top=$(dirname \"$(git rev-parse --path-format=absolute --git-common-dir)\"); \
         (cd \"$top\" && {bare} vnx approve \"$id\" --budget +100000) > inside.txt 2>&1; \
         {bare} setsid -f sh -c 'for i in $(seq {TRIES}); do vnx approve \"$1\" --budget +100000 >> left.txt 2>&1 && break; sleep 1; done' sh \"$id\""
    );
    let c = dispatch(
        &repo,
        &fakes,
        Some("tokens=1000"),
        &format!(
            "raises its own budget\n@fake write raise.sh {raise}\n@fake run sh raise.sh\n\
             @fake spend 1500\n@fake sleep 60\n@fake run vnx report --status done --summary x"
        ),
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(c["status"], "needs_input", "{c:#}");
    let worktree = std::path::PathBuf::from(
        one(&repo, &id, "dispatch_started")[0]["worktree"]
            .as_str()
            .unwrap(),
    );
    let inside = std::fs::read_to_string(worktree.join("inside.txt")).unwrap();
    assert!(
        inside.contains(&format!("the worker of {id} cannot raise a budget")),
        "{inside}"
    );
    // The process left behind tries once a second, `TRIES` times, and stops once a try raised
    // the budget; the dispatch was stopped and waits on its budget meanwhile: each refused.
    let left = || std::fs::read_to_string(worktree.join("left.txt")).unwrap_or_default();
    let give_up = Instant::now() + Duration::from_secs(120);
    while left().lines().filter(|l| l.starts_with("error")).count() < TRIES
        && one(&repo, &id, "budget_raised").is_empty()
    {
        assert!(
            Instant::now() < give_up,
            "the process left never ended: {}",
            left()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let left = left();
    assert_eq!(
        left.matches("cannot raise a budget").count(),
        TRIES,
        "{left}"
    );
    assert_eq!(one(&repo, &id, "budget_reached").len(), 1);
    assert!(
        one(&repo, &id, "budget_raised").is_empty(),
        "raised by its worker"
    );
    assert!(left.contains(&format!("the worker of {id}")), "{left}");
}
