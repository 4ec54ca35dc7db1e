//! The egress policy: a corpus of real-looking secrets (made here, at test time, so that no
//! credential-shaped text is committed) each found by its rule; true negatives (hashes, UUIDs,
//! base64, lockfile integrity, code) left alone; redaction that never leaves part of a secret
//! behind (proptest); `egress:` errors at their line and column; and, end to end through
//! `vnx dispatch-agent --provider demo`, refusal, redaction (the prompt and instruction as
//! sent, included files withheld), warnings, rule floors and the shipped exemptions.

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vnx::egress::{self, Action, Policy, scan::scan};

use crate::common::{Repo, completion, run};

// ---- a corpus made at test time ----

/// A small deterministic generator, so each run checks the same corpus.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn from(&mut self, alphabet: &str, n: usize) -> String {
        let a = alphabet.as_bytes();
        (0..n)
            .map(|_| a[(self.next() % a.len() as u64) as usize] as char)
            .collect()
    }

    /// Letters and digits, with at least one of each.
    fn alnum(&mut self, n: usize) -> String {
        format!("Q7{}", self.from(ALNUM, n - 2))
    }
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// A PEM body of `lines` base64 lines.
fn pem(g: &mut Gen, label: &str, lines: usize) -> String {
    let body: Vec<String> = (0..lines).map(|_| g.from(B64, 64)).collect();
    // The markers are put together here so that no source line is a key's first line.
    let dashes = "-----";
    format!(
        "{dashes}BEGIN {label}{dashes}\n{}\n{dashes}END {label}{dashes}",
        body.join("\n")
    )
}

