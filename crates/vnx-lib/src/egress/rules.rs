//! The built-in secret rules: one regular expression per kind of credential, each with a
//! stable id that receipts, errors and `egress.rules` in `provider_constraints.yaml` name.
//! The set and why each rule is shaped as it is: `adr/0036-egress-policy.md`.

use std::sync::LazyLock;

use regex::bytes::Regex;

/// A built-in rule as written: its id, what it finds, and its pattern. When the pattern has a
/// capture group, group 1 is the secret (what is hashed and redacted); otherwise the whole
/// match is.
#[derive(Clone, Copy, Debug)]
pub struct RuleSpec {
    /// Stable, kebab-case.
    pub id: &'static str,
    /// What it finds, in words.
    pub description: &'static str,
    /// The pattern (the `regex` crate's syntax).
    pub pattern: &'static str,
}

/// The id of the entropy rule: a value assigned to a secret-sounding name (`SECRET=`,
/// `password:`, `token = "…"`) whose characters look random.
pub const HIGH_ENTROPY: &str = "high-entropy-assignment";

/// The id of the finding for an included file that could not be scanned (UTF-32, broken
/// UTF-16, a corrupt, over-long or nested gzip stream: `super::decode`). Not a pattern, but
/// a rule id like the others: receipts name it and `egress.rules` can give it a floor.
pub const UNSCANNABLE: &str = "unscannable";

/// Text after a prefix-anchored token: it must not go on with the token's own characters.
/// (The `regex` crate has no look-around; the end is matched and then left out of the
/// secret by the capture group.)
macro_rules! token_end {
    () => {
        r"(?:[^A-Za-z0-9_\-]|$)"
    };
}

