//! Canonical JSON: CPython's vectors, the entry-hash vectors, and properties of the
//! serializer and the canonical-form scanner.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use vnx::ledger::json::{self, Mode, Object, Value};
use vnx::ledger::line::{Scratch, analyze};

use crate::common::repo_dir;

fn jsonl(path: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(repo_dir().join(path)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn canonical_of(input: &str) -> Vec<u8> {
    json::to_canonical(&json::parse(input, Mode::Python).unwrap())
}

#[test]
fn cpython_canonical_vectors() {
    let cases = jsonl("receipts/reference/vectors/python_canonical.jsonl");
    assert!(
        cases.len() >= 455,
        "expected the full vector set, got {}",
        cases.len()
    );
    for (i, case) in cases.iter().enumerate() {
        let input = case["input"].as_str().unwrap();
        let want = case["canonical"].as_str().unwrap();
        let got = canonical_of(input);
        assert_eq!(String::from_utf8_lossy(&got), want, "case {i}: {input}");
        assert_eq!(
            hex::encode(Sha256::digest(&got)),
            case["sha256"].as_str().unwrap(),
            "case {i}"
        );
        // The scanner must recognise CPython's canonical output as canonical.
        let facts = analyze(want.as_bytes(), &mut Scratch::default());
        assert!(
            facts.entry.unwrap().canonical,
            "case {i} not recognised: {want}"
        );
    }
}

#[test]
fn vnx_entry_hash_vectors_on_both_paths() {
    let cases = jsonl("receipts/golden/entry_hash_vectors.jsonl");
    assert!(cases.len() >= 457);
    let mut scratch = Scratch::default();
    for (i, case) in cases.iter().enumerate() {
        let input = case["input"].as_str().unwrap();
        let want = case["entry_hash"].as_str().unwrap();
        // Parsing path: the line as Python wrote it.
        let parsed = analyze(input.as_bytes(), &mut scratch).entry.unwrap();
        assert!(!parsed.canonical || !input.contains(": "), "case {i}");
        assert_eq!(
            hex::encode(parsed.entry_hash),
            want,
            "case {i} (parsed): {input}"
        );
        // Fast path: the same entry already in canonical form, prev_hash included.
        let canonical = canonical_of(input);
        let fast = analyze(&canonical, &mut scratch).entry.unwrap();
        assert!(fast.canonical, "case {i}");
        assert_eq!(hex::encode(fast.entry_hash), want, "case {i} (canonical)");
    }
}

#[test]
fn brief_vectors() {
    let marker = r#"{"type":"chain_epoch_start","epoch":1,"epoch_ts":"2026-08-20T00:00:00+00:00","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
    let m = analyze(marker.as_bytes(), &mut Scratch::default())
        .entry
        .unwrap();
    let m_hash = hex::encode(m.entry_hash);
    assert_eq!(
        m_hash,
        "b4bed10a661be0493699c920996c4a1223484f17f3d6211cd0090a1d6a5f41c5"
    );
    let entry = format!(
        r#"{{"schema_version":2,"event_type":"task_complete","dispatch_id":"D-1a2b3c4d","status":"done","model":"sonnet","duration_seconds":42.94,"timestamp":"2026-08-20T10:00:00Z","note":"café ✓","prev_hash":"{m_hash}"}}"#
    );
    let mut without = json::parse(&entry, Mode::Strict).unwrap();
    if let Value::Object(o) = &mut without {
        o.remove("prev_hash");
    }
    assert_eq!(
        String::from_utf8(json::to_canonical(&without)).unwrap(),
        r#"{"dispatch_id":"D-1a2b3c4d","duration_seconds":42.94,"event_type":"task_complete","model":"sonnet","note":"caf\u00e9 \u2713","schema_version":2,"status":"done","timestamp":"2026-08-20T10:00:00Z"}"#
    );
    let e = analyze(entry.as_bytes(), &mut Scratch::default())
        .entry
        .unwrap();
    assert_eq!(
        hex::encode(e.entry_hash),
        "ff2bc2e237cc12bfd370466f4cc13434004264c2181656b357dbe51339f16e70"
    );
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,8}",
        any::<String>(),
        Just("\u{E000}".to_owned()),
        Just("\u{1F600}".to_owned()),
        Just("prev_hash".to_owned()),
    ]
}

