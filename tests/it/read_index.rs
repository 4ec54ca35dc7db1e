//! The read index (ADR 0045) changes nothing a read shows: `status` and `show` read the same
//! with and without it, a ledger tampered in the prefix it covers or in the lines after it
//! still reads `unverified`, and an index that is corrupt, cut short, forged or a link is
//! ignored.

use crate::common::{Repo, append_forged_done, completion, ledger_path, run};

fn index_path(repo: &Repo) -> std::path::PathBuf {
    repo.env.path().join(".vnx-data/index/dispatches.v21")
}

/// A read's states without `verified_from`, which says whether the read used the index (and
/// [`a_read_claims_only_what_it_checked`] checks).
fn without_source(mut v: serde_json::Value) -> serde_json::Value {
    match &mut v {
        serde_json::Value::Array(all) => all.iter_mut().for_each(|s| {
            s.as_object_mut().map(|o| o.remove("verified_from"));
        }),
        serde_json::Value::Object(o) => {
            o.remove("verified_from");
        }
        _ => {}
    }
    v
}

fn status_json(repo: &Repo) -> (serde_json::Value, String) {
    let r = run(repo.vnx().args(["status", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    (
        without_source(serde_json::from_str(&r.stdout).unwrap()),
        r.stderr,
    )
}

fn show_json(repo: &Repo, id: &str) -> serde_json::Value {
    without_source(show_json_as_read(repo, id))
}

fn show_json_as_read(repo: &Repo, id: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["show", "--json", id]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// `show` and `status` say the ledger verifies through a proof only as strongly as the read
/// checked it: a read that verified the whole ledger says so; one that took the verdict from
/// the read index (which anyone holding the signing key can write) says that is where it
/// came from, and that `audit-chain verify` verifies it.
#[test]
fn a_read_claims_only_what_it_checked() {
    let repo = Repo::new();
    let id = done_dispatches(&repo, 1).remove(0);
    let show = |repo: &Repo| {
        let r = run(repo.vnx().args(["show", &id]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    let _ = std::fs::remove_file(index_path(&repo));
    let full = show(&repo);
    assert!(
        full.contains("(signed, and the ledger verifies through it)"),
        "a full verification: {full}"
    );
    assert!(index_path(&repo).is_file(), "the read kept an index");
    let indexed = show(&repo);
    assert!(
        indexed.contains(
            "(signed, and the ledger verifies through it as the read index records; this read \
             did not verify it again: vnx audit-chain verify does)"
        ),
        "through the index: {indexed}"
    );
    let json = show_json_as_read(&repo, &id);
    assert_eq!(
        (json["verified"].as_bool(), json["verified_from"].as_str()),
        (Some(true), Some("read_index")),
        "{json}"
    );
    let r = run(repo.vnx().args(["status", "--json"]));
    let all: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(of(&all, &id)["verified_from"], "read_index", "{all}");
    std::fs::remove_file(index_path(&repo)).unwrap();
    let json = show_json_as_read(&repo, &id);
    assert_eq!(json["verified_from"], "ledger", "{json}");
}

fn done_dispatches(repo: &Repo, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let c = completion(&repo.dispatch("commit", &["--instruction", &format!("n{i}")]));
            c["dispatch_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn of(all: &serde_json::Value, id: &str) -> serde_json::Value {
    all.as_array()
        .unwrap()
        .iter()
        .find(|s| s["dispatch_id"] == id)
        .unwrap()
        .clone()
}

#[test]
fn reads_are_the_same_with_and_without_the_index() {
    let repo = Repo::new();
    let ids = done_dispatches(&repo, 2);
    // An index an older vnx left is removed when the new one is written.
    let older = repo.env.path().join(".vnx-data/index/dispatches.v3");
    std::fs::create_dir_all(older.parent().unwrap()).unwrap();
    std::fs::write(&older, b"VNXRIX03...").unwrap();
    let (first, _) = status_json(&repo);
    assert!(
        index_path(&repo).is_file(),
        "a read of a clean ledger keeps an index"
    );
    assert!(!older.exists());
    let shown = show_json(&repo, &ids[0]);
    // Through the index, then with the index gone (read in full again).
    let (again, _) = status_json(&repo);
    assert_eq!(again, first);
    assert_eq!(show_json(&repo, &ids[0]), shown);
    std::fs::remove_file(index_path(&repo)).unwrap();
    assert_eq!(status_json(&repo).0, first);
    // Lines appended after the index's prefix are folded on top of it.
    let more = done_dispatches(&repo, 1);
    let (through, _) = status_json(&repo);
    std::fs::remove_file(index_path(&repo)).unwrap();
    let (full, _) = status_json(&repo);
    assert_eq!(through, full);
    assert_eq!(of(&full, &more[0])["status"], "done");
    assert_eq!(show_json(&repo, &more[0]), {
        std::fs::remove_file(index_path(&repo)).unwrap();
        show_json(&repo, &more[0])
    });
}

#[test]
fn a_ledger_tampered_before_or_after_the_index_reads_unverified() {
    let repo = Repo::new();
    let ids = done_dispatches(&repo, 2);
    status_json(&repo);
    assert!(index_path(&repo).is_file());
    let path = ledger_path(&repo);
    let ledger = std::fs::read_to_string(&path).unwrap();

    // In the prefix the index covers: the second dispatch's start is edited.
    let tampered: String = ledger
        .lines()
        .map(|l| {
            if l.contains("dispatch_started") && l.contains(&ids[1]) {
                l.replacen("\"instruction_sha256\":\"", "\"instruction_sha256\":\"0", 1)
            } else {
                l.to_owned()
            }
        })
        .map(|l| l + "\n")
        .collect();
    std::fs::write(&path, &tampered).unwrap();
    let (all, warned) = status_json(&repo);
    assert!(warned.contains("does not verify from line"), "{warned}");
    assert_eq!(of(&all, &ids[0])["status"], "done");
    assert_eq!(of(&all, &ids[1])["status"], "unverified");

    // After the prefix: the ledger restored, read (the index written again), then a line
    // appended that does not chain.
    std::fs::write(&path, &ledger).unwrap();
    let (all, warned) = status_json(&repo);
    assert!(warned.is_empty(), "{warned}");
    assert_eq!(of(&all, &ids[1])["status"], "done");
    assert!(index_path(&repo).is_file());
    let last = ledger.lines().last().unwrap();
    let mut bad: serde_json::Value = serde_json::from_str(last).unwrap();
    bad["seq"] = serde_json::json!(bad["seq"].as_u64().unwrap() + 1);
    bad["prev_hash"] = serde_json::json!("0".repeat(64));
    bad["dispatch_id"] = serde_json::json!(ids[1]);
    bad["event_type"] = serde_json::json!("dispatch_completed");
    bad["status"] = serde_json::json!("done");
    let mut text = ledger.clone();
    text.push_str(&format!("{bad}\n"));
    std::fs::write(&path, text).unwrap();
    let (all, warned) = status_json(&repo);
    assert!(warned.contains("does not verify from line"), "{warned}");
    assert_eq!(of(&all, &ids[1])["status"], "unverified", "{all}");
    assert_eq!(of(&all, &ids[0])["status"], "done");
}

#[test]
fn an_unsigned_completion_after_the_index_reads_unverified() {
    let repo = Repo::new();
    let genuine = done_dispatches(&repo, 1).remove(0);
    let r = repo.dispatch("slow", &["--instruction", "x", "--detach"]);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let running = launched["dispatch_id"].as_str().unwrap().to_owned();
    status_json(&repo);
    assert!(index_path(&repo).is_file());
    // A worker that can write the ledger appends a well-chained completion of its own.
    append_forged_done(&repo, &running);
    let (all, _) = status_json(&repo);
    assert_eq!(of(&all, &running)["completion"], "done");
    assert_eq!(of(&all, &running)["status"], "unverified", "{all}");
    assert_eq!(of(&all, &running)["proof"]["attested"], false);
    assert_eq!(of(&all, &genuine)["status"], "done");
    run(repo.vnx().args(["cancel", "--all"]));
}

#[test]
fn a_corrupt_cut_forged_or_linked_index_is_ignored() {
    let repo = Repo::new();
    let ids = done_dispatches(&repo, 2);
    let (expected, _) = status_json(&repo);
    let index = index_path(&repo);
    let good = std::fs::read(&index).unwrap();
    let path = ledger_path(&repo);
    let ledger = std::fs::read_to_string(&path).unwrap();
    // The ledger edited in place where the index would hide it, were the index trusted.
    let tampered: String = ledger
        .lines()
        .map(|l| {
            if l.contains("dispatch_started") && l.contains(&ids[1]) {
                l.replacen("\"instruction_sha256\":\"", "\"instruction_sha256\":\"0", 1)
            } else {
                l.to_owned()
            }
        })
        .map(|l| l + "\n")
        .collect();
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let outside = repo.env.path().join("elsewhere.idx");
    std::fs::write(&outside, &good).unwrap();
    type Damage<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Damage<'_>)> = vec![
        (
            "garbage",
            Box::new(|| std::fs::write(&index, b"not an index").unwrap()),
        ),
        (
            "cut short",
            Box::new(|| std::fs::write(&index, &good[..good.len() / 2]).unwrap()),
        ),
        (
            "one byte changed",
            Box::new(|| std::fs::write(&index, &flipped).unwrap()),
        ),
        (
            "a link",
            Box::new(|| {
                let _ = std::fs::remove_file(&index);
                std::os::unix::fs::symlink(&outside, &index).unwrap();
            }),
        ),
    ];
    for (what, make) in cases {
        make();
        assert_eq!(status_json(&repo).0, expected, "{what}");
        assert!(
            !std::fs::symlink_metadata(&index).unwrap().is_symlink(),
            "{what}: written again as a file of its own"
        );
    }
    // A stale index never hides an edit: the ledger tampered, the last good index put back.
    std::fs::write(&path, tampered).unwrap();
    std::fs::write(&index, &good).unwrap();
    let (all, warned) = status_json(&repo);
    assert!(warned.contains("does not verify"), "{warned}");
    assert_eq!(of(&all, &ids[1])["status"], "unverified");
}

#[test]
fn status_lists_the_open_dispatches_and_the_newest_and_all_with_all() {
    let repo = Repo::new();
    // A question first (it waits for a person however old it gets), then 21 done ones.
    let asked = completion(&repo.dispatch("ask", &["--instruction", "which one?"]));
    let asked = asked["dispatch_id"].as_str().unwrap().to_owned();
    let done = done_dispatches(&repo, 21);
    let (listed, note) = status_json(&repo);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["dispatch_id"].as_str().unwrap())
        .collect();
    let mut expected = vec![asked.as_str()];
    expected.extend(done[1..].iter().map(String::as_str));
    assert_eq!(
        ids, expected,
        "the open one and the 20 started last, in start order"
    );
    assert_eq!(
        note.trim(),
        "note: 1 older dispatch is not listed: `vnx status --all` lists every one"
    );
    let all = run(repo.vnx().args(["status", "--all", "--json"]));
    let all: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 22);
    // Named or filtered, any dispatch is there however old.
    assert_eq!(of(&status_json(&repo).0, &done[1])["status"], "done");
    let named = run(repo.vnx().args(["status", "--json", &done[0]]));
    assert_eq!(named.code, 0, "{}", named.stderr);
    assert!(named.stderr.is_empty(), "{}", named.stderr);
    let filtered = run(repo.vnx().args(["status", "--json", "--state", "done"]));
    let filtered: serde_json::Value = serde_json::from_str(&filtered.stdout).unwrap();
    assert_eq!(filtered.as_array().unwrap().len(), 21);
}

#[test]
fn an_edit_in_place_after_the_stamp_was_trusted_reads_unverified() {
    let repo = Repo::new();
    let ids = done_dispatches(&repo, 2);
    status_json(&repo);
    // Once the ledger's last change lies far enough back, a read records the stamp that
    // lets the next reads skip the digest.
    std::thread::sleep(std::time::Duration::from_millis(2_300));
    let (expected, _) = status_json(&repo);
    let stamped = std::fs::read(index_path(&repo)).unwrap();
    assert_eq!(status_json(&repo).0, expected);
    assert_eq!(
        std::fs::read(index_path(&repo)).unwrap(),
        stamped,
        "a read of an unchanged ledger writes nothing"
    );
    // One character of the second dispatch's start changed, the size and the modification
    // time kept: only the change time tells.
    let path = ledger_path(&repo);
    let ledger = std::fs::read_to_string(&path).unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let line = ledger
        .lines()
        .find(|l| l.contains("dispatch_started") && l.contains(&ids[1]))
        .unwrap();
    let at = ledger.find(line).unwrap() + line.find("\"instruction_sha256\":\"").unwrap() + 22;
    let mut bytes = ledger.into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&path, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let (all, warned) = status_json(&repo);
    assert!(warned.contains("does not verify"), "{warned}");
    assert_eq!(of(&all, &ids[1])["status"], "unverified");
    let shown = run(repo.vnx().args(["show", "--json", &ids[1]]));
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["status"], "unverified", "{shown}");
}

/// A read right after an append takes the prefix the index covers on trust (ADR 0045): an
/// edit in place before the append is not seen by it, but `audit-chain verify` sees it at
/// once, and the first read that writes the index again (once the change lies 2 s back)
/// digests the prefix's segments in turn, all of them on a ledger this small, and reads
/// `unverified`.
#[test]
fn an_edit_in_place_hidden_by_an_append_is_caught_by_verify_and_the_next_index_write() {
    let repo = Repo::new();
    let ids = done_dispatches(&repo, 2);
    status_json(&repo);
    let path = ledger_path(&repo);
    let ledger = std::fs::read_to_string(&path).unwrap();
    let line = ledger
        .lines()
        .find(|l| l.contains("dispatch_started") && l.contains(&ids[1]))
        .unwrap();
    let at = ledger.find(line).unwrap() + line.find("\"instruction_sha256\":\"").unwrap() + 22;
    let mut bytes = ledger.into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&path, &bytes).unwrap();
    let r = run(repo.vnx().args([
        "receipts",
        "append",
        "--receipt",
        r#"{"event_type":"note"}"#,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let verify = run(repo.vnx().args(["audit-chain", "verify"]));
    assert_ne!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    std::thread::sleep(std::time::Duration::from_millis(2_300));
    let (all, warned) = status_json(&repo);
    assert!(warned.contains("does not verify"), "{warned}");
    assert_eq!(of(&all, &ids[1])["status"], "unverified");
    let shown = run(repo.vnx().args(["show", "--json", &ids[1]]));
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["status"], "unverified", "{shown}");
}

/// A merge anchors a checkpoint and moves `HEAD`, and a person commits by hand: neither
/// makes the next read verify the whole ledger again (at fifty thousand dispatches that
/// took 11–17 s after every merge). The read checks only what changed, and reads what a
/// whole verification reads.
#[test]
fn a_merge_or_a_commit_by_hand_keeps_the_index_in_use() {
    let repo = Repo::new();
    crate::common::configure(
        &repo,
        "gates:\n  ok: {kind: command, argv: [\"true\"]}\nroles:\n  implementer: {gates: [ok]}\n",
    );
    let id = crate::common::committed(&repo, "implementer");
    let (r, _) = crate::common::gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{}", r.stderr);
    status_json(&repo);
    let tip = |repo: &Repo| repo.env.git(&["rev-parse", "refs/vnx/checkpoints", "HEAD"]);
    let before = tip(&repo);
    let m = run(repo.vnx().args(["merge", &id]));
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert_ne!(
        tip(&repo),
        before,
        "the merge anchored a checkpoint and moved HEAD"
    );
    let from = |repo: &Repo| {
        let r = run(repo.vnx().args(["show", "--json", &id]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        (v["verified"].clone(), v["verified_from"].clone())
    };
    assert_eq!(from(&repo), (true.into(), "read_index".into()));
    let (through, _) = status_json(&repo);
    std::fs::write(repo.env.path().join("by-hand.txt"), "x").unwrap();
    repo.env.git(&["add", "by-hand.txt"]);
    repo.env.git(&["commit", "-q", "-m", "by hand"]);
    assert_eq!(from(&repo), (true.into(), "read_index".into()));
    std::fs::remove_file(index_path(&repo)).unwrap();
    assert_eq!(status_json(&repo).0, through);
    assert_eq!(of(&through, &id)["status"], "merged", "{through}");
}

/// `status --json ID` reads through the index only what it needs, yet says what a read of the
/// whole ledger says: the files the dispatch shares with the others in play (`overlaps`, the
/// conflict radar's) too, which needs those others read.
#[test]
fn status_of_one_dispatch_shows_its_overlaps_through_the_index_too() {
    let repo = Repo::new();
    // Both write demo-output.txt, and neither merged: each overlaps the other.
    let ids = done_dispatches(&repo, 2);
    let one = |id: &str| {
        let r = run(repo.vnx().args(["status", "--json", id]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
        v[0].clone()
    };
    let _ = status_json(&repo);
    assert!(index_path(&repo).is_file(), "the read kept an index");
    let through = one(&ids[0]);
    assert_eq!(through["verified_from"], "read_index", "{through:#}");
    assert_eq!(
        through["overlaps"],
        serde_json::json!([{"file": "demo-output.txt", "with": [ids[1]]}]),
        "{through:#}"
    );
    std::fs::remove_file(index_path(&repo)).unwrap();
    let whole = one(&ids[0]);
    assert_eq!(whole["verified_from"], "ledger", "{whole:#}");
    assert_eq!(without_source(whole), without_source(through));
}
