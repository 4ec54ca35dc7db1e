//! Watching pull requests: one read of a dispatch's pull request (`show`), which also records
//! one merged or closed on the forge by a person since the ledger last said, and the forge
//! cache (`.vnx-data/forge/cache.json`) the readers that refresh often (status, the
//! dashboard, `wait`, the MCP server) go through: at most one `gh` call per pull request per
//! refresh interval, whoever asks, and the changes since the last read (checks that turned
//! failing or passing, new reviews and comments) that a notification fires for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::history::History;
use super::view::{self, PrState, PullRequest};
use super::{Context, Forge, ForgeError};
use crate::ids::DispatchId;
use crate::receipts::PrOpened;

/// A dispatch's pull request as just read.
#[derive(Clone, Debug, Serialize)]
pub struct Seen {
    /// The dispatch asked about.
    pub dispatch_id: DispatchId,
    /// The `pr_opened` it rests on.
    pub recorded: PrOpened,
    /// The pull request on the forge.
    pub pr: PullRequest,
    /// Whether the forge's head is the head the last `pr_opened` pushed.
    pub at_recorded_head: bool,
}

/// Reads the pull request of dispatch `id`'s branch (one `gh` call), recording `pr_merged`
/// or `pr_closed` when the forge says so and the ledger does not yet.
pub fn show(ctx: &Context<'_>, forge: &Forge, id: &DispatchId) -> Result<Seen, ForgeError> {
    let (_, history, recorded) = super::history::of_dispatch(ctx, id)?;
    let pr = view::view(&forge.gh, recorded.number)?;
    record_change(ctx, forge, &recorded, &pr, &history)?;
    Ok(Seen {
        dispatch_id: id.clone(),
        at_recorded_head: pr.head_commit == recorded.head_commit.as_str(),
        recorded,
        pr,
    })
}

/// Records what a read found that the ledger does not hold yet: a merge or a close on the
/// forge (a merge `vnx pr merge` or the watcher noted its intent for is recorded as vnx's).
pub fn record_change(
    ctx: &Context<'_>,
    forge: &Forge,
    recorded: &PrOpened,
    pr: &PullRequest,
    history: &History,
) -> Result<(), ForgeError> {
    match pr.state {
        PrState::Merged if history.merged_as(pr.number).is_none() => {
            super::merge::record_found_merged(ctx, forge, recorded, pr)?;
        }
        PrState::Closed => super::open::record_closed(ctx, recorded, pr, history)?,
        _ => {}
    }
    Ok(())
}

/// The cache file under the project's data directory.
pub fn cache_path(data_dir: &Path) -> PathBuf {
    data_dir.join("forge").join("cache.json")
}

/// One pull request as the cache keeps it: when it was read, and what.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cached {
    /// Seconds since the epoch of the read.
    pub read_at: u64,
    /// What the read found (a summary: the cache never holds more than it shows).
    pub summary: Summary,
    /// The head the reviews and comments are counted from, and how many there were when it
    /// was first seen: those after are new.
    #[serde(default)]
    pub baseline: Option<(String, usize)>,
}

/// The first line of `text`, at most 120 characters.
fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    super::text::line(line.unwrap_or_default(), 120)
}

/// What readers show of a pull request, and what changes are told from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Its number.
    pub number: u64,
    /// Its address.
    pub url: String,
    /// `open`, `closed`, `merged`.
    pub state: String,
    /// A draft.
    pub draft: bool,
    /// The checks by name: `pass`, `fail`, `pending`.
    pub checks: BTreeMap<String, String>,
    /// The review decision (empty: none).
    pub review_decision: String,
    /// How many reviews and comments it has.
    pub conversation: usize,
    /// The commit its head branch is at on the forge.
    #[serde(default)]
    pub head_commit: String,
    /// The last reviews and comments (at most [`KEPT_SAID`]), oldest first: who, and the
    /// first line of what they wrote.
    #[serde(default)]
    pub said: Vec<Said>,
    /// Each reviewer's latest approval, request for changes or dismissal (at most
    /// [`KEPT_SAID`] reviewers), with the head it was given on and how GitHub associates the
    /// reviewer with the repository: a reaction fixes a head again only when a trusted
    /// reviewer asked for changes on it (ADR 0093), and never for an outsider's (ADR 0101).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub opinions: Vec<Opinion>,
}

