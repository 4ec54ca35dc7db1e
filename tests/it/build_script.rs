//! The build script watches only paths that exist, so a second build of an unchanged checkout
//! compiles nothing, and still notices the commit moving, whether the branch's ref is loose or
//! packed.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[expect(dead_code, reason = "the script's `main` runs only as a build script")]
#[path = "../../build.rs"]
mod script;

fn git(dir: &Path, args: &[&str]) {
    crate::common::git(dir, dir, args);
}

/// The newest modification time of `path`, or of any file below it (as cargo compares a
/// watched directory).
fn newest(path: &Path) -> SystemTime {
    let own = path.metadata().unwrap().modified().unwrap();
    if !path.is_dir() {
        return own;
    }
    std::fs::read_dir(path)
        .unwrap()
        .flatten()
        .map(|e| newest(&e.path()))
        .fold(own, SystemTime::max)
}

fn watched(repo: &Path) -> Vec<PathBuf> {
    script::watched(
        &repo.join(".git"),
        &repo.join(".git"),
        Some("refs/heads/main"),
    )
}

/// Whether a commit on `main` changes a path the build script watches.
fn a_commit_is_noticed(repo: &Path) -> bool {
    let paths = watched(repo);
    let before: Vec<_> = paths.iter().map(|p| newest(p)).collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    git(repo, &["commit", "-q", "--allow-empty", "-m", "next"]);
    paths.iter().zip(before).any(|(p, t)| newest(p) > t)
}

#[test]
fn the_build_script_watches_what_exists_and_notices_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["commit", "-q", "--allow-empty", "-m", "init"]);
    // A fresh repository has no packed-refs: cargo would rerun the script on every build.
    assert!(!repo.join(".git/packed-refs").exists());
    let paths = watched(repo);
    assert!(paths.iter().all(|p| p.exists()), "{paths:?}");
    assert!(paths.contains(&repo.join(".git/HEAD")), "{paths:?}");
    assert!(
        a_commit_is_noticed(repo),
        "a commit on a loose ref went unnoticed"
    );

    // The branch's ref packed (as a clone or `git gc` leaves it): its loose file is gone.
    git(repo, &["pack-refs", "--all"]);
    assert!(!repo.join(".git/refs/heads/main").exists());
    let paths = watched(repo);
    assert!(paths.iter().all(|p| p.exists()), "{paths:?}");
    assert!(
        a_commit_is_noticed(repo),
        "a commit on a packed ref went unnoticed"
    );
}