/// (rule id, the text as it would appear, the secret inside it).
fn corpus(seed: u64) -> Vec<(&'static str, String, String)> {
    let mut g = Gen(seed | 1);
    let mut out = Vec::new();
    let mut add = |rule: &'static str, text: String, secret: String| {
        out.push((rule, text, secret));
    };
    let k = pem(&mut g, "RSA PRIVATE KEY", 4);
    add("pem-private-key", k.clone(), k);
    let k = pem(&mut g, "PRIVATE KEY", 3);
    add("pem-private-key", k.clone(), k);
    let k = pem(&mut g, "OPENSSH PRIVATE KEY", 3);
    add("openssh-private-key", k.clone(), k);
    let s = ["AKI", "A", &g.from(UPPER_DIGITS, 16)].concat();
    add("aws-access-key-id", format!("aws_access_key_id = {s}"), s);
    let s = g.from(B64, 40);
    add(
        "aws-secret-access-key",
        format!("aws_secret_access_key = {s}"),
        s,
    );
    let s = format!("gh{}_{}", "p", g.alnum(36));
    add("github-token", format!("export GH_TOKEN={s}"), s);
    let s = format!("gh{}_{}", "s", g.alnum(36));
    add("github-token", format!("token: {s}"), s);
    let s = format!("github_{}_{}_{}", "pat", g.alnum(22), g.alnum(59));
    add("github-fine-grained-token", format!("use {s} here"), s);
    let s = format!("gl{}-{}", "pat", g.from(URLSAFE, 20));
    add("gitlab-token", format!("PRIVATE-TOKEN: {s}"), s);
    let s = format!(
        "xo{}-{}-{}-{}",
        "xb",
        g.from("0123456789", 12),
        g.from("0123456789", 13),
        g.alnum(24)
    );
    add("slack-token", format!("slack {s}"), s);
    let s = format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        g.from(UPPER_DIGITS, 8),
        g.from(UPPER_DIGITS, 10),
        g.alnum(24)
    );
    add("slack-webhook-url", format!("webhook: {s}"), s);
    let s = format!("sk_{}_{}", "live", g.alnum(24));
    add("stripe-live-key", format!("Stripe.api_key = '{s}'"), s);
    let s = format!("AI{}{}", "za", g.from(URLSAFE, 35));
    add("google-api-key", format!("key={s}&q=1"), s);
    let s = format!("sk-{}-api03-{}AA", "ant", g.from(URLSAFE, 93));
    add("anthropic-api-key", format!("ANTHROPIC_KEY {s}"), s);
    let s = format!("sk-{}-{}", "proj", g.from(URLSAFE, 120));
    add("openai-api-key", format!("client(api_key=\"{s}\")"), s);
    let s = ["sk-", &g.alnum(20), "T3Blbk", "FJ", &g.alnum(20)].concat();
    add("openai-api-key", format!("OPENAI {s}"), s);
    let s = format!("np{}_{}", "m", g.alnum(36));
    add(
        "npm-token",
        format!("//registry.npmjs.org/:_authToken={s}"),
        s,
    );
    let s = format!("pypi-{}{}", "AgEIcHlwaS5vcmc", g.from(URLSAFE, 70));
    add("pypi-token", format!("password = {s}"), s);
    let s = format!("hf_{}", g.alnum(34));
    add("huggingface-token", format!("HF {s}"), s);
    let s = format!(
        "eyJ{}.eyJ{}.{}",
        g.from(URLSAFE, 30),
        g.from(URLSAFE, 40),
        g.from(URLSAFE, 43)
    );
    add("jwt", format!("Authorization: Bearer {s}"), s);
    let s = g.alnum(20);
    add(
        "url-credentials",
        format!("DATABASE_URL=postgres://app:{s}@db.internal:5432/app"),
        s,
    );
    let s = g.alnum(28);
    add(
        "high-entropy-assignment",
        format!("DB_PASSWORD={s}"),
        s.clone(),
    );
    let s = g.alnum(32);
    add(
        "high-entropy-assignment",
        format!("  client_secret: \"{s}\""),
        s,
    );
    let s = g.alnum(24);
    add(
        "high-entropy-assignment",
        format!("let api_key = '{s}';"),
        s,
    );
    // Forms that slipped through before: a prefix glued to a word or a digit, a lower-case
    // or double-spaced PEM header, a percent-encoded URL password, PASSPHRASE=, and a
    // PKCS#8 body without its header.
    let s = format!("gh{}_{}", "p", g.alnum(36));
    add("github-token", format!("MY_{s}"), s);
    let s = format!("gh{}_{}", "p", g.alnum(36));
    add("github-token", format!("9{s}"), s);
    let s = format!("hf_{}", g.alnum(34));
    add("huggingface-token", format!("HF_TOKEN_{s}"), s);
    let k = pem(&mut g, "rsa private key", 3)
        .replace("BEGIN", "begin")
        .replace("END", "end");
    add("pem-private-key", k.clone(), k);
    let k = pem(&mut g, "EC  PRIVATE  KEY", 3);
    add("pem-private-key", k.clone(), k);
    let s = format!("{}%40{}", g.alnum(10), g.alnum(8));
    add(
        "url-credentials",
        format!("https://deploy:{s}@git.internal/repo.git"),
        s,
    );
    let s = g.alnum(26);
    add(
        "high-entropy-assignment",
        format!("GPG_PASSPHRASE={s}"),
        s.clone(),
    );
    let s = format!("MIIE{}IBADANBgkqhkiG9w0BAQEFAASC{}", "vQ", g.from(B64, 120));
    add("pkcs8-private-key-body", format!("key: {s}"), s);
    out
}

/// Text that must not trip the scanner: hashes, ids, encodings and code that look random or
/// name secrets without holding one.
fn negatives(seed: u64) -> String {
    let mut g = Gen(seed | 1);
    let hex = "0123456789abcdef";
    let uuid = format!(
        "{}-{}-4{}-a{}-{}",
        g.from(hex, 8),
        g.from(hex, 4),
        g.from(hex, 3),
        g.from(hex, 3),
        g.from(hex, 12)
    );
    [
        format!("commit {}", g.from(hex, 40)),
        format!("Merge: {} {}", g.from(hex, 7), g.from(hex, 7)),
        format!("sha256: {}", g.from(hex, 64)),
        format!("checksum = \"{}\"", g.from(hex, 64)),
        format!("\"integrity\": \"sha512-{}==\"", g.from(B64, 86)),
        format!("request_id = \"{uuid}\""),
        format!("let token_sha256 = \"{}\";", g.from(hex, 64)),
        format!("data: {}", "SGVsbG8sIHdvcmxkISBUaGlzIGlzIG5vdCBhIHNlY3JldC4="),
        "password: ${DB_PASSWORD}".into(),
        "token = \"<your-token-here>\"".into(),
        "api_key = os.environ[\"OPENAI_API_KEY\"]".into(),
        "password = getpass.getpass(prompt)".into(),
        "let token = tokenizer.next_token(input);".into(),
        "const PASSWORD_MIN_LEN: usize = 12;".into(),
        "SECRET_KEY=xxxxxxxxxxxxxxxxxxxxxxxx".into(),
        "password: correct horse battery staple".into(),
        "pip install scikit-learn; sk-learn is not a key".into(),
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"
            .into(),
        "https://user@example.com/path and https://example.com:8080/x".into(),
        format!("image: registry/app@sha256:{}", g.from(hex, 64)),
    ]
    .join("\n")
}

