//! What a host answers when it is caught up with (`vnx __remote-sync`, run there over ssh):
//! its vnx version, its ledger's lines from a position on, byte for byte, and the state its
//! own ledger and tmux give the dispatches asked about.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ledger::LedgerError;
use crate::ledger::tail;

/// Where the lines a host sends start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Only its last line (the anchor of a first contact).
    Tail,
    /// Line `n` (the last one mirrored, sent again to be compared) and every later one.
    From(u64),
}

impl After {
    /// As `--after` spells it.
    pub fn arg(self) -> String {
        match self {
            After::Tail => "tail".into(),
            After::From(n) => n.to_string(),
        }
    }

    /// `--after`'s value read back.
    pub fn parse(text: &str) -> Option<After> {
        match text {
            "tail" => Some(After::Tail),
            n => n.parse().ok().map(After::From),
        }
    }
}

/// One line of the host's ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportLine {
    /// Its 1-based number.
    pub seq: u64,
    /// Its bytes, without the newline.
    pub line: String,
}

/// A host's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// The host's `vnx --version`.
    pub vnx_version: String,
    /// How many complete lines its ledger holds.
    pub ledger_lines: u64,
    /// The lines asked for.
    pub lines: Vec<ExportLine>,
    /// The state (`running`, `lost`, `done`, …) the host gives each dispatch asked about.
    pub states: BTreeMap<String, String>,
    /// The commits its refs the dispatcher fetches point at (`refs/vnx/checkpoints`, and
    /// `refs/heads/dispatch/<id>` of each dispatch asked about), when they exist: nothing
    /// is fetched that the dispatcher already has.
    #[serde(default)]
    pub refs: BTreeMap<String, String>,
}

/// The tips of `names` in the repository at `root` (those that exist).
pub fn ref_tips(root: &Path, names: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(repo) = git2::Repository::open(root) else {
        return out;
    };
    for name in names {
        if let Ok(commit) = repo.find_reference(name).and_then(|r| r.peel_to_commit()) {
            out.insert(name.clone(), commit.id().to_string());
        }
    }
    out
}

/// Waits, up to `limit`, for `ledger` to grow past `lines` complete lines.
pub fn wait_for_more(
    ledger: &Path,
    lines: u64,
    limit: std::time::Duration,
) -> Result<(), LedgerError> {
    if !ledger.exists() {
        return Ok(());
    }
    let deadline = std::time::Instant::now() + limit;
    let (_, end) = tail::last_lines(ledger, 0, |_| true)?;
    let mut total = 0u64;
    tail::numbered_lines(ledger, |_| {
        total += 1;
        false
    })?;
    if total > lines {
        return Ok(());
    }
    tail::follow(ledger, end, |event| match event {
        tail::Followed::Line(_) => false,
        _ => std::time::Instant::now() < deadline,
    })
}

/// The lines of `ledger` that `after` asks for (a missing ledger has none), and how many
/// complete lines it holds.
pub fn lines(ledger: &Path, after: After) -> Result<(Vec<ExportLine>, u64), LedgerError> {
    if !ledger.exists() {
        return Ok((Vec::new(), 0));
    }
    let mut total = 0u64;
    let keep_from = match after {
        After::Tail => 0,
        After::From(n) => n,
    };
    let all = tail::numbered_lines(ledger, |_| {
        total += 1;
        total >= keep_from
    })?;
    let from = match after {
        After::Tail => total,
        After::From(n) => n,
    };
    let lines = all
        .into_iter()
        .filter(|(n, _)| *n >= from)
        .map(|(seq, bytes)| ExportLine {
            seq,
            // A ledger line vnx writes is UTF-8; any other byte is sent replaced, and its
            // hash will not match (and so be reported) here.
            line: String::from_utf8_lossy(&bytes).into_owned(),
        })
        .collect();
    Ok((lines, total))
}
