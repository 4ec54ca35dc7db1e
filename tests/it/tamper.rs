//! The tamper matrix: modify, delete, insert, swap, truncate and rewrite a ledger, with and
//! without a checkpoint, and check that verify names the right line and kind.

use vnx::ledger::json::{self, Mode, Object, Value};
use vnx::ledger::line::{Scratch, analyze};

use crate::common::{TestEnv, run, verify_json, violations};

fn obj(line: &[u8]) -> Object<'static> {
    match json::parse(std::str::from_utf8(line).unwrap(), Mode::Strict).unwrap() {
        Value::Object(o) => o.into_owned(),
        _ => unreachable!(),
    }
}

fn render(o: &Object<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    json::write_object(o, None, &mut out);
    out
}

fn hashes(line: &[u8]) -> (String, String) {
    let f = analyze(line, &mut Scratch::default());
    (
        hex::encode(f.line_hash),
        hex::encode(f.entry.unwrap().entry_hash),
    )
}

/// Sets line `i`'s links (and seq) so that it chains onto line `i - 1` as it is now.
fn relink(lines: &mut [Vec<u8>], i: usize) {
    let (line_hash, entry_hash) = hashes(&lines[i - 1]);
    let mut o = obj(&lines[i]);
    o.insert("prev_hash", Value::string(entry_hash));
    o.insert("prev_line_sha256", Value::string(line_hash));
    o.insert("seq", Value::int(i as u64 + 1));
    lines[i] = render(&o);
}

fn edit(line: &[u8], key: &str, value: &str) -> Vec<u8> {
    let mut o = obj(line);
    o.insert(key, Value::string(value));
    render(&o)
}

fn ledger(n: usize) -> (TestEnv, Vec<Vec<u8>>) {
    let env = TestEnv::new();
    env.fill(n);
    let lines = env.lines();
    (env, lines)
}

fn assert_broken(env: &TestEnv, want: &[(u64, &str)]) {
    let (code, report) = verify_json(env);
    let got = violations(&report);
    let want: Vec<(u64, String)> = want.iter().map(|(l, k)| (*l, (*k).to_owned())).collect();
    assert_eq!(got, want, "{report:#}");
    assert_eq!(code, 1);
    assert_eq!(report["report"]["status"], "broken");
}

fn assert_verified(env: &TestEnv) {
    let (code, report) = verify_json(env);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["report"]["status"], "verified", "{report:#}");
}

#[test]
fn untouched_ledger_verifies() {
    let (env, _) = ledger(12);
    assert_verified(&env);
}

#[test]
fn modified_line_is_named() {
    let (env, mut lines) = ledger(12);
    lines[4] = edit(&lines[4], "note", "forged");
    env.write_lines(&lines);
    assert_broken(&env, &[(5, "altered_line")]);
}

#[test]
fn vnx_weakness_edit_plus_fixed_next_prev_hash_is_caught() {
    // VNX's own link leaves prev_hash out of the hash: fixing only the next line's prev_hash
    // passes VNX's verifier. vnx's byte link catches it and names the edited line.
    let (env, mut lines) = ledger(12);
    lines[4] = edit(&lines[4], "note", "forged");
    let (_, entry_hash) = hashes(&lines[4]);
    lines[5] = edit(&lines[5], "prev_hash", &entry_hash);
    env.write_lines(&lines);
    let (_, report) = verify_json(&env);
    let v = violations(&report);
    assert!(v.contains(&(5, "altered_line".to_owned())), "{report:#}");
    assert_eq!(report["report"]["status"], "broken");
}

#[test]
fn edited_prev_hash_field_is_named() {
    let (env, mut lines) = ledger(12);
    lines[6] = edit(&lines[6], "prev_hash", &"ab".repeat(32));
    env.write_lines(&lines);
    // Line 7's own VNX link fails, and line 8's byte link to line 7 fails: one fault,
    // reported once.
    assert_broken(&env, &[(7, "altered_line")]);
}

#[test]
fn deleted_line_is_reported_missing() {
    let (env, mut lines) = ledger(12);
    lines.remove(4);
    env.write_lines(&lines);
    assert_broken(&env, &[(5, "missing_lines")]);
}

#[test]
fn deleted_run_of_lines_is_reported_with_its_size() {
    let (env, mut lines) = ledger(12);
    lines.drain(3..6);
    env.write_lines(&lines);
    let (_, report) = verify_json(&env);
    let v = &report["report"]["violations"][0];
    assert_eq!(v["kind"], "missing_lines");
    assert_eq!(v["line"], 4);
    assert_eq!(v["expected"], "4");
    assert_eq!(v["actual"], "7");
}

#[test]
fn inserted_forged_line_is_named() {
    // The forger links the new line to line 4 and gives it seq 5; line 5 (now 6) still
    // points at line 4.
    let (env, mut lines) = ledger(12);
    let forged = edit(&lines[4], "note", "inserted");
    lines.insert(4, forged);
    relink(&mut lines, 4);
    env.write_lines(&lines);
    assert_broken(&env, &[(5, "inserted_lines")]);
}

