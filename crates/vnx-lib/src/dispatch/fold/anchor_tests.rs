//! Reads through the read index after the ledger's anchoring moved: a checkpoint anchored
//! on top of the ref (at the index's end or after it) and commits on `HEAD` keep the index
//! in use, verified as a whole verification would; a merge trailer naming a receipt the
//! ledger lacks, or a checkpoint ref moved back, send the read to a whole verification,
//! which says what is wrong.

use std::path::PathBuf;

use super::index::Want;
use super::verified::{ReadOptions, Verified, read_verified};
use crate::ledger::attest::Attestor;
use crate::ledger::checkpoint::{self, Anchor, CheckpointKey};
use crate::ledger::{ChainStatus, Ledger, Receipt, ViolationKind};

struct Anchored {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    repo: git2::Repository,
    ledger: PathBuf,
    key: PathBuf,
    witness: PathBuf,
    index: PathBuf,
    attestor: Attestor,
    trusted: Vec<[u8; 32]>,
    notes: u32,
}

impl Anchored {
    fn new() -> Anchored {
        let root = tempfile::tempdir().unwrap();
        // The key, the witness and the index live outside the repository, as vnx keeps them.
        let outside = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(root.path()).unwrap();
        let key = outside.path().join("checkpoint.key");
        let attestor = Attestor::new(&CheckpointKey::load_or_create(&key).unwrap().0);
        let a = Anchored {
            ledger: root.path().join("ledger.ndjson"),
            witness: outside.path().join("witness"),
            index: outside.path().join("index"),
            trusted: vec![attestor.public_key()],
            attestor,
            key,
            repo,
            notes: 0,
            _dirs: (root, outside),
        };
        a.commit("first", &[]);
        a
    }

    fn commit(&self, message: &str, also: &[git2::Oid]) -> git2::Oid {
        let sig = git2::Signature::new("t", "t@example.com", &git2::Time::new(0, 0)).unwrap();
        let tree = self.repo.treebuilder(None).unwrap().write().unwrap();
        let tree = self.repo.find_tree(tree).unwrap();
        let mut parents: Vec<git2::Commit<'_>> = Vec::new();
        if let Ok(head) = self.repo.head() {
            parents.push(head.peel_to_commit().unwrap());
        }
        parents.extend(also.iter().map(|o| self.repo.find_commit(*o).unwrap()));
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap()
    }

    /// Appends `n` signed notes of a dispatch; returns the last line's entry hash.
    fn append(&mut self, n: u32) -> String {
        for _ in 0..n {
            self.notes += 1;
            let json = serde_json::json!({"event_type": "task_note", "dispatch_id": "D-0001",
                "note": format!("merge note {}", self.notes)});
            let r = Receipt::from_json(json.to_string().as_bytes()).unwrap();
            let r = self.attestor.attest(&r, &|| "2026-01-01T00:00:00Z".into());
            Ledger::new(&self.ledger).append_all(&[r]).unwrap();
        }
        let text = std::fs::read(&self.ledger).unwrap();
        let last = text[..text.len() - 1]
            .rsplit(|b| *b == b'\n')
            .next()
            .unwrap();
        let facts = crate::ledger::line::analyze(last, &mut Default::default());
        hex::encode(facts.entry.unwrap().entry_hash)
    }

    fn checkpoint(&self) {
        let anchor = Anchor::discover(&self.ledger).unwrap();
        checkpoint::checkpoint(
            &self.ledger,
            &anchor,
            &self.key,
            &self.trusted,
            1,
            "2026-01-01T00:00:00Z",
            Some(&self.witness),
        )
        .unwrap();
    }

    fn options(&self, index: bool) -> ReadOptions<'_> {
        ReadOptions {
            index: index.then_some(self.index.as_path()),
            attestor: Some(&self.attestor),
            trusted: &self.trusted,
            key: Some(&self.key),
            witness_dir: Some(&self.witness),
            threads: 2,
            max_violations: 100,
            write: true,
        }
    }

    fn read(&self, want: Want<'_>) -> Verified {
        read_verified(&self.ledger, &self.options(true), want).unwrap()
    }

    fn full(&self) -> Verified {
        read_verified(&self.ledger, &self.options(false), Want::All).unwrap()
    }
}

fn status(v: &Verified) -> (ChainStatus, u64) {
    let r = v.report.as_ref().unwrap();
    (r.status, r.lines)
}

fn kinds(v: &Verified) -> Vec<ViolationKind> {
    v.report
        .as_ref()
        .unwrap()
        .violations
        .iter()
        .map(|v| v.kind)
        .collect()
}

/// Both kinds of read (a few dispatches, every one) through the index after a change to
/// the anchoring: served by the index (not verified in full), verified as a whole
/// verification says.
fn served(a: &Anchored, what: &str) {
    let full = a.full();
    assert_eq!(status(&full).0, ChainStatus::Verified, "{what}: {full:?}");
    for want in [Want::Recent(3), Want::All] {
        let v = a.read(want);
        assert!(v.from_index, "{what}, {want:?}: verified in full");
        assert_eq!(status(&v), status(&full), "{what}, {want:?}");
    }
}

