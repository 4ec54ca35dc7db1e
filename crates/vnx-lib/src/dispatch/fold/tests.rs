//! Reads through the read index against full reads: whatever the history and however it
//! grows, a read through the index (whole or of a few dispatches) gives what folding and
//! verifying the whole ledger gives, and a ledger changed in place reads `unverified`.

use proptest::prelude::*;

use super::index::Want;
use super::verified::{ReadOptions, Verified, read_verified};
use crate::ids::DispatchId;
use crate::ledger::attest::Attestor;
use crate::ledger::{ChainStatus, Ledger, Receipt};

/// A dispatch's start as vnx writes it (from a real no-op dispatch).
const STARTED: &str = include_str!("../../../testdata/dispatch_started.json");

fn id_of(n: u8) -> String {
    format!("D-{n:04}")
}

/// How many kinds of receipt [`receipt`] makes.
const KINDS: u8 = 12;

/// A pull-request receipt about dispatch `n`: of the branch named for it or, for an odd
/// `n`, for the dispatch before it (a follow-up pushing its chain's branch), or of a branch
/// named for no dispatch.
fn pr_receipt(kind: u8, n: u8) -> serde_json::Value {
    let id = id_of(n);
    let branch = match n % 3 {
        0 => format!("dispatch/{id}"),
        1 => format!("dispatch/{}", id_of(n.wrapping_sub(1) % 6)),
        _ => "feature/by-hand".to_owned(),
    };
    let number = u64::from(n % 3) + 1;
    let head = format!("{:040x}", u64::from(kind) * 1000 + u64::from(n));
    let url = format!("https://github.com/o/r/pull/{number}");
    match kind {
        7 | 10 => serde_json::json!({"event_type": "pr_opened", "dispatch_id": id,
            "number": number, "url": url, "repo": "o/r", "remote": "origin",
            "branch": branch, "base": "main", "head_commit": head, "draft": false,
            "action": "created", "gates_passed": ["tests"],
            "completion": {"seq": 1, "line_sha256": "00"}}),
        8 => serde_json::json!({"event_type": "pr_merged", "dispatch_id": id,
            "number": number, "url": url, "repo": "o/r", "branch": branch,
            "head_commit": head, "merge_commit": head, "base": "main",
            "method": "squash", "by_vnx": false}),
        _ => serde_json::json!({"event_type": "pr_closed", "dispatch_id": id,
            "number": number, "url": url, "repo": "o/r", "branch": branch,
            "head_commit": head}),
    }
}

/// A receipt about one of a few dispatches, of a kind the fold reads.
fn receipt(kind: u8, n: u8) -> Receipt {
    let id = id_of(n);
    let json = match kind % KINDS {
        7..=10 => pr_receipt(kind % KINDS, n),
        0 => serde_json::json!({"event_type": "queue_decision", "dispatch_id": id,
            "decision": "queued", "provider": "demo", "reason": "full", "priority": 0,
            "capacity": 1}),
        1 => serde_json::json!({"event_type": "dispatch_completed", "dispatch_id": id,
            "status": "done"}),
        2 => serde_json::json!({"event_type": "dispatch_completed", "dispatch_id": id,
            "status": "needs_input", "failure_reason": "no"}),
        3 => serde_json::json!({"event_type": "remote_lost", "dispatch_id": id}),
        4 | 5 => {
            let mut s: serde_json::Value = serde_json::from_str(STARTED).unwrap();
            s["dispatch_id"] = id.clone().into();
            if kind % KINDS == 5 {
                // A follow-up of the dispatch before it: its start changes that one's
                // record too.
                let before = id_of(n.wrapping_sub(1) % 6);
                s["continues"] = serde_json::json!({"dispatch_id": before, "first": before,
                    "status": "needs_input", "session_id": null,
                    "head_commit": "0123456789abcdef0123456789abcdef01234567"});
            }
            s
        }
        6 => serde_json::json!({"event_type": "dispatch_answered", "dispatch_id": id,
            "answer": "deny", "by": "ana", "source": "PreToolUse", "via": "pane"}),
        _ => serde_json::json!({"event_type": "task_note", "dispatch_id": id}),
    };
    Receipt::from_json(json.to_string().as_bytes()).unwrap()
}