/// The built-in rules, in priority order: where two matches overlap, the earlier rule's is
/// kept (an OpenSSH key is reported as one, not also as a PEM block).
pub const BUILTIN: &[RuleSpec] = &[
    RuleSpec {
        id: "openssh-private-key",
        description: "an OpenSSH private key",
        pattern: r"(?i)-----BEGIN\s+OPENSSH\s+PRIVATE\s+KEY-----(?:[\s\S]*?-----END\s+OPENSSH\s+PRIVATE\s+KEY-----|[A-Za-z0-9+/=\s\\n]*)",
    },
    RuleSpec {
        id: "pem-private-key",
        description: "a PEM private key block (RSA, EC, DSA, PKCS#8, encrypted, PGP)",
        pattern: concat!(
            r"(?i)-----BEGIN\s+(?:[A-Z0-9]+\s+)*PRIVATE\s+KEY(?:\s+BLOCK)?-----",
            r"(?:[\s\S]*?-----END\s+(?:[A-Z0-9]+\s+)*PRIVATE\s+KEY(?:\s+BLOCK)?-----",
            r"|[A-Za-z0-9+/=:\-\s\\n]*)"
        ),
    },
    RuleSpec {
        id: "pkcs8-private-key-body",
        description: "a PKCS#8 private key's base64 body without its PEM header",
        // PrivateKeyInfo opens with a SEQUENCE, version 0 and the algorithm: `MII...IBADAN`
        // in base64 for RSA (a long length), `MIG.AgEAMBMGByqGSM49` for an EC key.
        pattern: r"((?:MII[A-Za-z0-9+/]{3}IBADAN|MIG[A-Za-z0-9+/]AgEAMBMGByqGSM49)[A-Za-z0-9+/=]{40,})",
    },
    RuleSpec {
        id: "aws-access-key-id",
        description: "an AWS access key id",
        pattern: concat!(
            r"(?:^|[^A-Za-z0-9])((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})",
            r"(?:[^A-Za-z0-9]|$)"
        ),
    },
    RuleSpec {
        id: "aws-secret-access-key",
        description: "an AWS secret access key assigned to an AWS secret name",
        pattern: concat!(
            r#"(?i)aws[\w.\-]{0,24}secret[\w.\-]{0,24}["']?\s*(?::|=|=>|:=)\s*["']?"#,
            r"((?-i:[A-Za-z0-9/+]{40}))(?:[^A-Za-z0-9/+=]|$)"
        ),
    },
    RuleSpec {
        id: "github-token",
        description: "a GitHub token (personal, OAuth, user-to-server, server-to-server, refresh)",
        pattern: concat!(r"(gh[pousr]_[A-Za-z0-9]{36,251})", token_end!()),
    },
    RuleSpec {
        id: "github-fine-grained-token",
        description: "a GitHub fine-grained personal access token",
        pattern: concat!(r"(github_pat_[A-Za-z0-9_]{60,251})", token_end!()),
    },
    RuleSpec {
        id: "gitlab-token",
        description: "a GitLab personal access token",
        pattern: r"(glpat-[A-Za-z0-9_\-]{20,}(?:\.[A-Za-z0-9_\-]+)*)",
    },
    RuleSpec {
        id: "slack-token",
        description: "a Slack bot, user, app or refresh token",
        pattern: r"(xox[abposre]-[0-9]{6,}-[A-Za-z0-9\-]{8,})",
    },
    RuleSpec {
        id: "slack-webhook-url",
        description: "a Slack incoming webhook URL",
        pattern: r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{24,})",
    },
    RuleSpec {
        id: "stripe-live-key",
        description: "a Stripe live secret or restricted key",
        pattern: concat!(r"((?:sk|rk)_live_[A-Za-z0-9]{20,247})", token_end!()),
    },
    RuleSpec {
        id: "google-api-key",
        description: "a Google API key",
        pattern: concat!(r"(AIza[0-9A-Za-z_\-]{35})", token_end!()),
    },
    RuleSpec {
        id: "anthropic-api-key",
        description: "an Anthropic API or admin key",
        pattern: concat!(
            r"(sk-ant-[a-z]{3,8}[0-9]{0,3}-[A-Za-z0-9_\-]{32,})",
            token_end!()
        ),
    },
    RuleSpec {
        id: "openai-api-key",
        description: "an OpenAI API key (project, service account, admin or legacy)",
        pattern: concat!(
            r"(sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}))",
            token_end!()
        ),
    },
    RuleSpec {
        id: "npm-token",
        description: "an npm access token",
        pattern: concat!(r"(npm_[A-Za-z0-9]{36})", token_end!()),
    },
    RuleSpec {
        id: "pypi-token",
        description: "a PyPI upload token",
        pattern: r"(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})",
    },
    RuleSpec {
        id: "huggingface-token",
        description: "a Hugging Face access token",
        pattern: concat!(r"(hf_[A-Za-z0-9]{34,40})", token_end!()),
    },
    RuleSpec {
        id: "jwt",
        description: "a JSON Web Token (header, payload and signature)",
        pattern: r"(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,})",
    },
    RuleSpec {
        id: "url-credentials",
        description: "a password in a URL's user information (scheme://user:password@host)",
        pattern: r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^/\s:@]{1,64}:((?:[^/\s:@$<{}%]|%[0-9A-Fa-f]{2}){6,128})@[A-Za-z0-9.\-\[]",
    },
    RuleSpec {
        id: HIGH_ENTROPY,
        description: "a random-looking value assigned to a secret-sounding name",
        pattern: concat!(
            r#"(?i)(?:^|[^A-Za-z0-9])[A-Za-z0-9_.\-]{0,40}?"#,
            r"(?:secret|password|passwd|passphrase|pwd|token|api[_\-]?key|access[_\-]?key|auth[_\-]?key",
            r"|private[_\-]?key|client[_\-]?secret|secret[_\-]?key(?:[_\-]?base)?|credentials?)",
            r#"["']?\s*(?::=|=>|=|:)\s*(?:"([^"\s]{12,256})"|'([^'\s]{12,256})'|([^\s"',;`()\[\]{}]{12,256}))"#
        ),
    },
];

/// A built-in rule with its pattern compiled.
pub struct Compiled {
    /// Its spec.
    pub spec: RuleSpec,
    /// The compiled pattern.
    pub regex: Regex,
}

/// The built-in rules compiled once per process.
pub fn builtin() -> &'static [Compiled] {
    static RULES: LazyLock<Vec<Compiled>> = LazyLock::new(|| {
        BUILTIN
            .iter()
            .map(|spec| Compiled {
                spec: *spec,
                regex: Regex::new(spec.pattern).expect("built-in egress rules compile"),
            })
            .collect()
    });
    &RULES
}

/// Shannon entropy of `text` in bits per byte.
pub fn entropy(text: &[u8]) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in text {
        counts[usize::from(b)] += 1;
    }
    let n = text.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * libm::log2(p)
        })
        .sum()
}

/// Whether an assigned value is a placeholder rather than a value: a variable reference, a
/// template, an angle-bracketed hole, or a run of one character.
pub fn placeholder(value: &[u8]) -> bool {
    let starts = [b'$', b'<', b'{', b'%', b'*'];
    value.first().is_some_and(|b| starts.contains(b))
        || value.windows(2).any(|w| w == b"${" || w == b"{{")
        || value.iter().all(|&b| b == value[0])
}
