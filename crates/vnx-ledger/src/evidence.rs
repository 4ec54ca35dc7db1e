//! What the ledger holds about one dispatch, for gates and merges: its start (role, base,
//! branch), its completion (status, head), a phantom guard's correction, a person's
//! acceptance of its work (`vnx accept`: done, at the head vnx read), every gate
//! request and result, and its pull request's receipts (`vnx pr`); and the contract hash that ties a gate's request to its result. Only
//! receipts attested by a trusted key count; the others are set aside as unattested, for the
//! caller to name.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::LedgerError;
use crate::attest::{self, Attestation};
use crate::json::{self, Object, Value};
use crate::receipts::{
    self, DispatchAccepted, DispatchCompleted, DispatchCorrected, DispatchStarted, DispatchStatus,
    GateRequest, GateResult, Kind, PrClosed, PrMerged, PrOpened,
};
use crate::tail;

/// A receipt as read back: its fields, its line number and the SHA-256 of its line.
#[derive(Clone, Debug)]
pub struct Line {
    /// Its members as parsed.
    pub fields: Object<'static>,
    /// Its line number, as the line records it.
    pub seq: Option<u64>,
    /// SHA-256 of the line's bytes.
    pub line_sha256: String,
}

impl Line {
    /// A string member, as the line holds it (an unattested line has no trusted shape).
    pub fn text(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    fn event(&self) -> &str {
        self.text("event_type").unwrap_or_default()
    }
}

/// A receipt a trusted key attests, typed, with the line it was read from.
#[derive(Clone, Debug)]
pub struct Evidenced<K> {
    /// The receipt, typed.
    pub receipt: K,
    /// The line it was read from (for its number, hash and exact members).
    pub line: Line,
}

impl<K> Evidenced<K> {
    /// The receipt's line number.
    pub fn seq(&self) -> Option<u64> {
        self.line.seq
    }

    /// The receipt's line, as a merge or pull request records the completion it rests on.
    pub fn reference(&self) -> receipts::merge::CompletionRef {
        receipts::merge::CompletionRef {
            seq: self.seq(),
            line_sha256: self.line.line_sha256.clone(),
        }
    }
}

/// Everything the ledger says about one dispatch, in ledger order.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    /// The first attested `dispatch_started`: what the dispatch was started as.
    pub started: Option<Evidenced<DispatchStarted>>,
    /// Attested `dispatch_started`s after the first: a dispatch starts once, so each is a
    /// forgery (a place's words re-attested, say), never what the dispatch is; a merge is
    /// refused while the ledger holds one.
    pub restarted: Vec<Line>,
    /// The last `dispatch_completed`.
    pub completed: Option<Evidenced<DispatchCompleted>>,
    /// The last `dispatch_corrected` after it.
    pub corrected: Option<Evidenced<DispatchCorrected>>,
    /// The last `dispatch_accepted` after it: a person accepted the work as done, at the
    /// head it names.
    pub accepted: Option<Evidenced<DispatchAccepted>>,
    /// Every `gate_request`, in ledger order.
    pub requests: Vec<Evidenced<GateRequest>>,
    /// Every `gate_result`, in ledger order.
    pub results: Vec<Evidenced<GateResult>>,
    /// Every `pr_opened` (its head pushed, its pull request opened or updated), in ledger
    /// order.
    pub prs_opened: Vec<Evidenced<PrOpened>>,
    /// The last `pr_merged`: its pull request merged on the forge.
    pub pr_merged: Option<Evidenced<PrMerged>>,
    /// Every `pr_closed`, in ledger order.
    pub prs_closed: Vec<Evidenced<PrClosed>>,
    /// Every `plan_approved` of its plan (a planning dispatch's), in ledger order.
    pub plans_approved: Vec<Evidenced<receipts::PlanApproved>>,
    /// Receipts of these kinds about the dispatch that no trusted key attests: written by
    /// something other than vnx (a worker, say), and ignored.
    pub unattested: Vec<(Line, Attestation)>,
}

/// A full commit id as git writes it (SHA-1 or SHA-256, lowercase hex): the only form a
/// commit read from the ledger is passed to git in.
pub use crate::ids::is_commit_id;
use crate::ids::{CommitId, DispatchId};

fn typed<K: Kind>(line: Line) -> Option<Evidenced<K>> {
    let receipt = receipts::read::<K>(&line.fields)?.receipt;
    Some(Evidenced { receipt, line })
}

