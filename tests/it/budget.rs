//! Budgets held while the worker runs (ADR 0094), against the stand-in claude: its usage read
//! live from its own session file, a signed `budget_warning` at 80 %, the worker interrupted
//! at 100 % and the dispatch needing input, `vnx approve --budget +N` raising it and a
//! follow-up continuing the session with the chain's usage counted, and a usage file the
//! worker writes elsewhere not believed. A budget's dollars (ADR 0098) held the same way,
//! its cost the tokens at the price `prices:` gives the model, or the CLI's end-of-run cost.

use crate::common::{Fakes, Repo, completion, configure};

mod hiding;

fn dispatch(
    repo: &Repo,
    fakes: &Fakes,
    budget: Option<&str>,
    instruction: &str,
) -> serde_json::Value {
    completion(&dispatch_run(repo, fakes, budget, instruction))
}

fn dispatch_run(
    repo: &Repo,
    fakes: &Fakes,
    budget: Option<&str>,
    instruction: &str,
) -> crate::common::Run {
    fakes.run_vnx(repo, &dispatch_args(budget, instruction, "--json"))
}

/// `dispatch-agent` of the stand-in claude, headless, `how` (`--json` or `--detach`).
fn dispatch_args<'a>(budget: Option<&'a str>, instruction: &'a str, how: &'a str) -> Vec<&'a str> {
    let mut args = vec![
        "dispatch-agent",
        "--agent",
        "implementer",
        how,
        "--provider",
        "claude",
        "--lane",
        "headless",
        "--deadline",
        "120",
        "--instruction",
        instruction,
    ];
    if let Some(budget) = budget {
        args.extend(["--budget", budget]);
    }
    args
}

fn one(repo: &Repo, id: &str, event: &str) -> Vec<serde_json::Value> {
    repo.receipts(id)
        .into_iter()
        .filter(|r| r["event_type"] == event)
        .collect()
}

#[test]
fn a_worker_is_warned_then_stopped_at_its_budget_raised_and_continued() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let c = dispatch(
        &repo,
        &fakes,
        Some("tokens=5000"),
        "spends\n@fake spend 4200\n@fake sleep 3\n@fake spend 1000\n@fake sleep 60\n\
         @fake run vnx report --status done --summary never",
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(c["status"], "needs_input", "{c:#}");
    assert_eq!(
        c["failure_reason"], "budget reached: 5200 of 5000 tokens",
        "{c:#}"
    );
    let started = &one(&repo, &id, "dispatch_started")[0];
    assert_eq!(started["budget"]["tokens"], 5000, "{started:#}");
    assert_eq!(started["budget"]["from"], "dispatch");
    let warned = one(&repo, &id, "budget_warning");
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert_eq!(
        (&warned[0]["tokens_used"], &warned[0]["tokens_limit"]),
        (&4200.into(), &5000.into())
    );
    assert!(warned[0]["vnx_attestation"]["sig"].is_string(), "signed");
    let reached = one(&repo, &id, "budget_reached");
    assert_eq!(reached.len(), 1, "{reached:#?}");
    assert_eq!(reached[0]["tokens_used"], 5200);
    assert_eq!(reached[0]["how"], "interrupted", "{:#}", reached[0]);
    assert!(reached[0]["vnx_attestation"]["sig"].is_string(), "signed");
    // Stopped at its budget, not at its deadline, its worktree kept.
    assert!(c["duration_seconds"].as_f64().unwrap() < 60.0, "{c:#}");
    let show = fakes.run_vnx(&repo, &["show", &id]);
    assert!(
        show.stdout.contains("budget reached: 5200 of 5000 tokens"),
        "{}",
        show.stdout
    );

    // Raised by a person: a signed receipt naming them, and a follow-up in the same session.
    let raised = fakes.run_vnx(&repo, &["approve", &id, "--budget", "+3k", "--json"]);
    assert_eq!(raised.code, 0, "{}", raised.stderr);
    let receipt: serde_json::Value = serde_json::from_str(&raised.stdout).unwrap();
    assert_eq!(
        (&receipt["added_tokens"], &receipt["tokens_limit"]),
        (&3000.into(), &8000.into())
    );
    let on_ledger = one(&repo, &id, "budget_raised");
    assert!(on_ledger[0]["vnx_attestation"]["sig"].is_string(), "signed");
    let next = continued_in_its_session(&repo, &fakes, (&id, &c), "8000 tokens");
    assert_eq!(next["budget"]["tokens"], 8000, "{next:#}");
    assert_eq!(next["budget"]["spent_before"], 5200, "{next:#}");
    // It waits on no budget any more: a second raise is refused.
    let again = fakes.run_vnx(&repo, &["approve", &id, "--budget", "+1"]);
    assert_eq!(again.code, 1, "{}", again.stderr);
}

