//! Notices of the changes that need a person, posted where `serve.notify:` says (ADR 0090):
//! from the project's dispatch states, each dispatch that became blocked (the command it
//! asks about, with a signed single-use approve and deny link: `link`, but only to an
//! address workers cannot read: `address`, ADR 0104), that needs input (its question), whose
//! pull request `vnx pr watch` handed to a person (`pr_escalated`, ADR 0093: why), or that
//! ended done lately (for information), and was not noticed before
//! (`serve/noticed` remembers, so a restarted server sends nothing twice); each posted by
//! `post` through curl. The server process calls [`send_due`] after each ledger change
//! ([`due`], [`mark_sent`] and `post::post` are its parts).

pub mod address;
pub mod link;
pub mod post;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Endpoint, ServeConfig};
use crate::dispatch::view::{DispatchState, State};
use crate::ids::DispatchId;
use crate::receipts::{DispatchStatus, WaitingFor};

pub use link::{Link, LinkAction, LinkError, LinkKey, UsedLinks};

/// The noticed changes' file in the data directory's `serve/`.
const NOTICED_FILE: &str = "noticed";
/// The most noticed changes remembered (the oldest are forgotten first).
const MAX_NOTICED: usize = 10_000;
/// How long one post may take: what the server gives [`send_due`].
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest worker text a notice carries, in characters.
pub const MAX_TEXT: usize = 500;

/// Why notices could not be made or posted.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    /// A file of `.vnx-data/serve/` could not be read or written.
    #[error("could not read or write {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A notice's address is kept in a file in the repository, where workers read it.
    #[error(
        "{} is in the repository, which workers read: a notice's address kept there is no secret",
        path.display()
    )]
    KeptInRepository {
        /// The file, as `serve.notify` names it (`~/` resolved).
        path: PathBuf,
    },
    /// The file a notice's address is kept in holds no address its entry takes.
    #[error("{}: {why}", path.display())]
    BadAddress {
        /// The file.
        path: PathBuf,
        /// Why not, in words (credentials cut).
        why: String,
    },
    /// curl is not on PATH.
    #[error("cannot post to {endpoint}: curl is not installed")]
    NoCurl {
        /// The endpoint, its credentials cut.
        endpoint: String,
    },
    /// curl ran and failed (the address answered an error, or could not be reached).
    #[error("posting to {endpoint} failed: {why}")]
    Post {
        /// The endpoint, its credentials cut.
        endpoint: String,
        /// What curl said, cut.
        why: String,
    },
    /// curl did not finish in time.
    #[error("posting to {endpoint} did not finish within {seconds} s")]
    TimedOut {
        /// The endpoint, its credentials cut.
        endpoint: String,
        /// The limit.
        seconds: u64,
    },
}

impl NoticeError {
    /// The error of a file operation on `path`, as `map_err` takes it.
    pub fn io(path: &Path) -> impl Fn(std::io::Error) -> NoticeError + Copy + '_ {
        move |source| NoticeError::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            NoticeError::Io { .. } => None,
            NoticeError::KeptInRepository { .. } => Some(
                "keep the address in a file outside the repository, like ~/.config/vnx/ntfy, \
                 and name that in serve.notify (`- ntfy: file:~/.config/vnx/ntfy`)"
                    .into(),
            ),
            NoticeError::BadAddress { .. } => Some(
                "write the webhook's or ntfy topic's address into that file, on one line".into(),
            ),
            NoticeError::NoCurl { .. } => {
                Some("install curl (Debian: apt-get install curl); `vnx doctor` checks it".into())
            }
            NoticeError::Post { .. } | NoticeError::TimedOut { .. } => Some(
                "check the address under serve.notify in .vnx/config.yaml and that it is \
                 reachable from this machine"
                    .into(),
            ),
        }
    }
}

/// One change that needs a person, ready to post.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    /// The dispatch.
    pub dispatch: DispatchId,
    /// What happened: `blocked`, `needs_input` or `done`.
    pub state: &'static str,
    /// One line: `D-… is blocked: <its title>`. Worker text made safe (bounded, control
    /// characters escaped); a receiver still escapes it for its own format.
    pub title: String,
    /// What it waits for: the command asked about, or its question (safe as `title`).
    pub waits_for: Option<String>,
    /// The dispatch's page: `{url}/d/{id}`.
    pub page: String,
    /// For a permission prompt: the approve link, `{url}/l/{token}`.
    pub approve: Option<String>,
    /// For a permission prompt: the deny link.
    pub deny: Option<String>,
    /// When the links stop working.
    pub expires: Option<jiff::Timestamp>,
    /// The entry hash of the receipt that announced the change (what [`mark_sent`] records).
    pub receipt: String,
}

