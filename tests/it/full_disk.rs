//! A full disk while a dispatch ends: the repository lives on a small tmpfs of the test's own,
//! filled up after the worker wrote its file and freed once the completion is kept. The
//! completion must survive (in the space its launch reserved) and reach the ledger, and the
//! worker's file must be kept. Mounting needs root, so the test is `#[ignore]`d and run by
//! `bin/test` where it can mount.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Repo, run};

/// A tmpfs mounted on a temporary directory, unmounted (lazily) on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755")])
            .arg("vnx-full-disk")
            .arg(dir.path())
            .output()
            .expect("mount (util-linux) runs");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs ({}): run this test as root",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file of zeros until the filesystem says it is full.
    fn fill(&self) -> PathBuf {
        let filler = self.path().join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            match f.write_all(&block) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // Whatever a 64 KiB write did not fit, byte by byte.
        while f.write_all(&[0]).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Appends small receipts until the ledger's last page has little room left: on a tmpfs a
/// file grows into its last page without a new one, so a full disk still takes a line that
/// fits there. Left with under 400 bytes, the completion (well over 1 KiB) cannot fit.
fn leave_little_room(ledger: &Path) {
    let ledger = vnx::ledger::Ledger::new(ledger);
    let size = || std::fs::metadata(ledger.path()).unwrap().len();
    while 4096 - size() % 4096 >= 400 {
        ledger
            .append(&crate::common::receipt(
                r#"{"event_type":"test_padding","note":"a line of about three hundred bytes"}"#,
            ))
            .unwrap();
    }
}

fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < give_up, "{what} never happened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "needs root: mounts a small tmpfs (bin/test runs it where it can)"]
fn a_completion_written_on_a_full_disk_is_kept_and_lands_once_space_is_freed() {
    let disk = SmallDisk::mount("24m");
    let repo = Repo::new_in(disk.path());
    let tools = tempfile::tempdir().unwrap();
    let go = tools.path().join("go");
    // The worker writes its file, waits until the disk is full, then tries to report.
    let worker = tools.path().join("writer");
    std::fs::write(
        &worker,
        format!(
            "#!/bin/sh\necho work > w.txt\nwhile [ ! -e {go} ]; do sleep 0.05; done\n\
             vnx report --status done --summary 'wrote w' || true\n",
            go = go.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    // A disk this small is below any free-disk floor: no floor here.
    text.push_str(&format!(
        "admission:\n  min_free_disk_mb: 0\nproviders:\n  writer:\n    binary: {}\n    headless:\n      argv: [\"{{prompt_file}}\"]\n      prompt: file\n      completion: report\n    permissions:\n      edits: []\n",
        worker.display()
    ));
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "declare the writer"]);

    let r = run(repo
        .vnx()
        .args(["dispatch-agent", "--agent", "implementer"])
        .args(["--provider", "writer", "--instruction", "write w"])
        .args(["--detach", "--json", "--completion-retry", "600"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let started = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    let id = started["dispatch_id"].as_str().unwrap().to_owned();
    let data = repo.env.path().canonicalize().unwrap().join(".vnx-data");
    let written = data.join(format!("worktrees/dispatch-{id}/w.txt"));
    until("the worker's write", Duration::from_secs(60), || {
        written.is_file()
    });

    leave_little_room(&data.join("state/t0_receipts.ndjson"));
    let filler = disk.fill();
    std::fs::write(&go, "").unwrap();
    // The supervisor keeps its completion although nothing more fits (in its reservation,
    // whose unused rest it then frees for the ledger), and retries the ledger until it takes
    // it; an old supervisor died here instead, with nothing kept and nothing appended.
    let pending = data.join(format!("pending/{id}.ndjson"));
    until(
        "the completion kept, or the supervisor's end",
        Duration::from_secs(120),
        || pending.is_file() || repo.server.sessions_end(),
    );
    std::fs::remove_file(&filler).unwrap();

    let waited = run(repo.vnx().args(["wait", &id, "--json", "--timeout", "120"]));
    // Ended (0 done, 1 any other end: the report could not be written on the full disk);
    // an old supervisor's dispatch read `lost` here (3).
    assert!(
        waited.code == 0 || waited.code == 1,
        "{}{}",
        waited.stdout,
        waited.stderr
    );
    let c: serde_json::Value = serde_json::from_str(waited.stdout.trim()).unwrap();
    assert_ne!(c["status"], "lost", "{c}");
    assert_eq!(c["dispatch_id"], id.as_str(), "{c}");
    // The worker's file is kept: its worktree, or the branch, holds it.
    let kept = written.is_file()
        || repo
            .env
            .git(&["show", &format!("dispatch/{id}:w.txt")])
            .contains("work");
    assert!(kept, "the worker's file is gone: {c}");
    let completions = repo
        .receipts(&id)
        .iter()
        .filter(|r| r["event_type"] == "dispatch_completed")
        .count();
    assert_eq!(completions, 1);
    repo.verify_ok();
}

/// The disk fills after the worker reported done and before vnx commits its work: the
/// dispatch is not recorded as failed for good. Nothing is recorded while the disk is full
/// (doctor says why), the work waits in the worktree, and once space is freed the next
/// command commits it and records the dispatch done.
#[test]
#[ignore = "needs root: mounts a small tmpfs (bin/test runs it where it can)"]
fn work_a_full_disk_kept_from_being_committed_is_recorded_done_once_space_returns() {
    let disk = SmallDisk::mount("24m");
    let repo = Repo::new_in(disk.path());
    let tools = tempfile::tempdir().unwrap();
    let go = tools.path().join("go");
    // The worker writes its file and reports, then waits until the disk is full to end.
    let worker = tools.path().join("reporter");
    std::fs::write(
        &worker,
        format!(
            "#!/bin/sh\necho work > w.txt\nvnx report --status done --summary 'wrote w'\n\
             while [ ! -e {go} ]; do sleep 0.05; done\n",
            go = go.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "admission:\n  min_free_disk_mb: 0\nproviders:\n  reporter:\n    binary: {}\n    headless:\n      argv: [\"{{prompt_file}}\"]\n      prompt: file\n      completion: report\n    permissions:\n      edits: []\n",
        worker.display()
    ));
    std::fs::write(&config, text).unwrap();
    repo.env
        .git(&["commit", "-q", "-am", "declare the reporter"]);

    let r = run(repo
        .vnx()
        .args(["dispatch-agent", "--agent", "implementer"])
        .args(["--provider", "reporter", "--instruction", "write w"])
        .args(["--detach", "--json", "--completion-retry", "1"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let started = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    let id = started["dispatch_id"].as_str().unwrap().to_owned();
    let data = repo.env.path().canonicalize().unwrap().join(".vnx-data");
    let report = data.join(format!("dispatches/{id}/report.json"));
    until("the worker's report", Duration::from_secs(60), || {
        report.is_file()
    });
    let filler = disk.fill();
    std::fs::write(&go, "").unwrap();
    until("the supervisor's end", Duration::from_secs(120), || {
        repo.server.sessions_end()
    });
    // Nothing recorded as failed: the dispatch waits, and doctor says for what.
    assert!(
        !repo
            .receipts(&id)
            .iter()
            .any(|r| r["event_type"] == "dispatch_completed"),
        "an end was recorded while the work could not be committed"
    );
    let doctor = run(repo.vnx().args(["doctor", "--json"]));
    let checks: serde_json::Value = serde_json::from_str(&doctor.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", doctor.stdout, doctor.stderr));
    let dispatches = checks["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "dispatches")
        .cloned()
        .unwrap();
    assert!(
        dispatches["detail"]
            .as_str()
            .unwrap()
            .contains("the disk was full"),
        "{dispatches}"
    );
    std::fs::remove_file(&filler).unwrap();

    // The next command commits the work and records the end.
    let status = run(repo.vnx().args(["status"]));
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    let waited = run(repo.vnx().args(["wait", &id, "--json", "--timeout", "60"]));
    assert_eq!(waited.code, 0, "{}{}", waited.stdout, waited.stderr);
    let c: serde_json::Value = serde_json::from_str(waited.stdout.trim()).unwrap();
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(
        repo.env
            .git(&["show", &format!("dispatch/{id}:w.txt")])
            .trim(),
        "work"
    );
    let completions: Vec<_> = repo
        .receipts(&id)
        .into_iter()
        .filter(|r| r["event_type"] == "dispatch_completed")
        .collect();
    assert_eq!(completions.len(), 1);
    assert_eq!(
        completions[0]["teardown_class"], "committed",
        "{}",
        completions[0]
    );
    assert!(
        completions[0]["vnx_commit"].is_object(),
        "{}",
        completions[0]
    );
    repo.verify_ok();
}

#[test]
fn a_launch_sets_the_completions_space_aside_and_gives_it_back() {
    use std::os::unix::fs::MetadataExt;
    let repo = Repo::new();
    let pending = repo
        .env
        .path()
        .canonicalize()
        .unwrap()
        .join(".vnx-data/pending");
    let id = repo.dispatched("slow", true);
    // While the dispatch runs, its completion's space is allocated (blocks, not a hole).
    let reserve = std::fs::symlink_metadata(pending.join(format!("{id}.reserve")))
        .expect("a running dispatch has its completion's space reserved");
    assert!(reserve.is_file());
    assert!(reserve.len() >= 512 * 1024, "{}", reserve.len());
    assert!(
        reserve.blocks() * 512 >= reserve.len(),
        "{} blocks",
        reserve.blocks()
    );
    // Cancelled once its supervisor runs (it makes the worker's log after its signal handlers).
    let log = repo
        .env
        .path()
        .canonicalize()
        .unwrap()
        .join(format!(".vnx-data/dispatches/{id}/worker.log"));
    until("the supervisor's start", Duration::from_secs(60), || {
        log.exists()
    });
    let r = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let waited = run(repo.vnx().args(["wait", &id, "--json"]));
    assert_eq!(waited.code, 1, "{}{}", waited.stdout, waited.stderr);
    // An ended dispatch leaves neither its reservation nor a pending file behind (the
    // supervisor removes its kept copy just after the append that `wait` saw).
    let left = || -> Vec<_> {
        std::fs::read_dir(&pending)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default()
    };
    until(
        "the pending directory's emptying",
        Duration::from_secs(10),
        || left().is_empty(),
    );
}
