//! What killed launches and readers leave unfinished: named by `vnx doctor`, swept by the
//! next command.

use super::{bin_dir, doctor, verdict};
use crate::common::Repo;

/// A launcher killed after it set its completion's space aside leaves `pending/ID.reserve`
/// (1 MiB) with no dispatch to use it, and a reader killed while writing the read index
/// leaves `index/.dispatches.v12.tmp-PID-N`: doctor names both, and the next command sweeps
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
    let torn = index.join(".dispatches.v12.tmp-4194305-0");
    std::fs::write(&torn, vec![0u8; 4096]).unwrap();
    let live = index.join(format!(".dispatches.v12.tmp-{}-0", std::process::id()));
    std::fs::write(&live, b"being written").unwrap();
    let (_, report) = doctor(repo.vnx(), &bin, &[]);
    let (status, detail) = verdict(&report, "unfinished files");
    assert_eq!(status, "warn", "{report:#}");
    assert!(
        detail.contains("pending/D-0000deadbeef.reserve"),
        "{detail}"
    );
    assert!(
        detail.contains("index/.dispatches.v12.tmp-4194305-0"),
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
