//! Checkpoints made while another process verifies: the verifier never takes a checkpoint
//! made between its reads for one the ref lost.

use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::{Ledger, Receipt};

#[test]
fn a_checkpoint_made_during_a_verification_is_never_a_rollback() {
    let repo = tempfile::tempdir().unwrap();
    git2::Repository::init(repo.path()).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let (key, witnesses) = (outside.path().join("key"), outside.path().join("witness"));
    let path = repo.path().join("t0_receipts.ndjson");
    let ledger = Ledger::new(&path);
    let receipt = |n: usize| {
        Receipt::from_json(format!(r#"{{"event_type":"note","n":{n}}}"#).as_bytes()).unwrap()
    };
    // Each its own: a repository handle is not shared between threads.
    let make = |n: usize| {
        let anchor = Anchor::find(&path).unwrap().unwrap();
        ledger.append(&receipt(n)).unwrap();
        let time = "2026-01-01T00:00:00Z";
        checkpoint(&path, &anchor, &key, &[], 1, time, Some(&witnesses)).unwrap();
    };
    make(0);
    let making = AtomicBool::new(true);
    let (mut looks, mut rolled_back) = (0, Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            for n in 1..=60 {
                make(n);
            }
            making.store(false, Ordering::SeqCst);
        });
        while making.load(Ordering::SeqCst) {
            let seen = anchoring(&path, Some(&key), Some(&witnesses))
                .unwrap()
                .unwrap();
            looks += 1;
            rolled_back.extend(seen.rolled_back);
        }
    });
    assert!(looks > 10, "{looks} looks");
    assert!(rolled_back.is_empty(), "{rolled_back:?} in {looks} looks");
}
