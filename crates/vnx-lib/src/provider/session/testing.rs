//! Tests: what every CLI's session tests build, a dispatch's session sought and the homes an
//! environment names.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::{Cli, Homes, Wanted};

/// The session of a dispatch of the built-in `cli` whose worktree is `cwd`, its CLI's home
/// `.CLI` in `root`, started a minute ago, with no session id named.
pub(crate) fn wanted(cli: &str, root: &Path, cwd: &Path) -> Wanted {
    Wanted {
        cli: Cli::of(cli).unwrap(),
        homes: Homes {
            homes: [(cli.to_owned(), root.join(format!(".{cli}")))].into(),
            sessions: None,
        },
        cwd: cwd.to_owned(),
        since: SystemTime::now() - Duration::from_secs(60),
        session_id: None,
    }
}

/// The homes an environment of `pairs` names, on a machine whose home is `/machine`.
pub(crate) fn homes_of(pairs: &[(&str, &str)]) -> Homes {
    let env: Vec<(std::ffi::OsString, std::ffi::OsString)> = pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    Homes::of_env(&env, Some("/machine".into()))
}

/// The usage the built-in `cli`'s session file records in `data` since `since`.
pub(crate) fn of_bytes(
    cli: &str,
    data: &[u8],
    since: SystemTime,
) -> Option<crate::receipts::Usage> {
    read_bytes(cli, data, since).usage
}

/// What counting the built-in `cli`'s session file `data` since `since` finds.
pub(crate) fn read_bytes(cli: &str, data: &[u8], since: SystemTime) -> super::SessionRead {
    let mut counter = super::usage::Counter::new(&Cli::of(cli).unwrap(), since);
    counter.feed(data);
    counter.finish()
}