#[test]
fn swapped_lines_are_reported_as_reordered() {
    let (env, mut lines) = ledger(12);
    lines.swap(4, 5);
    env.write_lines(&lines);
    assert_broken(&env, &[(5, "reordered")]);
}

#[test]
fn copied_earlier_line_is_named_as_inserted() {
    for at in [3, 6] {
        let (env, mut lines) = ledger(8);
        let copy = lines[1].clone();
        lines.insert(at, copy);
        env.write_lines(&lines);
        assert_broken(&env, &[(at as u64 + 1, "inserted_lines")]);
    }
}

#[test]
fn invalid_json_and_non_objects_are_named() {
    let (env, mut lines) = ledger(8);
    lines[2] = b"{\"event_type\":\"x\"".to_vec();
    lines[5] = b"[1,2]".to_vec();
    env.write_lines(&lines);
    let (_, report) = verify_json(&env);
    let v = violations(&report);
    assert!(v.contains(&(3, "invalid_json".to_owned())), "{report:#}");
    assert!(v.contains(&(6, "not_an_object".to_owned())), "{report:#}");
}

#[test]
fn bad_genesis_and_bad_marker_are_named() {
    let (env, mut lines) = ledger(4);
    lines[0] = edit(&lines[0], "prev_hash", &"11".repeat(32));
    env.write_lines(&lines);
    let (_, report) = verify_json(&env);
    assert!(violations(&report).contains(&(1, "bad_genesis".to_owned())));

    let (env, mut lines) = ledger(4);
    let mut marker = obj(&lines[2]);
    marker.insert("type", Value::string("chain_epoch_start"));
    marker.insert("prev_hash", Value::string("22".repeat(32)));
    lines[2] = render(&marker);
    env.write_lines(&lines);
    let (_, report) = verify_json(&env);
    assert!(violations(&report).contains(&(3, "bad_epoch_marker".to_owned())));
}

#[test]
fn truncation_and_rewrite_pass_without_a_checkpoint() {
    // Documented limit: no chain can see its own tail cut or a re-chained rewrite.
    let (env, mut lines) = ledger(12);
    lines.truncate(9);
    env.write_lines(&lines);
    assert_verified(&env);

    let (env, _) = ledger(12);
    std::fs::remove_file(env.ledger()).unwrap();
    let ledger = vnx::ledger::Ledger::new(env.ledger());
    for i in 0..12 {
        ledger
            .append(&crate::common::receipt(&format!(
                r#"{{"event_type":"rewritten","n":{i}}}"#
            )))
            .unwrap();
    }
    assert_verified(&env);
}