/// A reviewer's latest opinion of a pull request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opinion {
    /// Who.
    pub author: String,
    /// `APPROVED`, `CHANGES_REQUESTED` or `DISMISSED`.
    pub state: String,
    /// The head it was given on (empty when the forge does not say).
    #[serde(default)]
    pub commit: String,
    /// How GitHub associates them with the repository (`authorAssociation`).
    #[serde(default)]
    pub association: String,
}

/// Each reviewer's latest approval, request for changes or dismissal of `pr`, in the order
/// they were given (comments are no opinion), at most [`KEPT_SAID`] (the newest).
pub fn opinions(pr: &PullRequest) -> Vec<Opinion> {
    let mut latest: Vec<Opinion> = Vec::new();
    for r in &pr.reviews {
        if !matches!(
            r.state.as_str(),
            "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED"
        ) {
            continue;
        }
        latest.retain(|o| o.author != r.author);
        latest.push(Opinion {
            author: r.author.clone(),
            state: r.state.clone(),
            commit: r.commit.clone(),
            association: r.association.clone(),
        });
    }
    latest[latest.len().saturating_sub(KEPT_SAID)..].to_vec()
}

/// The most reviews and comments a summary keeps.
pub const KEPT_SAID: usize = 20;

/// One review or comment, as a summary keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    /// Who.
    pub author: String,
    /// A review's state (`CHANGES_REQUESTED`, `APPROVED`, `COMMENTED`), or `comment`.
    pub kind: String,
    /// The first line of what they wrote, bounded and cleaned.
    pub line: String,
}

impl Summary {
    /// The summary of a pull request as read.
    pub fn of(pr: &PullRequest) -> Summary {
        Summary {
            number: pr.number,
            url: pr.url.clone(),
            state: pr.state.name().to_owned(),
            draft: pr.draft,
            checks: pr
                .checks
                .iter()
                .map(|c| (c.name.clone(), c.state.name().to_owned()))
                .collect(),
            review_decision: pr.review_decision.clone(),
            conversation: pr.reviews.len() + pr.comments.len(),
            head_commit: pr.head_commit.clone(),
            said: {
                let reviews = pr.reviews.iter().map(|r| Said {
                    author: r.author.clone(),
                    kind: r.state.clone(),
                    line: first_line(&r.body),
                });
                let comments = pr.comments.iter().map(|c| Said {
                    author: c.author.clone(),
                    kind: "comment".to_owned(),
                    line: first_line(&c.body),
                });
                let all: Vec<Said> = reviews.chain(comments).collect();
                all[all.len().saturating_sub(KEPT_SAID)..].to_vec()
            },
            opinions: opinions(pr),
        }
    }

    /// The checks in one word (see [`checks_word`]).
    pub fn checks_word(&self) -> &'static str {
        checks_word(&self.checks)
    }

    /// What changed from `before` that a person is told about: checks that turned failing or
    /// all passing, a new review decision, new reviews or comments, a merge or a close.
    pub fn changes_since(&self, before: &Summary) -> Vec<String> {
        let mut out = Vec::new();
        let (now, then) = (self.checks_word(), before.checks_word());
        if now != then && matches!(now, "fail" | "pass") {
            out.push(format!("checks_{now}"));
        }
        if self.review_decision != before.review_decision && !self.review_decision.is_empty() {
            out.push(format!(
                "review_{}",
                self.review_decision.to_ascii_lowercase()
            ));
        }
        if self.conversation > before.conversation {
            out.push("comment".to_owned());
        }
        if self.state != before.state && self.state != "open" {
            out.push(self.state.clone());
        }
        out
    }
}

/// The forge cache: the last read of each pull request, by number.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Cache {
    /// By pull request number.
    pub prs: BTreeMap<u64, Cached>,
}

impl Cache {
    /// Reads the cache (a missing or unreadable one is empty: it is only a cache).
    pub fn load(data_dir: &Path) -> Cache {
        crate::files::read_bounded(&cache_path(data_dir), 4 << 20)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes it back, privately and atomically.
    pub fn store(&self, data_dir: &Path) -> std::io::Result<()> {
        let path = cache_path(data_dir);
        if let Some(dir) = path.parent() {
            crate::files::private_dir(dir)?;
        }
        let text = serde_json::to_vec(self).unwrap_or_default();
        crate::files::write_atomic_private(&path, &text, false)
    }
}

/// How a reader reads the forge.
#[derive(Clone, Debug)]
pub struct ReadOptions<'a> {
    /// Seconds since the epoch.
    pub now: u64,
    /// How old a cached read may be before it is read anew (`forge.refresh_seconds`).
    pub max_age_secs: u64,
    /// `Refresh`: read anew whatever the cache's age; `Cached`: never call `gh`.
    pub mode: Mode,
    /// The user's `notify:` command, run once per change a read sees.
    pub notify: &'a [String],
}