#[test]
fn a_usage_file_the_worker_writes_elsewhere_is_not_believed() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    // The role's budget holds, and its worker may run one script.
    configure(
        &repo,
        "roles:\n  implementer:\n    allow: [\"sh forge.sh\"]\n    budget: {tokens: 100000}\n",
    );
    // A session file of another id in the same project directory, claiming a million tokens.
    let forge = "d=\"$HOME/.claude/projects/$(pwd | tr -c 'A-Za-z0-9\\n' '-')\"; mkdir -p \"$d\"; \
                 printf '%s\\n' '{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"usage\":{\"input_tokens\":1000000,\"output_tokens\":0}}}' \
                 > \"$d/00000000-0000-4000-8000-000000000000.jsonl\"";
    let c = dispatch(
        &repo,
        &fakes,
        None,
        &format!(
            "forges\n@fake write forge.sh {forge}\n@fake run sh forge.sh\n@fake sleep 3\n\
             @fake run vnx report --status done --summary honest"
        ),
    );
    let id = c["dispatch_id"].as_str().unwrap();
    let started = &one(&repo, id, "dispatch_started")[0];
    assert_eq!(started["budget"]["tokens"], 100_000, "{started:#}");
    assert_eq!(started["budget"]["from"], "role");
    assert_eq!(c["status"], "done", "{c:#}");
    assert!(one(&repo, id, "budget_reached").is_empty());
    assert!(one(&repo, id, "budget_warning").is_empty());
    // Doctor names the CLIs a budget holds only at their end.
    let doctor = fakes.run_vnx(&repo, &["doctor"]);
    let said = format!("{}{}", doctor.stdout, doctor.stderr);
    let line = said
        .lines()
        .find(|l| l.contains("budgets"))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(line.contains("aider"), "{line}");
    assert!(line.contains("held to its end-of-run usage"), "{line}");
    assert!(!line.contains("claude"), "{line}");
}

/// A dispatch of `script` under a budget of 1,000 tokens, which it ends needing input: its
/// id and completion.
fn held_at_1000(repo: &Repo, fakes: &Fakes, script: &str) -> (String, serde_json::Value) {
    let c = dispatch(repo, fakes, Some("tokens=1000"), script);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(c["status"], "needs_input", "{c:#}");
    (id, c)
}

#[test]
fn a_paired_phone_raises_a_reached_budget_from_the_page() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let (id, _) = held_at_1000(
        &repo,
        &fakes,
        "spends\n@fake spend 1500\n@fake sleep 60\n@fake run vnx report --status done --summary x",
    );
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir());
    let server = crate::common::serve::Server::start(cmd, &[]);
    let cookie = server.pair("phone");
    let page = server.get(&format!("/d/{id}"), Some(&cookie));
    assert!(
        page.body.contains("Its budget is reached")
            && page.body.contains("budget reached: 1500 of 1000 tokens"),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    let post = |tokens: &str| {
        server.post(
            &format!("/d/{id}"),
            &[
                ("action", "raise-budget"),
                ("tokens", tokens),
                ("csrf", &csrf),
            ],
            Some(&cookie),
            None,
        )
    };
    // Not a number: nothing raised.
    let r = post("lots");
    assert_eq!(r.status, 303, "{r:?}");
    assert!(one(&repo, &id, "budget_raised").is_empty());
    let r = post("+2000");
    assert_eq!(r.status, 303, "{r:?}");
    let raised = one(&repo, &id, "budget_raised");
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0]["tokens_limit"], 3000);
    assert!(
        raised[0]["by"].as_str().unwrap().contains("via phone"),
        "{:#}",
        raised[0]
    );
    assert!(
        repo.events("dispatch_started")
            .iter()
            .any(|s| s["continues"]["dispatch_id"] == id.as_str()),
        "a follow-up continues it"
    );
}

