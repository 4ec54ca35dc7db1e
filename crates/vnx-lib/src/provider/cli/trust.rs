//! A CLI's trust of a folder: whether its TUI will start in a dispatch's worktree without
//! asking first, for a CLI that asks once per folder and whose trust of the main checkout
//! covers the worktrees under it. doctor says what to do once ([`FolderTrust`], from each
//! CLI's `CodingCli::folder_trust`); a dispatch whose TUI stops at that dialog, or at another
//! it shows before its first turn, is blocked on it, and a person answers it with
//! `vnx approve`/`vnx deny` ([`StartDialog`], from `CodingCli::start_dialogs`), as a dialog
//! it shows before a tool runs is ([`PaneDialog`], from `CodingCli::pane_dialog`).

use std::path::PathBuf;

use crate::receipts::PermissionAnswer;

/// What a CLI's own record says of its trust in a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderTrust {
    /// The file the CLI records its trust in.
    pub file: PathBuf,
    /// Whether it trusts the repository or a folder above it.
    pub trusted: bool,
    /// What its dialog asks, quoted in a warning (`"Trust this folder?"`).
    pub dialog: &'static str,
    /// The answer to give it once in the repository.
    pub answer: &'static str,
}

/// A dialog a TUI shows before its first turn (in a folder it does not trust, or for a
/// posture its user never accepted), as its screen shows it: the supervisor blocks the
/// dispatch on it, and `vnx approve`/`vnx deny` type its keys. The person decides; vnx never
/// trusts a folder or accepts a disclaimer for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartDialog {
    /// A line the dialog shows while it waits.
    pub marker: &'static str,
    /// What it asks, as the blocked receipt names it.
    pub asks: &'static str,
    /// The key that accepts (trusts the folder, accepts the posture).
    pub approve: &'static str,
    /// The key that refuses (the CLI then exits).
    pub deny: &'static str,
    /// Whether it asks to trust the folder (what doctor's trust check warns of).
    pub trusts_folder: bool,
}

/// The permission dialog a TUI shows in its pane before a tool runs, as its real screen shows
/// it: `vnx approve`/`vnx deny` type its keys where no hook of its can answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaneDialog {
    /// A line it shows while it waits for its key.
    pub marker: &'static str,
    /// The key that allows the tool once.
    pub approve: &'static str,
    /// The key that refuses it.
    pub deny: &'static str,
}

impl PaneDialog {
    /// The key that gives `answer`.
    pub fn key(&self, answer: PermissionAnswer) -> &'static str {
        match answer {
            PermissionAnswer::Approve => self.approve,
            PermissionAnswer::Deny => self.deny,
        }
    }
}