/// The entry hash (hex) of the receipt that proves `state` now: for a blocked dispatch its
/// `dispatch_blocked`, for an ended one its completion.
pub fn request_of(state: &DispatchState) -> Option<String> {
    let proof = state.proof.as_ref()?;
    let facts = crate::ledger::line::analyze(&proof.bytes, &mut Default::default());
    Some(hex::encode(facts.entry.ok()?.entry_hash))
}

/// What [`mark_sent`] records for an escalation of dispatch `id`'s pull request (the state
/// keeps no entry hash of its `pr_escalated`): the SHA-256 of what it says, so each
/// escalation is noticed once.
fn escalation_key(id: &DispatchId, e: &crate::dispatch::state::Escalated) -> String {
    use sha2::{Digest, Sha256};
    let said = format!(
        "pr_escalated\n{id}\n{}\n{}\n{}\n{}",
        e.number,
        e.rule,
        e.at.as_deref().unwrap_or_default(),
        e.why
    );
    hex::encode(Sha256::digest(said.as_bytes()))
}

/// Worker text as a notice carries it: on one line, control characters escaped, bounded.
pub fn safe(text: &str) -> String {
    crate::provider::transcript::question(text, MAX_TEXT)
}

/// What `state` needs from a person, when it needs something a notice says: what happened,
/// and what it waits for (unbounded worker text), and whether links can answer it.
fn needs(state: &DispatchState, now: jiff::Timestamp, window: Duration) -> Option<Need> {
    match (state.state, &state.blocked) {
        (State::Blocked, Some(b)) => {
            let what = match (&b.tool, &b.command) {
                (Some(t), Some(c)) => format!("{t}: {c}"),
                (Some(t), None) => t.clone(),
                (None, Some(c)) => c.clone(),
                (None, None) => b.message.clone().unwrap_or_default(),
            };
            // A prompt of a dispatch in a place is answered there by its vnx, as here.
            let permission = b.waiting_for == WaitingFor::Permission;
            // While it plans, its prompts are refused, not approved: a deny link only.
            let approvable = crate::dispatch::answer::answerable(
                state,
                crate::receipts::PermissionAnswer::Approve,
            )
            .is_ok();
            Some(Need {
                state: "blocked",
                what: Some(what),
                links: permission,
                approvable,
            })
        }
        // A plan that waits can be approved or sent back from the notice too.
        (State::Ended(DispatchStatus::NeedsInput), _) if state.waiting() => Some(Need {
            state: "needs_input",
            what: state.question.clone(),
            links: state.plan_waiting().is_some() && state.place.is_here(),
            approvable: true,
        }),
        // Its pull request's reactions gave up: a person decides (ADR 0093).
        _ if state.escalated.is_some() && state.waiting() => {
            let e = state.escalated.as_ref()?;
            Some(Need {
                state: "pr_escalated",
                what: Some(format!(
                    "pull request #{} ({}): {}",
                    e.number, e.rule, e.why
                )),
                links: false,
                approvable: false,
            })
        }
        (State::Ended(DispatchStatus::Done), _)
            if state.landed.is_none() && state.continued_by.is_none() =>
        {
            let ended: jiff::Timestamp = state.ended_at.as_deref()?.parse().ok()?;
            let lately = now.duration_since(ended).unsigned_abs() <= window;
            lately.then_some(Need {
                state: "done",
                what: None,
                links: false,
                approvable: false,
            })
        }
        _ => None,
    }
}

struct Need {
    state: &'static str,
    what: Option<String>,
    links: bool,
    /// Whether its links may approve (a planning worker's prompt is only denied).
    approvable: bool,
}

