//! `vnx cost` sums the token usage the receipts recorded; `budgets:` in
//! provider_constraints.yaml refuse or warn about a dispatch once the recorded spend reaches
//! a limit, and say so in a `constraint_decision` receipt.

use crate::common::{Fakes, Repo, Run, completion, ledger_path, run};

/// A headless dispatch of the stand-in `cli` that reports done at once.
fn ask(repo: &Repo, fakes: &Fakes, cli: &str, env: &[(&str, &str)]) -> Run {
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(["dispatch-agent", "--agent", "reviewer", "--json"])
        .args(["--provider", cli, "--lane", "headless", "--deadline", "60"])
        .args([
            "--instruction",
            "@fake run vnx report --status done --summary looked",
        ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd)
}

fn cost(repo: &Repo, by: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["cost", "--by", by, "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

fn group<'a>(v: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("no group {key}: {v}"))
}

fn tokens_of(c: &serde_json::Value) -> u64 {
    let u = &c["token_usage"];
    u["total_tokens"].as_u64().unwrap_or_else(|| {
        u["input_tokens"].as_u64().unwrap() + u["output_tokens"].as_u64().unwrap()
    })
}

fn add_budgets(repo: &Repo, yaml: &str) {
    let path = repo.env.path().join("provider_constraints.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(yaml);
    std::fs::write(&path, text).unwrap();
    // Committed: a dispatch refuses to start beside uncommitted tracked changes.
    repo.env.git(&["commit", "-q", "-am", "budgets"]);
}

/// The `constraint_decision` receipts of one budget.
fn decisions(repo: &Repo, id: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(ledger_path(repo))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event_type"] == "constraint_decision" && v["constraint_id"] == id)
        .collect()
}

#[test]
fn sums_recorded_usage_by_each_key_and_counts_unreported_apart() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let mut claude = 0;
    for _ in 0..2 {
        let c = completion(&ask(&repo, &fakes, "claude", &[]));
        assert_eq!(c["status"], "done", "{c}");
        claude += tokens_of(&c);
    }
    let c = completion(&ask(&repo, &fakes, "codex", &[]));
    let codex = tokens_of(&c);
    let codex_id = c["dispatch_id"].as_str().unwrap().to_owned();
    // The offline demo worker reports no usage: unknown, not zero.
    let r = repo.dispatch_as("reviewer", "noop", &["--instruction", "x"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let by_provider = cost(&repo, "provider");
    assert_eq!(group(&by_provider, "claude")["total_tokens"], claude);
    assert_eq!(group(&by_provider, "claude")["dispatches"], 2);
    assert_eq!(group(&by_provider, "claude")["unreported"], 0);
    assert_eq!(group(&by_provider, "codex")["total_tokens"], codex);
    assert_eq!(group(&by_provider, "demo")["unreported"], 1);
    assert_eq!(group(&by_provider, "demo")["total_tokens"], 0);
    assert!(claude > 0 && codex > 0);

    let by_dispatch = cost(&repo, "dispatch");
    assert_eq!(by_dispatch["groups"].as_array().unwrap().len(), 4);
    assert_eq!(group(&by_dispatch, &codex_id)["total_tokens"], codex);
    let by_role = cost(&repo, "role");
    assert_eq!(group(&by_role, "reviewer")["total_tokens"], claude + codex);
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let by_day = cost(&repo, "day");
    assert_eq!(group(&by_day, &today)["dispatches"], 4);
    let by_model = cost(&repo, "model");
    assert_eq!(
        by_model["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["dispatches"].as_u64().unwrap())
            .sum::<u64>(),
        4
    );
    // --since a later day leaves nothing.
    let r = run(repo.vnx().args(["cost", "--since", "2999-01-01", "--json"]));
    let later: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(later["groups"], serde_json::json!([]));
    // The table says what is unknown.
    let r = run(repo.vnx().args(["cost"]));
    assert!(r.stdout.starts_with("PROVIDER"), "{}", r.stdout);
    assert!(r.stderr.contains("without a usage report"), "{}", r.stderr);
}

#[test]
fn a_budget_refuses_or_warns_once_the_recorded_spend_reaches_it() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    add_budgets(
        &repo,
        "budgets:\n\
         \x20 - id: claude-daily\n\
         \x20   provider: claude\n\
         \x20   period: day\n\
         \x20   max_tokens: 1\n\
         \x20   reason: the team's daily claude allowance\n\
         \x20   audit_severity: blocking\n\
         \x20   override_allowed: true\n\
         \x20 - id: codex-weekly\n\
         \x20   provider: [codex]\n\
         \x20   role: reviewer\n\
         \x20   period: week\n\
         \x20   max_tokens: 1\n\
         \x20   reason: codex is a trial\n\
         \x20   audit_severity: warn\n",
    );
    // Nothing recorded yet: allowed, and the decision says what it counted.
    let c = completion(&ask(&repo, &fakes, "claude", &[]));
    assert_eq!(c["status"], "done", "{c}");
    let first = decisions(&repo, "claude-daily");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["decision"], "allowed");
    assert_eq!(first[0]["rule"], "token_budget");
    assert!(
        first[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("0 of 1 tokens recorded this day"),
        "{}",
        first[0]
    );

    // Its usage is on record now: the next claude dispatch is refused before anything exists.
    let r = ask(&repo, &fakes, "claude", &[]);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("claude-daily"), "{}", r.stderr);
    let refused = decisions(&repo, "claude-daily");
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[1]["decision"], "refused");
    assert!(
        refused[1]["detail"]
            .as_str()
            .unwrap()
            .starts_with("budget spent: "),
        "{}",
        refused[1]
    );
    let spent = cost(&repo, "provider");
    assert_eq!(spent["budgets"][0]["id"], "claude-daily");
    assert_eq!(spent["budgets"][0]["reached"], true);
    assert_eq!(spent["budgets"][1]["reached"], false);

    // The override lets one through, recorded as such.
    let c = completion(&ask(
        &repo,
        &fakes,
        "claude",
        &[("VNX_OVERRIDE_CLAUDE_DAILY", "1")],
    ));
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(
        decisions(&repo, "claude-daily")[2]["decision"],
        "overridden"
    );

    // Codex: the other budget; a warn budget runs the dispatch and says so.
    let c = completion(&ask(&repo, &fakes, "codex", &[]));
    assert_eq!(c["status"], "done", "{c}");
    let c = completion(&ask(&repo, &fakes, "codex", &[]));
    assert_eq!(c["status"], "done", "{c}");
    let codex = decisions(&repo, "codex-weekly");
    assert_eq!(
        codex
            .iter()
            .map(|d| d["decision"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["allowed", "warned"]
    );
    assert!(
        decisions(&repo, "claude-daily").len() == 3,
        "codex is not claude's budget"
    );
}

#[test]
fn a_budget_with_an_unknown_key_or_period_does_not_load() {
    let repo = Repo::new();
    add_budgets(
        &repo,
        "budgets:\n  - id: b\n    period: day\n    max_tokens: 10\n    reason: r\n    audit_severity: warn\n    cost_usd: 5\n",
    );
    let r = run(repo.vnx().args(["constraints", "list"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("cost_usd"), "{}", r.stderr);
    assert!(
        r.stderr.contains("provider_constraints.yaml:"),
        "line and column: {}",
        r.stderr
    );
    let r = repo.dispatch_as("reviewer", "noop", &["--instruction", "x"]);
    assert_eq!(
        r.code, 3,
        "a dispatch does not run on a broken file: {}",
        r.stderr
    );

    let repo = Repo::new();
    add_budgets(
        &repo,
        "budgets:\n  - id: b\n    period: fortnight\n    max_tokens: 10\n    reason: r\n    audit_severity: warn\n",
    );
    let r = run(repo.vnx().args(["constraints", "list", "--json"]));
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("unknown period `fortnight`"),
        "{}",
        r.stderr
    );
}

/// A receipt from receipts/examples/, as a dispatch of `provider` recorded at `at` (the chain
/// members are the ledger's to set).
fn dated(
    kind: &str,
    id: &str,
    provider: &str,
    at: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let path = crate::common::repo_dir().join(format!("receipts/examples/{kind}.json"));
    let mut v: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for chain in ["seq", "prev_hash", "prev_line_sha256", "vnx_attestation"] {
        v.remove(chain);
    }
    v.insert("dispatch_id".into(), id.into());
    v.insert("timestamp".into(), at.into());
    if kind == "dispatch_started" {
        v.insert("provider".into(), provider.into());
        v.insert("role".into(), "reviewer".into());
    }
    v
}

#[test]
fn spend_of_an_earlier_period_counts_only_for_all_time() {
    let repo = Repo::new();
    // 900 tokens spent by the demo provider in January 2020.
    let mut completed = dated(
        "dispatch_completed",
        "D-00002020",
        "demo",
        "2020-01-15T12:00:00Z",
    );
    completed.insert(
        "token_usage".into(),
        serde_json::json!({"input_tokens": 800, "output_tokens": 100}),
    );
    // And one whose usage carries Python VNX's names, which vnx cannot read: unreported,
    // not zero.
    let mut vnx_named = dated(
        "dispatch_completed",
        "D-00002021",
        "demo",
        "2020-01-15T13:00:00Z",
    );
    vnx_named.insert(
        "token_usage".into(),
        serde_json::json!({"input": 5, "output": 5}),
    );
    let lines: Vec<vnx::ledger::Receipt> = [
        dated(
            "dispatch_started",
            "D-00002020",
            "demo",
            "2020-01-15T11:00:00Z",
        ),
        completed,
        dated(
            "dispatch_started",
            "D-00002021",
            "demo",
            "2020-01-15T12:30:00Z",
        ),
        vnx_named,
    ]
    .iter()
    .map(|v| crate::common::receipt(&serde_json::Value::Object(v.clone()).to_string()))
    .collect();
    vnx::ledger::Ledger::new(ledger_path(&repo))
        .append_all(&lines)
        .unwrap();
    let by_day = cost(&repo, "day");
    assert_eq!(
        group(&by_day, "2020-01-15")["total_tokens"],
        900,
        "{by_day}"
    );
    assert_eq!(group(&by_day, "2020-01-15")["dispatches"], 2, "{by_day}");
    assert_eq!(group(&by_day, "2020-01-15")["unreported"], 1, "{by_day}");

    let budget = |id: &str, period: &str| {
        format!(
            "  - id: {id}\n    provider: demo\n    period: {period}\n    max_tokens: 900\n    \
             reason: r\n    audit_severity: blocking\n"
        )
    };
    add_budgets(
        &repo,
        &format!(
            "budgets:\n{}{}{}",
            budget("demo-day", "day"),
            budget("demo-week", "week"),
            budget("demo-month", "month")
        ),
    );
    let r = repo.dispatch_as("reviewer", "noop", &["--instruction", "x"]);
    assert_eq!(r.code, 0, "this period has no spend: {}", r.stderr);
    for id in ["demo-day", "demo-week", "demo-month"] {
        assert_eq!(decisions(&repo, id)[0]["decision"], "allowed", "{id}");
    }
    add_budgets(&repo, &budget("demo-ever", "all"));
    let r = repo.dispatch_as("reviewer", "noop", &["--instruction", "x"]);
    assert_eq!(r.code, 1, "all time counts 2020: {}", r.stderr);
    assert!(r.stderr.contains("demo-ever"), "{}", r.stderr);
}

#[test]
fn the_money_a_cli_reported_is_summed_and_compare_counts_tokens_without_a_total() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    // The stand-in claude says each turn cost $0.0123, as claude's `total_cost_usd` does,
    // and gives input and output tokens but no total.
    let a = completion(&ask(&repo, &fakes, "claude", &[]));
    let b = completion(&ask(&repo, &fakes, "claude", &[]));
    assert_eq!(a["cli_events"]["cost_usd"], 0.0123, "{a}");
    completion(&ask(&repo, &fakes, "codex", &[]));
    let by_provider = cost(&repo, "provider");
    let claude = group(&by_provider, "claude")["cost_usd"].as_f64().unwrap();
    assert!((claude - 0.0246).abs() < 1e-9, "{by_provider}");
    // codex says nothing about money: unknown, not zero.
    assert_eq!(
        group(&by_provider, "codex")["cost_usd"],
        serde_json::Value::Null
    );
    let table = run(repo.vnx().args(["cost"]));
    let row = |key: &str| {
        table
            .stdout
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key}: {}", table.stdout))
            .to_owned()
    };
    assert!(
        table.stdout.lines().next().unwrap().ends_with("COST"),
        "{}",
        table.stdout
    );
    assert!(row("claude").ends_with("$0.02"), "{}", table.stdout);
    assert!(row("codex").ends_with('-'), "{}", table.stdout);

    // `compare` counts input plus output where the CLI gives no total, as `show` does.
    let (a_id, b_id) = (
        a["dispatch_id"].as_str().unwrap(),
        b["dispatch_id"].as_str().unwrap(),
    );
    let r = run(repo.vnx().args(["compare", a_id, b_id, "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["a"]["tokens"], tokens_of(&a), "{v}");
    assert_eq!(v["b"]["tokens"], tokens_of(&b), "{v}");
}

/// A chat-completions stream whose last chunk claims `prompt` input tokens.
fn claiming(prompt: &str) -> String {
    format!(
        "{{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"done\"}},\"finish_reason\":\"stop\"}}]}}\n\
         {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{{\"prompt_tokens\":{prompt},\"completion_tokens\":1}}}}\n"
    )
}

#[test]
fn an_absurd_usage_claim_is_refused_and_neither_fills_nor_escapes_a_budget() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let chunks = tools.path().join("chunks.jsonl");
    let bin = tools.path().join("chatter");
    crate::sandbox::script(&bin, &format!("cat {}", chunks.display()));
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "providers:\n  chatter:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n      \
         output: openai-chat\n      completion: output\n    permissions:\n      edits: []\n",
        bin.display()
    ));
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "declare chatter"]);
    add_budgets(
        &repo,
        "budgets:\n\
         \x20 - id: chatter-all\n\
         \x20   provider: chatter\n\
         \x20   period: all\n\
         \x20   max_tokens: 1000\n\
         \x20   reason: a trial\n\
         \x20   audit_severity: blocking\n",
    );
    let dispatch = || {
        run(repo.vnx().args([
            "dispatch-agent",
            "--agent",
            "reviewer",
            "--provider",
            "chatter",
            "--instruction",
            "look",
            "--json",
        ]))
    };
    // 2^64 − 1 input tokens, then a float over it, then 10^12 + 1: refused each time, the
    // spend unknown, and the budget still open.
    for claim in ["18446744073709551615", "1e30", "1000000000001"] {
        std::fs::write(&chunks, claiming(claim)).unwrap();
        let r = dispatch();
        assert_eq!(r.code, 0, "{claim}: {}", r.stderr);
        let c = completion(&r);
        assert!(c.get("token_usage").is_none(), "{claim}: {c}");
        assert!(
            c["token_usage_refused"].as_u64().unwrap() > 1_000_000_000_000,
            "{c}"
        );
        assert!(c["cli_events"].get("usage").is_none(), "{c}");
    }
    let spent = cost(&repo, "provider");
    assert_eq!(group(&spent, "chatter")["unreported"], 3, "{spent}");
    assert_eq!(group(&spent, "chatter")["total_tokens"], 0, "{spent}");
    assert_eq!(spent["budgets"][0]["reached"], false, "{spent}");
    // A plausible claim still counts: 2,001 tokens fill the budget and the next is refused.
    std::fs::write(&chunks, claiming("2000")).unwrap();
    let c = completion(&dispatch());
    assert_eq!(c["token_usage"]["input_tokens"], 2000, "{c}");
    let r = dispatch();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("chatter-all"), "{}", r.stderr);
}