/// The longest one read of the forge may hold a reader up (`vnx status`, `show`, `wait`,
/// the dashboard, the web page), in seconds: `forge.timeout_seconds` is capped at this.
pub const READ_TIMEOUT: u64 = 15;

/// How often the project's pull requests may be read from the forge
/// (`forge.refresh_seconds`, at least 1); `None` when the project has no `forge:` section.
pub fn refresh_seconds(config: &crate::config::Config) -> Option<u64> {
    config.forge.as_ref().map(|f| f.refresh_seconds.max(1))
}

/// The `forge:` section a reader of pull requests resolves its forge from: the project's,
/// each read's timeout capped at [`READ_TIMEOUT`]; `None` without one.
pub fn reading(config: &crate::config::Config) -> Option<crate::config::ForgeConfig> {
    let mut reading = config.forge.clone()?;
    reading.timeout_seconds = reading.timeout_seconds.min(READ_TIMEOUT);
    Some(reading)
}

/// [`read_dispatches`] as a reader reads now: by the clock, a cached read kept
/// `forge.refresh_seconds` of `config`, the user's `notify:` command run for what changed.
/// Empty when `config` has no forge.
pub fn read_now(
    ctx: &Context<'_>,
    forge: &Forge,
    config: &crate::config::Config,
    dispatches: &[(DispatchId, String)],
    mode: Mode,
) -> BTreeMap<DispatchId, PrStatus> {
    let Some(refresh) = config.forge.as_ref().map(|f| f.refresh_seconds) else {
        return BTreeMap::new();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(std::time::Duration::ZERO)
        .as_secs();
    let options = ReadOptions {
        now,
        max_age_secs: refresh,
        mode,
        notify: &config.notify,
    };
    read_dispatches(ctx, forge, dispatches, &options)
}

/// The branch of each of `ids` the ledger started, for [`read_dispatches`]: their records
/// from the read index when `index` can serve them without a pass over the ledger (ADR 0045),
/// else from one pass over the lines naming them. Those with no branch (or none the ledger
/// holds) are left out.
pub fn branches(
    ledger: &Path,
    index: Option<&crate::dispatch::fold::ReadOptions<'_>>,
    ids: &[DispatchId],
) -> Vec<(DispatchId, String)> {
    use crate::dispatch::fold::{self, Records, Want};
    if ids.is_empty() || !ledger.exists() {
        return Vec::new();
    }
    let indexed = index.and_then(|o| fold::read_indexed(ledger, o, Want::Ids(ids)).ok()?);
    let Some(records) = indexed.map(|read| read.stored.records).or_else(|| {
        let wanted: Vec<&str> = ids.iter().map(DispatchId::as_str).collect();
        Records::read_only(ledger, &wanted).ok()
    }) else {
        return Vec::new();
    };
    ids.iter()
        .filter_map(|id| {
            let state = &records.get(id)?.listed.as_ref()?.state;
            Some((id.clone(), state.branch.clone()?))
        })
        .collect()
}

/// Whether a reader may call `gh`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read anew when the cached read is older than the interval.
    Auto,
    /// Read anew now.
    Refresh,
    /// Show what the cache holds, never calling `gh`.
    Cached,
}

/// Checks (state by name) in one word: `none`, `fail` (any), `pending` (any), `pass`.
pub fn checks_word(checks: &BTreeMap<String, String>) -> &'static str {
    let any = |w: &str| checks.values().any(|s| s == w);
    if checks.is_empty() {
        "none"
    } else if any("fail") {
        "fail"
    } else if any("pending") {
        "pending"
    } else {
        "pass"
    }
}