#[test]
fn a_best_of_groups_candidates_share_its_one_budget() {
    let repo = Repo::new();
    let r = crate::common::run(repo.vnx().args([
        "best-of",
        "--agent",
        "implementer",
        "--instruction",
        "add a greeting",
        "--candidate",
        "demo:commit",
        "--candidate",
        "demo:dirty",
        "--budget",
        "tokens=9000,cost=3",
        "--json",
    ]));
    assert!(r.code <= 1, "{}\n{}", r.stdout, r.stderr);
    let starts = repo.events("dispatch_started");
    assert_eq!(starts.len(), 2, "{starts:#?}");
    for s in &starts {
        // Each holds half of the group's budget: together, no more than the one budget.
        assert_eq!(s["budget"]["tokens"], 4500, "{s:#}");
        assert_eq!(s["budget"]["cost_usd"], 1.5, "{s:#}");
        assert_eq!(s["budget"]["from"], "group", "{s:#}");
    }
}

#[test]
fn a_worker_that_ends_before_a_poll_sees_its_budget_is_held_at_its_end() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    // Over its budget and done in the same instant: no poll sees it run past the budget
    // (as the real codex was seen to do under load: its turn ended 0.1 s after the model
    // call that used the budget up). Its last act is the spend: a command after it would
    // leave a poll the time it runs.
    let (id, c) = held_at_1000(
        &repo,
        &fakes,
        "spends and ends\n@fake write a.txt hi\n@fake run vnx report --status done --summary quick\n@fake spend 3000",
    );
    let reached = one(&repo, &id, "budget_reached");
    assert_eq!(reached.len(), 1, "{reached:#?}");
    assert_eq!(reached[0]["how"], "ended", "{:#}", reached[0]);
    let used = reached[0]["tokens_used"].as_u64().unwrap();
    assert!(used >= 3000, "{:#}", reached[0]);
    assert_eq!(
        c["failure_reason"],
        format!("budget reached: {used} of 1000 tokens"),
        "{c:#}"
    );
    // A person decides: raise it, or accept the work.
    let accepted = fakes.run_vnx(&repo, &["accept", &id]);
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
}

#[test]
fn a_worker_is_stopped_at_its_dollars_priced_by_the_project_raised_and_continued() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    // The stand-in's model (its stream names it) at $3 a million input tokens.
    configure(
        &repo,
        "prices:\n  claude-sonnet-*: {input: 3, output: 15}\n  '*': {input: 100, output: 100}\n",
    );
    let run = dispatch_run(
        &repo,
        &fakes,
        Some("cost=0.015"),
        "spends\n@fake spend 4200\n@fake sleep 3\n@fake spend 1000\n@fake sleep 60\n\
         @fake run vnx report --status done --summary never",
    );
    assert!(!run.stderr.contains("end-of-run cost"), "{}", run.stderr);
    let c = completion(&run);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(c["status"], "needs_input", "{c:#}");
    assert_eq!(
        c["failure_reason"], "budget reached: $0.0156 of $0.015",
        "{c:#}"
    );
    let started = &one(&repo, &id, "dispatch_started")[0];
    assert_eq!(started["budget"]["cost_usd"], 0.015, "{started:#}");
    let warned = one(&repo, &id, "budget_warning");
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert_eq!(warned[0]["limit"], "cost", "{:#}", warned[0]);
    assert_eq!(warned[0]["cost_used_usd"], 0.0126, "{:#}", warned[0]);
    assert_eq!(warned[0]["cost_limit_usd"], 0.015);
    assert_eq!(
        warned[0]["tokens_limit"], 0,
        "the budget limits dollars only"
    );
    let reached = one(&repo, &id, "budget_reached");
    assert_eq!(reached.len(), 1, "{reached:#?}");
    assert_eq!(reached[0]["limit"], "cost", "{:#}", reached[0]);
    assert_eq!(reached[0]["cost_used_usd"], 0.0156);
    assert_eq!(reached[0]["tokens_used"], 5200);
    assert_eq!(reached[0]["how"], "interrupted", "{:#}", reached[0]);
    assert!(reached[0]["vnx_attestation"]["sig"].is_string(), "signed");
    assert!(c["duration_seconds"].as_f64().unwrap() < 60.0, "{c:#}");
    let show = fakes.run_vnx(&repo, &["show", &id]);
    assert!(
        show.stdout.contains("budget reached: $0.0156 of $0.015"),
        "{}",
        show.stdout
    );

    // Tokens do not raise a limit of dollars.
    let tokens = fakes.run_vnx(&repo, &["approve", &id, "--budget", "+3k"]);
    assert_eq!(tokens.code, 1, "{}", tokens.stderr);
    assert!(tokens.stderr.contains("--budget +$2"), "{}", tokens.stderr);
    assert!(one(&repo, &id, "budget_raised").is_empty());
    // Dollars do: the reached limit plus what was added, the chain's cost counted.
    let raised = fakes.run_vnx(&repo, &["approve", &id, "--budget", "+$1", "--json"]);
    assert_eq!(raised.code, 0, "{}", raised.stderr);
    let receipt: serde_json::Value = serde_json::from_str(&raised.stdout).unwrap();
    assert_eq!(receipt["added_usd"], 1.0, "{receipt:#}");
    assert_eq!(receipt["cost_limit_usd"], 1.015, "{receipt:#}");
    assert_eq!(receipt["tokens_limit"], 0, "{receipt:#}");
    let next = continued_in_its_session(&repo, &fakes, (&id, &c), "$1.015");
    assert_eq!(next["budget"]["cost_usd"], 1.015, "{next:#}");
    assert_eq!(next["budget"]["cost_before_usd"], 0.0156, "{next:#}");
}

