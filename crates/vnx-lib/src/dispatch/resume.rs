//! `vnx resume`: the dispatches whose worker was interrupted (their supervisor lost: killed,
//! or the machine restarted or crashed) found, each closed with a signed completion that says
//! so, and the instruction of the follow-up that continues it in its worktree and its CLI's
//! session. A lost dispatch whose worker had reported was not interrupted: `vnx recover`
//! records its end from the sealed report. The close says it is a resume's
//! (`closed_for_resume`), so a resume killed before its follow-up started is finished by the
//! next one ([`closed_for_resume`]).

use std::path::Path;

use crate::dispatch::state::{DispatchState, State};
use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::ledger::attest::Attestor;
use crate::receipts::{self, CompletionSignal, DispatchCompleted, DispatchStatus};

/// The most of a dispatch's original assignment a resuming instruction repeats.
const MAX_ASSIGNMENT: usize = 16 * 1024;

/// A lost dispatch, as `vnx resume` treats it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interrupted {
    /// The dispatch.
    pub id: DispatchId,
    /// Its provider and model, for the listing.
    pub provider: String,
    /// Its model, when one was asked for.
    pub model: Option<String>,
    /// Whether its worker left a report before its supervisor was lost (then it finished:
    /// recovered, not resumed).
    pub reported: bool,
}

/// The lost dispatches among `states`, in start order; `data_dir` is the project's
/// `.vnx-data`, where their dispatch directories are.
pub fn interrupted(data_dir: &Path, states: &[DispatchState]) -> Vec<Interrupted> {
    states
        .iter()
        .filter(|s| s.state == State::Lost)
        .map(|s| Interrupted {
            id: s.id.clone(),
            provider: s.provider.clone().unwrap_or_default(),
            model: s.model.clone(),
            reported: super::has_file(
                &data_dir.join("dispatches").join(&s.id),
                crate::dispatch::supervise::signals::REPORT,
            ),
        })
        .collect()
}

/// Closes interrupted dispatch `id` with a signed `dispatch_completed` (cancelled, its
/// supervisor lost) saying `vnx resume` continues it; its worktree and branch stay as the
/// worker left them, for the follow-up. The completion records the CLI session the worker
/// was told to use (a TUI's `--session-id`), as its supervisor would have: the follow-up
/// resumes it; and the usage its CLI's session file records since the dispatch started, so
/// the follow-up's budget counts what was spent before (a supervisor killed before it read
/// any records none). The closing line's entry hash.
pub fn close(ledger: &Path, id: &DispatchId, attestor: &Attestor) -> Result<String, LedgerError> {
    let why = "its worker was interrupted: its supervisor was lost (killed, or the machine \
               restarted) before it recorded an end; closed by `vnx resume`, which continues it \
               in a follow-up (the worktree and branch are left as they are)";
    let started = started_of(ledger, id)?;
    let spent = started.as_ref().map(spent_in_session).unwrap_or_default();
    let usage = spent.usage.filter(|u| u.implausible().is_none());
    let closing = DispatchCompleted {
        session_id: started.as_ref().and_then(|(s, _)| told_session(s)),
        closed_for_resume: Some(true),
        token_usage_source: usage.as_ref().map(|_| receipts::UsageSource::SessionFile),
        token_usage: usage,
        token_usage_lines_skipped: (spent.skipped > 0).then_some(spent.skipped),
        ..super::cancel::closed_lost(id, why)
    };
    let hash = super::cancel::append_closing(ledger, attestor, &closing)?;
    crate::steps::reached(crate::steps::resume::CLOSED);
    Ok(hash)
}

/// Of the ended dispatches among `states`, those `vnx resume` closed to continue them (their
/// completion is `closed_for_resume`, signed by a key in `trusted`), each with the follow-up
/// that continued it, `None` when the resume was killed before it started one.
pub fn closed_for_resume(
    ledger: &Path,
    states: &[DispatchState],
    trusted: &[[u8; 32]],
) -> Result<Vec<(DispatchId, Option<DispatchId>)>, LedgerError> {
    let candidates: Vec<&DispatchState> = states
        .iter()
        .filter(|s| s.state == State::Ended(DispatchStatus::Cancelled))
        .collect();
    let ids: Vec<&DispatchId> = candidates.iter().map(|s| &s.id).collect();
    let completions = attested_completions(ledger, &ids, trusted)?;
    Ok(candidates
        .into_iter()
        .filter(|s| {
            completions.iter().any(|(id, c)| {
                *id == s.id
                    && c.closed_for_resume == Some(true)
                    && c.completion_signal == CompletionSignal::ClosedLost
            })
        })
        .map(|s| (s.id.clone(), s.continued_by.clone()))
        .collect())
}

/// Whether dispatch `id`'s end was recorded by a recovery from its worker's sealed report
/// (`vnx recover`, or `vnx resume` of a lost dispatch whose worker had reported): its
/// completion, signed by a key in `trusted`, is `recovered`.
pub fn recovered(
    ledger: &Path,
    id: &DispatchId,
    trusted: &[[u8; 32]],
) -> Result<bool, LedgerError> {
    Ok(attested_completions(ledger, &[id], trusted)?
        .iter()
        .any(|(_, c)| c.recovered.is_some()))
}

