//! Attestations in the standard format (issue 73): an in-toto Statement v1 about a dispatch's
//! merged commit and head, with what the ledger knows as its predicate (vnx's own, or SLSA
//! provenance v1), in a DSSE envelope signed with vnx's Ed25519 key (`dsse`); the facts read
//! from the ledger (`facts`); and an envelope checked against the ledger.

pub mod dsse;
pub mod facts;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::attest::Attestor;
use crate::checkpoint::Anchor;
use crate::ids::DispatchId;

pub use dsse::{DsseError, Envelope};
pub use facts::{Facts, FactsError};

/// The in-toto Statement's `_type`.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// vnx's predicate: [`Facts`] as JSON. A name, not a page to fetch.
pub const DISPATCH_PREDICATE: &str = "https://vnx.dev/attestation/dispatch/v1";
/// SLSA provenance v1.
pub const SLSA_PREDICATE: &str = "https://slsa.dev/provenance/v1";
/// The SLSA `buildType` of a dispatch: its external and internal parameters are vnx's.
pub const BUILD_TYPE: &str = "https://vnx.dev/attestation/dispatch-build/v1";
/// The SLSA builder: the vnx dispatcher.
pub const BUILDER_ID: &str = "https://vnx.dev/dispatcher";

/// Which predicate an attestation carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// vnx's own ([`DISPATCH_PREDICATE`]).
    Vnx,
    /// SLSA provenance v1 ([`SLSA_PREDICATE`]).
    Slsa,
}

impl Shape {
    /// Its predicate type.
    pub fn uri(self) -> &'static str {
        match self {
            Shape::Vnx => DISPATCH_PREDICATE,
            Shape::Slsa => SLSA_PREDICATE,
        }
    }

    fn of_uri(uri: &str) -> Option<Shape> {
        [Shape::Vnx, Shape::Slsa]
            .into_iter()
            .find(|s| s.uri() == uri)
    }
}

/// One subject of a Statement: a name and its digests (`gitCommit`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// What it is: the base ref the merge commit landed on, or the dispatch's branch.
    pub name: String,
    /// `{"gitCommit": "<sha>"}`.
    pub digest: BTreeMap<String, String>,
}

/// An in-toto Statement v1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The merged commit first (when merged), then the dispatch's head.
    pub subject: Vec<Subject>,
    /// The predicate's type.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    pub predicate: Value,
}