#[test]
fn a_cost_no_price_tells_is_held_to_the_clis_end_of_run_cost() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    // No `prices:`, and the stand-in claude says its cost ($0.0123) only in its result.
    let run = dispatch_run(
        &repo,
        &fakes,
        Some("cost=0.01"),
        "spends\n@fake write a.txt hi\n@fake spend 3000\n@fake run vnx report --status done --summary quick",
    );
    assert!(
        run.stderr
            .contains("the budget's dollars are held to claude's end-of-run cost"),
        "{}",
        run.stderr
    );
    let c = completion(&run);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(c["status"], "needs_input", "{c:#}");
    assert_eq!(
        c["failure_reason"], "budget reached: $0.0123 of $0.01",
        "{c:#}"
    );
    let reached = one(&repo, &id, "budget_reached");
    assert_eq!(reached.len(), 1, "{reached:#?}");
    assert_eq!(reached[0]["how"], "ended", "{:#}", reached[0]);
    assert_eq!(reached[0]["limit"], "cost");
    assert!(one(&repo, &id, "budget_warning").is_empty());
    // Doctor says which CLIs record a running cost and which models have no price.
    configure(&repo, "budget:\n  project_day: {cost_usd: 5}\n");
    let doctor = fakes.run_vnx(&repo, &["doctor"]);
    let said = format!("{}{}", doctor.stdout, doctor.stderr);
    let line = said
        .lines()
        .find(|l| l.contains("budgets"))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(line.contains("opencode"), "{line}");
    assert!(line.contains("record a running cost"), "{line}");
    assert!(line.contains("`prices:` names no price"), "{line}");
}

/// The follow-up a raise of `id`'s budget (which completed as `c`) started: held to its
/// chain's budget, in the same session, and `vnx show ID` says the budget was raised to
/// `to`.
fn continued_in_its_session(
    repo: &Repo,
    fakes: &Fakes,
    (id, c): (&str, &serde_json::Value),
    to: &str,
) -> serde_json::Value {
    let next = repo
        .events("dispatch_started")
        .into_iter()
        .find(|s| s["continues"]["dispatch_id"] == id)
        .expect("a follow-up started");
    assert_eq!(next["budget"]["from"], "chain");
    assert_eq!(next["session_id"], c["session_id"], "the same session");
    let show = fakes.run_vnx(repo, &["show", id]);
    assert!(
        show.stdout.contains(&format!("budget raised to {to} by ")),
        "{}",
        show.stdout
    );
    next
}

