//! Issues taken as work (issue 72): `vnx run --issue N` ([`take`]) and the watcher's pass
//! ([`pass`], run by `vnx pr watch`). An issue is taken only while it is open and only from
//! an author the project takes work from (by default GitHub's OWNER, MEMBER and COLLABORATOR;
//! `forge.issues.authors: any` widens it); else a signed `issue_declined`. Taking one writes a
//! signed `issue_taken` before anything else (so the dispatch's pull request, opened by its
//! supervisor when it is done, finds the issue it closes), then claims it with a label, starts
//! the dispatch with its title, labels and body quoted as data and its pull request asked
//! for, and tells the issue in a comment. The pass then tells each followed issue, once each
//! (a signed `issue_commented`), its dispatch's pull request and how the dispatch ended, and
//! stops a dispatch still running once its issue is closed (`issue_released`). The ledger's
//! receipts, not the forge's labels, say what was taken and told.

use serde::Serialize;

use super::start::{self, Note, Started};
use super::{ActionError, Desk};
use crate::config::Config;
use crate::dispatch::Request;
use crate::dispatch::queue::Ticket;
use crate::dispatch::state::State;
use crate::dispatch::view::DispatchState;
use crate::forge::intake::Intakes;
use crate::forge::issue::{self, Issue};
use crate::forge::{self, Forge, ForgeError, History, text};
use crate::ids::DispatchId;
use crate::receipts::{
    self, IssueCommented, IssueDeclined, IssueIntake, IssueRelease, IssueReleased, IssueTaken,
};

/// What the issue actions read the forge with.
pub struct Intake<'a> {
    /// The forge context (its root, ledger, keys, data directory).
    pub forge_ctx: &'a forge::Context<'a>,
    /// The forge.
    pub forge: &'a Forge,
    /// The project's configuration.
    pub config: &'a Config,
}

/// An issue taken: its dispatch started (or queued), and what did not go as it should on
/// the forge on the way (a label or comment that failed; the next pass tells it again).
#[derive(Debug)]
pub struct Taken {
    /// The issue.
    pub issue: Issue,
    /// Its dispatch.
    pub started: Started,
    /// What failed on the forge, each in a line.
    pub notes: Vec<String>,
}

/// What a pass did about one issue.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The issue's number.
    pub issue: u64,
    /// Its dispatch, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatch_id: Option<DispatchId>,
    /// What was done, in a line.
    pub done: String,
}

impl Outcome {
    /// The line that says it.
    pub fn line(&self) -> String {
        match &self.dispatch_id {
            Some(id) => format!("issue #{} ({id}): {}", self.issue, self.done),
            None => format!("issue #{}: {}", self.issue, self.done),
        }
    }
}

/// Issue `number` read and, when it may be, taken as `request`'s task (`vnx run --issue`):
/// its instruction and title are the issue's, the rest as asked. A closed issue, or one
/// whose author the project does not take work from, is refused (the latter recorded as
/// `issue_declined`).
pub fn take_named(
    desk: &Desk<'_>,
    w: &Intake<'_>,
    number: u64,
    request: Request,
    told: &dyn Fn(Note),
) -> Result<Taken, ActionError> {
    let found = issue::read(&w.forge.gh, number).map_err(ActionError::from)?;
    if !found.open {
        return Err(not_taken(number, "it is closed".into()));
    }
    take(desk, w, found, IssueIntake::Run, request, told)
}

fn not_taken(number: u64, why: String) -> ActionError {
    ActionError::from(ForgeError::IssueNotTaken { number, why })
}