/// The notices `states` call for that were not sent before (by [`mark_sent`] in
/// `data_dir`): a blocked dispatch (with approve and deny links signed by `key`, good for
/// `serve.link_ttl`, when an address of `serve.notify` may carry them:
/// [`address::carries_links`]), one that needs input, one that ended done within the last
/// `serve.link_ttl`. Nothing when `serve.url` or `serve.notify` is not set.
pub fn due(
    data_dir: &Path,
    states: &[DispatchState],
    serve: &ServeConfig,
    key: &LinkKey,
    now: jiff::Timestamp,
) -> Result<Vec<Notice>, NoticeError> {
    let Some(url) = serve.url.as_deref().filter(|_| !serve.notify.is_empty()) else {
        return Ok(Vec::new());
    };
    // Links only where some address is kept from the workers (`address`).
    let linked = serve.notify.iter().any(address::carries_links);
    let noticed = noticed(data_dir)?;
    let ttl = jiff::SignedDuration::try_from(serve.link_ttl).unwrap_or(jiff::SignedDuration::MAX);
    let expires = now.saturating_add(ttl).unwrap_or(now);
    let mut out = Vec::new();
    for s in states {
        let Some(need) = needs(s, now, serve.link_ttl) else {
            continue;
        };
        let receipt = match need.state {
            "pr_escalated" => s.escalated.as_ref().map(|e| escalation_key(&s.id, e)),
            _ => request_of(s),
        };
        let Some(receipt) = receipt else {
            continue;
        };
        if noticed.contains(&receipt) {
            continue;
        }
        let link = |action| {
            let l = Link::new(&s.id, &receipt, action, expires);
            format!("{url}/l/{}", key.sign(&l))
        };
        let (approve, deny) = if need.links && linked {
            (
                need.approvable.then(|| link(LinkAction::Approve)),
                Some(link(LinkAction::Deny)),
            )
        } else {
            (None, None)
        };
        let label = match need.state {
            "blocked" if !need.approvable => "asks to change files while it plans (refused)",
            "blocked" => "is blocked",
            "pr_escalated" => "needs you",
            "needs_input" if need.links => "has a plan to approve",
            "needs_input" => "needs input",
            _ => "is done",
        };
        out.push(Notice {
            title: safe(&format!("{} {label}: {}", s.id, s.label())),
            waits_for: need.what.as_deref().map(safe).filter(|w| !w.is_empty()),
            page: format!("{url}/d/{}", s.id),
            expires: deny.is_some().then_some(expires),
            approve,
            deny,
            state: need.state,
            dispatch: s.id.clone(),
            receipt,
        });
    }
    Ok(out)
}

fn noticed_path(data_dir: &Path) -> PathBuf {
    data_dir.join(link::SERVE_DIR).join(NOTICED_FILE)
}

/// The receipts noticed already (their entry hashes).
fn noticed(data_dir: &Path) -> Result<Vec<String>, NoticeError> {
    let path = noticed_path(data_dir);
    match crate::files::read_bounded(&path, (MAX_NOTICED as u64 + 1) * 65) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(NoticeError::Io { path, source }),
    }
}

/// Records `notices` as sent: [`due`] leaves them out from now on, in this process or the
/// next.
pub fn mark_sent(data_dir: &Path, notices: &[Notice]) -> Result<(), NoticeError> {
    if notices.is_empty() {
        return Ok(());
    }
    let dir = data_dir.join(link::SERVE_DIR);
    let io = NoticeError::io;
    crate::files::private_dir(&dir).map_err(io(&dir))?;
    let lock_path = dir.join("noticed.lock");
    let _lock = crate::files::lock_file(&lock_path, true).map_err(io(&lock_path))?;
    let mut all = noticed(data_dir)?;
    all.extend(notices.iter().map(|n| n.receipt.clone()));
    let cut = all.len().saturating_sub(MAX_NOTICED);
    let text: String = all[cut..].iter().map(|h| format!("{h}\n")).collect();
    let path = noticed_path(data_dir);
    crate::files::write_atomic_private(&path, text.as_bytes(), true).map_err(io(&path))
}

/// A notice sent, with the endpoints whose post failed and why.
#[derive(Debug)]
pub struct Sent {
    /// The notice.
    pub notice: Notice,
    /// The endpoints it could not be posted to.
    pub failed: Vec<(Endpoint, NoticeError)>,
}

/// [`due`], recorded sent first (a notice goes out at most once, even when the process dies
/// while posting, and a failing address is not tried again at every change), then each
/// posted to every endpoint (`timeout` each): what was sent, with each post's failure.
pub fn send_due(
    data_dir: &Path,
    states: &[DispatchState],
    serve: &ServeConfig,
    key: &LinkKey,
    now: jiff::Timestamp,
    timeout: Duration,
) -> Result<Vec<Sent>, NoticeError> {
    let notices = due(data_dir, states, serve, key, now)?;
    mark_sent(data_dir, &notices)?;
    Ok(notices
        .into_iter()
        .map(|n| {
            let failed = serve
                .notify
                .iter()
                .filter_map(|e| post::post(e, &n, timeout).err().map(|err| (e.clone(), err)))
                .collect();
            Sent { notice: n, failed }
        })
        .collect())
}

#[cfg(test)]
mod tests;