/// The last `dispatch_completed` of each of `ids` that a key in `trusted` signed.
fn attested_completions(
    ledger: &Path,
    ids: &[&DispatchId],
    trusted: &[[u8; 32]],
) -> Result<Vec<(DispatchId, DispatchCompleted)>, LedgerError> {
    use crate::dispatch::fold::{CiteReader, Records};
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    let records = Records::read_only(ledger, &names)?;
    let reader = CiteReader::open(ledger)?;
    let mut found = Vec::new();
    for id in ids {
        let Some(cite) = records.get(id).and_then(|r| r.completion) else {
            continue;
        };
        let line = reader.read(cite)?;
        let Some(object) = crate::ledger::json::object_of_line(&line) else {
            continue;
        };
        if !crate::ledger::attest::check(&object, trusted).is_valid() {
            continue;
        }
        if let Some(c) = receipts::read::<DispatchCompleted>(&object) {
            found.push(((*id).clone(), c.receipt));
        }
    }
    Ok(found)
}

/// The latest dispatch of the chain of follow-ups that starts at `id` (`id` itself when
/// nothing continued it), among `states`.
pub fn chain_end<'s>(states: &'s [DispatchState], id: &DispatchId) -> Option<&'s DispatchState> {
    let mut at = states.iter().find(|s| s.id == *id)?;
    // A chain is at most as long as the ledger has dispatches.
    for _ in 0..states.len() {
        match at
            .continued_by
            .as_ref()
            .and_then(|next| states.iter().find(|s| s.id == *next))
        {
            Some(next) => at = next,
            None => break,
        }
    }
    Some(at)
}

/// Dispatch `id`'s `dispatch_started`, as its signed line says it, with the time it was
/// recorded.
type Started = (receipts::DispatchStarted, Option<String>);

/// Dispatch `id`'s `dispatch_started` on the ledger, with its line's time.
fn started_of(ledger: &Path, id: &DispatchId) -> Result<Option<Started>, LedgerError> {
    use crate::dispatch::fold::{CiteReader, Records};
    let Some(start) = Records::read_only(ledger, &[id.as_str()])?
        .get(id)
        .and_then(|r| r.start.clone())
    else {
        return Ok(None);
    };
    let line = CiteReader::open(ledger)?.read(start.cite)?;
    Ok(receipts::read_line::<receipts::DispatchStarted>(&line).map(|s| (s.receipt, s.timestamp)))
}

/// The CLI session a dispatch's start told its worker to use, if it is one its CLI could
/// have written.
fn told_session(started: &receipts::DispatchStarted) -> Option<String> {
    let provider = &started.provider;
    started
        .session_id
        .clone()
        .filter(|sid| crate::provider::session::valid_id(provider, sid))
}

/// What the session file of a dispatch's built-in CLI records since its start: found as the
/// supervisor finds it, from what the signed start recorded (its CLI's homes, its worktree,
/// its session), never from its dispatch directory, which its worker can write.
fn spent_in_session((started, at): &Started) -> crate::provider::session::SessionRead {
    use crate::provider::session;
    let since = at
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let (Some(cli), Some(homes), Some(since)) = (
        session::Cli::of(&started.provider),
        started.cli_homes.as_ref(),
        since,
    ) else {
        return session::SessionRead::default();
    };
    let wanted = session::Wanted {
        cli,
        homes: session::Homes::from_recorded(homes),
        cwd: std::path::PathBuf::from(&started.worktree),
        since: since.into(),
        session_id: told_session(started),
    };
    match wanted.find() {
        Some(found) => session::read_usage(wanted.cli, &found, since.into()),
        None => session::SessionRead::default(),
    }
}

/// The instruction of the follow-up that continues interrupted dispatch `id` (whose
/// dispatch directory is in `data_dir`): what happened, where its work is, and the task as
/// it was assigned, for a CLI whose session did not keep it. The assignment is read from the
/// prompt vnx wrote (bounded, never through a link): the worker could have changed that file,
/// but only to mislead its own continuation.
pub fn instruction(data_dir: &Path, id: &DispatchId) -> String {
    let mut text = "Your work on this task was interrupted before you finished: vnx lost its \
                    supervisor (it was killed, or the machine restarted), and your session \
                    ended mid-task. Your worktree is as you left it. Look at what is already \
                    done there (git status, git diff) before you change anything, then finish \
                    the task and follow the completion protocol."
        .to_owned();
    let prompt = data_dir.join("dispatches").join(id).join("prompt.md");
    if let Some(assignment) = crate::files::read_bounded(&prompt, 4 * MAX_ASSIGNMENT as u64)
        .ok()
        .and_then(|bytes| assignment(&String::from_utf8_lossy(&bytes)))
    {
        text.push_str("\n\nThe task, as it was assigned:\n\n");
        text.push_str(&assignment);
    }
    text
}

/// The `## Assignment` section of a composed prompt, cut at [`MAX_ASSIGNMENT`] bytes.
fn assignment(prompt: &str) -> Option<String> {
    let start = prompt.find("## Assignment\n")? + "## Assignment\n".len();
    let rest = &prompt[start..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    let section = rest[..end].trim();
    (!section.is_empty()).then(|| super::supervise::signals::shorten(section, MAX_ASSIGNMENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_assignment_is_its_section_only_and_bounded() {
        let prompt = "# Role\nimplement\n## Assignment\nadd a greeting\n\\@model say hi\n## Resources\nnone\n";
        assert_eq!(
            assignment(prompt).as_deref(),
            Some("add a greeting\n\\@model say hi")
        );
        assert_eq!(assignment("no sections here"), None);
        assert_eq!(assignment("## Assignment\n\n## Resources\n"), None);
        let long = format!("## Assignment\n{}", "é".repeat(MAX_ASSIGNMENT));
        let cut = assignment(&long).unwrap();
        assert!(cut.len() <= MAX_ASSIGNMENT + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