/// A dispatch's pull request as the readers show it.
#[derive(Clone, Debug, Serialize)]
pub struct PrStatus {
    /// The pull request's number.
    pub number: u64,
    /// Its address.
    pub url: String,
    /// `open`, `closed`, `merged`, or `unknown` (never read, and the forge not reachable).
    pub state: String,
    /// A draft.
    pub draft: bool,
    /// `none`, `pass`, `fail` or `pending`.
    pub checks_word: String,
    /// Each check by name: `pass`, `fail`, `pending`.
    pub checks: BTreeMap<String, String>,
    /// The review decision (empty: none).
    pub review_decision: String,
    /// Reviews and comments since the recorded head was first seen on the forge.
    pub new_comments: usize,
    /// Those new reviews and comments (at most [`KEPT_SAID`]), oldest first.
    pub said: Vec<Said>,
    /// The head the last `pr_opened` pushed.
    pub recorded_head: String,
    /// The head on the forge (empty: not read yet).
    pub head_commit: String,
    /// When the state shown was read (seconds since the epoch; 0: never).
    pub read_at: u64,
    /// Why it may be out of date: the forge's error on this read (the cached read shown), or
    /// `not read` with `--no-forge` and nothing cached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<String>,
    /// What changed since the previous read (`pr_checks_failed`, `pr_checks_passed`,
    /// `pr_changes_requested`, `pr_approved`, `pr_comment`, `pr_merged`, `pr_closed`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

impl PrStatus {
    fn from(recorded: &PrOpened, cached: Option<&Cached>, stale: Option<String>) -> PrStatus {
        let Some(c) = cached else {
            return PrStatus {
                number: recorded.number,
                url: recorded.url.clone(),
                state: "unknown".into(),
                draft: recorded.draft,
                checks_word: "none".into(),
                checks: BTreeMap::new(),
                review_decision: String::new(),
                new_comments: 0,
                said: Vec::new(),
                recorded_head: recorded.head_commit.to_string(),
                head_commit: String::new(),
                read_at: 0,
                stale: Some(stale.unwrap_or_else(|| "not read yet".into())),
                changes: Vec::new(),
            };
        };
        let s = &c.summary;
        let from = c.baseline.as_ref().map_or(0, |b| b.1);
        let new_comments = s.conversation.saturating_sub(from);
        PrStatus {
            number: s.number,
            url: s.url.clone(),
            state: s.state.clone(),
            draft: s.draft,
            checks_word: s.checks_word().to_owned(),
            checks: s.checks.clone(),
            review_decision: s.review_decision.clone(),
            new_comments,
            said: s.said[s.said.len().saturating_sub(new_comments)..].to_vec(),
            recorded_head: recorded.head_commit.to_string(),
            head_commit: s.head_commit.clone(),
            read_at: c.read_at,
            stale,
            changes: Vec::new(),
        }
    }

    /// One short line: `pr #3 open, checks 1 fail (ci), changes requested, 2 new comments`.
    pub fn line(&self) -> String {
        let mut parts = vec![format!(
            "pr #{} {}{}",
            self.number,
            if self.draft && self.state == "open" {
                "draft "
            } else {
                ""
            },
            self.state
        )];
        let named = |w: &str| -> Vec<&str> {
            self.checks
                .iter()
                .filter(|(_, s)| *s == w)
                .map(|(n, _)| n.as_str())
                .collect()
        };
        match self.checks_word.as_str() {
            "none" => {}
            "pass" => parts.push(format!("checks {} pass", self.checks.len())),
            w => {
                let names = named(w);
                let mut list = names.iter().take(2).copied().collect::<Vec<_>>().join(", ");
                if names.len() > 2 {
                    list.push_str(", …");
                }
                parts.push(format!("checks {} {w} ({list})", names.len()));
            }
        }
        if !self.review_decision.is_empty() {
            parts.push(self.review_decision.to_ascii_lowercase().replace('_', " "));
        }
        if self.new_comments > 0 {
            parts.push(format!(
                "{} new comment{}",
                self.new_comments,
                if self.new_comments == 1 { "" } else { "s" }
            ));
        }
        if !self.head_commit.is_empty() && self.head_commit != self.recorded_head {
            parts.push("head moved".into());
        }
        if self.stale.is_some() {
            parts.push("stale".into());
        }
        parts.join(", ")
    }
}

/// A change as the notification names it.
fn event(change: &str) -> String {
    match change {
        "checks_fail" => "pr_checks_failed".into(),
        "checks_pass" => "pr_checks_passed".into(),
        "review_changes_requested" => "pr_changes_requested".into(),
        "review_approved" => "pr_approved".into(),
        "review_review_required" => "pr_review_required".into(),
        "comment" => "pr_comment".into(),
        other => format!("pr_{other}"),
    }
}

/// The lock readers take around a refresh of the cache.
fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("forge").join("cache.lock")
}