#[test]
fn checkpoints_and_commits_keep_the_index_and_what_only_verify_can_judge_does_not() {
    let mut a = Anchored::new();
    a.append(20);
    assert!(
        !a.read(Want::Recent(3)).from_index,
        "the first read verifies"
    );
    a.checkpoint();
    served(&a, "a checkpoint at the index's end");
    a.append(5);
    a.checkpoint();
    a.append(2);
    served(&a, "a checkpoint after the index's end, lines after it");
    a.checkpoint();
    a.append(1);
    a.checkpoint();
    served(&a, "two checkpoints at once");
    a.commit("by hand", &[]);
    served(&a, "a commit on HEAD");

    // A merge commit whose trailer names a receipt on the ledger, then one naming none.
    let named = a.append(1);
    served(&a, "a line appended");
    let side = a.commit("side", &[]);
    a.repo
        .set_head_detached(a.repo.find_commit(side).unwrap().parent_id(0).unwrap())
        .unwrap();
    let good = a.commit(&format!("merge\n\nVNX-Receipt: {named}\n"), &[side]);
    served(&a, "a merge whose trailer names a receipt on the ledger");
    a.commit(
        &format!("merge\n\nVNX-Receipt: {}\n", "ab".repeat(32)),
        &[side],
    );
    let v = a.read(Want::Recent(3));
    assert!(!v.from_index);
    assert_eq!(status(&v).0, ChainStatus::Broken);
    assert_eq!(kinds(&v), [ViolationKind::MergeTrailerOrphaned]);
    assert_eq!(
        kinds(&a.read(Want::All)),
        [ViolationKind::MergeTrailerOrphaned]
    );
    a.repo.set_head_detached(good).unwrap();
    served(&a, "HEAD back at the good merge");

    // The checkpoint ref moved back: this machine's witness holds a later checkpoint.
    let tip = a.repo.refname_to_id(checkpoint::CHECKPOINT_REF).unwrap();
    let back = a.repo.find_commit(tip).unwrap().parent_id(0).unwrap();
    a.repo
        .reference(checkpoint::CHECKPOINT_REF, back, true, "moved back")
        .unwrap();
    for want in [Want::Recent(3), Want::All] {
        let v = a.read(want);
        assert!(!v.from_index, "{want:?}");
        assert!(
            kinds(&v).contains(&ViolationKind::CheckpointRolledBack),
            "{want:?}: {:?}",
            kinds(&v)
        );
    }
}

#[test]
fn a_checkpoint_that_does_not_match_the_ledger_is_judged_by_a_whole_verification() {
    let mut a = Anchored::new();
    a.append(10);
    a.read(Want::All);
    a.append(3);
    a.checkpoint();
    // The ledger cut back to before the checkpoint's line, and other lines appended in
    // place of the cut ones: the checkpoint no longer states the ledger.
    let text = std::fs::read(&a.ledger).unwrap();
    let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
    std::fs::write(&a.ledger, lines[..11].concat()).unwrap();
    a.append(2);
    let v = a.read(Want::Recent(3));
    assert!(!v.from_index);
    assert!(
        kinds(&v).contains(&ViolationKind::CheckpointMismatch),
        "{:?}",
        kinds(&v)
    );
}

#[test]
fn a_ledger_outside_a_repository_reads_through_the_index_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    let attestor = Attestor::new(&CheckpointKey::load_or_create(&key).unwrap().0);
    let ledger = dir.path().join("l.ndjson");
    let json = serde_json::json!({"event_type": "task_note", "dispatch_id": "D-0001"});
    let r = attestor.attest(
        &Receipt::from_json(json.to_string().as_bytes()).unwrap(),
        &|| "2026-01-01T00:00:00Z".into(),
    );
    Ledger::new(&ledger).append_all(&[r]).unwrap();
    let trusted = [attestor.public_key()];
    let o = ReadOptions {
        index: Some(&dir.path().join("index")),
        attestor: Some(&attestor),
        trusted: &trusted,
        key: None,
        witness_dir: None,
        threads: 1,
        max_violations: 10,
        write: true,
    };
    assert!(!read_verified(&ledger, &o, Want::All).unwrap().from_index);
    assert!(read_verified(&ledger, &o, Want::All).unwrap().from_index);
}

#[test]
fn a_checkpoint_signed_by_a_key_not_trusted_is_judged_by_a_whole_verification() {
    let mut a = Anchored::new();
    a.append(4);
    a.checkpoint();
    a.read(Want::All);
    a.append(1);
    let other = a.key.with_file_name("other.key");
    checkpoint::checkpoint(
        &a.ledger,
        &Anchor::discover(&a.ledger).unwrap(),
        &other,
        &[],
        1,
        "2026-01-01T00:00:00Z",
        None,
    )
    .unwrap();
    for want in [Want::Recent(3), Want::All] {
        let v = a.read(want);
        assert!(!v.from_index, "{want:?}");
        assert_eq!(kinds(&v), [ViolationKind::CheckpointUntrusted], "{want:?}");
    }
}