#[test]
fn every_rule_finds_its_secrets_and_hashes_only_the_secret() {
    let policy = Policy::default();
    for seed in [1, 2, 3] {
        for (rule, text, secret) in corpus(seed) {
            let text = format!("before\n  {text}\nafter");
            let s = scan(&policy, text.as_bytes());
            assert_eq!(s.hits.len(), 1, "{rule}: {:?}", s.hits);
            let hit = &s.hits[0];
            assert_eq!(hit.rule, rule, "{text}");
            assert_eq!(&text[hit.start..hit.end], secret, "{rule}");
            assert_eq!(hit.sha256, hex::encode(Sha256::digest(secret.as_bytes())));
            assert_eq!(hit.line, 2);
            assert_eq!(
                hit.column,
                text.lines().nth(1).unwrap().find(&secret[..4]).unwrap() + 1
            );
        }
    }
    // Every built-in rule is in the corpus.
    let covered: std::collections::BTreeSet<&str> = corpus(1).iter().map(|c| c.0).collect();
    for rule in egress::rules::BUILTIN {
        assert!(covered.contains(rule.id), "{} has no corpus entry", rule.id);
    }
}

#[test]
fn true_negatives_do_not_trip_it() {
    let policy = Policy::default();
    for seed in 1..=20 {
        let text = negatives(seed);
        let s = scan(&policy, text.as_bytes());
        assert!(s.hits.is_empty(), "{:?}\n{text}", s.hits);
    }
}

#[test]
fn adjacent_secrets_are_each_found() {
    let mut g = Gen(9);
    let a = ["AKI", "A", &g.from(UPPER_DIGITS, 16)].concat();
    let b = ["AKI", "A", &g.from(UPPER_DIGITS, 16)].concat();
    let text = format!("{a} {b},{a}");
    assert_eq!(scan(&Policy::default(), text.as_bytes()).hits.len(), 3);
}

#[test]
fn the_policy_decides_per_provider_and_rule_and_exempts_local_models() {
    let mut g = Gen(5);
    let token = format!("gh{}_{}", "p", g.alnum(36));
    let key = pem(&mut g, "EC PRIVATE KEY", 2);
    let prompt = format!("use {token}\n{key}\n");
    let policy = Policy::default();
    for exempt in ["ollama", "demo", " Ollama "] {
        assert_eq!(
            egress::check(&policy, exempt, &prompt, &[]),
            Default::default()
        );
    }
    let o = egress::check(&policy, "claude", &prompt, &[]);
    let actions: Vec<(&str, Action)> = o
        .findings
        .iter()
        .map(|f| (f.hit.rule.as_str(), f.action))
        .collect();
    // The default redacts, and a private key is refused whatever the provider's action.
    assert_eq!(
        actions,
        [
            ("github-token", Action::Redact),
            ("pem-private-key", Action::Refuse)
        ]
    );
    assert!(o.refused());
    let included = vec![(".env".to_owned(), format!("GH={token}\n").into_bytes())];
    let o = egress::check(&policy, "codex", "no secrets here", &included);
    assert_eq!(o.withheld, [".env"]);
    assert_eq!(o.findings[0].to_string(), "github-token at .env:1:4");
    assert!(o.redacted_prompt.is_none());
}

