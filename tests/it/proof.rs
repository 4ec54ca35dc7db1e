//! Every state `status` and `show` print names the receipt that proves it, and a success is
//! shown only when the ledger verifies through that receipt.

use crate::common::{Repo, append_forged_done, completion, ledger_path, run};

fn statuses(repo: &Repo) -> (Vec<serde_json::Value>, String) {
    let r = run(repo.vnx().args(["status", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    (serde_json::from_str(&r.stdout).unwrap(), r.stderr)
}

#[test]
fn a_done_on_a_broken_ledger_reads_unverified() {
    let repo = Repo::new();
    let first = completion(&repo.dispatch("commit", &["--instruction", "one"]));
    let first = first["dispatch_id"].as_str().unwrap().to_owned();
    let second = completion(&repo.dispatch("commit", &["--instruction", "two"]));
    let second = second["dispatch_id"].as_str().unwrap().to_owned();

    let (all, warned) = statuses(&repo);
    assert!(warned.is_empty(), "{warned}");
    let ledger = std::fs::read_to_string(ledger_path(&repo)).unwrap();
    for s in &all {
        assert_eq!(s["status"], "done", "{s}");
        assert_eq!(s["verified"], true, "{s}");
        let proof = &s["proof"];
        assert_eq!(proof["event_type"], "dispatch_completed", "{s}");
        // The proof names the completion's own line, by number and by hash.
        let n = proof["line"].as_u64().unwrap() as usize;
        let line = ledger.lines().nth(n - 1).unwrap();
        assert!(
            line.contains("dispatch_completed")
                && line.contains(s["dispatch_id"].as_str().unwrap())
        );
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(line.as_bytes()));
        assert_eq!(proof["line_sha256"], sha.as_str(), "{s}");
    }

    // Someone edits the second dispatch's start: everything it proves from there is suspect.
    let tampered: String = ledger
        .lines()
        .map(|l| {
            if l.contains("dispatch_started") && l.contains(&second) {
                l.replacen("\"instruction_sha256\":\"", "\"instruction_sha256\":\"0", 1)
            } else {
                l.to_owned()
            }
        })
        .map(|l| l + "\n")
        .collect();
    assert_ne!(tampered, ledger);
    std::fs::write(ledger_path(&repo), tampered).unwrap();

    let (all, warned) = statuses(&repo);
    assert!(warned.contains("does not verify from line"), "{warned}");
    let of = |id: &str| all.iter().find(|s| s["dispatch_id"] == id).unwrap().clone();
    assert_eq!(
        of(&first)["status"],
        "done",
        "before the break: still proven"
    );
    assert_eq!(of(&first)["verified"], true);
    assert_eq!(of(&second)["status"], "unverified", "{}", of(&second));
    assert_eq!(of(&second)["verified"], false);
    assert_eq!(
        of(&second)["completion"],
        "done",
        "what the receipt says is still shown"
    );

    let r = run(repo.vnx().args(["show", &second]));
    assert!(r.stdout.contains("unverified"), "{}", r.stdout);
    assert!(r.stdout.contains("NOT verified"), "{}", r.stdout);
    let r = run(repo.vnx().args(["show", &first]));
    assert!(
        r.stdout.contains("dispatch_completed at line") && r.stdout.contains("verifies through it"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_done_nobody_trusted_signed_reads_unverified() {
    let repo = Repo::new();
    let genuine = completion(&repo.dispatch("commit", &["--instruction", "one"]));
    let genuine = genuine["dispatch_id"].as_str().unwrap().to_owned();
    let r = repo.dispatch("slow", &["--instruction", "x", "--detach"]);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let running = launched["dispatch_id"].as_str().unwrap().to_owned();
    // A worker that can write the ledger appends a well-chained completion of its own: the
    // chain verifies, but no trusted key signed it.
    append_forged_done(&repo, &running);
    let r = run(repo.vnx().args(["audit-chain", "verify"]));
    assert_eq!(r.code, 0, "the chain itself is intact: {}", r.stdout);

    let (all, _) = statuses(&repo);
    let of = |id: &str| all.iter().find(|s| s["dispatch_id"] == id).unwrap().clone();
    assert_eq!(of(&running)["completion"], "done", "what the line says");
    assert_eq!(of(&running)["status"], "unverified", "{}", of(&running));
    assert_eq!(of(&running)["proof"]["attested"], false);
    assert_eq!(of(&genuine)["status"], "done");
    assert_eq!(of(&genuine)["proof"]["attested"], true);
    let r = run(repo.vnx().args(["show", &running]));
    assert!(
        r.stdout
            .contains("NOT verified: no key the repository trusts signed it"),
        "{}",
        r.stdout
    );
    let r = run(repo.vnx().args(["show", &genuine]));
    assert!(
        r.stdout.contains("(signed, and the ledger verifies"),
        "{}",
        r.stdout
    );
    run(repo.vnx().args(["cancel", "--all"]));
}
