//! What killed launches, readers and gate runs leave unfinished: named by `vnx doctor`, swept
//! by the next command (or the one doctor names).

use super::{bin_dir, check, doctor, verdict};
use crate::common::Repo;

/// A launcher killed after it set its completion's space aside leaves `pending/ID.reserve`
/// (1 MiB) with no dispatch to use it, and a reader killed while writing the read index
/// leaves `index/.dispatches.v21.tmp-PID-N`: doctor names both, and the next command sweeps
/// them; a running dispatch's reservation and a live writer's file are left alone.
#[test]
fn reservations_and_index_files_nobody_will_finish_are_named_then_swept() {
    let repo = Repo::new();
    let bin = bin_dir(&repo.env);
    let data = repo.env.path().canonicalize().unwrap().join(".vnx-data");
    let running = repo.dispatched("slow", true);
    let pending = data.join("pending");
    let theirs = pending.join(format!("{running}.reserve"));
    // A launch killed before `dispatch_started`: its directory and lock claimed, then freed.
    let leaked = pending.join("D-0000deadbeef.reserve");
    std::fs::write(&leaked, vec![0u8; 1 << 20]).unwrap();
    std::fs::create_dir_all(data.join("dispatches/D-0000deadbeef")).unwrap();
    std::fs::write(data.join("dispatches/D-0000deadbeef/lock"), b"").unwrap();
    // pid 4194305 is above Linux's largest: no process has it.
    let index = data.join("index");
    std::fs::create_dir_all(&index).unwrap();
    let torn = index.join(".dispatches.v21.tmp-4194305-0");
    std::fs::write(&torn, vec![0u8; 4096]).unwrap();
    let live = index.join(format!(".dispatches.v21.tmp-{}-0", std::process::id()));
    std::fs::write(&live, b"being written").unwrap();
    let (_, report) = doctor(repo.vnx(), &bin, &[]);
    let (status, detail) = verdict(&report, "unfinished files");
    assert_eq!(status, "warn", "{report:#}");
    assert!(
        detail.contains("pending/D-0000deadbeef.reserve"),
        "{detail}"
    );
    assert!(
        detail.contains("index/.dispatches.v21.tmp-4194305-0"),
        "{detail}"
    );
    assert!(!detail.contains(running.as_str()), "{detail}");
    assert!(
        !detail.contains(&std::process::id().to_string()),
        "{detail}"
    );

    let r = crate::common::run(repo.vnx().args(["status"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!leaked.exists(), "the leaked reservation is swept");
    assert!(!torn.exists(), "the torn index file is swept");
    assert!(theirs.is_file(), "a running dispatch keeps its reservation");
    assert!(live.is_file(), "a live writer's file is kept");
    let (_, report) = doctor(repo.vnx(), &bin, &[]);
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "unfinished files"),
        "{report:#}"
    );
}

/// A `gate-check` or `merge` killed with kill -9 leaves its gate checkout registered with git
/// under `.vnx-data/gates/`: doctor names it as soon as its run's lock is free (the kernel
/// frees a killed holder's `flock`, as dropping it here does), and never while it is held.
#[test]
fn a_gate_checkout_left_by_a_killed_gate_run_is_named() {
    let repo = Repo::new();
    let bin = bin_dir(&repo.env);
    let run_dir = repo.env.path().join(".vnx-data/gates/D-0000deadbeef/run-1");
    let checkout = run_dir.join("tests/checkout");
    std::fs::create_dir_all(checkout.parent().unwrap()).unwrap();
    // The run's lock, held as a running gate-check holds it.
    let lock = std::fs::File::create(run_dir.join("run.lock")).unwrap();
    lock.lock().unwrap();
    repo.env.git(&[
        "worktree",
        "add",
        "--detach",
        "-q",
        checkout.to_str().unwrap(),
        "HEAD",
    ]);
    let (_, running) = doctor(repo.vnx(), &bin, &[]);
    assert!(
        running["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "gate checkouts"),
        "a running gate's checkout is not a leftover: {running:#}"
    );
    drop(lock);
    let (_, report) = doctor(repo.vnx(), &bin, &[]);
    let (status, detail) = verdict(&report, "gate checkouts");
    assert_eq!(status, "warn");
    assert!(
        detail.ends_with(": D-0000deadbeef/run-1/tests/checkout"),
        "{detail}"
    );
    let hint = check(&report, "gate checkouts")["hint"].as_str().unwrap();
    assert!(hint.contains("`vnx prune"), "{hint}");
    // The hint's command works as given, without a terminal to confirm at (in a project
    // whose ledger exists, as a gate run's does).
    let ledger = repo.env.path().join(".vnx-data/state/t0_receipts.ndjson");
    vnx::ledger::Ledger::new(&ledger)
        .append(&crate::common::receipt(r#"{"event_type":"test_padding"}"#))
        .unwrap();
    let command = hint.split('`').nth(1).unwrap();
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[0], "vnx", "{hint}");
    let r = crate::common::run(repo.vnx().args(&words[1..]));
    assert_eq!(r.code, 0, "`{command}`: {}{}", r.stdout, r.stderr);
    assert!(
        !checkout.exists(),
        "`{command}` left {}",
        checkout.display()
    );
}