/// A ledger inside a git repository, with a checkpoint at its current head.
fn checkpointed(n: usize) -> (TestEnv, Vec<Vec<u8>>, String) {
    let env = TestEnv::new();
    env.git_init();
    env.fill(n);
    let r = run(env.vnx_ledger(&["audit-chain", "checkpoint"]).arg("--json"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let id = out["checkpoint"]["id"].as_str().unwrap().to_owned();
    let lines = env.lines();
    (env, lines, id)
}

#[test]
fn truncation_fails_against_a_checkpoint() {
    let (env, mut lines, id) = checkpointed(12);
    lines.truncate(9);
    env.write_lines(&lines);
    let (code, report) = verify_json(&env);
    assert_eq!(code, 1);
    let v = &report["report"]["violations"][0];
    assert_eq!(v["kind"], "checkpoint_truncated", "{report:#}");
    assert_eq!(v["line"], 12);
    assert!(v["detail"].as_str().unwrap().contains(&id), "{report:#}");
}

#[test]
fn rewrite_fails_against_a_checkpoint() {
    let (env, _, id) = checkpointed(12);
    std::fs::remove_file(env.ledger()).unwrap();
    let ledger = vnx::ledger::Ledger::new(env.ledger());
    for i in 0..15 {
        ledger
            .append(&crate::common::receipt(&format!(
                r#"{{"event_type":"rewritten","n":{i}}}"#
            )))
            .unwrap();
    }
    let (code, report) = verify_json(&env);
    assert_eq!(code, 1);
    let v = violations(&report);
    assert_eq!(
        v,
        vec![(12, "checkpoint_mismatch".to_owned())],
        "{report:#}"
    );
    let detail = report["report"]["violations"][0]["detail"]
        .as_str()
        .unwrap();
    assert!(detail.contains(&id));
}

#[test]
fn every_tamper_is_detected_with_a_checkpoint() {
    type Tamper = fn(&mut Vec<Vec<u8>>);
    let cases: [(&str, Tamper); 6] = [
        ("modify", |l| l[3] = edit(&l[3], "note", "x")),
        ("delete", |l| {
            l.remove(3);
        }),
        ("insert", |l| {
            let f = l[3].clone();
            l.insert(3, f);
        }),
        ("swap", |l| l.swap(3, 4)),
        ("truncate", |l| l.truncate(6)),
        ("rewrite suffix and re-chain", |l| {
            l[3] = edit(&l[3], "note", "x");
            for i in 4..l.len() {
                relink(l, i);
            }
        }),
    ];
    for (name, tamper) in cases {
        let (env, mut lines, _) = checkpointed(10);
        tamper(&mut lines);
        env.write_lines(&lines);
        let (code, report) = verify_json(&env);
        assert_eq!(code, 1, "{name} went undetected: {report:#}");
        assert_eq!(report["report"]["status"], "broken", "{name}");
    }
}

#[test]
fn ledger_that_grew_after_a_checkpoint_still_verifies() {
    let (env, _, _) = checkpointed(5);
    env.fill(5);
    let (code, report) = verify_json(&env);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["report"]["checkpoints"][0]["ok"], true);
}

#[test]
fn the_listing_limit_changes_the_list_not_the_count() {
    let (env, mut lines) = ledger(30);
    for i in (2..28).step_by(3) {
        lines[i] = edit(&lines[i], "note", "x");
    }
    env.write_lines(&lines);
    let count = |max: &str| {
        let r = run(env.vnx_ledger(&["audit-chain", "verify"]).args([
            "--json",
            "--max-violations",
            max,
        ]));
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        (
            v["report"]["violations"].as_array().unwrap().len(),
            v["report"]["violations_total"].as_u64().unwrap(),
        )
    };
    let (listed, total) = count("1000");
    assert_eq!((listed as u64, total), (9, 9));
    assert_eq!(count("2"), (2, 9));
}

/// A ledger as VNX (the Python tool) writes it: only the `prev_hash` link, no
/// `prev_line_sha256` and no `seq`.
fn python_ledger(n: usize) -> (TestEnv, Vec<Vec<u8>>) {
    let (env, vnx_lines) = ledger(n);
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for line in &vnx_lines {
        let mut o = obj(line);
        o.remove("prev_line_sha256");
        o.remove("seq");
        if let Some(prev) = lines.last() {
            o.insert("prev_hash", Value::string(hashes(prev).1));
        }
        lines.push(render(&o));
    }
    env.write_lines(&lines);
    (env, lines)
}

#[test]
fn python_ledger_untouched_verifies() {
    let (env, _) = python_ledger(12);
    assert_verified(&env);
}

#[test]
fn python_modified_line_is_named() {
    let (env, mut lines) = python_ledger(12);
    lines[4] = edit(&lines[4], "note", "forged");
    env.write_lines(&lines);
    assert_broken(&env, &[(5, "altered_line")]);
    let (_, report) = verify_json(&env);
    let detail = report["report"]["violations"][0]["detail"]
        .as_str()
        .unwrap();
    assert!(
        detail.contains("line 5 was altered") && detail.contains("line 6"),
        "{detail}"
    );
}

fn swap_report(env: &TestEnv, first: u64) {
    assert_broken(env, &[(first, "reordered")]);
    let (_, report) = verify_json(env);
    let v = &report["report"]["violations"][0];
    assert_eq!(v["other_line"], first + 1, "{report:#}");
}

#[test]
fn python_swapped_lines_are_one_reordering() {
    for i in [0, 4, 10] {
        let (env, mut lines) = python_ledger(12);
        lines.swap(i, i + 1);
        env.write_lines(&lines);
        swap_report(&env, i as u64 + 1);
    }
}

#[test]
fn vnx_swapped_lines_name_both_lines_at_the_ends_too() {
    for i in [0, 4, 10] {
        let (env, mut lines) = ledger(12);
        lines.swap(i, i + 1);
        env.write_lines(&lines);
        swap_report(&env, i as u64 + 1);
    }
}

#[test]
fn python_edit_plus_swap_are_both_named() {
    let (env, mut lines) = python_ledger(12);
    lines[1] = edit(&lines[1], "note", "forged");
    lines.swap(6, 7);
    env.write_lines(&lines);
    assert_broken(&env, &[(2, "altered_line"), (7, "reordered")]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Any two adjacent lines swapped, anywhere in a ledger of any length, in either format,
    /// is one `reordered` naming both lines; any one line edited (but the last, which nothing
    /// links to) is one `altered_line` naming it.
    #[test]
    fn swaps_and_edits_are_named_wherever_they_are(
        n in 2usize..16,
        at in 0usize..15,
        python in proptest::bool::ANY,
    ) {
        let at = at % (n - 1);
        let (env, lines) = if python { python_ledger(n) } else { ledger(n) };
        let verdicts = |lines: &[Vec<u8>]| {
            env.write_lines(lines);
            let report =
                vnx::ledger::verify(&env.ledger(), &vnx::ledger::VerifyOptions::default())
                    .unwrap();
            report
                .violations
                .iter()
                .map(|v| (v.line, v.kind, v.other_line))
                .collect::<Vec<_>>()
        };
        let mut swapped = lines.clone();
        swapped.swap(at, at + 1);
        let line = at as u64 + 1;
        proptest::prop_assert_eq!(
            verdicts(&swapped),
            vec![(line, vnx::ledger::ViolationKind::Reordered, Some(line + 1))]
        );
        let mut edited = lines.clone();
        edited[at] = edit(&edited[at], "note", "forged");
        proptest::prop_assert_eq!(
            verdicts(&edited),
            vec![(line, vnx::ledger::ViolationKind::AlteredLine, None)]
        );
    }
}
