//! What supervisors left unfinished, finished by every command that reads dispatch state:
//! the completions they could not append, the read index's temporaries, the ends a full
//! disk held up, answers given and not recorded, and launches in places killed on the way.
//! Best effort: what fails is a warning, and the command goes on.

use vnx::dispatch::supervise::recover::{self, Recovery};
use vnx::worktree::Repo;

use crate::cli::CliError;
use crate::cli::util::output::say;
use crate::cli::util::settings::{self, attestation};

/// Appends the completions supervisors left pending (see `vnx::dispatch::supervise::pending`),
/// sweeps the files nobody will finish (reservations, the read index's temporaries) and
/// resumes ends a full disk held up, saying what happened on stderr. Best effort: a failure
/// here is a warning, and the command goes on.
pub(crate) fn finish_pending(project: &vnx::project::Project) {
    // What a reader killed while writing the read index left is never finished: swept.
    vnx::files::sweep_temporaries(&vnx::dispatch::fold::index::path_in(&project.data_dir()));
    conclude_answers(project);
    // A launch in a place killed on the way: caught up with, or undone.
    finish_interrupted(project);
    let dir = project
        .data_dir()
        .join(vnx::dispatch::supervise::pending::DIR);
    if !dir.is_dir() {
        return;
    }
    let ledger = project.ledger();
    let flushed = match attestation(None, &ledger) {
        Err(_) => Err("the signing key cannot be loaded".to_owned()),
        Ok((_, keys)) => vnx::dispatch::supervise::pending::flush(
            &project.data_dir(),
            &vnx::ledger::Ledger::new(&ledger),
            &keys,
        )
        .map_err(|e| e.to_string()),
    };
    match flushed {
        Ok(done) => {
            for f in done {
                match f.outcome.as_str() {
                    "appended" => say!(
                        "note: appended {}'s completion, which its supervisor could not",
                        f.dispatch_id
                    ),
                    "already_on_ledger" | "held" => {}
                    why => say!(
                        "warning: the pending completion of {} was not appended ({why}); \
                         see {}",
                        f.dispatch_id,
                        dir.join(format!("{}.ndjson", f.dispatch_id)).display()
                    ),
                }
            }
        }
        Err(e) => say!("warning: pending completions could not be appended yet: {e}"),
    }
    resume_uncommitted(project);
}

/// Records the answers a killed `vnx approve`/`vnx deny` (or page, link, dashboard) gave
/// without recording them, once their workers went on (`vnx::dispatch::answering`).
fn conclude_answers(project: &vnx::project::Project) {
    let data_dir = project.data_dir();
    if vnx::dispatch::answering::under_way(&data_dir).is_empty() {
        return;
    }
    let ledger = project.ledger();
    let Ok((attestor, trusted)) = attestation(None, &ledger) else {
        return;
    };
    let c = vnx::dispatch::answering::Concluding {
        data_dir: &data_dir,
        ledger: &ledger,
        attestor: &attestor,
        trusted: &trusted,
    };
    let tmux = vnx::tmux::Tmux::new(settings::tmux_socket(None));
    match vnx::dispatch::answering::conclude_now(&c, &tmux) {
        Ok(done) => {
            for r in done {
                say!(
                    "note: recorded the answer {} gave {} ({}), which the command that gave it \
                     could not",
                    crate::cli::util::output::escape(&r.by),
                    r.dispatch_id,
                    r.answer.name()
                );
            }
        }
        Err(e) => say!("warning: answers under way could not be concluded yet: {e}"),
    }
}

/// Finishes the launches in places killed on the way (`vnx::remote::interrupted`), saying
/// what became of each: one its place started is caught up with, one it never started undone.
fn finish_interrupted(project: &vnx::project::Project) {
    use vnx::remote::interrupted::{self, Finished};
    let data = project.data_dir();
    let killed = interrupted::interrupted(&data);
    if killed.is_empty() {
        return;
    }
    let (Ok(config), Ok(attestor)) = (project.load_config(), settings::attestor(None)) else {
        return;
    };
    let ledger = project.ledger();
    for (id, place) in killed {
        let Some(place) = place else {
            interrupted::forget(&data, &id);
            continue;
        };
        let (home, key) = (settings::home(), settings::key_path(None).ok());
        let here = vnx::remote::place::Here {
            data_dir: &data,
            home: home.as_deref(),
            key: key.as_deref(),
        };
        let link =
            vnx::remote::kinds::open(&config.hosts, &place, here).map(|place| vnx::remote::Link {
                project,
                ledger: &ledger,
                attestor: &attestor,
                place,
            });
        let finished = match link {
            Ok(link) => interrupted::finish(&link, &id),
            Err(e) => Finished::Left {
                id: id.clone(),
                why: e.to_string(),
            },
        };
        match finished {
            Finished::Found(id) => say!(
                "{id}: its launch in {place} was interrupted after its place started it; \
                 caught up with"
            ),
            Finished::Undone { id, place } => say!(
                "{id}: its launch in {place} was interrupted before its place started it; \
                 undone (nothing ran)"
            ),
            Finished::Left { id, why } => say!(
                "warning: {id}'s launch in {place} was interrupted and could not be finished \
                 yet: {}",
                crate::cli::util::output::escape(&why)
            ),
        }
    }
}

/// A recovered end in one line: its id, status, teardown and receipt.
pub(crate) fn recovered_line(r: &recover::Recovered) -> String {
    format!(
        "{}  {}  teardown {}  (recovered; receipt {})",
        r.dispatch_id,
        r.status,
        r.teardown_class.map_or("-", |t| t.name()),
        &r.entry_hash[..12.min(r.entry_hash.len())]
    )
}

/// Resumes the ends supervisors left because a full disk refused their commit (see
/// `vnx::dispatch::supervise::recover::resume_uncommitted`), saying what happened on stderr.
/// Best effort, as the pending completions are: run by every command that appends those.
pub(crate) fn resume_uncommitted(project: &vnx::project::Project) {
    use recover::Resumed;
    if vnx::dispatch::supervise::pending::uncommitted(&project.data_dir()).is_empty() {
        return;
    }
    let ledger = project.ledger();
    let (Ok((attestor, trusted)), Ok(repo), Ok(config)) = (
        settings::attestation(None, &ledger),
        Repo::for_project(project),
        project.load_config(),
    ) else {
        say!("warning: ends left for want of space cannot be resumed: the project cannot be read");
        return;
    };
    let recovery = Recovery {
        repo: &repo,
        ledger: &ledger,
        trusted: &trusted,
        attestor: &attestor,
        config: &config,
    };
    for (id, resumed) in recover::resume_uncommitted(&recovery) {
        match resumed {
            Resumed::Recorded(r) => say!(
                "note: committed {id}'s work, which a full disk had kept its supervisor from \
                 committing: {}",
                recovered_line(&r)
            ),
            Resumed::Alive | Resumed::Ended => {}
            Resumed::Failed(e) => CliError::from(e)
                .context(format!("the end of {id} could not be resumed yet"))
                .warn(),
        }
    }
}