/// A secret of each kind, and the part of it that must not survive redaction.
fn secret_strategy() -> impl Strategy<Value = (String, String)> {
    let an = |n: usize| proptest::string::string_regex(&format!("[A-Za-z0-9]{{{n}}}")).unwrap();
    prop_oneof![
        an(36).prop_map(|s| {
            let t = format!("gh{}_{s}", "p");
            (t.clone(), t)
        }),
        an(16).prop_map(|s| {
            let t = format!("AKIA{}", s.to_uppercase());
            (t.clone(), t)
        }),
        an(24).prop_map(|s| {
            let t = format!("sk_{}_{s}", "live");
            (t.clone(), t)
        }),
        an(30).prop_map(|s| (format!("API_TOKEN=Q7{s}"), format!("Q7{s}"))),
        an(20).prop_map(|s| (format!("redis://u:{s}@cache:6379"), s)),
        an(64).prop_map(|s| {
            let d = "-----";
            let t = format!("{d}BEGIN PRIVATE KEY{d}\n{s}\n{s}\n{d}END PRIVATE KEY{d}");
            (t.clone(), t)
        }),
        (an(20), an(30), an(43)).prop_map(|(a, b, c)| {
            let t = format!("eyJ{a}.eyJ{b}.{c}");
            (t.clone(), t)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn redaction_never_leaves_part_of_a_secret(
        parts in proptest::collection::vec(
            ("[a-z ,.\n]{0,40}", secret_strategy(), prop_oneof![Just(" "), Just("\n"), Just("\""), Just("'")]),
            1..5,
        ),
        tail in "[a-z ,.\n]{0,40}",
    ) {
        let policy = Policy::default();
        let mut text = String::new();
        let mut secrets = Vec::new();
        for (filler, (embedded, secret), sep) in &parts {
            text.push_str(filler);
            text.push(' ');
            text.push_str(sep);
            text.push_str(embedded);
            text.push_str(sep);
            text.push(' ');
            secrets.push(secret.clone());
        }
        text.push_str(&tail);
        let scanned = scan(&policy, text.as_bytes());
        let redacted = egress::redact(&text, &scanned);
        for secret in &secrets {
            let b = secret.as_bytes();
            for w in b.windows(8) {
                let piece = std::str::from_utf8(w).unwrap();
                prop_assert!(!redacted.contains(piece), "{piece:?} of {secret:?} left in {redacted:?}");
            }
        }
        // What is left holds no secret a rule finds.
        prop_assert!(scan(&policy, redacted.as_bytes()).hits.is_empty(), "{redacted:?}");
    }
}

// ---- the `egress:` section ----

fn load(egress: &str) -> Result<vnx::constraints::Constraints, String> {
    let text = format!("version: 1\nconstraints: []\negress:\n{egress}");
    vnx::constraints::parse(&text, Path::new("pc.yaml")).map_err(|e| e.to_string())
}

#[test]
fn egress_errors_name_the_line_and_column() {
    let cases = [
        (
            "  action: block\n",
            "pc.yaml:4:11: unknown egress action `block`",
        ),
        ("  colour: red\n", "pc.yaml:4:3: unknown field `colour`"),
        (
            "  rules:\n    no-such-rule: refuse\n",
            "pc.yaml:5:19: egress.rules: unknown rule `no-such-rule`",
        ),
        (
            "  rules:\n    jwt: exempt\n",
            "pc.yaml:5:10: unknown egress action `exempt`; use refuse, redact or warn",
        ),
        (
            "  patterns:\n    - id: Bad_Id\n      regex: 'x'\n",
            "pc.yaml:5:11: egress pattern id `Bad_Id` is not kebab-case",
        ),
        (
            "  patterns:\n    - id: jwt\n      regex: 'x'\n",
            "pc.yaml:5:11: egress pattern id `jwt` is taken",
        ),
        (
            "  patterns:\n    - id: mine\n      regex: 'a('\n",
            "pc.yaml:6:14: egress pattern `mine`: invalid regex:",
        ),
        (
            "  patterns:\n    - id: mine\n      regex: 'a*'\n",
            "pc.yaml:6:14: egress pattern `mine`: the regex matches the empty text",
        ),
        (
            "  entropy:\n    threshold: 9\n",
            "pc.yaml:5:16: egress.entropy.threshold 9 is outside 1..=8",
        ),
        (
            "  entropy:\n    min_length: 4\n",
            "pc.yaml:5:17: egress.entropy.min_length 4 is outside 8..=256",
        ),
        (
            "  allow: ['']\n",
            "pc.yaml:4:11: egress.allow: the regex matches the empty text",
        ),
    ];
    for (egress, want) in cases {
        let err = load(egress)
            .err()
            .unwrap_or_else(|| panic!("loaded: {egress}"));
        assert!(err.starts_with(want), "{egress}\ngot:  {err}\nwant: {want}");
    }
}

#[test]
fn the_section_sets_the_policy_and_its_absence_is_the_default() {
    let none =
        vnx::constraints::parse("version: 1\nconstraints: []\n", Path::new("pc.yaml")).unwrap();
    assert_eq!(none.egress, Policy::default());
    let c = load(
        "  action: warn\n  providers: {claude: refuse, local-llm: exempt}\n  \
         rules: {acme-key: refuse}\n  allow: ['AKIAIOSFODNN7EXAMPLE']\n  patterns:\n    \
         - id: acme-key\n      regex: 'acme_[a-z0-9]{16}'\n",
    )
    .unwrap();
    let p = &c.egress;
    assert_eq!(p.provider_action("codex"), Some(Action::Warn));
    assert_eq!(p.provider_action("Claude"), Some(Action::Refuse));
    assert_eq!(p.provider_action("local-llm"), None);
    // The file's providers replace the default exemptions.
    assert_eq!(p.provider_action("ollama"), Some(Action::Warn));
    let text = "AKIAIOSFODNN7EXAMPLE and acme_0123456789abcdef";
    let o = egress::check(p, "codex", text, &[]);
    assert_eq!(o.findings.len(), 1, "{:?}", o.findings);
    assert_eq!(o.findings[0].hit.rule, "acme-key");
    assert_eq!(o.findings[0].action, Action::Refuse);
}

#[test]
fn the_shipped_file_loads_with_its_policy() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("provider_constraints.yaml");
    let c = vnx::constraints::load(&path).unwrap();
    assert_eq!(c.egress, Policy::default());
}

// ---- end to end ----

fn events(repo: &Repo, event: &str) -> Vec<Value> {
    repo.events(event)
}

fn ledger(repo: &Repo) -> String {
    std::fs::read_to_string(repo.env.path().join(".vnx-data/state/t0_receipts.ndjson"))
        .unwrap_or_default()
}

/// Replaces the constraints file with one that has only this `egress:` section.
fn policy(repo: &Repo, egress: &str) {
    let text = format!("version: 1\nconstraints: []\negress:\n{egress}");
    std::fs::write(repo.env.path().join("provider_constraints.yaml"), text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "egress policy"]);
}

/// `.env` (ignored, listed in `.worktreeinclude`) with `env`, and `.env.local` without
/// secrets.
fn include_env(repo: &Repo, env: &str) {
    let root = repo.env.path();
    let mut ignore = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    ignore.push_str(".env*\n");
    std::fs::write(root.join(".gitignore"), ignore).unwrap();
    std::fs::write(root.join(".worktreeinclude"), ".env*\n").unwrap();
    repo.env.git(&["add", ".gitignore", ".worktreeinclude"]);
    repo.env.git(&["commit", "-q", "-m", "include"]);
    std::fs::write(root.join(".env"), env).unwrap();
    std::fs::write(root.join(".env.local"), "PORT=8080\n").unwrap();
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

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
    assert!(repo.server.0.sessions().is_empty());
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
        let s = scan(&Policy::default(), text.as_bytes());
        assert_eq!(s.hits.len(), 1, "{disguised:?}: {:?}", s.hits);
        let hit = &s.hits[0];
        assert_eq!(hit.rule, "github-token");
        assert_eq!(&text[hit.start..hit.end], disguised);
        assert_eq!(hit.sha256, hex::encode(Sha256::digest(token.as_bytes())));
        let redacted = egress::scan::redact(&text, &s);
        assert_eq!(redacted, "export T=[REDACTED:github-token] # ci");
    }
}