struct Project {
    _dir: tempfile::TempDir,
    ledger: std::path::PathBuf,
    index: std::path::PathBuf,
    attestor: Attestor,
    trusted: Vec<[u8; 32]>,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::ledger::checkpoint::CheckpointKey::load_or_create(&dir.path().join("key"))
            .unwrap()
            .0;
        let attestor = Attestor::new(&key);
        Project {
            ledger: dir.path().join("ledger.ndjson"),
            index: dir.path().join("index"),
            trusted: vec![attestor.public_key()],
            attestor,
            _dir: dir,
        }
    }

    fn options(&self, index: bool) -> ReadOptions<'_> {
        ReadOptions {
            index: index.then_some(self.index.as_path()),
            attestor: index.then_some(&self.attestor),
            trusted: &self.trusted,
            key: None,
            witness_dir: None,
            threads: 2,
            max_violations: 100,
            write: true,
        }
    }

    fn append(&self, batch: &[(u8, u8)]) {
        let receipts: Vec<Receipt> = batch
            .iter()
            .map(|(k, n)| {
                self.attestor
                    .attest(&receipt(*k, *n), &|| "2026-01-01T00:00:00Z".into())
            })
            .collect();
        Ledger::new(&self.ledger).append_all(&receipts).unwrap();
    }

    fn read(&self, want: Want<'_>) -> Verified {
        read_verified(&self.ledger, &self.options(true), want).unwrap()
    }

    fn full(&self) -> Verified {
        read_verified(&self.ledger, &self.options(false), Want::All).unwrap()
    }
}

