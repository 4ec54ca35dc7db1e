//! Whether bubblewrap can make a sandbox on this machine: a trial run of the namespaces a
//! worker's sandbox uses, and, when it fails, the kernel setting that explains why.

use std::path::Path;
use std::time::Duration;

use super::SandboxError;
use crate::process::{self, Cmd};

const LIMIT: Duration = Duration::from_secs(10);

/// `bwrap --version`, then a sandbox like a worker's (read-only root, its own PID, IPC and
/// network namespaces) running `/bin/sh -c 'exit 0'`. Returns the version.
pub fn check(bwrap: Option<&Path>) -> Result<String, SandboxError> {
    let program = bwrap.ok_or(SandboxError::NoBubblewrap)?;
    let unusable = |reason: String| SandboxError::Unusable {
        program: program.to_owned(),
        reason,
    };
    let version = process::run(&Cmd::new(program).arg("--version").timeout(LIMIT))
        .map_err(|e| unusable(e.to_string()))?;
    let version = version.text();
    let trial = Cmd::new(program)
        .args(["--die-with-parent", "--unshare-pid", "--unshare-ipc"])
        .args(["--unshare-net", "--ro-bind", "/", "/", "--dev", "/dev"])
        .args([
            "--proc", "/proc", "--tmpfs", "/tmp", "--", "/bin/sh", "-c", "exit 0",
        ])
        .timeout(LIMIT);
    match process::run(&trial) {
        Ok(out) if out.status.success() => Ok(version),
        Ok(out) => {
            let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            Err(unusable(match kernel_reason() {
                Some(why) => format!("{said} ({why})"),
                None => said,
            }))
        }
        Err(e) => Err(unusable(e.to_string())),
    }
}

/// The kernel setting that stops unprivileged user namespaces, if one does.
fn kernel_reason() -> Option<String> {
    let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Some(
            "unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone = 0"
                .into(),
        );
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Some("user namespaces are disabled: user.max_user_namespaces = 0".into());
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Some(
            "AppArmor restricts unprivileged user namespaces: \
             kernel.apparmor_restrict_unprivileged_userns = 1 (give bwrap an AppArmor profile \
             that allows userns)"
                .into(),
        );
    }
    None
}
