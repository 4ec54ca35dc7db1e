//! Catching up with a place (an ssh host, a dispatch's container): its ledger's new lines
//! fetched through the place,
//! checked against what was mirrored before (the last one sent again and compared, each new
//! one linked to the one before) and mirrored here as signed `remote_receipt`s; then the
//! host's receipts about this machine's dispatches re-attested here (with a `remote` member
//! naming the mirrored line), a finished dispatch's branch fetched into
//! `refs/heads/dispatch/<id>` first, the host's checkpoints fetched into
//! `refs/vnx/hosts/<name>/checkpoint`, and a dispatch the host lost, or a host out of reach
//! for longer than it may be, recorded as `remote_lost`.

use crate::ids::{CommitId, DispatchId, Timestamp};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::wire::{After, Export};
use super::{Place, RemoteError, io};
use crate::ledger::append::now_utc;
use crate::ledger::attest::Attestor;
use crate::ledger::json::{self, Mode, Value};
use crate::ledger::{Ledger, Receipt};
use crate::mirror::{Mirrors, line_sha256, links_of};
use crate::project::Project;
use crate::receipts::{self, RemoteLost, RemoteReceipt};

/// How long one catch-up may take on the wire.
const SYNC_LIMIT: Duration = Duration::from_secs(60);

/// What is needed to talk to one host on behalf of this project.
pub struct Link<'a> {
    /// The project.
    pub project: &'a Project,
    /// Its ledger.
    pub ledger: &'a Path,
    /// Signs what is written here.
    pub attestor: &'a Attestor,
    /// Where the dispatches run, and how it is reached.
    pub place: Box<dyn Place>,
}

/// What this machine keeps about a dispatch it started on a host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The host.
    pub host: String,
    /// The base as the dispatcher named it here.
    pub base_ref: String,
    /// The commit it resolved to (pushed to the host).
    pub base_commit: CommitId,
    /// When it was dispatched.
    pub dispatched_at: String,
    /// What this machine asked the place to start, which the place's start is held to.
    /// Absent: recorded by a vnx from before (nothing is held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked: Option<super::asked::Asked>,
}

/// `.vnx-data/remote/dispatches/<id>.json`.
pub fn record_path(data_dir: &Path, id: &DispatchId) -> PathBuf {
    super::remote_dir(data_dir)
        .join("dispatches")
        .join(format!("{id}.json"))
}

/// Keeps a dispatch's record.
pub fn write_record(data_dir: &Path, id: &DispatchId, record: &Record) -> Result<(), RemoteError> {
    let path = record_path(data_dir, id);
    if let Some(dir) = path.parent() {
        crate::files::private_dir(dir).map_err(io(dir))?;
    }
    let data = serde_json::to_vec_pretty(record).unwrap_or_default();
    crate::files::write_atomic_private(&path, &data, true).map_err(io(&path))
}

/// A dispatch's record, if this machine started it on a host.
pub fn read_record(data_dir: &Path, id: &DispatchId) -> Option<Record> {
    let data = std::fs::read(record_path(data_dir, id)).ok()?;
    serde_json::from_slice(&data).ok()
}

fn host_dir(data_dir: &Path, host: &str) -> PathBuf {
    super::remote_dir(data_dir).join("hosts").join(host)
}