impl Evidence {
    /// Reads the ledger's receipts about dispatch `id`; only those attested by one of
    /// `trusted` count (see [`attest::check`]). An attested receipt that does not have its
    /// kind's shape is not evidence either.
    pub fn read(
        ledger: &Path,
        id: &DispatchId,
        trusted: &[[u8; 32]],
    ) -> Result<Evidence, LedgerError> {
        let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
            memchr::memmem::find(l, id.as_str().as_bytes()).is_some()
        })?;
        Ok(Evidence::of_lines(&lines, id, trusted))
    }

    /// [`Evidence::read`] of ledger lines already read (in ledger order; lines about other
    /// dispatches are skipped), for a caller that reads more of them than evidence.
    pub fn of_lines(lines: &[Vec<u8>], id: &DispatchId, trusted: &[[u8; 32]]) -> Evidence {
        let mut e = Evidence::default();
        for raw in lines {
            let Some(fields) = json::object_of_line(raw) else {
                continue;
            };
            let line = Line {
                seq: fields.get("seq").and_then(Value::as_u64),
                line_sha256: hex::encode(Sha256::digest(raw)),
                fields,
            };
            if line.text("dispatch_id") != Some(id.as_str()) {
                continue;
            }
            let evidence = matches!(
                line.event(),
                "dispatch_started"
                    | "dispatch_completed"
                    | "dispatch_corrected"
                    | "dispatch_accepted"
                    | "gate_request"
                    | "gate_result"
                    | "pr_opened"
                    | "pr_merged"
                    | "pr_closed"
                    | "plan_approved"
            );
            if evidence {
                let attestation = attest::check(&line.fields, trusted);
                if !attestation.is_valid() {
                    e.unattested.push((line, attestation));
                    continue;
                }
            }
            match line.event() {
                DispatchStarted::EVENT if e.started.is_some() => e.restarted.push(line),
                DispatchStarted::EVENT => e.started = typed(line),
                DispatchCompleted::EVENT => {
                    e.completed = typed(line);
                    e.corrected = None;
                    e.accepted = None;
                }
                DispatchCorrected::EVENT => e.corrected = typed(line),
                // Only an acceptance of the completion on the ledger counts.
                DispatchAccepted::EVENT => {
                    let accepted: Option<Evidenced<DispatchAccepted>> = typed(line);
                    let of_it = accepted.as_ref().is_some_and(|a| {
                        e.completed
                            .as_ref()
                            .is_some_and(|c| a.receipt.completion.line_sha256 == c.line.line_sha256)
                    });
                    if of_it {
                        e.accepted = accepted;
                    }
                }
                GateRequest::EVENT => e.requests.extend(typed(line)),
                GateResult::EVENT => e.results.extend(typed(line)),
                PrOpened::EVENT => e.prs_opened.extend(typed(line)),
                PrMerged::EVENT => e.pr_merged = typed(line),
                PrClosed::EVENT => e.prs_closed.extend(typed(line)),
                receipts::PlanApproved::EVENT => e.plans_approved.extend(typed(line)),
                _ => {}
            }
        }
        e
    }

    /// The newest `dispatch_started` no trusted key attests, if any (as the line holds it:
    /// whoever wrote it, it has no trusted shape).
    pub fn unattested_start(&self) -> Option<&Line> {
        self.unattested
            .iter()
            .rev()
            .map(|(l, _)| l)
            .find(|l| l.event() == DispatchStarted::EVENT)
    }

    /// One line per receipt that is not evidence but a sign of forgery: an unattested one
    /// (`line N: <event> … carries no vnx attestation`) or a second start.
    pub fn unattested_lines(&self) -> Vec<String> {
        let at = |l: &Line| l.seq.map_or_else(String::new, |s| format!("line {s}: "));
        let first = (self.started.as_ref()).map_or_else(String::new, |s| match s.seq() {
            Some(seq) => format!(" (line {seq})"),
            None => String::new(),
        });
        (self.unattested.iter())
            .map(|(l, a)| format!("{}{} {}", at(l), l.event(), a.describe()))
            .chain(self.restarted.iter().map(|l| {
                format!(
                    "{}dispatch_started again, after its first start{first}: a dispatch \
                     starts once",
                    at(l)
                )
            }))
            .collect()
    }

    /// Whether the dispatch succeeded, as the ledger says: completed `done` and not
    /// corrected, or its completion accepted as done by a person; otherwise why not.
    pub fn verdict(&self, id: &DispatchId) -> Result<(), String> {
        match (&self.completed, &self.corrected) {
            (None, _) => Err(format!("dispatch {id} has not completed")),
            (Some(_), _) if self.accepted.is_some() => Ok(()),
            (Some(_), Some(c)) => Err(format!(
                "dispatch {id} was corrected to {}: {}",
                c.receipt.status, c.receipt.reason
            )),
            (Some(c), None) if c.receipt.status == DispatchStatus::Done => Ok(()),
            (Some(c), None) => Err(format!(
                "dispatch {id} ended {}, not done",
                c.receipt.status
            )),
        }
    }

    /// The head the completion recorded, if it is a well-formed commit id; once the work was
    /// accepted, the head the acceptance names.
    pub fn head(&self) -> Option<&CommitId> {
        if let Some(a) = &self.accepted {
            return Some(&a.receipt.head_commit);
        }
        self.completed
            .as_ref()
            .and_then(|c| c.receipt.head_commit.as_ref())
    }

    /// The commit the dispatch started from, if well-formed.
    pub fn base_commit(&self) -> Option<&CommitId> {
        self.started.as_ref().map(|s| &s.receipt.base_commit)
    }

    /// The dispatch's role, from its start.
    pub fn role(&self) -> Option<&str> {
        self.started.as_ref().map(|s| s.receipt.role.as_str())
    }

    /// The gates the dispatch's task asked for beside its role's, from its start.
    pub fn asked_gates(&self) -> &[String] {
        self.started.as_ref().map_or(&[], |s| &s.receipt.gates)
    }

    /// The newest result of `gate` for `head`.
    pub fn latest_result(&self, gate: &str, head: &str) -> Option<&Evidenced<GateResult>> {
        self.results
            .iter()
            .rev()
            .find(|r| r.receipt.gate == gate && r.receipt.head_commit == head)
    }

    /// The request a result answers: same gate and contract hash, written before it.
    pub fn request_of(&self, result: &Evidenced<GateResult>) -> Option<&Evidenced<GateRequest>> {
        self.requests.iter().rev().find(|r| {
            r.receipt.contract_hash == result.receipt.contract_hash
                && r.receipt.gate == result.receipt.gate
                && r.seq() < result.seq()
        })
    }
}