fn string_value() -> impl Strategy<Value = Value<'static>> {
    prop_oneof![
        any::<String>().prop_map(Value::string),
        "[ -~]{0,12}".prop_map(Value::string),
        // Lone surrogates, which Python accepts and writes back escaped.
        (0xD800u32..0xE000).prop_map(|cp| {
            let mut s = Vec::new();
            json::push_wtf8(&mut s, cp);
            Value::Str(s.into())
        }),
    ]
}

fn leaf() -> impl Strategy<Value = Value<'static>> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::int),
        "-?[1-9][0-9]{19,40}".prop_map(|s| Value::Int(s.into())),
        any::<f64>().prop_map(Value::Float),
        string_value(),
    ]
}

fn value() -> impl Strategy<Value = Value<'static>> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|members| {
                Value::Object(Object::from_members(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.into_bytes().into(), v))
                        .collect(),
                ))
            }),
        ]
    })
}

fn object() -> impl Strategy<Value = Object<'static>> {
    prop::collection::vec((key(), value()), 0..8).prop_map(|members| {
        Object::from_members(
            members
                .into_iter()
                .map(|(k, v)| (k.into_bytes().into(), v))
                .collect(),
        )
    })
}

/// Writes a value as Python's default `json.dumps` would (", " and ": ", members in the given
/// order), to feed the parser non-canonical text.
fn python_default(v: &Value<'_>, reverse: bool, out: &mut Vec<u8>) {
    match v {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                python_default(item, reverse, out);
            }
            out.push(b']');
        }
        Value::Object(o) => {
            let mut members: Vec<_> = o.iter().collect();
            if reverse {
                members.reverse();
            }
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                json::write_string(k, out);
                out.extend_from_slice(b": ");
                python_default(v, reverse, out);
            }
            out.push(b'}');
        }
        other => json::write_canonical(other, out),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonical_round_trips(v in value()) {
        let text = json::to_canonical(&v);
        prop_assert!(text.iter().all(|b| (0x20..=0x7e).contains(b)), "not printable ASCII");
        let back = json::parse(std::str::from_utf8(&text).unwrap(), Mode::Python).unwrap();
        prop_assert_eq!(json::to_canonical(&back), text);
    }

    #[test]
    fn key_order_and_spacing_do_not_change_the_canonical_form(o in object()) {
        let v = Value::Object(o);
        let canonical = json::to_canonical(&v);
        for reverse in [false, true] {
            let mut loose = Vec::new();
            python_default(&v, reverse, &mut loose);
            let reparsed = json::parse(std::str::from_utf8(&loose).unwrap(), Mode::Python).unwrap();
            prop_assert_eq!(&json::to_canonical(&reparsed), &canonical);
        }
    }

    #[test]
    fn scanner_accepts_canonical_objects_and_agrees_on_the_entry_hash(o in object()) {
        let mut line = Vec::new();
        json::write_object(&o, None, &mut line);
        let mut without = Vec::new();
        json::write_object(&o, Some("prev_hash"), &mut without);
        let facts = analyze(&line, &mut Scratch::default());
        let e = facts.entry.unwrap();
        prop_assert!(e.canonical);
        prop_assert_eq!(e.entry_hash, <[u8; 32]>::from(Sha256::digest(&without)));
        prop_assert_eq!(facts.line_hash, <[u8; 32]>::from(Sha256::digest(&line)));
    }

    #[test]
    fn floats_round_trip_in_python_repr_shape(bits in any::<u64>()) {
        let f = f64::from_bits(bits);
        let mut out = Vec::new();
        json::write_float(f, &mut out);
        let text = String::from_utf8(out).unwrap();
        if f.is_nan() {
            prop_assert_eq!(text, "NaN");
        } else if f.is_infinite() {
            prop_assert_eq!(text, if f > 0.0 { "Infinity" } else { "-Infinity" });
        } else {
            let back: f64 = text.parse().unwrap();
            prop_assert_eq!(back.to_bits(), f.to_bits(), "{}", text);
            let fixed = text.contains('.') && !text.contains('e');
            let sci = text.contains('e');
            prop_assert!(fixed || sci, "{}", text);
            if sci {
                let exp = text.split('e').nth(1).unwrap();
                prop_assert!(exp.starts_with('+') || exp.starts_with('-'), "{}", text);
                prop_assert!(exp.len() >= 3, "{}", text);
            }
        }
    }

    #[test]
    fn non_canonical_lines_take_the_parsing_path_with_the_same_hash(o in object()) {
        let mut loose = Vec::new();
        python_default(&Value::Object(o.clone()), true, &mut loose);
        let mut without = Vec::new();
        json::write_object(&o, Some("prev_hash"), &mut without);
        let e = analyze(&loose, &mut Scratch::default()).entry.unwrap();
        prop_assert_eq!(e.entry_hash, <[u8; 32]>::from(Sha256::digest(&without)));
    }
}