/// `issue` taken as `request`'s task (found by `how`), or declined when its author is not one
/// the project takes work from.
pub fn take(
    desk: &Desk<'_>,
    w: &Intake<'_>,
    issue: Issue,
    how: IssueIntake,
    request: Request,
    told: &dyn Fn(Note),
) -> Result<Taken, ActionError> {
    let settings = w.config.forge.clone().unwrap_or_default().issues;
    let repo = w.forge.repo.clone();
    if !settings.takes_from(&issue.association) {
        let why = format!(
            "its author {} is {} the repository, and forge.issues.authors takes only its \
             owners, members and collaborators",
            issue.author,
            association_words(&issue.association)
        );
        write(
            w,
            &IssueDeclined {
                issue: issue.number,
                url: issue.url.clone(),
                repo,
                author: issue.author.clone(),
                association: issue.association.clone(),
                how,
                why: why.clone(),
                extra: Default::default(),
            },
        )?;
        return Err(not_taken(issue.number, why));
    }
    let id = request.id.clone().unwrap_or_else(DispatchId::fresh);
    let request = Request {
        id: Some(id.clone()),
        instruction: issue::instruction(&repo, &issue),
        title: Some(crate::dispatch::title_of(&format!(
            "#{} {}",
            issue.number, issue.title
        ))),
        ..request
    };
    let taken = IssueTaken {
        issue: issue.number,
        url: issue.url.clone(),
        repo: repo.clone(),
        title: issue.title.clone(),
        author: issue.author.clone(),
        association: issue.association.clone(),
        labels: issue.labels.clone(),
        dispatch_id: id.clone(),
        how,
        by: w.forge_ctx.by.map(str::to_owned),
        extra: Default::default(),
    };
    write(w, &taken)?;
    let mut notes = Vec::new();
    if let Err(e) = issue::add_label(&w.forge.gh, issue.number, &settings.claim_label) {
        notes.push(format!(
            "could not label issue #{} {}: {e}",
            issue.number, settings.claim_label
        ));
    }
    let started = match start::start(desk, &request, &Ticket::default(), true, told) {
        Ok(s) => s,
        Err(e) => {
            write(
                w,
                &IssueReleased {
                    issue: issue.number,
                    repo,
                    dispatch_id: id,
                    why: IssueRelease::StartFailed,
                    cancelled: false,
                    detail: Some(text::line(&e.to_string(), 600)),
                    extra: Default::default(),
                },
            )?;
            return Err(e);
        }
    };
    if let Err(e) = tell(w, &taken, "taken", None, &taken_words(&taken)) {
        notes.push(format!("could not comment on issue #{}: {e}", issue.number));
    }
    Ok(Taken {
        issue,
        started,
        notes,
    })
}

/// What the comment on an issue vnx took says.
fn taken_words(t: &IssueTaken) -> String {
    format!(
        "vnx took this issue as its task: dispatch `{}` works on it. Its pull request, once it \
         is done, says it closes this issue.",
        t.dispatch_id
    )
}

/// How GitHub's association reads in a sentence.
fn association_words(association: &str) -> String {
    match association {
        "" | "NONE" => "not associated with".into(),
        "CONTRIBUTOR" => "a contributor to".into(),
        "FIRST_TIME_CONTRIBUTOR" | "FIRST_TIMER" => "a first-time contributor to".into(),
        other => format!("{} of", other.to_lowercase()),
    }
}

/// Signs `receipt` and appends it to the ledger.
fn write<K: receipts::Kind>(w: &Intake<'_>, receipt: &K) -> Result<(), ActionError> {
    Ok(w.forge_ctx.record(receipt)?)
}

/// Comments `words` on intake `t`'s issue and records that `about` was told.
fn tell(
    w: &Intake<'_>,
    t: &IssueTaken,
    about: &str,
    number: Option<u64>,
    words: &str,
) -> Result<(), ActionError> {
    let dir = w.forge_ctx.data_dir.join("forge");
    issue::comment(&w.forge.gh, &dir, t.issue, words).map_err(ActionError::from)?;
    write(
        w,
        &IssueCommented {
            issue: t.issue,
            repo: t.repo.clone(),
            dispatch_id: t.dispatch_id.clone(),
            about: about.to_owned(),
            number,
            extra: Default::default(),
        },
    )
}

/// One pass: every issue vnx follows told what is new and released once closed (its dispatch
/// stopped if it still runs), then, when `forge.issues` names a label or an assignee, the
/// open issues it names that the ledger has not seen taken, each as a dispatch of `request`
/// (the project's defaults, `forge.issues.role`).
pub fn pass(
    desk: &Desk<'_>,
    w: &Intake<'_>,
    request: &dyn Fn() -> Option<Request>,
) -> Result<Vec<Outcome>, ActionError> {
    let intakes = Intakes::read(w.forge_ctx.reading.ledger, w.forge_ctx.reading.trusted_keys)?;
    let mut out = follow(desk, w, &intakes)?;
    let settings = w.config.forge.clone().unwrap_or_default().issues;
    if !settings.watches() {
        return Ok(out);
    }
    let wanted = issue::Wanted {
        label: settings.label.as_deref(),
        assignee: settings.assignee.as_deref(),
    };
    let listed = issue::list_open(&w.forge.gh, wanted).map_err(ActionError::from)?;
    for found in listed {
        if intakes.seen(&w.forge.repo, found.number) {
            continue;
        }
        let number = found.number;
        let Some(asked) = request() else {
            out.push(Outcome {
                issue: number,
                dispatch_id: None,
                done: "not taken: no role (set forge.issues.role or defaults.role)".into(),
            });
            continue;
        };
        let done = match take(desk, w, found, IssueIntake::Watch, asked, &|_| {}) {
            Ok(t) => {
                let mut done = format!("taken: dispatch {} started", t.started.id());
                for n in &t.notes {
                    done.push_str(&format!("; {n}"));
                }
                (Some(t.started.id().clone()), done)
            }
            Err(e) => (None, format!("not taken: {e}")),
        };
        out.push(Outcome {
            issue: number,
            dispatch_id: done.0,
            done: done.1,
        });
    }
    Ok(out)
}

