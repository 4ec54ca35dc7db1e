//! The dispatch context of the project here, as every command that starts, answers or
//! drains dispatches resolves it: its ledger, the tmux socket, vnx's own binary, the signing
//! key, the worker's environment and how a CLI's program and version are found; and the
//! desk the library's actions are done at (`vnx::actions`).

use vnx::dispatch::Context;
use vnx::tmux::Tmux;

use crate::cli::CliError;
use crate::cli::util::settings;

/// Runs `f` with the dispatch context of the project here: its ledger, the tmux socket
/// (`--tmux-socket`, else the environment's), vnx's binary and the signing key.
pub(crate) fn with_context<T>(
    tmux_socket: Option<String>,
    f: impl FnOnce(&Context<'_>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let project = crate::cli::util::ids::project_for(&[])?.0;
    context_in(&project, tmux_socket, None, f)
}

/// [`with_context`] for `project`, signing with the key `--key` names, when it names one;
/// `project` found (and its supervisors' pending completions
/// finished) by the caller already.
pub(crate) fn context_in<T>(
    project: &vnx::project::Project,
    tmux_socket: Option<String>,
    key: Option<std::path::PathBuf>,
    f: impl FnOnce(&Context<'_>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let ledger = project.ledger();
    let tmux = Tmux::new(settings::tmux_socket(tmux_socket));
    let vnx = std::env::current_exe()
        .map_err(|e| CliError::from_error(&e).with_hint("could not find vnx's own binary"))?;
    let key_path = settings::key_path(key)?;
    let attestor = settings::attestor(Some(key_path.clone()))?;
    let machine = settings::machine();
    let shared_cache = settings::user_cache_dir();
    // The worker runs in this command's environment, not the tmux server's.
    let env: Vec<_> = settings::env_all().collect();
    let ctx = Context {
        by: None,
        by_worker: None,
        env: Some(&env),
        machine: &machine,
        attestor: &attestor,
        key_path: &key_path,
        project,
        ledger: &ledger,
        tmux: &tmux,
        vnx: &vnx,
        find_program: &settings::find_program,
        probe_version: &|binary| {
            vnx::provider::version::probe_shared(
                binary,
                &project.cache_dir(),
                shared_cache.as_deref(),
            )
        },
    };
    f(&ctx)
}

/// Runs `f` at the desk of the project here (see [`with_context`]): its dispatch context, the
/// keys whose receipts are trusted, and who acts (the user).
pub(crate) fn with_desk<T>(
    tmux_socket: Option<String>,
    f: impl FnOnce(&vnx::actions::Desk<'_>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    with_desk_as(tmux_socket, None, f)
}

/// [`with_desk`], naming who acts when it is not the user at this terminal (a paired
/// device of `vnx serve`).
pub(crate) fn with_desk_as<T>(
    tmux_socket: Option<String>,
    by: Option<&str>,
    f: impl FnOnce(&vnx::actions::Desk<'_>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    with_context(tmux_socket, |ctx| at_desk(ctx, by, None, f))
}

/// [`with_desk`] for an agent that may run in a dispatch's worker (`vnx mcp --act`): it is
/// who acts, the dispatches it starts record its worker's, and it decides for none of its
/// worker's own (ADR 0095).
#[cfg(feature = "mcp")]
pub(crate) fn with_desk_for<T>(
    tmux_socket: Option<String>,
    actor: &vnx::actions::guard::Actor,
    f: impl FnOnce(&vnx::actions::Desk<'_>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let by = actor.by();
    with_context(tmux_socket, |ctx| at_desk(ctx, Some(&by), Some(actor), f))
}

/// Runs `f` at the desk of `ctx`: the keys whose receipts are trusted, `by` acting (the user
/// when `None`), as `actor` when an agent acts.
fn at_desk<T>(
    ctx: &Context<'_>,
    by: Option<&str>,
    actor: Option<&vnx::actions::guard::Actor>,
    f: impl FnOnce(&vnx::actions::Desk<'_>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let trusted = vnx::ledger::attest::trusted_keys(ctx.ledger, ctx.attestor)?;
    let ctx = &vnx::dispatch::Context {
        by,
        by_worker: actor.and_then(|a| a.worker_id()),
        ..*ctx
    };
    let by = by.map_or_else(settings::user, str::to_owned);
    f(&vnx::actions::Desk {
        ctx,
        trusted: &trusted,
        by: &by,
        actor,
    })
}

/// [`with_desk`] for `project`, signing with the key `--key` names, when it names one;
/// `project` found (and its supervisors' pending completions finished)
/// by the caller already, as `ids::project_for` does.
pub(crate) fn desk_in<T>(
    project: &vnx::project::Project,
    tmux_socket: Option<String>,
    key: Option<std::path::PathBuf>,
    f: impl FnOnce(&vnx::actions::Desk<'_>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    context_in(project, tmux_socket, key, |ctx| at_desk(ctx, None, None, f))
}