/// SHA-256 of a value's canonical JSON.
pub fn sha256_of(value: &Value<'_>) -> String {
    hex::encode(Sha256::digest(json::to_canonical(value)))
}

/// The contract hash: SHA-256 of the canonical JSON of the dispatch id, the gate's name and
/// definition, the head commit and the request's SHA-256. A result counts only for the
/// contract it names.
pub fn contract_hash(
    dispatch_id: &DispatchId,
    gate: &str,
    definition: &Value<'_>,
    head_commit: &str,
    request_sha256: &str,
) -> String {
    let mut o = Object::default();
    o.insert("dispatch_id", Value::string(dispatch_id.as_str()));
    o.insert("gate", Value::string(gate));
    o.insert("definition", definition.clone().into_owned());
    o.insert("head_commit", Value::string(head_commit));
    o.insert("request_sha256", Value::string(request_sha256));
    sha256_of(&Value::Object(o))
}

/// Whether a request receipt's contract hash is the one its own members give (the
/// definition as the line holds it, byte for byte).
pub fn request_is_consistent(request: &Evidenced<GateRequest>, dispatch_id: &DispatchId) -> bool {
    let r = &request.receipt;
    request.line.fields.get("definition").is_some_and(|def| {
        contract_hash(
            dispatch_id,
            &r.gate,
            def,
            r.head_commit.as_str(),
            &r.request_sha256,
        ) == r.contract_hash
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispatch_is_what_its_first_start_says_and_a_second_start_is_a_forgery() {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) =
            crate::checkpoint::CheckpointKey::load_or_create(&dir.path().join("k/key")).unwrap();
        let attestor = attest::Attestor::new(&key);
        let ledger = dir.path().join("ledger.ndjson");
        let example = include_str!("../../../receipts/examples/dispatch_started.json");
        let mut start: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(example).unwrap();
        for envelope in [
            "seq",
            "prev_hash",
            "prev_line_sha256",
            "vnx_attestation",
            "timestamp",
        ] {
            start.remove(envelope);
        }
        let id = DispatchId::parse(start["dispatch_id"].as_str().unwrap()).unwrap();
        for role in ["implementer", "reviewer"] {
            start.insert("role".into(), role.into());
            let text = serde_json::Value::Object(start.clone()).to_string();
            let receipt = crate::receipt::Receipt::from_json(text.as_bytes()).unwrap();
            let attested = attestor.attest(&receipt, &crate::append::now_utc);
            crate::Ledger::new(&ledger).append(&attested).unwrap();
        }
        let ev = Evidence::read(&ledger, &id, &[attestor.public_key()]).unwrap();
        assert_eq!(
            ev.role(),
            Some("implementer"),
            "the first start is the dispatch"
        );
        let lines = ev.unattested_lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("line 2: dispatch_started again, after its first start (line 1)"),
            "{lines:?}"
        );
    }

    #[test]
    fn commit_ids_are_full_lowercase_hex() {
        assert!(is_commit_id(&"a".repeat(40)));
        assert!(is_commit_id(&"0".repeat(64)));
        assert!(!is_commit_id(&"A".repeat(40)));
        assert!(!is_commit_id("--output=/tmp/x"));
        assert!(!is_commit_id(&"a".repeat(41)));
    }

    #[test]
    fn the_contract_hash_covers_each_part() {
        let def = json::parse(r#"{"kind":"command","argv":["true"]}"#, json::Mode::Strict).unwrap();
        let d1 = DispatchId::parse("D-1").unwrap();
        let d2 = DispatchId::parse("D-2").unwrap();
        let base = contract_hash(&d1, "t", &def, "h", "r");
        assert_eq!(base.len(), 64);
        let other =
            json::parse(r#"{"kind":"command","argv":["false"]}"#, json::Mode::Strict).unwrap();
        for changed in [
            contract_hash(&d2, "t", &def, "h", "r"),
            contract_hash(&d1, "u", &def, "h", "r"),
            contract_hash(&d1, "t", &other, "h", "r"),
            contract_hash(&d1, "t", &def, "i", "r"),
            contract_hash(&d1, "t", &def, "h", "s"),
        ] {
            assert_ne!(changed, base);
        }
    }
}
