//! Machine resources admitted like slots (ADR 0121): what this machine has free (memory, disk
//! on the worktrees' filesystem, load per core) read as a [`Headroom`], and judged against the
//! config's floors (`admission:`): a local dispatch below a floor waits in the queue with the
//! [`Shortfall`] as its reason, and starts when a drain finds the floor holds again. Only a
//! dispatch run on this machine is judged; one for a host is its host's to judge. Each local
//! worker's memory and process limits are applied by `limits`.

pub mod limits;
mod read;

use std::fmt;
use std::path::Path;

pub use read::{parse_loadavg, parse_meminfo};

/// What this machine has free now; a figure that could not be read is `None` and judged by
/// no floor (a machine without `/proc` admits as before).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Headroom {
    /// Free memory in MB: the kernel's `MemAvailable`.
    pub memory_mb: Option<u64>,
    /// Free disk in MB on the filesystem the worktrees are made on (for the unprivileged).
    pub disk_mb: Option<u64>,
    /// The one-minute load average.
    pub load: Option<f64>,
    /// The cores this process may run on.
    pub cores: u32,
}

impl Headroom {
    /// This machine's headroom, the disk's read on the filesystem holding `worktrees` (the
    /// directory a dispatch's worktree is made in, or its nearest existing ancestor).
    pub fn read(worktrees: &Path) -> Headroom {
        Headroom {
            memory_mb: read::memory_mb(),
            disk_mb: read::disk_mb(worktrees),
            load: read::load(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        }
    }

    /// The load average per core.
    pub fn load_per_core(&self) -> Option<f64> {
        self.load.map(|l| l / f64::from(self.cores.max(1)))
    }
}

/// The floors a local dispatch is admitted by (`admission:`); 0 or `None`: none.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Floors {
    /// Free memory needed, in MB.
    pub memory_mb: u64,
    /// Free disk needed on the worktrees' filesystem, in MB.
    pub disk_mb: u64,
    /// The highest load average per core a dispatch starts at.
    pub load_per_core: Option<f64>,
}

/// Why the machine cannot take a dispatch now: the first floor it is below.
#[derive(Clone, Debug, PartialEq)]
pub enum Shortfall {
    /// Less memory free than the floor.
    Memory {
        /// Free, in MB.
        free_mb: u64,
        /// The floor, in MB.
        needs_mb: u64,
    },
    /// Less disk free on the worktrees' filesystem than the floor.
    Disk {
        /// Free, in MB.
        free_mb: u64,
        /// The floor, in MB.
        needs_mb: u64,
    },
    /// A load per core above the most allowed.
    Load {
        /// The one-minute load average per core.
        per_core: f64,
        /// The most allowed.
        max: f64,
    },
}

impl Shortfall {
    /// The resource it names, as a word: `memory`, `disk` or `load`.
    pub fn resource(&self) -> &'static str {
        match self {
            Shortfall::Memory { .. } => "memory",
            Shortfall::Disk { .. } => "disk",
            Shortfall::Load { .. } => "load",
        }
    }
}

impl fmt::Display for Shortfall {
    /// `1.2 GB free memory, needs 2 GB`; `1.5 GB free disk, needs 2 GB`; `load 5.1 per
    /// core, at most 4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shortfall::Memory { free_mb, needs_mb } => {
                write!(
                    f,
                    "{} free memory, needs {}",
                    size(*free_mb),
                    size(*needs_mb)
                )
            }
            Shortfall::Disk { free_mb, needs_mb } => {
                write!(f, "{} free disk, needs {}", size(*free_mb), size(*needs_mb))
            }
            Shortfall::Load { per_core, max } => {
                write!(
                    f,
                    "load {} per core, at most {}",
                    tenths(*per_core),
                    tenths(*max)
                )
            }
        }
    }
}

/// Whether `room` meets every floor; the first it is below when not.
pub fn admits(room: &Headroom, floors: &Floors) -> Result<(), Shortfall> {
    if let Some(free_mb) = room.memory_mb
        && free_mb < floors.memory_mb
    {
        return Err(Shortfall::Memory {
            free_mb,
            needs_mb: floors.memory_mb,
        });
    }
    if let Some(free_mb) = room.disk_mb
        && free_mb < floors.disk_mb
    {
        return Err(Shortfall::Disk {
            free_mb,
            needs_mb: floors.disk_mb,
        });
    }
    if let (Some(per_core), Some(max)) = (room.load_per_core(), floors.load_per_core)
        && per_core > max
    {
        return Err(Shortfall::Load { per_core, max });
    }
    Ok(())
}

