//! The egress policy: a corpus of real-looking secrets (made here, at test time, so that no
//! credential-shaped text is committed) each found by its rule; true negatives (hashes, UUIDs,
//! base64, lockfile integrity, code) left alone; redaction that never leaves part of a secret
//! behind (proptest); `egress:` errors at their line and column; and, end to end through
//! `vnx dispatch-agent --provider demo`, refusal, redaction (the prompt and instruction as
//! sent, included files withheld), warnings, rule floors and the shipped exemptions.
//!
//! The corpus, the policy and the `egress:` section are tested here; the end-to-end tests are
//! in `egress/end_to_end.rs`, included files in other encodings in `egress/encodings.rs`.

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vnx::egress::{self, Action, Policy, scan::scan};

use crate::common::{Repo, completion, run};

mod encodings;
mod end_to_end;

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
    let policy = Policy::shipped(&[]);
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
    let policy = Policy::shipped(&[]);
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
    assert_eq!(scan(&Policy::shipped(&[]), text.as_bytes()).hits.len(), 3);
}

#[test]
fn the_policy_decides_per_provider_and_rule_and_exempts_local_models() {
    let mut g = Gen(5);
    let token = format!("gh{}_{}", "p", g.alnum(36));
    let key = pem(&mut g, "EC PRIVATE KEY", 2);
    let prompt = format!("use {token}\n{key}\n");
    let policy = vnx::constraints::default_egress();
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
        let policy = Policy::shipped(&[]);
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
    assert_eq!(none.egress, vnx::constraints::default_egress());
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
    assert_eq!(c.egress, vnx::constraints::default_egress());
}

// ---- shared by the end-to-end tests ----

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