// ---- included files in other encodings ----

/// `text` as UTF-16 with its byte-order mark, little- or big-endian.
fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xfe, 0xff]
    } else {
        vec![0xff, 0xfe]
    };
    for unit in text.encode_utf16() {
        out.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, data).unwrap();
    z.finish().unwrap()
}

/// The policy's verdict on one included file for a hosted provider under `action`.
fn judge_file(action: Action, path: &str, data: Vec<u8>) -> egress::Outcome {
    let policy = Policy {
        action: Some(action),
        providers: Default::default(),
        rules: Default::default(),
        ..Policy::default()
    };
    egress::check(
        &policy,
        "codex",
        "no secrets here",
        &[(path.to_owned(), data)],
    )
}

/// A token in an included file in UTF-16 (either byte order, with its mark; a character
/// outside the BMP before it), gzip'd, gzip'd UTF-16, in the second member of a gzip file or
/// in UTF-16 without a mark is found — hashed as the token, placed in the text as decoded —
/// and under `redact` the file is withheld.
#[test]
fn a_token_in_a_utf16_or_gzipped_file_is_found_and_the_file_withheld() {
    let token = format!("gh{}_{}", "p", Gen(61).alnum(36));
    // Long and repetitive enough that deflate compresses it (a short text of random
    // characters is stored as it is, where the bytes as they are already show the token).
    let text = format!(
        "# \u{1f511} deploy\nGH_TOKEN={token}\n{}",
        "PORT=8080\n".repeat(64)
    );
    let mut unmarked = utf16(&text, false);
    unmarked.drain(..2);
    let mut two_members = gzip(b"A=1; ");
    two_members.extend(gzip(text.as_bytes()));
    let cases = [
        ("utf-16le", utf16(&text, false)),
        ("utf-16be", utf16(&text, true)),
        ("gzip", gzip(text.as_bytes())),
        ("gzip'd utf-16be", gzip(&utf16(&text, true))),
        ("two gzip members", two_members),
        ("utf-16le without a mark", unmarked),
    ];
    for (what, data) in cases {
        let o = judge_file(Action::Redact, ".env", data);
        assert_eq!(o.findings.len(), 1, "{what}: {:?}", o.findings);
        let f = &o.findings[0];
        assert_eq!(f.hit.rule, "github-token", "{what}");
        assert_eq!(f.hit.sha256, sha(&token), "{what}");
        assert_eq!((f.hit.line, f.hit.column), (2, 10), "{what}");
        assert_eq!(f.action, Action::Redact, "{what}");
        assert_eq!(o.withheld, [".env"], "{what}");
    }
}