/// Why an attestation cannot be made, or does not hold.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// The ledger could not be read.
    #[error(transparent)]
    Facts(#[from] FactsError),
    /// The dispatch has no head to attest.
    #[error("dispatch {0} has no completed head to attest")]
    NoHead(DispatchId),
    /// Not a DSSE envelope of an in-toto Statement vnx makes.
    #[error("not an attestation vnx makes: {0}")]
    Malformed(String),
    /// The envelope's signature does not hold.
    #[error(transparent)]
    Signature(#[from] DsseError),
    /// It is signed, but the ledger says otherwise.
    #[error("the attestation of dispatch {id} does not match the ledger: {what}")]
    Differs {
        /// The dispatch it is about.
        id: DispatchId,
        /// What differs.
        what: String,
    },
}

impl AttestError {
    /// What a person can do.
    pub fn hint(&self) -> Option<String> {
        match self {
            AttestError::Facts(FactsError::NotStarted(_)) => {
                Some("`vnx status` lists the dispatches of this ledger".into())
            }
            AttestError::NoHead(_) => Some("attest a dispatch once it is done".into()),
            AttestError::Signature(_) => Some(
                "the envelope was changed after signing, or signed by a key not in \
                 .vnx/checkpoint-keys"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// The Statement's subjects: the merge commit (named by the ref it landed on), then the head
/// (named by the dispatch's branch).
pub fn subjects(f: &Facts) -> Vec<Subject> {
    let commit = |name: &str, sha: &str| Subject {
        name: name.to_owned(),
        digest: BTreeMap::from([("gitCommit".to_owned(), sha.to_owned())]),
    };
    let mut out = Vec::new();
    if let Some(m) = &f.merge {
        out.push(commit(&m.base_ref, &m.merge_commit));
    }
    if let Some(h) = &f.head_commit {
        out.push(commit(&f.branch, h));
    }
    out
}

/// The Statement about `f`'s dispatch with the predicate `shape`; `version` is vnx's, as the
/// SLSA builder names it.
pub fn statement(f: &Facts, shape: Shape, version: &str) -> Result<Statement, AttestError> {
    if f.head_commit.is_none() {
        let id =
            DispatchId::parse(&f.dispatch_id).map_err(|e| AttestError::Malformed(e.to_string()))?;
        return Err(AttestError::NoHead(id));
    }
    let predicate = match shape {
        Shape::Vnx => serde_json::to_value(f).expect("facts serialize"),
        Shape::Slsa => slsa(f, version),
    };
    Ok(Statement {
        statement_type: STATEMENT_TYPE.to_owned(),
        subject: subjects(f),
        predicate_type: shape.uri().to_owned(),
        predicate,
    })
}

/// SLSA provenance v1: the instruction and base as external parameters, what vnx decided
/// (CLI, posture, gates, approvals, review, merge) as internal ones, the base commit as the
/// dependency, the ledger's head and checkpoint as byproducts.
fn slsa(f: &Facts, version: &str) -> Value {
    let mut metadata = serde_json::Map::new();
    metadata.insert("invocationId".into(), json!(f.dispatch_id));
    if let Some(t) = &f.started_at {
        metadata.insert("startedOn".into(), json!(t));
    }
    if let Some(t) = &f.completed_at {
        metadata.insert("finishedOn".into(), json!(t));
    }
    let mut byproducts = vec![json!({
        "name": "ledger-head",
        "digest": {"sha256": f.ledger.head.line_sha256},
        "annotations": {"seq": f.ledger.head.seq},
    })];
    if let Some(c) = &f.ledger.checkpoint {
        byproducts.push(json!({
            "name": "checkpoint",
            "digest": {"sha256": c.head},
            "annotations": {"id": c.id, "lines": c.lines, "public_key": c.public_key},
        }));
    }
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "dispatch_id": f.dispatch_id,
                "role": f.role,
                "instruction_sha256": f.instruction_sha256,
                "base_ref": f.base_ref,
            },
            "internalParameters": {
                "cli": f.cli,
                "posture": f.posture,
                "status": f.status,
                "completion": f.completion,
                "corrected": f.corrected,
                "accepted": f.accepted,
                "gates": f.gates,
                "approvals": f.approvals,
                "review": f.review,
                "merge": f.merge,
            },
            "resolvedDependencies": [{
                "uri": format!("git+{}", f.base_ref),
                "digest": {"gitCommit": f.base_commit},
            }],
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID, "version": {"vnx": version}},
            "metadata": metadata,
            "byproducts": byproducts,
        },
    })
}

/// `statement` in a DSSE envelope signed by `attestor`.
pub fn sign(attestor: &Attestor, statement: &Statement) -> Envelope {
    let payload = serde_json::to_vec(statement).expect("a statement serializes");
    dsse::sign(attestor, &payload)
}

/// What a verified attestation is about.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verified {
    /// The dispatch.
    pub dispatch_id: String,
    /// Its subjects, as the ledger holds them too.
    pub subject: Vec<Subject>,
    /// Its predicate type.
    pub predicate_type: String,
    /// The DSSE key id of the trusted key that signed it.
    pub keyid: String,
}

