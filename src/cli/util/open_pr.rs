//! A dispatch's pull request opened when it is done, from the command line: asked for
//! (`--open-pr`, `vnx pr fix`), decided by the project (`roles.<role>.open_pr`,
//! `forge.open_on_done`, the library's `forge::auto` deciding), done by its supervisor with
//! this command's settings once the completion is on the ledger, and waited for by a
//! foreground dispatch, which says what became of it.

use vnx::forge::auto::AfterDone;
use vnx::forge::{self, Forge};
use vnx::ids::DispatchId;

use crate::cli::CliError;
use crate::cli::util::forge::{Setup, gh_program};
use crate::cli::util::output::{escape, say};
use crate::cli::util::settings;
use crate::shown::short;

/// Waits for dispatch `id`'s supervisor to finish what it does after the completion (its
/// pull request opened or updated, when asked; the library's `forge::auto::after_done`) and
/// says what became of the pull request.
pub(crate) fn await_open_when_done(project: &vnx::project::Project, id: &DispatchId) {
    let ledger = project.ledger();
    let Ok((_, trusted)) = settings::attestation(None, &ledger) else {
        return;
    };
    match forge::auto::after_done(&project.data_dir(), &ledger, &trusted, id) {
        AfterDone::Opened(o) => say!(
            "{id}  pull request #{} {}: {}  (head {})",
            o.number,
            match o.action {
                vnx::receipts::PrAction::Created => "opened",
                vnx::receipts::PrAction::Updated => "updated",
                vnx::receipts::PrAction::Retargeted => "retargeted",
            },
            escape(&o.url),
            short(o.head_commit.as_str())
        ),
        AfterDone::Said(said) => say!(
            "{id}  {}  (`vnx pr open {id}` opens it by hand)",
            escape(&said)
        ),
        AfterDone::Nothing => say!(
            "{id}  its pull request was not opened or updated (`vnx show {id} --log` says why; \
             `vnx pr open {id}` opens it by hand)"
        ),
    }
}

/// Whether the project opens the pull request of every dispatch of `role` by itself when
/// done (the library's `forge::auto::opens_when_done`): then a dispatch waited for in the
/// foreground waits for that too.
pub(crate) fn opens_when_done(project: &vnx::project::Project, role: &str) -> bool {
    project
        .load_config()
        .is_ok_and(|config| forge::auto::opens_when_done(&config, role))
}

/// What the supervisor does once its dispatch's completion is on the ledger: the library's
/// `forge::auto::after_completion` with this command's settings (the `gh` login of the
/// environment it was dispatched from, the signing key); what happened goes to the pane and
/// to the dispatching command (`forge::auto::tell`).
pub(crate) fn open_when_done(spec: &vnx::dispatch::Spec) {
    use std::io::Write;
    let project = vnx::project::Project::at(&spec.repo_root);
    let data = project.data_dir();
    let Ok(config) = project.load_config() else {
        return;
    };
    if !forge::auto::wanted_after(&data, &config, &spec.role, &spec.id) {
        return;
    }
    let Some(forge_config) = config.forge.as_ref() else {
        return;
    };
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
        setup.within(|ctx, forge, config| {
            let on_event = |_: vnx::gate::Event<'_>| {};
            let gates = vnx::gate::Context {
                attestor: ctx.attestor,
                trusted_keys: ctx.reading.trusted_keys,
                root: ctx.reading.root,
                ledger: ctx.reading.ledger,
                vnx: &vnx,
                find_program: &settings::find_program,
                on_event: &on_event,
            };
            Ok(forge::auto::after_completion(
                ctx, forge, config, &gates, &spec.id,
            )?)
        })
    })();
    let said = match result {
        Ok(outcome) => match forge::auto::said(&outcome) {
            Some(said) => escape(&said).into_owned(),
            None => return,
        },
        Err(e) => {
            e.warn();
            format!("could not open the pull request: {}", e.one_line())
        }
    };
    let _ = writeln!(std::io::stdout(), "vnx: {} {said}", spec.id);
    forge::auto::tell(&data, &spec.id, &said);
}