/// What cannot be scanned (UTF-32, broken UTF-16, a corrupt or truncated gzip stream, one
/// that inflates past the cap, gzip inside gzip) is a finding of its own: withheld under
/// `redact`, refused under `refuse`, reported under `warn` — never sent unread and unsaid.
#[test]
fn what_cannot_be_scanned_is_withheld_refused_or_reported() {
    let token = format!("gh{}_{}", "p", Gen(71).alnum(36));
    let text = format!("GH_TOKEN={token}\n{}", "PORT=8080\n".repeat(64));
    let packed = gzip(text.as_bytes());
    let mut corrupt = packed.clone();
    let mid = corrupt.len() / 2;
    for b in &mut corrupt[12..mid] {
        *b ^= 0x5a;
    }
    let truncated = packed[..packed.len() - 6].to_vec();
    // Far past any sensible cap, a few dozen KiB packed, with the token at the end.
    let mut huge = vec![b'\n'; 64 << 20];
    huge.extend(text.as_bytes());
    let bomb = gzip(&huge);
    drop(huge);
    let mut utf32 = vec![0xff, 0xfe, 0, 0];
    for c in text.chars() {
        utf32.extend((c as u32).to_le_bytes());
    }
    let mut lone_surrogate = utf16(&text, false);
    lone_surrogate.splice(14..14, [0x00, 0xd8]);
    let mut odd = utf16(&text, true);
    odd.push(b'x');
    let cases = [
        ("corrupt.gz", corrupt),
        ("truncated.gz", truncated),
        ("bomb.gz", bomb),
        ("nested.gz", gzip(&packed)),
        ("utf-32.txt", utf32),
        ("lone-surrogate.txt", lone_surrogate),
        ("odd-length.txt", odd),
    ];
    for (path, data) in cases {
        let size = data.len();
        let file_sha = hex::encode(Sha256::digest(&data));
        let o = judge_file(Action::Redact, path, data.clone());
        assert_eq!(o.findings.len(), 1, "{path}: {:?}", o.findings);
        let f = &o.findings[0];
        assert_eq!(f.hit.rule, "unscannable", "{path}");
        assert_eq!(f.action, Action::Redact, "{path}");
        assert_eq!(
            (f.hit.start, f.hit.end),
            (0, size),
            "{path}: the whole file"
        );
        assert_eq!(f.hit.sha256, file_sha, "{path}");
        assert!(
            f.to_string()
                .starts_with(&format!("unscannable at {path} (")),
            "{f}"
        );
        assert_eq!(o.withheld, [path], "{path}");
        let o = judge_file(Action::Refuse, path, data.clone());
        assert!(o.refused(), "{path}");
        let o = judge_file(Action::Warn, path, data);
        assert_eq!(o.findings.len(), 1, "{path}");
        assert_eq!(o.findings[0].hit.rule, "unscannable");
        assert_eq!(o.findings[0].action, Action::Warn);
        assert!(o.withheld.is_empty(), "{path}");
    }
}

