//! What a host answers when it is caught up with (`vnx __remote-sync`, run there over ssh):
//! its vnx version, its ledger's lines from a position on, byte for byte, and the state its
//! own ledger and tmux give the dispatches asked about.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ledger::LedgerError;
use crate::ledger::tail;

/// The most bytes of ledger lines one answer carries (at least one new line, whatever its
/// size): a long ledger is sent over several answers, each within [`MAX_ANSWER`].
pub const PAGE_BYTES: usize = 4 << 20;

/// The most bytes of a place's answer that are read: [`PAGE_BYTES`] of lines each escaped
/// at worst (six bytes a byte), and room to spare. A place that says more is cut off there
/// and its answer refused.
pub const MAX_ANSWER: usize = 32 << 20;

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

/// The lines of `ledger` that `after` asks for, up to [`PAGE_BYTES`] of them (a missing
/// ledger has none), and how many complete lines it holds.
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
    let mut size = 0;
    let lines = all
        .into_iter()
        .filter(|(n, _)| *n >= from)
        .take_while(|(n, bytes)| {
            size += bytes.len();
            size <= PAGE_BYTES || *n <= from + 1
        })
        .map(|(seq, bytes)| ExportLine {
            seq,
            // A ledger line vnx writes is UTF-8; any other byte is sent replaced, and its
            // hash will not match (and so be reported) here.
            line: String::from_utf8_lossy(&bytes).into_owned(),
        })
        .collect();
    Ok((lines, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_ledger_is_sent_a_page_at_a_time_and_a_huge_line_alone() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("ledger.ndjson");
        let mib = |c: u8| vec![c; 1 << 20];
        let mut text = Vec::new();
        for c in b'a'..=b'f' {
            text.extend(mib(c));
            text.push(b'\n');
        }
        std::fs::write(&ledger, &text).unwrap();
        let (sent, total) = super::lines(&ledger, After::From(1)).unwrap();
        assert_eq!(total, 6);
        let seqs: Vec<u64> = sent.iter().map(|l| l.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4], "four MiB, then the next answer");
        // A line longer than a page still goes, alone after the one compared.
        let mut text = mib(b'a');
        text.push(b'\n');
        text.extend(vec![b'b'; PAGE_BYTES + 1]);
        text.extend(b"\nc\n");
        std::fs::write(&ledger, &text).unwrap();
        let (sent, _) = super::lines(&ledger, After::From(1)).unwrap();
        let seqs: Vec<u64> = sent.iter().map(|l| l.seq).collect();
        assert_eq!(seqs, [1, 2]);
        let (sent, _) = super::lines(&ledger, After::From(2)).unwrap();
        assert_eq!(sent.iter().map(|l| l.seq).collect::<Vec<_>>(), [2, 3]);
    }
}