/// The part of a predicate that says what the ledger held about the dispatch, less what moves
/// as the ledger grows (its head, the checkpoint, the time vnx ran): what `verify` compares.
fn settled(shape: Shape, predicate: &Value) -> Value {
    match shape {
        Shape::Vnx => {
            let mut p = predicate.clone();
            if let Some(o) = p.as_object_mut() {
                o.remove("ledger");
            }
            p
        }
        Shape::Slsa => predicate
            .get("buildDefinition")
            .cloned()
            .unwrap_or_default(),
    }
}

/// Checks `envelope` (its JSON) against the ledger: signed by one of `trusted`, an in-toto
/// Statement, its subjects the merge commit and head the ledger records for its dispatch, its
/// predicate what the ledger says now.
pub fn verify(
    envelope: &[u8],
    ledger: &Path,
    anchor: Option<&Anchor>,
    trusted: &[[u8; 32]],
) -> Result<Verified, AttestError> {
    let about = |d: &DispatchId| facts::lines_naming(ledger, d.as_str());
    verify_about(envelope, ledger, anchor, trusted, &about)
}

/// [`verify`], the lines about a dispatch taken from `about` (see [`facts::read_about`]).
pub fn verify_about(
    envelope: &[u8],
    ledger: &Path,
    anchor: Option<&Anchor>,
    trusted: &[[u8; 32]],
    about: facts::About<'_>,
) -> Result<Verified, AttestError> {
    let malformed = |what: &str| AttestError::Malformed(what.to_owned());
    let envelope: Envelope =
        serde_json::from_slice(envelope).map_err(|e| AttestError::Malformed(e.to_string()))?;
    let (payload, key) = dsse::open(&envelope, trusted)?;
    let statement: Statement = serde_json::from_slice(&payload)
        .map_err(|e| AttestError::Malformed(format!("its payload: {e}")))?;
    if statement.statement_type != STATEMENT_TYPE {
        return Err(malformed("its payload is not an in-toto Statement v1"));
    }
    let shape = Shape::of_uri(&statement.predicate_type)
        .ok_or_else(|| malformed("its predicate type is not one vnx makes"))?;
    let id_text = match shape {
        Shape::Vnx => statement.predicate.get("dispatch_id"),
        Shape::Slsa => statement
            .predicate
            .pointer("/buildDefinition/externalParameters/dispatch_id"),
    }
    .and_then(Value::as_str)
    .ok_or_else(|| malformed("its predicate names no dispatch"))?;
    let id = DispatchId::parse(id_text).map_err(|e| AttestError::Malformed(e.to_string()))?;
    let differs = |what: String| AttestError::Differs {
        id: id.clone(),
        what,
    };
    let facts = match facts::read_about(ledger, anchor, &id, trusted, about) {
        Err(FactsError::NotStarted(_)) => {
            return Err(differs("the ledger holds no attested start of it".into()));
        }
        read => read?,
    };
    // What vnx would state now (its version left out: `settled` does not compare it).
    let now = self::statement(&facts, shape, "")?;
    if now.subject != statement.subject {
        let names = |s: &[Subject]| {
            s.iter()
                .map(|s| {
                    format!(
                        "{} {}",
                        s.name,
                        s.digest.get("gitCommit").map_or("?", |d| d)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(differs(format!(
            "its subject is [{}], the ledger's [{}]",
            names(&statement.subject),
            names(&now.subject)
        )));
    }
    if settled(shape, &now.predicate) != settled(shape, &statement.predicate) {
        return Err(differs(
            "its predicate is not what the ledger says of the dispatch".into(),
        ));
    }
    Ok(Verified {
        dispatch_id: id.to_string(),
        subject: statement.subject,
        predicate_type: statement.predicate_type,
        keyid: dsse::keyid(&key),
    })
}

/// Where the attestation of `id`'s merge as `merge_commit` is kept, under the project's
/// data directory: `attestations/<id>-<merge_commit>.intoto.jsonl`.
pub fn file_name(id: &DispatchId, merge_commit: &str) -> String {
    format!("{id}-{merge_commit}.intoto.jsonl")
}
