//! The memory and process limits a local worker runs under (`admission.worker_memory_mb`,
//! `admission.worker_processes`): util-linux's `prlimit` sets them on the worker's process
//! before it runs its CLI (`RLIMIT_DATA` and `RLIMIT_NPROC`, inherited by all it starts).
//! The launch asks whether this machine has `prlimit`; without it the limits are recorded as
//! not enforced and the worker runs without them (its log says so).

use std::ffi::OsString;
use std::time::Duration;

use crate::process::{self, Cmd};
use crate::receipts::WorkerLimits;

/// What holds a worker to its limits.
pub const PRLIMIT: &str = "prlimit";

/// How long the probe of `prlimit` may take.
const PROBE: Duration = Duration::from_secs(5);

/// Whether this machine has util-linux's `prlimit`.
pub fn has_prlimit() -> bool {
    let probe = Cmd::new(PRLIMIT).arg("--version").timeout(PROBE);
    process::run(&probe).is_ok_and(|o| o.status.success())
}

/// Marks what will hold the worker to `limits`: `prlimit` where this machine has it (asked
/// through `available`), else nothing.
pub fn enforce(limits: &mut WorkerLimits, available: impl FnOnce() -> bool) {
    limits.enforced_by = available().then(|| PRLIMIT.to_owned());
}

/// `argv` run under `limits`: behind `prlimit --data=… --nproc=… --` when `prlimit` enforces
/// them; as it is otherwise.
pub fn wrap(limits: &WorkerLimits, argv: Vec<OsString>) -> Vec<OsString> {
    if limits.enforced_by.as_deref() != Some(PRLIMIT) {
        return argv;
    }
    let mut wrapped: Vec<OsString> = vec![PRLIMIT.into()];
    if let Some(mb) = limits.memory_mb {
        wrapped.push(format!("--data={}", mb.saturating_mul(1024 * 1024)).into());
    }
    if let Some(n) = limits.processes {
        wrapped.push(format!("--nproc={n}").into());
    }
    wrapped.push("--".into());
    wrapped.extend(argv);
    wrapped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_runs_behind_prlimit_only_when_it_enforces_the_limits() {
        let argv: Vec<OsString> = vec!["cli".into(), "--go".into()];
        let mut limits = WorkerLimits {
            memory_mb: Some(64),
            processes: Some(32),
            enforced_by: None,
        };
        assert_eq!(wrap(&limits, argv.clone()), argv);
        enforce(&mut limits, || false);
        assert_eq!(limits.enforced_by, None);
        enforce(&mut limits, || true);
        assert_eq!(limits.enforced_by.as_deref(), Some("prlimit"));
        let wrapped = wrap(&limits, argv.clone());
        assert_eq!(
            wrapped,
            [
                "prlimit",
                "--data=67108864",
                "--nproc=32",
                "--",
                "cli",
                "--go"
            ]
            .map(OsString::from)
        );
        limits.processes = None;
        assert_eq!(wrap(&limits, argv).len(), 5);
    }
}