/// The pull requests of `dispatches` (each with its branch) that have one: each read from
/// the forge at most once per `max_age_secs` whoever asks (the cache under `ctx.data_dir`
/// is shared, and a refresh holds its lock), a merge or close by a person recorded, and the
/// user's notification run once for each change seen. A read that fails shows the cached
/// state, marked stale; nothing here fails the reader.
pub fn read_dispatches(
    ctx: &Context<'_>,
    forge: &Forge,
    dispatches: &[(DispatchId, String)],
    options: &ReadOptions<'_>,
) -> BTreeMap<DispatchId, PrStatus> {
    let mut out = BTreeMap::new();
    let histories = histories(ctx, dispatches);
    if histories.is_empty() {
        return out;
    }
    let _ = crate::files::private_dir(&ctx.data_dir.join("forge"));
    let lock = match options.mode {
        Mode::Cached => None,
        _ => crate::files::lock_file(&lock_path(ctx.data_dir), true)
            .ok()
            .flatten(),
    };
    let mut cache = Cache::load(ctx.data_dir);
    let mut dirty = false;
    let mut notifier = crate::dispatch::supervise::notify::Notifier::new(options.notify);
    let mut fired = false;
    for (id, (history, recorded)) in &histories {
        let number = recorded.number;
        let fresh = cache
            .prs
            .get(&number)
            .is_some_and(|c| options.now.saturating_sub(c.read_at) < options.max_age_secs);
        let read = match options.mode {
            Mode::Cached => None,
            Mode::Auto if fresh => None,
            _ if lock.is_none() => None,
            _ => Some(view::view(&forge.gh, number)),
        };
        let status = match read {
            None => PrStatus::from(
                recorded,
                cache.prs.get(&number),
                (options.mode == Mode::Cached && !cache.prs.contains_key(&number))
                    .then(|| "not read (--no-forge)".to_owned()),
            ),
            Some(Err(e)) => PrStatus::from(recorded, cache.prs.get(&number), Some(e.to_string())),
            Some(Ok(pr)) => {
                let mut stale = None;
                if let Err(e) = record_change(ctx, forge, recorded, &pr, history) {
                    stale = Some(format!(
                        "the forge's {} is not recorded: {e}",
                        pr.state.name()
                    ));
                }
                let before = cache.prs.get(&number).cloned();
                let changes = match &before {
                    Some(c) => Summary::of(&pr).changes_since(&c.summary),
                    None => Vec::new(),
                };
                let _ = refresh_with(&mut cache, &pr, options.now);
                dirty = true;
                let mut status = PrStatus::from(recorded, cache.prs.get(&number), stale);
                status.changes = changes.iter().map(|c| event(c)).collect();
                let notifier_title = pr.title.clone();
                for change in &status.changes {
                    let mut n = std::mem::take(&mut notifier).titled(&notifier_title);
                    n.fire(id, change, "", &status.line());
                    notifier = n;
                    fired = true;
                }
                status
            }
        };
        out.insert(id.clone(), status);
    }
    if dirty {
        let _ = cache.store(ctx.data_dir);
    }
    drop(lock);
    if fired {
        notifier.finish(NOTIFY_WAIT);
    }
    out
}

/// The pull requests of `dispatches` (each with its branch) as the shared cache last read
/// them, never calling the forge nor recording anything (the MCP server's answers): the
/// ledger's newest `pr_opened` of each branch, with the cached read of its pull request.
pub fn cached(
    ledger: &Path,
    trusted: &[[u8; 32]],
    data_dir: &Path,
    dispatches: &[(DispatchId, String)],
) -> BTreeMap<DispatchId, PrStatus> {
    let mut out = BTreeMap::new();
    if dispatches.is_empty() {
        return out;
    }
    let all = History::read_all(ledger, trusted).unwrap_or_default();
    let cache = Cache::load(data_dir);
    for (id, branch) in dispatches {
        if let Some(recorded) = all.get(branch).and_then(History::current) {
            let c = cache.prs.get(&recorded.number);
            let stale = c.is_none().then(|| "not read yet".to_owned());
            out.insert(id.clone(), PrStatus::from(recorded, c, stale));
        }
    }
    out
}

