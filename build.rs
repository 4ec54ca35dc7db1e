//! Build facts for `vnx --version`: the commit the binary was built from and the build date.

// A build script runs on the developer's machine at compile time, outside the binary: the
// one-spawn-site and no-environment rules (clippy.toml) govern vnx itself, not this.
#![expect(
    clippy::disallowed_methods,
    reason = "a build script, not vnx: it runs git for the build facts"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    // The commit: rebuilt when HEAD moves (its file, the branch it names, packed refs). A
    // source tree without git (a crate tarball) says so instead of guessing.
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    if let Some(dirs) = git(&["rev-parse", "--git-dir", "--git-common-dir"]) {
        let mut dirs = dirs.lines();
        if let (Some(git_dir), Some(common)) = (dirs.next(), dirs.next()) {
            let branch = git(&["symbolic-ref", "-q", "HEAD"]);
            let paths = watched(Path::new(git_dir), Path::new(common), branch.as_deref());
            for path in paths {
                println!("cargo::rerun-if-changed={}", path.display());
            }
        }
    }
    let commit = commit.unwrap_or_else(|| "unknown commit".to_owned());
    println!("cargo::rustc-env=VNX_BUILD_COMMIT={commit}");

    // The build date, in UTC; SOURCE_DATE_EPOCH (reproducible builds, Debian) pins it.
    println!("cargo::rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    println!("cargo::rustc-env=VNX_BUILD_DATE={}", civil_date(epoch));
}

/// What the commit depends on, of what exists: cargo reruns a build script on every build
/// while a path it watches is missing, so a clone without `packed-refs` (or a branch whose
/// ref is packed) would rebuild the package each time. HEAD's file always exists; a branch
/// whose ref is packed is watched through the directory its loose ref appears in when the
/// branch moves (cargo looks at the newest file inside a watched directory).
pub(crate) fn watched(git_dir: &Path, common: &Path, branch: Option<&str>) -> Vec<PathBuf> {
    let mut paths = vec![git_dir.join("HEAD"), common.join("packed-refs")];
    if let Some(branch) = branch {
        let loose = common.join(branch);
        match loose.exists() {
            true => paths.push(loose),
            false => paths.extend(loose.parent().map(Path::to_path_buf)),
        }
    }
    paths.retain(|p| p.exists());
    paths
}

/// `YYYY-MM-DD` of a Unix time (Howard Hinnant's days-to-civil).
fn civil_date(epoch: i64) -> String {
    let z = epoch.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
