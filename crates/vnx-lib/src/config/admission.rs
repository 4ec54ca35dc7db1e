//! The `admission:` section of `.vnx/config.yaml`: the floors of this machine's free memory,
//! free disk (on the worktrees' filesystem) and load per core below which a local dispatch
//! waits in the queue rather than start, and the memory and process limits each local worker
//! runs under; validated with line and column. The floors are judged by `crate::admission`.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{Checked, Validator};

/// The free memory a local dispatch needs by default, in MB.
pub const DEFAULT_MIN_FREE_MEMORY_MB: u64 = 1024;
/// The free disk on the worktrees' filesystem a local dispatch needs by default, in MB.
pub const DEFAULT_MIN_FREE_DISK_MB: u64 = 2048;
/// The largest number of megabytes a floor or a limit may name (1 PB).
const MAX_MB: u64 = 1 << 30;
/// The most processes a worker may be limited to.
const MAX_PROCESSES: u64 = 1 << 22;

/// `admission:`: what this machine must have free for a local dispatch to start, and the
/// limits each local worker runs under.
#[derive(Clone, Debug, PartialEq)]
pub struct AdmissionConfig {
    /// Free memory (the kernel's `MemAvailable`) a dispatch needs to start, in MB; 0: none.
    pub min_free_memory_mb: u64,
    /// Free disk on the filesystem the worktree is made on, in MB; 0: none.
    pub min_free_disk_mb: u64,
    /// The highest one-minute load average per core a dispatch starts at; `None`: no limit
    /// (the default: a busy build machine's load says little of its room).
    pub max_load_per_core: Option<f64>,
    /// The memory each local worker may take, in MB (its data segment, `RLIMIT_DATA`);
    /// `None`: no limit.
    pub worker_memory_mb: Option<u64>,
    /// The processes each local worker may have (`RLIMIT_NPROC`, which the kernel counts per
    /// user and does not hold root to); `None`: no limit.
    pub worker_processes: Option<u64>,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            min_free_memory_mb: DEFAULT_MIN_FREE_MEMORY_MB,
            min_free_disk_mb: DEFAULT_MIN_FREE_DISK_MB,
            max_load_per_core: None,
            worker_memory_mb: None,
            worker_processes: None,
        }
    }
}

impl AdmissionConfig {
    /// The floors a local dispatch is admitted by.
    pub fn floors(&self) -> crate::admission::Floors {
        crate::admission::Floors {
            memory_mb: self.min_free_memory_mb,
            disk_mb: self.min_free_disk_mb,
            load_per_core: self.max_load_per_core,
        }
    }

    /// The limits each local worker runs under, if any.
    pub fn worker_limits(&self) -> Option<crate::receipts::WorkerLimits> {
        (self.worker_memory_mb.is_some() || self.worker_processes.is_some()).then_some(
            crate::receipts::WorkerLimits {
                memory_mb: self.worker_memory_mb,
                processes: self.worker_processes,
                enforced_by: None,
            },
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmission {
    min_free_memory_mb: Option<Spanned<i64>>,
    min_free_disk_mb: Option<Spanned<i64>>,
    max_load_per_core: Option<Spanned<f64>>,
    worker_memory_mb: Option<Spanned<i64>>,
    worker_processes: Option<Spanned<i64>>,
}

impl Validator<'_> {
    /// `admission:`: floors of 0 (none) or more megabytes, a load per core of 0 (none) or
    /// more, limits above 0.
    pub(super) fn admission(&self, raw: RawAdmission) -> Checked<AdmissionConfig> {
        let mut config = AdmissionConfig::default();
        if let Some(mb) = raw.min_free_memory_mb {
            config.min_free_memory_mb =
                self.between("admission.min_free_memory_mb", &mb, 0..=MAX_MB)?;
        }
        if let Some(mb) = raw.min_free_disk_mb {
            config.min_free_disk_mb =
                self.between("admission.min_free_disk_mb", &mb, 0..=MAX_MB)?;
        }
        if let Some(load) = raw.max_load_per_core {
            if !(load.value.is_finite() && (0.0..=10_000.0).contains(&load.value)) {
                let msg = format!(
                    "admission.max_load_per_core must be a number from 0 (no limit) to 10000, \
                     not {}",
                    load.value
                );
                return self.err(&load.referenced, msg);
            }
            config.max_load_per_core = Some(load.value).filter(|l| *l > 0.0);
        }
        if let Some(mb) = raw.worker_memory_mb {
            let mb = self.between("admission.worker_memory_mb", &mb, 1..=MAX_MB)?;
            config.worker_memory_mb = Some(mb);
        }
        if let Some(n) = raw.worker_processes {
            let n = self.between("admission.worker_processes", &n, 1..=MAX_PROCESSES)?;
            config.worker_processes = Some(n);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<crate::config::Config, crate::config::ConfigError> {
        crate::config::parse(text, Path::new("config.yaml"))
    }

    #[test]
    fn admission_has_defaults_and_takes_its_keys() {
        let c = parse("version: \"1\"\n").unwrap().admission;
        assert_eq!(c, AdmissionConfig::default());
        assert_eq!(c.floors().memory_mb, DEFAULT_MIN_FREE_MEMORY_MB);
        assert!(c.worker_limits().is_none());
        let c = parse(
            "admission:\n  min_free_memory_mb: 2048\n  min_free_disk_mb: 0\n  \
             max_load_per_core: 4\n  worker_memory_mb: 4096\n  worker_processes: 512\n",
        )
        .unwrap()
        .admission;
        assert_eq!(c.min_free_memory_mb, 2048);
        assert_eq!(c.min_free_disk_mb, 0);
        assert_eq!(c.max_load_per_core, Some(4.0));
        let limits = c.worker_limits().unwrap();
        assert_eq!(
            (limits.memory_mb, limits.processes),
            (Some(4096), Some(512))
        );
        let off = parse("admission:\n  max_load_per_core: 0\n").unwrap();
        assert_eq!(off.admission.max_load_per_core, None);
    }

    #[test]
    fn bad_admission_values_point_at_their_line_and_column() {
        for (text, says) in [
            (
                "admission:\n  min_free_memory_mb: -1\n",
                "config.yaml:2:23: admission.min_free_memory_mb must be between 0 and",
            ),
            (
                "admission:\n  max_load_per_core: -0.5\n",
                "config.yaml:2:22: admission.max_load_per_core must be a number from 0",
            ),
            (
                "admission:\n  worker_processes: 0\n",
                "config.yaml:2:21: admission.worker_processes must be between 1 and",
            ),
            (
                "admission:\n  min_free_ram: 5\n",
                "unknown field `min_free_ram`",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