/// When the host last answered (RFC 3339), if it ever did.
pub fn last_contact(data_dir: &Path, host: &str) -> Option<String> {
    std::fs::read_to_string(host_dir(data_dir, host).join("contact"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// What one catch-up did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CatchUp {
    /// The host.
    pub host: String,
    /// Host lines newly mirrored.
    pub mirrored: usize,
    /// Receipts re-attested here: (dispatch, event).
    pub translated: Vec<(String, String)>,
    /// Dispatches recorded lost.
    pub lost: Vec<DispatchId>,
    /// Dispatches given up on before, found running again.
    pub found: Vec<DispatchId>,
    /// The host's vnx version.
    pub host_vnx: String,
    /// Whether the place, made for one dispatch, was parked (its work fetched here): what
    /// ran it removed, what holds its work kept.
    pub parked: bool,
    /// The dispatches asked after that the place does not know (it never started them).
    pub unknown: Vec<DispatchId>,
}

/// Catches up with the link's host: see the module's description. `ids` are the dispatches
/// of this machine that run there (their state is asked for).
pub fn catch_up(link: &Link<'_>, ids: &[DispatchId]) -> Result<CatchUp, RemoteError> {
    catch_up_asking(link, ids, &[], Duration::ZERO)
}

/// A dispatch given up on with its host (`remote_lost`), and when it was.
pub type GivenUp = (DispatchId, Option<jiff::Timestamp>);

/// [`catch_up`], the host waiting up to `wait` for a new line when it has none (a long poll:
/// one round trip tells at once when something happens there), also asking after
/// `given_up`: each one the host still runs is recorded running again (a `dispatch_resumed`
/// after `lost`).
pub fn catch_up_asking(
    link: &Link<'_>,
    ids: &[DispatchId],
    given_up: &[GivenUp],
    wait: Duration,
) -> Result<CatchUp, RemoteError> {
    let data = link.project.data_dir();
    let host = link.place.name().to_owned();
    let dir = host_dir(&data, &host);
    crate::files::private_dir(&dir).map_err(io(&dir))?;
    let lock_path = dir.join("lock");
    let _lock = crate::files::lock_file(&lock_path, true).map_err(io(&lock_path))?;
    let mirrors = Mirrors::read(link.ledger)?;
    refused_before(&mirrors, &host, &dir)?;
    let last = mirrors.last(&host);
    // A first contact with an empty ledger mirrors nothing, but remembers where the host's
    // lines will start.
    let anchor_path = dir.join("anchor");
    let anchor = std::fs::read_to_string(&anchor_path)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let after = match (&last, anchor) {
        (Some((seq, _)), _) => After::From(*seq),
        (None, Some(from)) => After::From(from),
        (None, None) => After::Tail,
    };
    let mut args = vec![
        "__remote-sync".to_owned(),
        "--after".to_owned(),
        after.arg(),
    ];
    for id in ids.iter().chain(given_up.iter().map(|(id, _)| id)) {
        args.push("--dispatch".into());
        args.push(id.to_string());
    }
    if !wait.is_zero() && last.is_some() {
        args.push("--wait-ms".into());
        args.push(wait.as_millis().to_string());
    }
    let answer = match link.place.vnx(&args, None, SYNC_LIMIT + wait) {
        Ok(out) => out,
        Err(e @ RemoteError::Unreachable { .. }) => {
            give_up_if_gone(link, ids)?;
            return Err(e);
        }
        Err(RemoteError::Gone { place, state }) => {
            // The engine says so: lost now, its volume (and so its work) kept.
            for id in ids {
                record_lost(link, id, format!("`{place}` is gone ({state})"), None)?;
            }
            return Err(RemoteError::Gone { place, state });
        }
        Err(e) => return Err(e),
    };
    if answer.stdout.len() >= super::wire::MAX_ANSWER {
        return Err(RemoteError::BadAnswer {
            host,
            command: "vnx __remote-sync".into(),
            detail: format!(
                "its answer is longer than the {} MiB read of it",
                super::wire::MAX_ANSWER >> 20
            ),
        });
    }
    let export = match serde_json::from_slice::<Export>(&answer.stdout) {
        Ok(export) if answer.status.success() => export,
        failed => {
            // A host whose vnx is missing or too old says so precisely.
            super::launch::check_vnx(link)?;
            return Err(match failed {
                Err(e) if answer.status.success() => RemoteError::BadAnswer {
                    host: host.clone(),
                    command: "vnx __remote-sync".into(),
                    detail: e.to_string(),
                },
                _ => RemoteError::Remote {
                    host,
                    command: "vnx __remote-sync".into(),
                    status: answer.status.code().unwrap_or(-1),
                    stderr: String::from_utf8_lossy(&answer.stderr).trim().to_owned(),
                },
            });
        }
    };
    if super::parse_version(&export.vnx_version).is_none_or(|v| v < super::MIN_HOST_VERSION) {
        return Err(RemoteError::VnxTooOld {
            host,
            found: export.vnx_version,
        });
    }
    let contact = now_utc();
    crate::files::write_atomic_private(&dir.join("contact"), contact.as_bytes(), false)
        .map_err(io(&dir))?;
    let mut done = CatchUp {
        host: host.clone(),
        host_vnx: export.vnx_version.clone(),
        unknown: (ids.iter())
            .filter(|id| !export.states.contains_key(id.as_str()))
            .cloned()
            .collect(),
        ..CatchUp::default()
    };
    if last.is_none() && anchor.is_none() && export.lines.is_empty() {
        let from = (export.ledger_lines + 1).to_string();
        crate::files::write_atomic_private(&anchor_path, from.as_bytes(), true)
            .map_err(io(&anchor_path))?;
    }
    let starts = super::asked::started_there(&mirrors, &host);
    mirror_lines(link, (&host, starts), last, &export, &mut done)?;
    translate(link, &host, (ids, &export.refs), &mut done)?;
    fetch_checkpoints(link, &export.refs)?;
    settle(link, (ids, given_up), &export, &contact, &mut done)?;
    Ok(done)
}

/// Refuses a host that was found out before: a break in its chain, once found, stays found
/// (its rewritten line, mirrored as evidence, must never become the point its rewritten chain
/// goes on from), as does a forgery its chain cannot show.
fn refused_before(mirrors: &Mirrors, host: &str, dir: &Path) -> Result<(), RemoteError> {
    let own = Mirrors {
        lines: mirrors
            .lines
            .iter()
            .filter(|m| m.receipt.host == host)
            .cloned()
            .collect(),
        origins: Vec::new(),
    };
    if let Some(p) = crate::mirror::check(&own, &[]).into_iter().next() {
        return Err(RemoteError::ChainBroken {
            host: host.to_owned(),
            detail: format!("line {} of this ledger: {}", p.line, p.detail),
        });
    }
    if let Ok(detail) = crate::files::read_named(&dir.join(REFUSED_MARK), 4096) {
        return Err(RemoteError::Forged {
            host: host.to_owned(),
            detail: String::from_utf8_lossy(&detail).into_owned(),
        });
    }
    Ok(())
}

/// After the lines are mirrored: a place made for one dispatch parked once a completion (and
/// so its branch) is here, and the dispatches its host shows gone recorded lost.
fn settle(
    link: &Link<'_>,
    (ids, given_up): (&[DispatchId], &[GivenUp]),
    export: &Export,
    contact: &str,
    done: &mut CatchUp,
) -> Result<(), RemoteError> {
    // What runs a place made for one dispatch goes once a completion is here; what holds its
    // work stays, for a follow-up (its CLI's session too), until the dispatch is merged.
    if super::kinds::per_dispatch(link.place.host())
        && (done.translated.iter()).any(|(_, e)| e == "dispatch_completed")
    {
        link.place.park()?;
        done.parked = true;
    }
    for (id, since) in given_up {
        let there = export.states.get(id.as_str()).map(String::as_str);
        if there.is_some_and(|s| LIVE_THERE.contains(&s)) {
            found_running(link, id, *since, contact)?;
            done.found.push(id.clone());
        }
    }
    for id in ids {
        if export.states.get(id.as_str()).map(String::as_str) == Some("lost")
            && !Mirrors::read(link.ledger)?.lines.iter().any(|m| {
                m.receipt.dispatch_id.as_ref() == Some(id)
                    && m.receipt.remote_event_type.as_deref() == Some("dispatch_completed")
            })
        {
            record_lost(
                link,
                id,
                "the host's own ledger and tmux show its supervisor gone".into(),
                Timestamp::parse(contact).ok(),
            )?;
            done.lost.push(id.clone());
        }
    }
    Ok(())
}

/// The states a host's answer gives a dispatch it still runs.
const LIVE_THERE: [&str; 3] = ["running", "blocked", "stalled"];

/// Records dispatch `id`, given up on here with its host, as running again: its host,
/// answering at `contact`, runs it still.
fn found_running(
    link: &Link<'_>,
    id: &DispatchId,
    since: Option<jiff::Timestamp>,
    contact: &str,
) -> Result<(), RemoteError> {
    let waited = match (since, contact.parse::<jiff::Timestamp>()) {
        (Some(since), Ok(now)) => now.duration_since(since).as_secs_f64().max(0.0),
        _ => 0.0,
    };
    let r = receipts::DispatchResumed {
        dispatch_id: id.clone(),
        after: receipts::DispatchResumed::AFTER_LOST.to_owned(),
        waited_seconds: waited,
        source: format!("host `{}` answers again and runs it", link.place.name()),
        remote: None,
        extra: receipts::Extra::new(),
    };
    link.attestor.record(link.ledger, &r)?;
    Ok(())
}

/// Checks the host's lines against the last mirrored one and each other and mirrors the new
/// ones (a rewritten or unlinked line is mirrored too, as evidence, as is a forgery its chain
/// cannot show, see [`forgery`]; `starts`: the dispatches whose start the host sent before);
/// fails with what broke, if anything did.
fn mirror_lines(
    link: &Link<'_>,
    (host, mut starts): (&str, std::collections::BTreeSet<DispatchId>),
    last: Option<(u64, String)>,
    export: &Export,
    done: &mut CatchUp,
) -> Result<(), RemoteError> {
    let mut receipts = Vec::new();
    let mut broken = None;
    let mut forged = None;
    let mut prev = last.clone();
    // The dispatches whose start the host sent already: a second one is a forgery.
    if let Some((seq, _)) = &last
        && export.lines.first().is_none_or(|l| l.seq != *seq)
    {
        broken = Some(format!(
            "its ledger has {} lines, fewer than the {seq} mirrored",
            export.ledger_lines
        ));
    }
    for l in &export.lines {
        if broken.is_none() && l.line.len() > MAX_MIRRORED_LINE {
            broken = Some(format!(
                "its line {} is {} bytes long, more than the {MAX_MIRRORED_LINE} a line \
                 mirrored here may be",
                l.seq,
                l.line.len()
            ));
        }
        if broken.is_some() {
            break;
        }
        let hash = line_sha256(&l.line);
        let (_, link_to) = links_of(&l.line);
        match &prev {
            Some((seq, h)) if l.seq == *seq => {
                if *h != hash {
                    broken = Some(format!("its line {seq} changed since it was mirrored"));
                } else {
                    continue;
                }
            }
            Some((seq, h)) if l.seq != seq + 1 || link_to.as_deref() != Some(h.as_str()) => {
                broken = Some(format!(
                    "its line {} does not link to line {seq} as mirrored",
                    l.seq
                ));
            }
            _ => {}
        }
        let (event, dispatch) = match json::parse(&l.line, Mode::Python) {
            Ok(Value::Object(o)) => (
                o.get("event_type")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                o.get("dispatch_id")
                    .and_then(Value::as_str)
                    .and_then(|d| DispatchId::parse(d).ok()),
            ),
            _ => (None, None),
        };
        let r = RemoteReceipt {
            host: host.to_owned(),
            remote_seq: l.seq,
            line_sha256: hash.clone(),
            remote_prev_line_sha256: link_to,
            remote_event_type: event,
            dispatch_id: dispatch,
            line: l.line.clone(),
            extra: receipts::Extra::new(),
        };
        receipts.push(link.attestor.attest(&receipts::write(&r), &now_utc));
        prev = Some((l.seq, hash));
        let found = match (&r.remote_event_type, &r.dispatch_id) {
            (Some(event), Some(id)) if TRANSLATED.contains(&event.as_str()) => {
                forgery(link, host, id, event, &r.line, &mut starts)?
            }
            _ => None,
        };
        if let Some(what) = found {
            // Mirrored, as evidence; and remembered: its chain is whole, so no later
            // contact would find it again.
            let detail = format!("its line {} {what}", l.seq);
            let refused = host_dir(&link.project.data_dir(), host).join(REFUSED_MARK);
            crate::files::write_atomic_private(&refused, detail.as_bytes(), true)
                .map_err(io(&refused))?;
            forged = Some(detail);
            break;
        }
    }
    if !receipts.is_empty() {
        Ledger::new(link.ledger).append_all(&receipts)?;
        done.mirrored = receipts.len();
    }
    match (broken, forged) {
        (_, Some(detail)) => Err(RemoteError::Forged {
            host: host.to_owned(),
            detail,
        }),
        (Some(detail), None) => Err(RemoteError::ChainBroken {
            host: host.to_owned(),
            detail,
        }),
        (None, None) => Ok(()),
    }
}

/// What makes a host's line about dispatch `id` (an event of [`TRANSLATED`]) a forgery,
/// however well it is chained, in words after "its line N": it speaks of a dispatch of this
/// machine that does not run on `host` (one started on another host, or here); it is a second
/// start of a dispatch (`starts`: those whose start the host sent before, kept up to date);
/// or it is a start that says otherwise than what this machine asked for (the role, and so the
/// gates, the posture, the plan step, the sandbox, the budget, the task). What decides a merge
/// comes from what this machine asked for and recorded, never from a place's words.
fn forgery(
    link: &Link<'_>,
    host: &str,
    id: &DispatchId,
    event: &str,
    line: &str,
    starts: &mut std::collections::BTreeSet<DispatchId>,
) -> Result<Option<String>, RemoteError> {
    let record = read_record(&link.project.data_dir(), id);
    let another = match &record {
        Some(record) => record.host != host,
        None => {
            let repo = crate::worktree::Repo::for_project(link.project)?;
            crate::worktree::id_in_use(&link.project.root, &repo, id).is_some()
        }
    };
    if another {
        return Ok(Some(format!(
            "speaks of {id}, a dispatch of this machine that does not run there"
        )));
    }
    if event != <receipts::DispatchStarted as receipts::Kind>::EVENT {
        return Ok(None);
    }
    let asked = record.and_then(|r| r.asked);
    Ok(super::asked::start_forgery(
        id,
        line,
        asked.as_ref(),
        starts,
    ))
}

/// The file in a host's directory that says why it is refused for good, when a line it sent
/// was a forgery its chain cannot show (see [`claims_another`]).
const REFUSED_MARK: &str = "refused";

/// The longest host line mirrored: half of what this ledger takes in one line, which leaves
/// room for the escaping of the line and for the receipt around it. No receipt vnx writes
/// comes near it.
const MAX_MIRRORED_LINE: usize = crate::ledger::append::MAX_LINE / 2;

/// The dispatch events whose host receipts are re-attested here.
const TRANSLATED: [&str; 6] = [
    "dispatch_started",
    "dispatch_completed",
    "dispatch_corrected",
    "dispatch_blocked",
    "dispatch_stalled",
    "dispatch_resumed",
];

/// Re-attests here the mirrored host receipts about this machine's dispatches that are not
/// yet: a completion only once its branch is fetched.
fn translate(
    link: &Link<'_>,
    host: &str,
    (asked, tips): (&[DispatchId], &BTreeMap<String, String>),
    done: &mut CatchUp,
) -> Result<(), RemoteError> {
    let data = link.project.data_dir();
    let mirrors = Mirrors::read(link.ledger)?;
    let translated = mirrors.translated(host);
    let mut records: BTreeMap<String, Option<Record>> = BTreeMap::new();
    // Appended together: a completion and the phantom guard's correction after it reach
    // this ledger at once, as they reached the host's (a waiter never sees one alone).
    let mut out = Vec::new();
    let mut failed = None;
    for m in mirrors.lines.iter().filter(|m| m.receipt.host == host) {
        let r = &m.receipt;
        let (Some(id), Some(event)) = (&r.dispatch_id, &r.remote_event_type) else {
            continue;
        };
        if translated.contains(&r.remote_seq) || !TRANSLATED.contains(&event.as_str()) {
            continue;
        }
        let record = records
            .entry(id.to_string())
            .or_insert_with(|| read_record(&data, id).filter(|rec| rec.host == host));
        let Some(record) = record else {
            continue;
        };
        if event == "dispatch_completed"
            && let Err(e) = fetch_branch(link, &branch_of(&mirrors, host, id, &data), tips, asked)
        {
            failed = Some(e);
            break;
        }
        match reattest(link, r, record) {
            Ok(receipt) => out.push(receipt),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
        done.translated.push((id.to_string(), event.clone()));
    }
    if !out.is_empty() {
        Ledger::new(link.ledger).append_all(&out)?;
    }
    failed.map_or(Ok(()), Err)
}

/// The host's receipt as this machine's: the ledger's members dropped, paths that only mean
/// something on the host prefixed with its name, the base as named here, and `remote`
/// naming the mirrored line; signed here.
fn reattest(link: &Link<'_>, r: &RemoteReceipt, record: &Record) -> Result<Receipt, RemoteError> {
    let bad = |detail: String| RemoteError::BadAnswer {
        host: r.host.clone(),
        command: format!("line {} of its ledger", r.remote_seq),
        detail,
    };
    let Ok(Value::Object(mut o)) = json::parse(&r.line, Mode::Python) else {
        return Err(bad("not a JSON object".into()));
    };
    let mut origin = receipts::RemoteOrigin {
        host: r.host.clone(),
        remote_seq: r.remote_seq,
        line_sha256: r.line_sha256.clone(),
        worktree: None,
        worker_log: None,
        extra: receipts::Extra::new(),
    };
    for (field, kept) in [
        ("worktree", &mut origin.worktree),
        ("worker_log", &mut origin.worker_log),
    ] {
        if let Some(path) = o.get(field).and_then(Value::as_str).map(str::to_owned) {
            o.insert(field, Value::string(format!("{}:{path}", r.host)));
            *kept = Some(path);
        }
    }
    if r.remote_event_type.as_deref() == Some("dispatch_started") {
        // The base is what this machine pushed, never what the host says it was; the branch
        // one of ours.
        o.insert("base_ref", Value::string(record.base_ref.clone()));
        o.insert("base_commit", Value::string(record.base_commit.clone()));
        let branch = o.get("branch").and_then(Value::as_str).unwrap_or_default();
        if !started_here(&link.project.data_dir(), &r.host, branch) {
            return Err(bad(format!(
                "its dispatch_started names branch {branch:?}, not one of a dispatch started \
                 here on {}",
                r.host
            )));
        }
    }
    let receipt =
        receipts::write_reattested(o.into_owned(), &origin).map_err(|e| bad(e.to_string()))?;
    Ok(link.attestor.attest(&receipt, &now_utc))
}

/// Whether the local `name` already points at `commit`.
fn have(link: &Link<'_>, name: &str, commit: &str) -> bool {
    git2::Repository::open(&link.project.root)
        .ok()
        .and_then(|r| r.refname_to_id(name).ok())
        .is_some_and(|oid| oid.to_string() == commit)
}

/// The branch dispatch `id` worked on: the one the host's start receipt names when it is
/// the branch of a dispatch this machine started on that host (a follow-up works on the
/// branch of the dispatch it continues), else `dispatch/<id>`. Nothing else the host names
/// is fetched into this repository.
fn branch_of(mirrors: &Mirrors, host: &str, id: &DispatchId, data: &Path) -> String {
    mirrors
        .lines
        .iter()
        .map(|m| &m.receipt)
        .filter(|r| {
            r.host == host
                && r.dispatch_id.as_ref() == Some(id)
                && r.remote_event_type.as_deref() == Some("dispatch_started")
        })
        .find_map(|r| {
            let Ok(Value::Object(o)) = json::parse(&r.line, Mode::Python) else {
                return None;
            };
            let branch = o.get("branch")?.as_str()?;
            let first = branch.strip_prefix("dispatch/")?;
            started_here(data, host, branch).then(|| first.to_owned())
        })
        .map_or_else(
            || format!("dispatch/{id}"),
            |first| format!("dispatch/{first}"),
        )
}

/// Whether `branch` is `dispatch/<id>` for a dispatch this machine started on `host`: the only
/// branches a host's receipts may name (a follow-up works on its chain's first one).
fn started_here(data: &Path, host: &str, branch: &str) -> bool {
    branch.strip_prefix("dispatch/").is_some_and(|id| {
        DispatchId::parse(id)
            .ok()
            .and_then(|id| read_record(data, &id))
            .is_some_and(|rec| rec.host == host)
    })
}

/// Fetches the branch dispatch `id` works on from the link's place now (fast-forward only), as
/// the place's git says its tip is: work committed there since its completion came here.
pub fn fetch_work(link: &Link<'_>, id: &DispatchId) -> Result<(), RemoteError> {
    let mirrors = Mirrors::read(link.ledger)?;
    let branch = branch_of(&mirrors, link.place.name(), id, &link.project.data_dir());
    fetch_branch(link, &branch, &BTreeMap::new(), &[])
}

/// Fetches `branch` (`dispatch/<id>`) from the host, when the host still has it (a clean
/// teardown deleted it there: nothing to fetch) and it is not here already; `asked`: the
/// dispatches whose branches the host's answer gave the tips of.
fn fetch_branch(
    link: &Link<'_>,
    branch: &str,
    tips: &BTreeMap<String, String>,
    asked: &[DispatchId],
) -> Result<(), RemoteError> {
    let answered = asked
        .iter()
        .any(|id| branch.strip_prefix("dispatch/") == Some(id.as_str()));
    let branch = format!("refs/heads/{branch}");
    // The host's tip: as its answer said, when it was asked; else as git there says.
    let tip = if answered {
        tips.get(&branch).cloned()
    } else {
        link.place.tip(&link.project.root, &branch)?
    };
    let Some(tip) = tip else {
        return Ok(());
    };
    if have(link, &branch, &tip) {
        return Ok(());
    }
    // Fast-forward only: a host never rewrites a branch here.
    link.place.fetch_ref(&link.project.root, &branch, &branch)
}

/// Fetches the host's checkpoint ref into `refs/vnx/hosts/<name>/checkpoint`, when it has one
/// this machine has not fetched yet.
fn fetch_checkpoints(link: &Link<'_>, tips: &BTreeMap<String, String>) -> Result<(), RemoteError> {
    let theirs = crate::ledger::checkpoint::CHECKPOINT_REF;
    let ours = super::checkpoint_ref(link.place.name());
    match tips.get(theirs) {
        None => return Ok(()),
        Some(tip) if have(link, &ours, tip) => return Ok(()),
        Some(_) => {}
    }
    // Fast-forward only: the host's checkpoint history, once fetched, is evidence.
    link.place.fetch_ref(&link.project.root, theirs, &ours)
}

fn record_lost(
    link: &Link<'_>,
    id: &DispatchId,
    reason: String,
    last_contact: Option<Timestamp>,
) -> Result<(), RemoteError> {
    let r = RemoteLost {
        dispatch_id: id.clone(),
        host: link.place.name().to_owned(),
        reason,
        last_contact,
        extra: receipts::Extra::new(),
    };
    link.attestor.record(link.ledger, &r)?;
    Ok(())
}

/// When the host has not answered for longer than its `lost_after_seconds` (counted from its
/// last answer, or from the dispatch when it never answered since), records each of `ids`
/// lost.
fn give_up_if_gone(link: &Link<'_>, ids: &[DispatchId]) -> Result<(), RemoteError> {
    let data = link.project.data_dir();
    let host = link.place.host();
    let now = jiff::Timestamp::now();
    let contact = last_contact(&data, link.place.name());
    for id in ids {
        let since = contact
            .clone()
            .or_else(|| read_record(&data, id).map(|r| r.dispatched_at));
        let Some(since_ts) = since
            .as_deref()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        else {
            continue;
        };
        let gone = now.as_second() - since_ts.as_second();
        if gone >= i64::try_from(host.lost_after_seconds).unwrap_or(i64::MAX) {
            record_lost(
                link,
                id,
                format!(
                    "host `{}` has not answered for {gone} s (lost_after_seconds: {})",
                    link.place.name(),
                    host.lost_after_seconds
                ),
                contact.as_deref().and_then(|c| Timestamp::parse(c).ok()),
            )?;
        }
    }
    Ok(())
}

/// Pushes `commit` to the host's `refs/vnx/incoming/<id>`, where its dispatch starts from.
pub fn push_base(link: &Link<'_>, commit: &str, id: &DispatchId) -> Result<(), RemoteError> {
    link.place
        .push_ref(&link.project.root, commit, &super::incoming_ref(id))
}

/// Deletes the host's `refs/vnx/incoming/<id>` (nothing is left of a launch that failed).
pub fn drop_base(link: &Link<'_>, id: &DispatchId) {
    let _ = link
        .place
        .delete_ref(&link.project.root, &super::incoming_ref(id));
}
