//! Benchmark 8, the egress scan (`--egress-only`): the policy's scan and redaction of a
//! 1 MiB prompt — Rust and Markdown, JSON, logs and prose, with a few secrets made here at
//! run time — against SHA-256 of the same bytes (vnx hashes every prompt anyway). In
//! process, no dispatch: the figure is what the scan adds to a plan.

use sha2::{Digest, Sha256};
use vnx::egress::{self, Policy};

use crate::Result;
use crate::generate::Rng;
use crate::report::format::num;
use crate::timing::time_fn;

/// Bytes in the prompt scanned.
const SIZE: usize = 1 << 20;

/// What the egress benchmark measured.
pub struct EgressBench {
    /// Prompt bytes.
    pub bytes: usize,
    /// Findings in it.
    pub findings: usize,
    /// Scan and redaction, seconds (median, best).
    pub scan: (f64, f64),
    /// SHA-256 of the same bytes, seconds (median).
    pub sha: f64,
}

pub(crate) const CHUNKS: [&str; 5] = [
    "fn parse_header(input: &[u8]) -> Result<Header, Error> {\n    let (name, rest) = split_once(input, b':')?;\n    let token = tokenizer.next_token(rest);\n    Ok(Header { name: name.to_vec(), value: token })\n}\n\n",
    "## Notes\n\nThe build cache is keyed by the commit 9f1c2e7d4b3a5f60718293a4b5c6d7e8f9012345 and the lockfile's\nintegrity hash; reviewers should check the UUID 3f2504e0-4f89-11d3-9a0c-0305e82c3301 in the log.\n\n",
    "{\"id\": 42, \"checksum\": \"5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\", \"ok\": true}\n",
    "2026-11-23T12:00:00Z INFO request_id=8d5e2b1c status=200 path=/api/v1/items elapsed_ms=12\n",
    "The quick brown fox jumps over the lazy dog, and then writes a paragraph about why tests matter.\n",
];

/// The prompt: chunks in a seeded order, with a secret every ~200 KiB.
fn prompt(rng: &mut Rng) -> String {
    let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rand = |n: usize| -> String {
        (0..n)
            .map(|_| alnum[rng.below(alnum.len() as u64) as usize] as char)
            .collect()
    };
    let secrets = [
        format!("GH_TOKEN=gh{}_{}\n", "p", rand(36)),
        [
            "aws_access_key_id = AKI",
            "A",
            &rand(16).to_uppercase(),
            "\n",
        ]
        .concat(),
        format!("DB_PASSWORD=Q7{}\n", rand(26)),
        format!("stripe: sk_{}_{}\n", "live", rand(24)),
        format!("url: postgres://app:{}@db:5432/x\n", rand(20)),
    ];
    let mut out = String::with_capacity(SIZE + 4096);
    let mut i = 0usize;
    let mut next_secret = SIZE / 6;
    while out.len() < SIZE {
        out.push_str(CHUNKS[(i * 7 + i / 3) % CHUNKS.len()]);
        i += 1;
        if out.len() >= next_secret {
            out.push_str(&secrets[(next_secret / (SIZE / 6)) % secrets.len()]);
            next_secret += SIZE / 6;
        }
    }
    out
}

/// Times the scan of a 1 MiB prompt, `runs` times after a warm-up.
pub fn bench_egress(runs: usize) -> Result<EgressBench> {
    let mut rng = Rng(0x5eed_e9e5_5000_0001);
    let text = prompt(&mut rng);
    let policy = Policy::shipped(&[]);
    let findings = egress::check(&policy, "claude", &text, &[]).findings.len();
    let scan = time_fn("the egress scan of a 1 MiB prompt", runs, || {
        std::hint::black_box(egress::check(&policy, "claude", &text, &[]));
        Ok(())
    })?;
    let sha = time_fn("SHA-256 of the same bytes", runs, || {
        std::hint::black_box(Sha256::digest(text.as_bytes()));
        Ok(())
    })?;
    Ok(EgressBench {
        bytes: text.len(),
        findings,
        scan: (scan.median(), scan.best()),
        sha: sha.median(),
    })
}

impl EgressBench {
    pub fn render(&self) -> String {
        let ms = |s: f64| num(s * 1000.0, 2);
        format!(
            "\n### 8. Egress scan (a {} byte prompt: code, Markdown, JSON, logs and prose with {} secrets)\n\n\
             `vnx::egress::check` with the default policy for a hosted provider: every built-in \
             rule, the entropy test, overlap resolution and redaction, in process.\n\n\
             | Run | median | best | throughput | SHA-256 of the same bytes |\n|---|---:|---:|---:|---:|\n\
             | scan + redact | {} ms | {} ms | {} MB/s | {} ms |\n",
            self.bytes,
            self.findings,
            ms(self.scan.0),
            ms(self.scan.1),
            num(self.bytes as f64 / 1e6 / self.scan.0, 0),
            ms(self.sha),
        )
    }
}