/// Asks CPython itself for `json.dumps` of many random floats and strings and compares.
#[test]
fn matches_cpython_on_random_floats_and_strings() {
    let python = crate::common::python3();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut floats = Vec::new();
    for i in 0..4000 {
        let f = match i % 4 {
            0 => f64::from_bits(next()),
            1 => (next() % 2_000_000) as f64 / 10f64.powi((next() % 30) as i32 - 10),
            2 => (next() as f64) * 10f64.powi((next() % 600) as i32 - 300),
            _ => f64::from_bits(next() & 0x800F_FFFF_FFFF_FFFF | (next() % 2047) << 52),
        };
        if f.is_finite() {
            floats.push(f);
        }
    }
    // Exact ties between two shortest candidates (n + 0.25 with a quarter-unit ulp, and
    // their cousins at other scales): CPython rounds half to even.
    for i in 0..500u64 {
        let n = (1u64 << 50) + next() % (1u64 << 50);
        floats.push(n as f64 + 0.25 + 0.5 * (i % 2) as f64);
        floats.push((n as f64 + 0.25) * 10f64.powi((next() % 40) as i32 - 20));
    }
    let mut strings: BTreeMap<usize, String> = BTreeMap::new();
    for i in 0..500 {
        let s: String = (0..(next() % 12))
            .filter_map(|_| char::from_u32((next() % 0x11_0000) as u32))
            .collect();
        strings.insert(i, s);
    }
    let input = serde_json::json!({
        "floats": floats.iter().map(|f| f.to_bits().to_string()).collect::<Vec<_>>(),
        "strings": strings.values().collect::<Vec<_>>(),
    });
    let script = r#"
import json, struct, sys
data = json.load(sys.stdin)
out = []
for b in data["floats"]:
    out.append(json.dumps(struct.unpack("<d", struct.pack("<Q", int(b)))[0]))
for s in data["strings"]:
    out.append(json.dumps(s))
sys.stdout.write("\n".join(out))
"#;
    let mut cmd = std::process::Command::new(python);
    cmd.args(["-c", script]);
    let out = crate::common::run_with_stdin(cmd, input.to_string().as_bytes());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = out.stdout;
    let mut lines = text.lines();
    for f in &floats {
        let mut mine = Vec::new();
        json::write_float(*f, &mut mine);
        assert_eq!(
            std::str::from_utf8(&mine).unwrap(),
            lines.next().unwrap(),
            "{f:e}"
        );
    }
    for s in strings.values() {
        let mut mine = Vec::new();
        json::write_string(s.as_bytes(), &mut mine);
        assert_eq!(
            std::str::from_utf8(&mine).unwrap(),
            lines.next().unwrap(),
            "{s:?}"
        );
    }
}

/// The fast path (already canonical) and the parsing path must read the same fields the same
/// way, or a line's verdict would depend on its spacing.
#[test]
fn both_reading_paths_agree_on_odd_field_values() {
    let mut scratch = Scratch::default();
    let mut both = |canonical: &str| {
        let spaced = canonical.replacen(':', ": ", 1);
        let fast = analyze(canonical.as_bytes(), &mut scratch).entry;
        let slow = analyze(spaced.as_bytes(), &mut scratch).entry;
        if let Ok(f) = &fast {
            assert!(f.canonical, "{canonical}");
        }
        let strip = |e: Result<vnx::ledger::line::Entry, _>| {
            e.map(|e| (e.entry_hash, e.prev_hash, e.prev_line, e.seq, e.is_marker))
                .map_err(|_| ())
        };
        assert_eq!(strip(fast), strip(slow), "{canonical}");
    };
    let digits = "1".repeat(64);
    both(&format!(r#"{{"a":1,"prev_line_sha256":{digits}}}"#));
    both(&format!(r#"{{"a":1,"prev_hash":{digits}}}"#));
    both(r#"{"a":1,"seq":18446744073709551615}"#);
    both(r#"{"a":1,"seq":18446744073709551616}"#);
    both(r#"{"a":1,"type":7}"#);
    for depth in [511, 512, 513] {
        // The line's object is level 1.
        let nested = format!("{}1{}", "[".repeat(depth - 1), "]".repeat(depth - 1));
        both(&format!(r#"{{"a":1,"v":{nested}}}"#));
    }
}
