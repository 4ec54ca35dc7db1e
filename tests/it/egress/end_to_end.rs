//! The egress policy end to end through `vnx dispatch-agent --provider demo`: a refusal
//! that makes nothing but its receipt, redaction of the prompt and instruction as sent with
//! included files withheld, warnings, rule floors, the shipped exemptions, the policy as
//! `constraints list` shows it, and disguised tokens.

use super::*;

#[test]
fn a_refused_secret_makes_nothing_but_its_receipt_and_is_never_printed() {
    let repo = Repo::new();
    policy(&repo, "  action: refuse\n  providers: {}\n");
    let token = format!("gh{}_{}", "p", Gen(11).alnum(36));
    let r = repo.dispatch(
        "commit",
        &["--instruction", &format!("push with\n  {token}")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("refused by the egress policy: github-token at prompt:"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("hint: take the secret out"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(&token[4..12]), "{}", r.stderr);
    assert_eq!(repo.branches(), "");
    let root = repo.env.path();
    assert_eq!(
        root.join(".vnx-data/dispatches")
            .read_dir()
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        root.join(".vnx-data/worktrees").read_dir().unwrap().count(),
        0
    );
    assert!(repo.server.0.sessions().unwrap().is_empty());
    assert!(events(&repo, "dispatch_started").is_empty());
    let decisions = events(&repo, "egress_decision");
    assert_eq!(decisions.len(), 1);
    let d = &decisions[0];
    assert_eq!(d["decision"], "refused");
    assert_eq!(d["provider"], "demo");
    assert_eq!(d["prompt_sha256"], Value::Null);
    assert!(
        !d["vnx_attestation"].is_null(),
        "signed as vnx signs its receipts"
    );
    let f = &d["findings"][0];
    assert_eq!(f["rule"], "github-token");
    assert_eq!(f["action"], "refuse");
    assert_eq!(f["source"], "prompt");
    assert_eq!(f["column"], 3);
    assert_eq!(f["bytes"], token.len());
    assert_eq!(f["sha256"], sha(&token));
    assert!(!ledger(&repo).contains(&token[4..12]));
    repo.verify_ok();
}

#[test]
fn redaction_changes_the_prompt_sent_and_withholds_included_files() {
    let repo = Repo::new();
    policy(&repo, "  action: redact\n  providers: {}\n");
    let mut g = Gen(21);
    let token = format!("sk_{}_{}", "live", g.alnum(24));
    let aws = ["AKI", "A", &g.from(UPPER_DIGITS, 16)].concat();
    include_env(&repo, &format!("AWS_ACCESS_KEY_ID={aws}\n"));
    let instruction = format!("charge with {token} please");
    // A failed dispatch keeps its worktree, so what was copied can be read there.
    let r = repo.dispatch("fail", &["--instruction", &instruction]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("egress policy: secrets found (stripe-live-key at prompt:"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("aws-access-key-id at .env:1:19"),
        "{}",
        r.stderr
    );
    let c = completion(&r);
    let id = c["dispatch_id"].as_str().unwrap();
    let root = repo.env.path();
    let dir = root.join(format!(".vnx-data/dispatches/{id}"));
    let prompt = std::fs::read_to_string(dir.join("prompt.md")).unwrap();
    assert!(
        prompt.contains("charge with [REDACTED:stripe-live-key] please"),
        "{prompt}"
    );
    assert!(!prompt.contains(&token[8..16]));
    let kept = std::fs::read_to_string(dir.join("instruction.md")).unwrap();
    assert_eq!(kept, "charge with [REDACTED:stripe-live-key] please");
    let receipts = repo.receipts(id);
    let started = &receipts[0];
    assert_eq!(started["event_type"], "dispatch_started");
    assert_eq!(started["prompt_sha256"], sha(&prompt));
    assert_eq!(started["instruction_sha256"], sha(&kept));
    let paths: Vec<&str> = started["worktree_include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, [".env.local"]);
    let wt = root.join(format!(".vnx-data/worktrees/dispatch-{id}"));
    assert!(!wt.join(".env").exists(), "a withheld file is not copied");
    assert!(wt.join(".env.local").exists());
    let d = receipts
        .iter()
        .find(|r| r["event_type"] == "egress_decision")
        .expect("an egress_decision");
    assert_eq!(d["decision"], "redacted");
    assert_eq!(d["prompt_sha256"], sha(&prompt));
    assert_eq!(d["withheld"], serde_json::json!([".env"]));
    let f = &d["findings"][1];
    assert_eq!(f["source"], "worktree_include");
    assert_eq!(f["path"], ".env");
    assert_eq!(
        (f["line"].clone(), f["column"].clone()),
        (1.into(), 19.into())
    );
    assert_eq!(f["sha256"], sha(&aws));
    assert!(!ledger(&repo).contains(&token[8..16]));
    assert!(!ledger(&repo).contains(&aws[4..12]));
    repo.verify_ok();
}

#[test]
fn a_warning_sends_the_prompt_as_it_is_and_records_it() {
    let repo = Repo::new();
    policy(&repo, "  action: warn\n  providers: {}\n");
    let token = format!("glpat-{}", Gen(31).from(URLSAFE, 20));
    let r = repo.dispatch_as(
        "reviewer",
        "noop",
        &["--instruction", &format!("use {token}")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("egress policy: secrets found (gitlab-token at prompt:")
    );
    assert!(r.stderr.contains("sent as they are"), "{}", r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let prompt = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/prompt.md")),
    )
    .unwrap();
    assert!(prompt.contains(&token));
    let d = events(&repo, "egress_decision");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["decision"], "warned");
    assert_eq!(d[0]["findings"][0]["action"], "warn");
    assert_eq!(d[0]["prompt_sha256"], sha(&prompt));
    repo.verify_ok();
}

#[test]
fn a_rule_floor_refuses_a_private_key_in_an_included_file() {
    let repo = Repo::new();
    policy(
        &repo,
        "  action: redact\n  providers: {}\n  rules: {pem-private-key: refuse}\n",
    );
    include_env(
        &repo,
        &format!("KEY=\"{}\"\n", pem(&mut Gen(41), "RSA PRIVATE KEY", 2)),
    );
    let r = repo.dispatch("commit", &["--instruction", "x"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("refused by the egress policy: pem-private-key at .env:1:6"),
        "{}",
        r.stderr
    );
    assert!(events(&repo, "dispatch_started").is_empty());
    assert_eq!(events(&repo, "egress_decision")[0]["decision"], "refused");
}

#[test]
fn the_shipped_policy_exempts_the_offline_demo() {
    let repo = Repo::new();
    let token = format!("gh{}_{}", "p", Gen(51).alnum(36));
    let r = repo.dispatch_as(
        "reviewer",
        "noop",
        &["--instruction", &format!("use {token}")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("egress"), "{}", r.stderr);
    assert!(events(&repo, "egress_decision").is_empty());
}

#[test]
fn constraints_list_shows_the_policy_it_will_apply() {
    let repo = Repo::new();
    policy(
        &repo,
        "  action: warn\n  providers: {ollama: exempt, codex: refuse}\n  rules: {github-token: refuse}\n  \
         allow: ['AKIAIOSFODNN7EXAMPLE']\n  patterns: [{id: ticket-key, regex: 'TK-[0-9]{6}'}]\n",
    );
    let r = run(repo.vnx().args(["constraints", "list"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "egress                       egress        warn     providers: codex refuse, ollama exempt; \
         rules: github-token refuse; 1 allowed, 1 own pattern(s)\n"
    );
    let r = run(repo.vnx().args(["constraints", "list", "--json"]));
    let listed: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        listed["egress"],
        serde_json::json!({
            "action": "warn",
            "providers": {"codex": "refuse", "ollama": "exempt"},
            "rules": {"github-token": "refuse"},
            "allow": ["AKIAIOSFODNN7EXAMPLE"],
            "patterns": [{"id": "ticket-key", "regex": "TK-[0-9]{6}"}],
            "entropy": {"threshold": 3.5, "min_length": 16},
        })
    );
}

#[test]
fn a_broken_egress_section_stops_every_dispatch() {
    let repo = Repo::new();
    policy(&repo, "  action: maybe\n");
    let r = run(repo.dispatch_cmd("commit").args(["--instruction", "x"]));
    // As for any broken constraints file (see governed.rs).
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("provider_constraints.yaml:4:11: unknown egress action `maybe`"),
        "{}",
        r.stderr
    );
}

/// A token broken up by zero-width characters or spelled with escapes of `_` and `-` is the
/// same secret: found, hashed as the token, and redacted whole in the text as given.
#[test]
fn a_disguised_token_is_found_and_redacted_whole() {
    let mut g = Gen(11);
    let token = format!("gh{}_{}", "p", g.alnum(36));
    let zw = format!(
        "{}\u{200b}{}\u{200d}{}",
        &token[..6],
        &token[6..20],
        &token[20..]
    );
    let escaped = token.replacen('_', "%5F", 1);
    let unicode = token.replacen('_', "\\u005f", 1);
    for disguised in [zw, escaped, unicode] {
        let text = format!("export T={disguised} # ci");
        let s = scan(&Policy::shipped(&[]), text.as_bytes());
        assert_eq!(s.hits.len(), 1, "{disguised:?}: {:?}", s.hits);
        let hit = &s.hits[0];
        assert_eq!(hit.rule, "github-token");
        assert_eq!(&text[hit.start..hit.end], disguised);
        assert_eq!(hit.sha256, hex::encode(Sha256::digest(token.as_bytes())));
        let redacted = egress::scan::redact(&text, &s);
        assert_eq!(redacted, "export T=[REDACTED:github-token] # ci");
    }
}
