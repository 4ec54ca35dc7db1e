//! Ids given on the command line: checked for their form before anything is read, and
//! resolved (an id or the start of one) to the dispatch the ledger names; what a command
//! that takes dispatch ids starts with.

use crate::cli::CliError;
use crate::cli::util::settings;

/// A dispatch id, or the start of one, given on the command line, or a usage error (the start
/// of an id has an id's form too).
pub(crate) fn check_dispatch_id(id: &str) -> Result<(), CliError> {
    if vnx::ids::DispatchId::is_valid(id) {
        Ok(())
    } else {
        Err(CliError::usage(format!("{id:?} is not a dispatch id"))
            .with_hint("a dispatch id looks like D-1a2b3c4d5e6f; `vnx status` lists them"))
    }
}

/// The id asked for a new dispatch (`--id`, `--new-id`), when one was: it names the branch
/// and directories the dispatch makes, so nothing but an id's form is taken.
pub(crate) fn new_dispatch_id(
    given: Option<&str>,
) -> Result<Option<vnx::ids::DispatchId>, CliError> {
    given
        .map(|id| {
            vnx::ids::DispatchId::parse(id).map_err(|_| {
                CliError::usage(format!(
                    "dispatch id {id:?} does not match ^[A-Za-z0-9][A-Za-z0-9_-]{{0,63}}$"
                ))
                .with_hint(
                    "use letters, digits, `_` and `-` (e.g. D-1a2b3c4d5e6f); no `/`, `.` or \
                     spaces",
                )
            })
        })
        .transpose()
}

/// The group id asked for (`--group`), when one was.
pub(crate) fn group_id(given: Option<&str>) -> Result<Option<vnx::ids::GroupId>, CliError> {
    given
        .map(|id| {
            vnx::ids::GroupId::parse(id).map_err(|_| {
                CliError::usage(format!("{id:?} is not a group id"))
                    .with_hint("a group id looks like G-1a2b3c4d5e6f (`G-` and letters or digits)")
            })
        })
        .transpose()
}

/// The dispatch a dispatch id, or the start of one (`D-3f2a`, `3f2a`), given on the command
/// line names on `ledger`; a usage error when it names none or several.
pub(crate) fn dispatch_id(
    project: &vnx::project::Project,
    given: &str,
) -> Result<vnx::ids::DispatchId, CliError> {
    // The read index knows every recorded id while the ledger is unchanged since it was
    // written; without a key there is none, and the ledger is searched.
    let attestor = settings::attestor(None).ok();
    let index = vnx::dispatch::fold::index::path_in(&project.data_dir());
    Ok(vnx::dispatch::view::resolve_with(
        &project.ledger(),
        given,
        attestor.as_ref().map(|a| (index.as_path(), a)),
    )?)
}

/// What a command that takes dispatch ids starts with: the ids checked (a malformed one is
/// a usage error before anything is read), the project found, the completions supervisors
/// left pending appended, so the ledger it reads is up to date, and each id (or start of
/// one) resolved to the dispatch it names.
pub(crate) fn project_for(
    ids: &[String],
) -> Result<(vnx::project::Project, Vec<vnx::ids::DispatchId>), CliError> {
    for id in ids {
        check_dispatch_id(id)?;
    }
    let project = settings::project()?;
    crate::cli::util::pending::finish_pending(&project);
    let ids = ids
        .iter()
        .map(|g| dispatch_id(&project, g))
        .collect::<Result<_, _>>()?;
    Ok((project, ids))
}

/// The most dispatches one dispatch waits for (a fan-in merges each head in turn).
const MAX_AFTER: usize = 64;

/// What a new dispatch waits for (`--after`, the MCP `dispatch` tool's `after`): each id
/// checked and resolved (its own id, `own`, kept as given: the library refuses the cycle),
/// and whether each must be merged or only done; `None` for none.
pub(crate) fn awaited(
    project: &vnx::project::Project,
    after: &[String],
    merged: bool,
    own: Option<&vnx::ids::DispatchId>,
) -> Result<Option<vnx::receipts::Awaited>, CliError> {
    if after.is_empty() {
        return Ok(None);
    }
    if after.len() > MAX_AFTER {
        return Err(CliError::usage(format!(
            "{} dispatches to wait for: at most {MAX_AFTER}",
            after.len()
        ))
        .with_hint("wait for a dispatch that waits for the others (a chain)"));
    }
    let mut on = Vec::new();
    for given in after {
        check_dispatch_id(given)?;
        on.push(match vnx::ids::DispatchId::parse(given) {
            Ok(id) if own == Some(&id) => id,
            _ => dispatch_id(project, given)?,
        });
    }
    let until = match merged {
        true => vnx::receipts::DependencyEnd::Merged,
        false => vnx::receipts::DependencyEnd::Done,
    };
    Ok(Some(vnx::receipts::Awaited { on, until }))
}
