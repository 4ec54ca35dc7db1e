//! `worktree.copy_ignored` on a filesystem with reflinks (issue 71): the project on an XFS
//! image mounted on a loop device, where a new worktree's copy of the checkout's build output
//! shares its blocks. Skipped, saying why, where no XFS can be made and mounted here (not
//! root, no `mkfs.xfs`, no loop device); the skip on ext4 or tmpfs is the library's unit test.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{Repo, run_script_worker};

/// An XFS image mounted for the test's life.
struct Mounted {
    _dir: tempfile::TempDir,
    at: PathBuf,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("--lazy").arg(&self.at).status();
    }
}

fn ok(cmd: &mut Command) -> Result<(), String> {
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("{cmd:?}: {e}")),
    }
}

/// A fresh XFS, mounted; why not when it cannot be.
fn xfs() -> Result<Mounted, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let image = dir.path().join("xfs.img");
    let file = std::fs::File::create(&image).map_err(|e| e.to_string())?;
    file.set_len(512 << 20).map_err(|e| e.to_string())?;
    ok(Command::new("mkfs.xfs").arg("-q").arg(&image))?;
    let at = dir.path().join("mnt");
    std::fs::create_dir(&at).map_err(|e| e.to_string())?;
    ok(Command::new("mount")
        .args(["-o", "loop"])
        .arg(&image)
        .arg(&at))?;
    Ok(Mounted { _dir: dir, at })
}

#[test]
fn a_new_worktree_shares_the_checkouts_build_output_by_reflink() {
    let mounted = match xfs() {
        Ok(m) => m,
        Err(why) => {
            eprintln!("skipped: no XFS with reflinks could be mounted here: {why}");
            return;
        }
    };
    let repo = Repo::new_in(&mounted.at);
    let root = repo.env.path().to_path_buf();
    std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
    repo.env.git(&["add", ".gitignore"]);
    repo.env.git(&["commit", "-q", "-m", "ignore the build"]);
    std::fs::create_dir_all(root.join("target/debug")).unwrap();
    std::fs::write(root.join("target/debug/big"), vec![7u8; 1 << 20]).unwrap();
    // The worker looks at its copy where it runs, and says what it saw outside its worktree.
    let seen = repo.env.dir.path().join("seen.txt");
    let script = format!(
        "filefrag -v target/debug/big >{seen} 2>&1\n\
         cmp target/debug/big {big} && echo same >>{seen}\n",
        seen = seen.display(),
        big = root.join("target/debug/big").display()
    );
    // The image is small: the free-disk floor is lowered to what it holds.
    let more = "worktree:\n  copy_ignored: [target]\nadmission:\n  min_free_disk_mb: 64\n";
    run_script_worker(&repo, "looker", &script, more);
    let seen = std::fs::read_to_string(&seen).unwrap();
    assert!(seen.contains("same"), "the checkout's bytes: {seen}");
    assert!(
        seen.contains("shared"),
        "its blocks shared with the checkout's: {seen}"
    );
}
