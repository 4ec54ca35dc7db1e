//! What a supervisor writes while its dispatch runs: each change of live state as a signed
//! receipt appended at once (blocked, stalled, resumed, waiting on background work), and the user's notification for it.
//! A receipt that cannot be appended is noted in the worker's log and skipped: the live
//! state is advice, the completion is the evidence.

use std::io::Write;
use std::time::Duration;

use crate::dispatch::Spec;
use crate::dispatch::supervise::live::Change;
use crate::dispatch::supervise::notify::Notifier;
use crate::ids::DispatchId;
use crate::ledger::attest::Attestor;
use crate::receipts::Kind;

/// Appends a running dispatch's receipts and runs its notifications.
pub struct Recorder<'a> {
    id: DispatchId,
    ledger: std::path::PathBuf,
    attestor: &'a Attestor,
    notifier: Notifier,
}

impl<'a> Recorder<'a> {
    /// A recorder for `spec`'s dispatch, appending to its ledger, notifying through its
    /// `notify` command, the notifications naming its title.
    pub fn new(spec: &Spec, attestor: &'a Attestor) -> Self {
        Recorder {
            id: spec.id.clone(),
            ledger: spec.ledger.clone(),
            attestor,
            notifier: Notifier::new(&spec.notify).titled(&spec.title),
        }
    }

    /// Notifies a change that is already on the ledger (`hash`: its entry hash; `message`:
    /// what it is about, in a line).
    pub fn notify(&mut self, state: &str, hash: &str, message: &str) {
        self.notifier.fire(&self.id, state, hash, message);
    }

    /// Appends `kind`, signed, and notifies it as `state` with `message`.
    pub fn record<K: Kind>(&mut self, kind: &K, state: &str, message: &str, log: &mut impl Write) {
        match self.attestor.record(&self.ledger, kind) {
            Ok(outcome) => {
                if let Some(line) = outcome.lines.last() {
                    self.notifier
                        .fire(&self.id, state, &line.entry_hash, message);
                }
            }
            Err(e) => {
                let _ = writeln!(log, "vnx: could not record {state}: {e}");
            }
        }
    }

    /// Records each change of live state in `changes`, in order.
    pub fn change(&mut self, changes: impl IntoIterator<Item = Change>, log: &mut impl Write) {
        for change in changes {
            match &change {
                Change::Blocked(b) => {
                    let message = crate::provider::transcript::question(&b.describe(), 200);
                    self.record(b, "blocked", &message, log);
                }
                Change::Stalled(s) => self.record(s, "stalled", "", log),
                Change::Resumed(r) => self.record(r, "running", "", log),
                Change::Background(b) => self.record(b, "running", &b.describe(), log),
            }
        }
    }

    /// Waits a little for notifications still running.
    pub fn finish(self) {
        self.notifier.finish(Duration::from_secs(10));
    }
}
