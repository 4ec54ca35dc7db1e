//! Included files in other encodings: a token in UTF-16 or gzip'd is found and the file
//! withheld; what cannot be read (UTF-32, broken UTF-16, a corrupt gzip stream, one past the
//! cap) is a finding of its own, `unscannable`; and encoded true negatives stay clean.

use super::*;

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
        ..Policy::shipped(&[])
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
