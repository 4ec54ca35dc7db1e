//! `vnx attest`: a dispatch's in-toto attestation (a Statement v1 in a DSSE envelope signed
//! with vnx's key), the public key as PEM, or an attestation checked against the ledger.

use std::path::PathBuf;
use std::process::ExitCode;

use vnx::ledger::checkpoint::Anchor;
use vnx::ledger::intoto::{self, Shape, dsse};

use super::CliError;
use super::util::output::{Out, say};
use super::util::settings;

/// The predicates `--predicate` offers.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Predicate {
    /// vnx's own, https://vnx.dev/attestation/dispatch/v1: what the ledger knows
    Vnx,
    /// SLSA provenance v1, https://slsa.dev/provenance/v1
    Slsa,
}

/// Write, or check, a dispatch's in-toto attestation
///
/// Prints one DSSE envelope (one JSON line) holding an in-toto Statement v1 whose subjects
/// are the merge commit (once merged) and the dispatch's head, and whose predicate is what
/// the ledger knows: CLI and model, posture and sandbox or place, role, the instruction's
/// hash, gates and results, plans approved and permission answers, review comments, the
/// chain's head and the checkpoint anchoring it. Signed with the key that signs vnx's
/// receipts; `--public-key` prints it as PEM for verifiers. A merge writes its attestation to
/// .vnx-data/attestations/ itself.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx attest D-1a2b3c4d5e6f --predicate slsa > attestation.jsonl\n  $ vnx attest --public-key > vnx.pub.pem\n  $ vnx attest --verify attestation.jsonl"
)]
pub struct Args {
    /// The dispatch (an id or the start of one)
    #[arg(required_unless_present_any = ["public_key", "verify"], conflicts_with_all = ["public_key", "verify"])]
    id: Option<String>,
    /// The predicate
    #[arg(long, value_enum, default_value = "vnx")]
    predicate: Predicate,
    /// Print the signing key's public half as PEM (SubjectPublicKeyInfo)
    #[arg(long, conflicts_with = "verify")]
    public_key: bool,
    /// Check the attestation in FILE against the ledger: signed by a trusted key, its
    /// subjects the merge commit and head the ledger records, its predicate what the ledger
    /// says
    #[arg(long, value_name = "FILE")]
    verify: Option<PathBuf>,
    /// The signing key [default: $VNX_CHECKPOINT_KEY, else $XDG_CONFIG_HOME/vnx/checkpoint.key]
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
    /// With --verify: print what it verified as JSON
    #[arg(long)]
    json: bool,
}

/// The largest attestation `--verify` reads.
const MAX_ENVELOPE: u64 = 16 << 20;

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let mut out = Out::new();
    if args.public_key {
        let attestor = settings::attestor(args.key)?;
        for line in dsse::public_key_pem(&attestor.public_key()).lines() {
            out.line(line)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(file) = &args.verify {
        let project = settings::project()?;
        let ledger = project.ledger();
        let (attestor, trusted) = settings::attestation(args.key, &ledger)?;
        let bytes = vnx::files::read_named(file, MAX_ENVELOPE).map_err(|e| {
            CliError::new(format!("cannot read {}: {e}", file.display())).exit(super::Exit::Failed)
        })?;
        let anchor = Anchor::find(&ledger)?;
        let (index, key, witness) = index_settings(&project);
        let options = read_options(&index, &attestor, &trusted, &key, &witness);
        let about =
            |d: &vnx::ids::DispatchId| vnx::dispatch::fold::lines_about(&ledger, &options, d);
        let verified = intoto::verify_about(&bytes, &ledger, anchor.as_ref(), &trusted, &about)
            .map_err(|e| {
                CliError::from(e).context(format!("{} does not verify", file.display()))
            })?;
        if args.json {
            out.json(&verified)?;
        } else {
            let subjects: Vec<String> = verified
                .subject
                .iter()
                .map(|s| {
                    let sha = s.digest.get("gitCommit").map_or("?", String::as_str);
                    format!("{} {sha}", s.name)
                })
                .collect();
            out.line(&format!(
                "verified: {} of dispatch {} ({}), signed by key {}",
                verified.predicate_type,
                verified.dispatch_id,
                subjects.join(", "),
                verified.keyid
            ))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let given = args.id.expect("clap requires an id");
    let (project, ids) = super::util::ids::project_for(std::slice::from_ref(&given))?;
    let id = &ids[0];
    let ledger = project.ledger();
    let (attestor, trusted) = signer_and_trusted(args.key, &ledger)?;
    let anchor = Anchor::find(&ledger)?;
    // The read index serves the dispatch's own lines (it is authenticated by the machine's
    // key: with another `--key` the ledger is scanned instead).
    let (index, key, witness) = index_settings(&project);
    let options = read_options(&index, &attestor, &trusted, &key, &witness);
    let facts = vnx::merge::attestation::facts(&ledger, &options, anchor.as_ref(), id)
        .map_err(intoto::AttestError::from)?;
    if facts.merge.is_none() {
        say!("note: {id} is not merged: the attestation's subject is its head alone");
    }
    let shape = match args.predicate {
        Predicate::Vnx => Shape::Vnx,
        Predicate::Slsa => Shape::Slsa,
    };
    let statement = intoto::statement(&facts, shape, env!("CARGO_PKG_VERSION"))?;
    out.json(&intoto::sign(&attestor, &statement))?;
    Ok(ExitCode::SUCCESS)
}

/// Where the read index is, this machine's key and its witness directory.
fn index_settings(project: &vnx::project::Project) -> (PathBuf, Option<PathBuf>, Option<PathBuf>) {
    let index = vnx::dispatch::fold::index::path_in(&project.data_dir());
    (
        index,
        settings::key_path(None).ok(),
        settings::witness_dir(),
    )
}

/// How `vnx attest` reads a dispatch's lines: through the read index, never writing it.
fn read_options<'a>(
    index: &'a std::path::Path,
    attestor: &'a vnx::ledger::attest::Attestor,
    trusted: &'a [[u8; 32]],
    key: &'a Option<PathBuf>,
    witness: &'a Option<PathBuf>,
) -> vnx::dispatch::fold::ReadOptions<'a> {
    vnx::dispatch::fold::ReadOptions {
        index: Some(index),
        attestor: Some(attestor),
        trusted,
        key: key.as_deref(),
        witness_dir: witness.as_deref(),
        threads: settings::threads(None),
        max_violations: 0,
        write: false,
    }
}

/// The key that signs (`--key`, else the machine's), and the keys whose receipts count: the
/// project's (`.vnx/checkpoint-keys`), the signer's and the machine's own, so that another
/// key can sign what this machine's receipts say.
fn signer_and_trusted(
    key: Option<PathBuf>,
    ledger: &std::path::Path,
) -> Result<(vnx::ledger::attest::Attestor, Vec<[u8; 32]>), CliError> {
    let (attestor, mut trusted) = settings::attestation(key, ledger)?;
    let own = settings::key_path(None)?;
    // Once: the read index is used only under the keys it was written with.
    if let Some(k) = vnx::ledger::checkpoint::CheckpointKey::load(&own)?
        && !trusted.contains(&k.public_key())
    {
        trusted.push(k.public_key());
    }
    Ok((attestor, trusted))
}
