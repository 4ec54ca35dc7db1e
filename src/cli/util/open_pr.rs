//! A dispatch's pull request opened when it is done: asked for (`--open-pr`, `vnx pr fix`),
//! decided by the project (`roles.<role>.open_pr`, `forge.open_on_done`), done by its
//! supervisor once the completion is on the ledger, and waited for by a foreground dispatch,
//! which says what became of it.

use vnx::forge::{self, Forge};
use vnx::ids::DispatchId;

use crate::cli::CliError;
use crate::cli::util::forge::{Setup, gh_program, short};
use crate::cli::util::output::{escape, say};
use crate::cli::util::settings;

/// Waits for dispatch `id`'s supervisor to finish what it does after the completion (its
/// pull request opened or updated, when asked) and says what became of the pull request.
pub(crate) fn await_open_when_done(project: &vnx::project::Project, id: &DispatchId) {
    let dir = project.data_dir().join("dispatches").join(id.as_str());
    // The supervisor holds the dispatch's lock until its last chore: taking it waits for it.
    if let Ok(lock) = vnx::dispatch::liveness::hold(&dir) {
        drop(lock);
    }
    let ledger = project.ledger();
    let Ok((_, trusted)) = settings::attestation(None, &ledger) else {
        return;
    };
    let opened = vnx::evidence::Evidence::read(&ledger, id, &trusted)
        .ok()
        .and_then(|ev| ev.started.map(|s| s.receipt.branch))
        .and_then(|branch| vnx::forge::History::read(&ledger, &branch, &trusted).ok())
        .and_then(|h| h.opened.into_iter().rev().find(|o| &o.dispatch_id == id));
    // What the supervisor said became of it, when it acted on this run.
    let said = vnx::files::read_bounded(&forge::auto::outcome_path(&project.data_dir(), id), 4096)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|t| !t.is_empty());
    match (opened, said) {
        (Some(o), _) => say!(
            "{id}  pull request #{} {}: {}  (head {})",
            o.number,
            match o.action {
                vnx::receipts::PrAction::Created => "opened",
                vnx::receipts::PrAction::Updated => "updated",
            },
            escape(&o.url),
            short(o.head_commit.as_str())
        ),
        (None, Some(said)) => say!(
            "{id}  {}  (`vnx pr open {id}` opens it by hand)",
            escape(&said)
        ),
        (None, None) => say!(
            "{id}  its pull request was not opened or updated (`vnx show {id} --log` says why; \
             `vnx pr open {id}` opens it by hand)"
        ),
    }
}

/// Whether the project opens the pull request of every dispatch of `role` by itself when
/// done (`roles.<role>.open_pr`, `forge.open_on_done`), as the supervisor decides: then a
/// dispatch waited for in the foreground waits for that too.
pub(crate) fn opens_when_done(project: &vnx::project::Project, role: &str) -> bool {
    let Ok(config) = project.load_config() else {
        return false;
    };
    config
        .forge
        .as_ref()
        .is_some_and(|f| f.open_on_done || config.roles.get(role).is_some_and(|r| r.open_pr))
}

/// Asks the supervisor of dispatch `id` to open its pull request when it ends done and its
/// gates pass (`--open-pr`, `vnx pr fix`).
pub(crate) fn request_open_when_done(
    project: &vnx::project::Project,
    id: &DispatchId,
) -> Result<(), CliError> {
    let wanted = forge::auto::Wanted::default();
    forge::auto::request(&project.data_dir(), id, &wanted)?;
    Ok(())
}

/// What the supervisor does once its dispatch's completion is on the ledger: opens the pull
/// request when asked and the dispatch ended done with its gates passed. Runs in the
/// dispatching command's environment (its `gh` login); what happened goes to the pane.
pub(crate) fn open_when_done(spec: &vnx::dispatch::Spec) {
    use std::io::Write;
    let project = vnx::project::Project::at(&spec.repo_root);
    let data = project.data_dir();
    let asked = forge::auto::requested(&data, &spec.id).is_some();
    let Ok(config) = project.load_config() else {
        return;
    };
    let Some(forge_config) = &config.forge else {
        if asked {
            let _ = std::fs::remove_file(forge::auto::request_path(&data, &spec.id));
        }
        return;
    };
    let by_role = config.roles.get(&spec.role).is_some_and(|r| r.open_pr);
    if !asked && !forge_config.open_on_done && !by_role {
        return;
    }
    let mut stdout = std::io::stdout();
    let result = (|| -> Result<forge::auto::Outcome, CliError> {
        let forge = Forge::resolve(&project.root, forge_config, gh_program())?;
        let setup = Setup::with(
            project.clone(),
            Vec::new(),
            config.clone(),
            forge,
            spec.ledger.clone(),
        )?;
        let vnx = std::env::current_exe()
            .map_err(|e| CliError::from_error(&e).with_hint("could not find vnx's own binary"))?;
        setup.run(|ctx, forge, config| {
            let on_event = |_: vnx::gate::Event<'_>| {};
            let gates = vnx::gate::Context {
                attestor: ctx.attestor,
                trusted_keys: ctx.trusted_keys,
                root: ctx.root,
                ledger: ctx.ledger,
                vnx: &vnx,
                find_program: &settings::find_program,
                on_event: &on_event,
            };
            let outcome = forge::auto::when_done(ctx, forge, config, &gates, &spec.id)?;
            if let (forge::auto::Outcome::Opened { .. }, Some(key)) = (&outcome, ctx.key) {
                // Anchor the gate evidence, as `vnx gate-check` does, so a merge can rely on it.
                let _ = vnx::merge::anchor(ctx.ledger, key, ctx.threads, ctx.witness_dir);
            }
            Ok(outcome)
        })
    })();
    let said = match result {
        Ok(forge::auto::Outcome::NotAsked) => return,
        Ok(forge::auto::Outcome::NotDone { status }) => format!(
            "not opening the pull request: the dispatch ended {}",
            status.map_or("unrecorded", |s| s.name())
        ),
        Ok(forge::auto::Outcome::GatesHeld { reasons }) => format!(
            "not opening the pull request: its gates did not pass ({})",
            escape(&reasons.join("; "))
        ),
        Ok(forge::auto::Outcome::Opened { receipt }) => format!(
            "pull request #{} {}: {} (head {})",
            receipt.number,
            match receipt.action {
                vnx::receipts::PrAction::Created => "opened",
                vnx::receipts::PrAction::Updated => "updated",
            },
            escape(&receipt.url),
            short(receipt.head_commit.as_str())
        ),
        Err(e) => {
            e.warn();
            format!("could not open the pull request: {}", e.one_line())
        }
    };
    let _ = writeln!(stdout, "vnx: {} {said}", spec.id);
    // For the dispatching command, when it waits in the foreground.
    let outcome = forge::auto::outcome_path(&data, &spec.id);
    if let Some(parent) = outcome.parent()
        && vnx::files::private_dir(parent).is_ok()
    {
        let _ = vnx::files::write_atomic_private(&outcome, format!("{said}\n").as_bytes(), false);
    }
}