/// Decoding finds nothing that is not there: the true negatives gzip'd or in UTF-16, and
/// binary files with NUL bytes, stay clean; a token in plain bytes of a binary file is still
/// found.
#[test]
fn encoded_true_negatives_stay_clean() {
    let mut binary: Vec<u8> = (0..4096u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
    binary.extend([0x89, b'P', b'N', b'G', 0, 0, 0, 0x0d]);
    for seed in 1..=5 {
        let text = negatives(seed);
        let mut unmarked = utf16(&text, true);
        unmarked.drain(..2);
        for (what, data) in [
            ("gzip", gzip(text.as_bytes())),
            ("utf-16le", utf16(&text, false)),
            ("utf-16be", utf16(&text, true)),
            ("utf-16be without a mark", unmarked),
            ("gzip'd utf-16le", gzip(&utf16(&text, false))),
            ("binary", binary.clone()),
        ] {
            let o = judge_file(Action::Redact, "f", data);
            assert!(o.findings.is_empty(), "{what}: {:?}", o.findings);
        }
    }
    let token = format!("gh{}_{}", "p", Gen(81).alnum(36));
    let mut data = binary.clone();
    data.extend(format!(" {token} ").as_bytes());
    data.extend(&binary);
    let o = judge_file(Action::Redact, "f", data);
    assert_eq!(o.findings.len(), 1, "{:?}", o.findings);
    assert_eq!(o.findings[0].hit.sha256, sha(&token));
}

/// End to end: a UTF-16 `.env` with a token and a `.env.gz` that inflates past the cap are
/// both withheld, and the receipt records them (a finding per file, valid as its type).
#[test]
fn encoded_included_files_are_withheld_and_recorded() {
    let repo = Repo::new();
    policy(&repo, "  action: redact\n  providers: {}\n");
    let token = format!("gh{}_{}", "p", Gen(91).alnum(36));
    include_env(&repo, "");
    let root = repo.env.path();
    std::fs::write(root.join(".env"), utf16(&format!("GH={token}\n"), false)).unwrap();
    std::fs::write(root.join(".env.gz"), gzip(&vec![b'\n'; 64 << 20])).unwrap();
    let r = repo.dispatch("fail", &["--instruction", "x"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("github-token at .env:1:4"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("unscannable at .env.gz ("),
        "{}",
        r.stderr
    );
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let wt = root.join(format!(".vnx-data/worktrees/dispatch-{id}"));
    assert!(!wt.join(".env").exists());
    assert!(!wt.join(".env.gz").exists());
    assert!(wt.join(".env.local").exists());
    let receipts = repo.receipts(&id);
    let d = receipts
        .iter()
        .find(|r| r["event_type"] == "egress_decision")
        .expect("an egress_decision");
    assert_eq!(d["decision"], "redacted");
    assert_eq!(d["withheld"], serde_json::json!([".env", ".env.gz"]));
    assert_eq!(d["findings"][0]["rule"], "github-token");
    assert_eq!(d["findings"][0]["sha256"], sha(&token));
    assert_eq!(d["findings"][1]["rule"], "unscannable");
    assert_eq!(d["findings"][1]["path"], ".env.gz");
    let typed: vnx::receipts::EgressDecision = serde_json::from_value(d.clone()).unwrap();
    assert_eq!(typed.findings.len(), 2);
    repo.verify_ok();
}

/// `unscannable` is a rule id like the built-in ones: `egress.rules` can give it a floor, and a
/// pattern cannot take it.
#[test]
fn unscannable_takes_a_floor_and_is_not_a_pattern_id() {
    let c = load("  action: warn\n  providers: {}\n  rules: {unscannable: refuse}\n").unwrap();
    let corrupt = [&gzip(b"x=1\n")[..], b"junk"].concat();
    let o = egress::check(&c.egress, "codex", "", &[("x.gz".to_owned(), corrupt)]);
    assert!(o.refused(), "{:?}", o.findings);
    let err = load("  patterns:\n    - id: unscannable\n      regex: 'x'\n")
        .err()
        .unwrap();
    assert!(
        err.starts_with("pc.yaml:5:11: egress pattern id `unscannable` is taken"),
        "{err}"
    );
}