/// `part` holds exactly what `full` holds for every dispatch it has, and every dispatch
/// `want` names.
fn agrees(part: &Verified, full: &Verified, want: Want<'_>) -> Result<(), TestCaseError> {
    let all = full.records();
    prop_assert_eq!(part.listed(), all.listed);
    prop_assert_eq!(part.any_grouped(), all.any_grouped());
    prop_assert_eq!(part.records().lines, all.lines);
    prop_assert_eq!(
        part.report.as_ref().map(|r| (r.status, r.lines)),
        full.report.as_ref().map(|r| (r.status, r.lines))
    );
    // `status` is projected from the state when read, not kept in the index.
    let plain = |r: &super::DispatchRecord| {
        let mut r = r.clone();
        if let Some(l) = &mut r.listed {
            l.state.status = "";
        }
        r
    };
    for (id, r) in &part.records().by_id {
        prop_assert_eq!(Some(plain(r)), all.by_id.get(id).map(plain));
    }
    let needed: Vec<&DispatchId> = match want {
        Want::All => all.by_id.keys().collect(),
        Want::Ids(ids) => ids.iter().filter(|i| all.by_id.contains_key(*i)).collect(),
        Want::IdsInPlay(ids) => all
            .by_id
            .values()
            .filter(|r| ids.contains(&r.id) || r.listed.as_ref().is_some_and(|l| l.state.in_play()))
            .map(|r| &r.id)
            .collect(),
        Want::Recent(n) => all
            .by_id
            .values()
            .filter(|r| {
                r.listed.as_ref().is_some_and(|l| {
                    l.state.open() || l.state.in_play() || l.order + n >= all.listed
                })
            })
            .map(|r| &r.id)
            .collect(),
    };
    for id in needed {
        prop_assert!(part.records().by_id.contains_key(id), "{} missing", id);
    }
    let proofs = full.proofs();
    for (line, p) in part.proofs() {
        prop_assert_eq!(Some(&p), proofs.get(&line));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    /// Reading through the index gives what a full read gives, however the history grows
    /// between reads, whole or for a few dispatches.
    #[test]
    fn the_index_reads_what_a_full_read_does(
        batches in proptest::collection::vec(
            proptest::collection::vec((0u8..KINDS, 0u8..6), 1..20), 1..5),
        pick in 0u8..6,
    ) {
        let p = Project::new();
        let ids = [DispatchId::parse(&id_of(pick)).unwrap()];
        for (i, batch) in batches.iter().enumerate() {
            p.append(batch);
            let full = p.full();
            // In turn: a few, one, every dispatch (each read may write the index).
            for want in [Want::Recent(2), Want::Ids(&ids), Want::IdsInPlay(&ids), Want::All] {
                let part = p.read(want);
                prop_assert!(i == 0 || part.from_index);
                agrees(&part, &full, want)?;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    /// The pull-request history of a branch named for a dispatch, read from that dispatch's
    /// record through the index, is the one a pass over the whole ledger finds, however the
    /// history grows between reads (each read through the index may write it).
    #[test]
    fn pull_request_histories_from_the_index_are_those_of_the_ledger(
        batches in proptest::collection::vec(
            proptest::collection::vec((7u8..KINDS, 0u8..6), 1..12), 1..4),
        others in proptest::collection::vec((0u8..KINDS, 0u8..6), 0..10),
    ) {
        use crate::forge::History;
        let p = Project::new();
        p.append(&others);
        let branches: Vec<String> = (0..6).map(|n| format!("dispatch/{}", id_of(n))).collect();
        let branches: Vec<&str> = branches.iter().map(String::as_str).collect();
        let owners: Vec<DispatchId> = branches
            .iter()
            .map(|b| super::branch_owner(b).unwrap())
            .collect();
        for batch in &batches {
            p.append(batch);
            // A read that lists dispatches writes the index; the forge readers only use it.
            p.read(Want::Recent(2));
            let all = History::read_all(&p.ledger, &p.trusted).unwrap();
            let part = super::read_indexed(&p.ledger, &p.options(true), Want::Ids(&owners))
                .unwrap();
            let Some(part) = part else {
                return Err(TestCaseError::fail("the index did not serve the read"));
            };
            let indexed = History::from_records(&p.ledger, part.records(), &branches, &p.trusted)
                .unwrap()
                .unwrap();
            for b in &branches {
                prop_assert_eq!(
                    format!("{:?}", indexed.get(*b)),
                    format!("{:?}", all.get(*b)),
                    "{}", b
                );
            }
        }
        // A branch named for no dispatch is not answered from the index.
        prop_assert!(
            History::from_records(&p.ledger, p.full().records(), &["feature/by-hand"], &p.trusted)
                .unwrap()
                .is_none()
        );
    }
}

/// A denial whose receipt follows the dispatch's end (the worker ended its turn on the key
/// before `vnx deny` recorded it) still counts, through the index as in a full read.
#[test]
fn a_denial_recorded_after_the_end_counts() {
    let p = Project::new();
    p.append(&[(4, 1), (6, 1), (1, 1), (6, 1)]);
    let denials = |v: &Verified| {
        let l = v.records().by_id[&DispatchId::parse(&id_of(1)).unwrap()]
            .listed
            .clone();
        let l = l.unwrap();
        (l.state.state.is_live(), l.state.denials)
    };
    assert_eq!(denials(&p.full()), (false, 2));
    assert_eq!(denials(&p.read(Want::All)), (false, 2));
}

#[test]
fn an_unchanged_ledger_is_read_from_its_stamp_and_a_change_in_place_is_caught() {
    let p = Project::new();
    p.append(&[(4, 1), (1, 1), (4, 2), (2, 2), (4, 3)]);
    p.read(Want::All);
    // A stamp is trusted only once the ledger's last change lies far enough back.
    std::thread::sleep(std::time::Duration::from_nanos(
        super::stamp::RACY_NS as u64 + 100_000_000,
    ));
    let ids = [DispatchId::parse(&id_of(2)).unwrap()];
    // The first read after that records the stamp; the next reads only the head and the
    // one record, and agrees with a full read.
    p.read(Want::Ids(&ids));
    let part = p.read(Want::Ids(&ids));
    assert!(part.partial.is_some() && part.from_index);
    assert_eq!(part.records().by_id.len(), 1);
    agrees(&part, &p.full(), Want::Ids(&ids)).unwrap();
    // Lines appended: once they lie far enough back, a read of one dispatch folds them
    // into the records they touch and writes the index again around those (the others
    // copied as they are); the index then reads as a full read does.
    p.append(&[(5, 3), (1, 3), (3, 1)]);
    std::thread::sleep(std::time::Duration::from_nanos(
        super::stamp::RACY_NS as u64 + 100_000_000,
    ));
    let part = p.read(Want::Ids(&ids));
    let full = p.full();
    agrees(&part, &full, Want::Ids(&ids)).unwrap();
    let whole = p.read(Want::All);
    assert!(whole.from_index && whole.partial.is_none());
    agrees(&whole, &full, Want::All).unwrap();
    let stored = super::index::load(&p.index, &p.attestor).unwrap();
    assert!(
        stored.prefix.stamp.is_some(),
        "the rewritten index records the stamp"
    );
    assert_eq!(stored.records.lines, full.records().lines);
    let segments = super::index::open(&p.index, &p.attestor)
        .unwrap()
        .head
        .prefix
        .segments
        .clone();
    // One byte changed in place, the size and modification time kept: the change time
    // moves, so the index is not believed, and the ledger reads unverified.
    let bytes = std::fs::read(&p.ledger).unwrap();
    let mtime = std::fs::metadata(&p.ledger).unwrap().modified().unwrap();
    let at = bytes.windows(6).position(|w| w == b"D-0002").unwrap();
    let mut changed = bytes.clone();
    changed[at + 5] = b'3';
    std::fs::write(&p.ledger, &changed).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&p.ledger)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    for want in [Want::Ids(&ids), Want::Recent(1), Want::All] {
        let read = p.read(want);
        assert!(!read.from_index, "{want:?}");
        let status = read.report.as_ref().map(|r| r.status);
        assert!(
            !matches!(
                status,
                Some(ChainStatus::Verified | ChainStatus::VerifiedSegmented)
            ),
            "{want:?}: {status:?}"
        );
    }
    // The index left is the clean one; nothing read from the changed ledger replaced it.
    let after = super::index::open(&p.index, &p.attestor)
        .unwrap()
        .head
        .prefix
        .segments
        .clone();
    assert_eq!(segments, after);
}

/// A project whose ledger is a few MiB (more segments than one read after an append
/// digests), read once so that it has an index.
fn a_few_mib() -> Project {
    let p = Project::new();
    let batch: Vec<(u8, u8)> = (0..100u8).map(|i| (4, i % 6)).collect();
    for _ in 0..16 {
        p.append(&batch);
    }
    assert!(!p.read(Want::Recent(2)).from_index);
    let len = std::fs::metadata(&p.ledger).unwrap().len();
    assert!(len > 3 * super::index::SEGMENT, "{len}");
    p
}

#[test]
fn a_read_after_an_append_digests_what_was_appended_not_the_prefix() {
    let p = a_few_mib();
    let prefix = std::fs::metadata(&p.ledger).unwrap().len();
    let ids = [DispatchId::parse(&id_of(2)).unwrap()];
    for round in 0..3u8 {
        let before = std::fs::metadata(&p.ledger).unwrap().len();
        p.append(&[(1, round), (4, 3)]);
        let appended = std::fs::metadata(&p.ledger).unwrap().len() - before;
        let full = p.full();
        for want in [Want::Recent(2), Want::Ids(&ids), Want::All] {
            let written = || {
                let m = std::fs::metadata(&p.index).unwrap();
                (
                    m.len(),
                    m.modified().unwrap(),
                    std::os::unix::fs::MetadataExt::ino(&m),
                )
            };
            let index_before = written();
            let read = p.read(want);
            assert!(read.from_index, "{want:?}");
            // The segment the prefix ends in and every line appended since the index, not
            // the prefix (a read that digests it digests at least `prefix` bytes); a read
            // that wrote the index again (once the append lies 2 s back: a slow machine)
            // digested the segments of the rolling re-digest too, which here are all.
            let since = std::fs::metadata(&p.ledger).unwrap().len() - prefix;
            let wrote = written() != index_before;
            let rolled = if wrote { prefix } else { 0 };
            assert!(
                read.digested <= super::index::SEGMENT + since + rolled
                    && (wrote || read.digested < prefix),
                "{want:?}: {} bytes digested, {appended} appended",
                read.digested
            );
            agrees(&read, &full, want).unwrap();
        }
    }
}

#[test]
fn an_edit_in_place_hidden_by_an_append_is_caught_when_the_index_is_written_again() {
    let p = a_few_mib();
    // One byte of an old line changed in place, then a line appended as vnx appends one:
    // the ledger is the same file, grown, and its chain from the index's end is whole.
    let bytes = std::fs::read(&p.ledger).unwrap();
    let at = bytes.windows(6).position(|w| w == b"D-0002").unwrap();
    let mut changed = bytes.clone();
    changed[at + 5] = b'3';
    std::fs::write(&p.ledger, &changed).unwrap();
    p.append(&[(1, 1)]);
    // A full verification (what `audit-chain verify`, gates and merge run) sees it at once.
    let full = p.full();
    assert!(!matches!(
        full.report.as_ref().map(|r| r.status),
        Some(ChainStatus::Verified | ChainStatus::VerifiedSegmented)
    ));
    // A read right after the append takes the prefix on trust (ADR 0045) and writes
    // nothing; the first read that writes the index again digests the prefix's segments
    // in turn (all of them, at this size) and reads the ledger in full.
    let written = std::fs::read(&p.index).unwrap();
    std::thread::sleep(std::time::Duration::from_nanos(
        super::stamp::RACY_NS as u64 + 100_000_000,
    ));
    for want in [Want::Recent(1), Want::All] {
        let read = p.read(want);
        assert!(!read.from_index, "{want:?}");
        let status = read.report.as_ref().map(|r| r.status);
        assert!(
            !matches!(
                status,
                Some(ChainStatus::Verified | ChainStatus::VerifiedSegmented)
            ),
            "{want:?}: {status:?}"
        );
    }
    assert_eq!(
        std::fs::read(&p.index).unwrap(),
        written,
        "nothing replaced it"
    );
}

/// A change appends its records and a new head to the index (format 10), which then reads
/// as written; a writer that finds the head moved since it opened the index leaves the other
/// writer's; once the file passes three times what its head names it is written whole again,
/// and reads the same.
#[test]
fn an_index_grown_by_appends_reads_the_same_and_is_written_whole_again() {
    use super::index::{self, ProofFacts};
    use std::collections::BTreeMap;
    let p = Project::new();
    let batch: Vec<(u8, u8)> = (0..6u8).flat_map(|n| [(4, n), (1, n)]).collect();
    p.append(&batch);
    assert!(!p.read(Want::All).from_index);
    let want = index::load(&p.index, &p.attestor).unwrap();
    let proofs: BTreeMap<u64, &ProofFacts> = want.proofs.iter().map(|f| (f.line, f)).collect();
    // The first entry's record written again as it is.
    let rewrite = |opened: &index::Opened| {
        let mut head = (*opened.head).clone();
        let e = head.entries[0].clone();
        let (record, _) = opened.record(&e).unwrap();
        let (_, bytes) = index::encode(&record, &proofs).unwrap();
        let fresh = BTreeMap::from([(e.id.clone(), bytes)]);
        opened
            .rewrite(&p.index, &p.attestor, &mut head, &fresh)
            .unwrap();
    };
    let size = || std::fs::metadata(&p.index).unwrap().len();
    let stale = index::open(&p.index, &p.attestor).unwrap();
    let mut sizes = vec![size()];
    for _ in 0..40 {
        rewrite(&index::open(&p.index, &p.attestor).unwrap());
        assert_eq!(index::load(&p.index, &p.attestor).unwrap(), want);
        sizes.push(size());
    }
    assert!(sizes.windows(2).any(|w| w[1] > w[0]), "{sizes:?}");
    assert!(sizes.windows(2).any(|w| w[1] < w[0]), "{sizes:?}");
    // Opened before all of that: its head moved, so it writes nothing.
    let before = std::fs::read(&p.index).unwrap();
    rewrite(&stale);
    assert_eq!(std::fs::read(&p.index).unwrap(), before);
    assert_eq!(index::load(&p.index, &p.attestor).unwrap(), want);
}
