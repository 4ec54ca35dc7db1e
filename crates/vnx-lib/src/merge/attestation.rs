//! The in-toto attestation a merge leaves (issue 73): after `merge_completed` and its
//! checkpoint, the Statement about the merge commit and the dispatch's head in a DSSE
//! envelope signed with vnx's key, one line in
//! `.vnx-data/attestations/<id>-<merge commit>.intoto.jsonl`. A merge never fails for it: what
//! went wrong is said in its `error`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Context;
use crate::dispatch::fold;
use crate::ids::{CommitId, DispatchId};
use crate::ledger::checkpoint::Anchor;
use crate::ledger::intoto::{self, Shape};

/// The folder under the project's data directory attestations are kept in.
pub const DIR: &str = "attestations";

/// The attestation a merge wrote, or why it could not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Written {
    /// The file (one DSSE envelope, one line).
    pub path: Option<PathBuf>,
    /// SHA-256 of its bytes.
    pub sha256: Option<String>,
    /// Why none was written (the merge stands).
    pub error: Option<String>,
}

/// The file of `id`'s merge as `merge_commit` under `data_dir`.
pub fn path(data_dir: &Path, id: &DispatchId, merge_commit: &CommitId) -> PathBuf {
    data_dir
        .join(DIR)
        .join(intoto::file_name(id, merge_commit.as_str()))
}

/// What the ledger at `ledger` knows of dispatch `id` for its attestation
/// ([`intoto::facts::read_about`]): each dispatch's lines read where the read index cites
/// them when it serves the ledger as it is (an attestation then reads its own lines, not the
/// ledger), else found by one scan of the ledger. Signatures are checked on what is read.
pub fn facts(
    ledger: &Path,
    options: &fold::ReadOptions<'_>,
    anchor: Option<&Anchor>,
    id: &DispatchId,
) -> Result<intoto::facts::Facts, intoto::facts::FactsError> {
    let about = |d: &DispatchId| fold::lines_about(ledger, options, d);
    intoto::facts::read_about(ledger, anchor, id, options.trusted, &about)
}

/// Writes the attestation of `id`'s merge as `merge_commit` (vnx's predicate).
pub(super) fn write(ctx: &Context<'_>, id: &DispatchId, merge_commit: &CommitId) -> Written {
    let r = &ctx.reading;
    let made = (|| -> Result<(PathBuf, String), String> {
        let anchor = Anchor::discover(r.root).map_err(|e| e.to_string())?;
        let index = fold::index::path_in(&crate::project::Project::at(r.root).data_dir());
        let options = r.index_only(&index, ctx.attestor);
        let facts = facts(r.ledger, &options, Some(&anchor), id).map_err(|e| e.to_string())?;
        let statement = intoto::statement(&facts, Shape::Vnx, env!("CARGO_PKG_VERSION"))
            .map_err(|e| e.to_string())?;
        let envelope = intoto::sign(ctx.attestor, &statement);
        let mut line = serde_json::to_vec(&envelope).expect("an envelope serializes");
        line.push(b'\n');
        let data_dir = crate::project::Project::at(r.root).data_dir();
        let file = path(&data_dir, id, merge_commit);
        let dir = file.parent().expect("a file in a folder");
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        crate::files::write_atomic(&file, &line, 0o644, true)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        Ok((file, hex::encode(Sha256::digest(&line))))
    })();
    match made {
        Ok((path, sha256)) => Written {
            path: Some(path),
            sha256: Some(sha256),
            error: None,
        },
        Err(error) => Written {
            error: Some(error),
            ..Written::default()
        },
    }
}