/// The longest a reader waits for the notifications it started.
pub const NOTIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The history and newest `pr_opened` of each dispatch's branch that has one: the ledger
/// read once.
fn histories(
    ctx: &Context<'_>,
    dispatches: &[(DispatchId, String)],
) -> BTreeMap<DispatchId, (History, PrOpened)> {
    let mut out = BTreeMap::new();
    if dispatches.is_empty() {
        return out;
    }
    let all = match from_index(ctx, dispatches) {
        Some(all) => all,
        None => History::read_all(ctx.reading.ledger, ctx.reading.trusted_keys).unwrap_or_default(),
    };
    for (id, branch) in dispatches {
        if let Some(h) = all.get(branch)
            && let Some(recorded) = h.current().cloned()
        {
            out.insert(id.clone(), (h.clone(), recorded));
        }
    }
    out
}

/// The histories of the branches of `dispatches` from the read index (ADR 0045): the
/// records of the dispatches the branches are named for, read without a pass over the
/// ledger; `None` when the index cannot serve them (no index or key, a ledger that does not
/// extend it, a branch not named for a dispatch), and the ledger is then read whole.
fn from_index(
    ctx: &Context<'_>,
    dispatches: &[(DispatchId, String)],
) -> Option<std::collections::HashMap<String, History>> {
    use crate::dispatch::fold::{self, Want, branch_owner};
    let owners: Vec<DispatchId> = dispatches
        .iter()
        .map(|(_, b)| branch_owner(b))
        .collect::<Option<_>>()?;
    let (index, r) = (fold::index::path_in(ctx.data_dir), &ctx.reading);
    // The reads that list dispatches write it; this one only uses it.
    let options = r.index_only(&index, ctx.attestor);
    let read = fold::read_indexed(r.ledger, &options, Want::Ids(&owners)).ok()??;
    let branches: Vec<&str> = dispatches.iter().map(|(_, b)| b.as_str()).collect();
    History::from_records(r.ledger, read.records(), &branches, r.trusted_keys)
        .ok()
        .flatten()
}

/// Puts a read of `pr` in the cache (the reviews and comments counted from its head as it
/// was first seen).
fn refresh_with(cache: &mut Cache, pr: &PullRequest, now: u64) -> Summary {
    let summary = Summary::of(pr);
    let before = cache.prs.get(&pr.number);
    let baseline = match before {
        Some(c) => match &c.baseline {
            Some((head, n)) if *head == summary.head_commit => Some((head.clone(), *n)),
            _ => Some((summary.head_commit.clone(), c.summary.conversation)),
        },
        None => Some((summary.head_commit.clone(), 0)),
    };
    cache.prs.insert(
        pr.number,
        Cached {
            read_at: now,
            summary: summary.clone(),
            baseline,
        },
    );
    summary
}

/// A pull request's summary, read from the forge only when the cache's is older than
/// `max_age_secs` (`now` in seconds since the epoch): the summary, and the changes since the
/// cached one when it was read anew.
pub fn refresh(
    cache: &mut Cache,
    gh: &super::Gh,
    number: u64,
    now: u64,
    max_age_secs: u64,
) -> Result<(Summary, Vec<String>), ForgeError> {
    if let Some(c) = cache.prs.get(&number)
        && now.saturating_sub(c.read_at) < max_age_secs
    {
        return Ok((c.summary.clone(), Vec::new()));
    }
    let pr = view::view(gh, number)?;
    let changes = cache
        .prs
        .get(&number)
        .map(|c| Summary::of(&pr).changes_since(&c.summary))
        .unwrap_or_default();
    let summary = refresh_with(cache, &pr, now);
    Ok((summary, changes))
}

#[cfg(test)]
mod tests {
    use super::{READ_TIMEOUT, reading, refresh_seconds};

    fn config(text: &str) -> crate::config::Config {
        crate::config::parse(
            &format!("version: 1\n{text}"),
            std::path::Path::new("c.yaml"),
        )
        .expect("a config")
    }

    #[test]
    fn a_reader_reads_only_a_forge_and_never_waits_on_it_long() {
        assert_eq!(reading(&config("")), None);
        assert_eq!(refresh_seconds(&config("")), None);
        let slow = config(
            "forge: {kind: github, remote: origin, timeout_seconds: 300, refresh_seconds: 7}\n",
        );
        let r = reading(&slow).expect("its forge");
        assert_eq!(r.timeout_seconds, READ_TIMEOUT);
        assert_eq!(r.refresh_seconds, 7);
        assert_eq!(refresh_seconds(&slow), Some(7));
        let quick = config("forge: {kind: github, remote: origin, timeout_seconds: 5}\n");
        assert_eq!(reading(&quick).expect("its forge").timeout_seconds, 5);
    }
}