/// What this machine lacks for a local dispatch of the project whose data directory is
/// `data_dir` (its worktrees are made in `worktrees/` there), if it is below a floor.
pub fn shortfall(data_dir: &Path, floors: &Floors) -> Option<Shortfall> {
    admits(&Headroom::read(&data_dir.join(WORKTREES_DIR)), floors).err()
}

/// The directory under `.vnx-data` dispatches' worktrees are made in.
pub const WORKTREES_DIR: &str = "worktrees";

/// The headroom against the floors in one line, as doctor shows it: `11.2 GB free memory
/// (floor 1 GB), 80 GB free disk (floor 2 GB), load 0.3 per core (max 4)`.
pub fn describe(room: &Headroom, floors: &Floors) -> String {
    let memory = match room.memory_mb {
        Some(mb) => format!("{} free memory", size(mb)),
        None => "free memory unknown".to_owned(),
    };
    let disk = match room.disk_mb {
        Some(mb) => format!("{} free disk", size(mb)),
        None => "free disk unknown".to_owned(),
    };
    let load = match room.load_per_core() {
        Some(l) => format!("load {} per core", tenths(l)),
        None => "load unknown".to_owned(),
    };
    let floor = |mb: u64| match mb {
        0 => "no floor".to_owned(),
        mb => format!("floor {}", size(mb)),
    };
    let max = floors
        .load_per_core
        .map_or_else(|| "no max".to_owned(), |m| format!("max {}", tenths(m)));
    format!(
        "{memory} ({}), {disk} ({}), {load} ({max})",
        floor(floors.memory_mb),
        floor(floors.disk_mb)
    )
}

/// Megabytes as a person reads them: `512 MB`, `1.2 GB`, `2 GB`.
pub fn size(mb: u64) -> String {
    if mb < 1024 {
        format!("{mb} MB")
    } else {
        format!("{} GB", tenths(mb as f64 / 1024.0))
    }
}

/// A number to one decimal, without a trailing `.0`: `1.2`, `2`, `0.3`.
fn tenths(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(memory_mb: u64, disk_mb: u64, load: f64) -> Headroom {
        Headroom {
            memory_mb: Some(memory_mb),
            disk_mb: Some(disk_mb),
            load: Some(load),
            cores: 2,
        }
    }

    #[test]
    fn a_floor_not_met_is_said_as_a_person_reads_it() {
        let floors = Floors {
            memory_mb: 2048,
            disk_mb: 2048,
            load_per_core: Some(4.0),
        };
        assert_eq!(admits(&room(4096, 4096, 1.0), &floors), Ok(()));
        let short = admits(&room(1229, 4096, 1.0), &floors).unwrap_err();
        assert_eq!(short.to_string(), "1.2 GB free memory, needs 2 GB");
        assert_eq!(short.resource(), "memory");
        let short = admits(&room(4096, 512, 1.0), &floors).unwrap_err();
        assert_eq!(short.to_string(), "512 MB free disk, needs 2 GB");
        let short = admits(&room(4096, 4096, 10.2), &floors).unwrap_err();
        assert_eq!(short.to_string(), "load 5.1 per core, at most 4");
        // No floor, or a figure unread, holds nothing back.
        assert_eq!(admits(&room(0, 0, 99.0), &Floors::default()), Ok(()));
        let unread = Headroom {
            cores: 1,
            ..Headroom::default()
        };
        assert_eq!(admits(&unread, &floors), Ok(()));
    }

    #[test]
    fn doctor_reads_the_headroom_against_the_floors_in_one_line() {
        let floors = Floors {
            memory_mb: 1024,
            disk_mb: 2048,
            load_per_core: Some(4.0),
        };
        assert_eq!(
            describe(&room(11469, 81920, 0.6), &floors),
            "11.2 GB free memory (floor 1 GB), 80 GB free disk (floor 2 GB), load 0.3 per core \
             (max 4)"
        );
        assert_eq!(
            describe(&Headroom::default(), &Floors::default()),
            "free memory unknown (no floor), free disk unknown (no floor), load unknown (no max)"
        );
    }

    #[test]
    fn this_machine_reads_its_headroom() {
        let dir = tempfile::tempdir().unwrap();
        let room = Headroom::read(&dir.path().join("not/made/yet"));
        assert!(room.memory_mb.is_some_and(|m| m > 0), "{room:?}");
        assert!(room.disk_mb.is_some(), "{room:?}");
        assert!(room.load.is_some() && room.cores >= 1, "{room:?}");
    }
}
