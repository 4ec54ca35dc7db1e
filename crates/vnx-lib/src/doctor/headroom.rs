//! Doctor's `admission` check: this machine's headroom (free memory, free disk on the
//! worktrees' filesystem, load per core) against the floors of `admission:`; a WARN when it
//! is below one, as new local dispatches then wait in the queue.

use std::path::Path;

use super::Check;
use crate::admission::{Floors, Headroom, admits, describe};

/// The check's name.
pub(super) const NAME: &str = "admission";

/// The headroom of the project whose data directory is `data_dir` against `floors`.
pub(super) fn check(data_dir: &Path, floors: &Floors) -> Check {
    let room = Headroom::read(&data_dir.join(crate::admission::WORKTREES_DIR));
    judge(&room, floors)
}

fn judge(room: &Headroom, floors: &Floors) -> Check {
    let line = describe(room, floors);
    match admits(room, floors) {
        Ok(()) => Check::pass(NAME, line),
        Err(short) => Check::warn(
            NAME,
            format!("{line}: below a floor ({short})"),
            format!(
                "new local dispatches wait in the queue until the {} is back (a drain starts \
                 them); free some, or lower the floor in the config's `admission:` section",
                short.resource()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn the_headroom_warns_below_a_floor() {
        let room = Headroom {
            memory_mb: Some(512),
            disk_mb: Some(80 * 1024),
            load: Some(0.6),
            cores: 2,
        };
        let floors = Floors {
            memory_mb: 1024,
            disk_mb: 2048,
            load_per_core: Some(4.0),
        };
        let c = judge(&room, &floors);
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.detail
                .ends_with("below a floor (512 MB free memory, needs 1 GB)"),
            "{}",
            c.detail
        );
        let c = judge(
            &room,
            &Floors {
                memory_mb: 256,
                ..floors
            },
        );
        assert_eq!(c.status, Status::Pass);
        assert_eq!(
            c.detail,
            "512 MB free memory (floor 256 MB), 80 GB free disk (floor 2 GB), load 0.3 per core \
             (max 4)"
        );
    }
}