/// The followed issues: each told its pull request and its dispatch's end, once each, and
/// released once closed on the forge, its dispatch stopped if it still runs.
fn follow(desk: &Desk<'_>, w: &Intake<'_>, intakes: &Intakes) -> Result<Vec<Outcome>, ActionError> {
    let followed: Vec<&IssueTaken> = (intakes.followed().into_iter())
        .filter(|t| t.repo == w.forge.repo)
        .collect();
    if followed.is_empty() {
        return Ok(Vec::new());
    }
    let states = desk.states()?;
    let ctx = w.forge_ctx;
    let histories = History::read_all(ctx.reading.ledger, ctx.reading.trusted_keys)?;
    let mut out = Vec::new();
    for t in followed {
        let mut done = Vec::new();
        let state = states.iter().find(|s| s.id == t.dispatch_id);
        if !intakes.told(t, "taken") {
            // Its comment failed when it was taken: told now.
            done.push(match tell(w, t, "taken", None, &taken_words(t)) {
                Ok(()) => "told it was taken".to_owned(),
                Err(e) => format!("could not tell it was taken: {e}"),
            });
        }
        let branch = format!("dispatch/{}", t.dispatch_id);
        if let Some(opened) = histories.get(&branch).and_then(History::current)
            && !intakes.told(t, "pull_request")
        {
            let words = format!(
                "vnx opened pull request #{} for this issue: {}. Merging it closes this issue.",
                opened.number, opened.url
            );
            done.push(
                match tell(w, t, "pull_request", Some(opened.number), &words) {
                    Ok(()) => format!("told its pull request #{}", opened.number),
                    Err(e) => format!("could not tell its pull request: {e}"),
                },
            );
        }
        if let Some(State::Ended(status)) = state.map(|s| s.state) {
            let about = format!("ended:{status}");
            if !intakes.told(t, &about) {
                let words = format!("vnx: dispatch `{}` ended {status}.", t.dispatch_id);
                done.push(match tell(w, t, &about, None, &words) {
                    Ok(()) => format!("told it ended {status}"),
                    Err(e) => format!("could not tell it ended: {e}"),
                });
            }
        }
        match issue::read(&w.forge.gh, t.issue) {
            Ok(now) if !now.open => done.push(release(desk, w, t, state)?),
            Ok(_) => {}
            Err(e) => done.push(format!("could not read the issue: {e}")),
        }
        if !done.is_empty() {
            out.push(Outcome {
                issue: t.issue,
                dispatch_id: Some(t.dispatch_id.clone()),
                done: done.join("; "),
            });
        }
    }
    Ok(out)
}

/// Intake `t`'s issue was closed: its dispatch stopped if it has not ended, and
/// `issue_released` recorded.
fn release(
    desk: &Desk<'_>,
    w: &Intake<'_>,
    t: &IssueTaken,
    state: Option<&DispatchState>,
) -> Result<String, ActionError> {
    let running =
        state.is_some_and(|s| s.state.is_live() || matches!(s.state, State::Queued | State::Lost));
    let mut said = "the issue was closed".to_owned();
    if running {
        let stopped = super::cancel::cancel_one(desk, &t.dispatch_id)?;
        said.push_str(&format!(": dispatch stopped ({})", stopped.line()));
    }
    write(
        w,
        &IssueReleased {
            issue: t.issue,
            repo: t.repo.clone(),
            dispatch_id: t.dispatch_id.clone(),
            why: IssueRelease::Closed,
            cancelled: running,
            detail: None,
            extra: Default::default(),
        },
    )?;
    Ok(said)
}