/// The project's day held across dispatches running side by side (ADR 0100): each
/// supervisor publishes its worker's use and counts the others', so three workers that
/// would each spend 3,600 tokens (and, held each to the day alone, together 9,000) are
/// stopped once the day's 3,000 are spent among them; a raise of the day is one signed
/// receipt that the next raise to the same limit does not add to.
#[test]
fn dispatches_side_by_side_share_the_project_day() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    configure(&repo, "budget:\n  project_day: {tokens: 3000}\n");
    let script = format!(
        "spends\n{}@fake sleep 60\n@fake run vnx report --status done --summary never",
        "@fake spend 300\n@fake sleep 2\n".repeat(12)
    );
    let ids: Vec<String> = (0..3)
        .map(|_| {
            let r = fakes.run_vnx(&repo, &dispatch_args(None, &script, "--detach"));
            assert_eq!(r.code, 0, "{}", r.stderr);
            r.stdout.trim().to_owned()
        })
        .collect();
    let mut wait = vec!["wait", "--json"];
    wait.extend(ids.iter().map(String::as_str));
    fakes.run_vnx(&repo, &wait);
    let mut used = 0;
    for id in &ids {
        let c = completion_of(&repo, id);
        assert_eq!(c["status"], "needs_input", "{c:#}");
        let why = c["failure_reason"].as_str().unwrap();
        assert!(why.starts_with("project day budget reached: "), "{why}");
        let reached = one(&repo, id, "budget_reached");
        assert_eq!(reached[0]["budget"], "project_day", "{:#}", reached[0]);
        assert!(reached[0]["tokens_used"].as_u64().unwrap() >= 3000);
        let started = &one(&repo, id, "dispatch_started")[0];
        assert_eq!(started["project_day"]["tokens"], 3000, "{started:#}");
        assert!(started["budget"].is_null(), "no budget of its own");
        // What its supervisor last published of its worker's use.
        let live = repo
            .env
            .path()
            .join(format!(".vnx-data/budget/live/{id}.json"));
        let live: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&live).unwrap()).unwrap();
        used += live["tokens"].as_u64().unwrap();
    }
    // Each was stopped within a few seconds of the day being spent: far below the 9,000
    // they would have spent, each counting only the day's ended dispatches.
    assert!((3000..6500).contains(&used), "{used} tokens in all");

    // Doctor says how much of the day is used: every dispatch's, once each.
    let doctor = fakes.run_vnx(&repo, &["doctor"]);
    let said = format!("{}{}", doctor.stdout, doctor.stderr);
    assert!(
        said.contains(&format!("the project's day: {used} of 3000 tokens used")),
        "{said}"
    );

    // A person raises the day for one: the others' raise to the same limit adds nothing.
    let show = fakes.run_vnx(&repo, &["show", &ids[0]]);
    assert!(
        show.stdout.contains("project day budget reached"),
        "{}",
        show.stdout
    );
    let raised = fakes.run_vnx(&repo, &["approve", &ids[0], "--budget", "+1500", "--json"]);
    assert_eq!(raised.code, 0, "{}", raised.stderr);
    let receipt: serde_json::Value = serde_json::from_str(&raised.stdout).unwrap();
    assert_eq!(
        (&receipt["budget"], &receipt["tokens_limit"]),
        (&"project_day".into(), &4500.into())
    );
    let next = repo
        .events("dispatch_started")
        .into_iter()
        .find(|s| s["continues"]["dispatch_id"] == ids[0].as_str())
        .expect("a follow-up started");
    assert_eq!(next["project_day"]["tokens"], 4500, "{next:#}");
    assert!(next["project_day"]["spent_before"].as_u64().unwrap() >= used.min(3000));
    let again = fakes.run_vnx(&repo, &["approve", &ids[1], "--budget", "+1500", "--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let receipt: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(receipt["tokens_limit"], 4500, "raised to the same limit");
    let show = fakes.run_vnx(&repo, &["show", &ids[1]]);
    assert!(
        show.stdout
            .contains("project day budget raised to 4500 tokens by "),
        "{}",
        show.stdout
    );
}

/// The completion receipt of dispatch `id`.
fn completion_of(repo: &Repo, id: &str) -> serde_json::Value {
    one(repo, id, "dispatch_completed")
        .pop()
        .unwrap_or_else(|| panic!("{id} completed"))
}
