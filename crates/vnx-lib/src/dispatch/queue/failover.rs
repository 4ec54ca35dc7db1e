//! Failover on a usage limit (ADR 0120): a dispatch that has not started, asked of a provider
//! a usage limit holds (ADR 0117), moves to the first provider its role's `on_limit:` names
//! that no limit holds, with a signed `dispatch_failover` naming both written before it
//! moves. A new dispatch moves as it is submitted; a queued one as the drain reaches it. The
//! model asked of the first provider is not carried over (the next one's default is taken);
//! the gates judge the work as any other's. A follow-up stays with its chain's provider,
//! unless a person moves a limited dispatch (`actions::limit_move`, which records with
//! [`record_by`]).

use std::path::Path;

use super::{Context, DispatchError, Entry, held};
use crate::config::Config;
use crate::receipts::DispatchFailover;

/// The provider a dispatch of `role` held on `from` moves to: the first of the role's
/// `on_limit:` that is not `from` and that no usage limit holds.
pub fn next_provider(config: &Config, data: &Path, role: &str, from: &str) -> Option<String> {
    config
        .roles
        .get(role)?
        .on_limit
        .iter()
        .find(|p| p.as_str() != from && held::holding(data, p).is_none())
        .cloned()
}

/// Records that dispatch `id` moves from `from` (held: `why`) to `to`, its model `model`
/// left behind, naming who moved it when a person did (`by`: a limited dispatch moved by
/// `vnx resume ID --to`).
pub fn record_by(
    ctx: &Context<'_>,
    ledger: &Path,
    (id, model): (&crate::ids::DispatchId, Option<&str>),
    (from, to): (&str, &str),
    (why, by): (&str, Option<&str>),
) -> Result<(), DispatchError> {
    let receipt = DispatchFailover {
        dispatch_id: id.clone(),
        from: from.to_owned(),
        to: to.to_owned(),
        model_from: model.map(str::to_owned),
        reason: why.to_owned(),
        by: by.map(str::to_owned),
        extra: Default::default(),
    };
    ctx.attestor.record(ledger, &receipt)?;
    Ok(())
}

/// A queued entry held on its provider, moved when its role names a provider to move to:
/// recorded, then rewritten in the queue under the new provider (its model dropped). The
/// entry as it is now (moved or not).
pub(super) fn move_entry(
    ctx: &Context<'_>,
    data: &Path,
    config: &Config,
    mut e: Entry,
) -> Result<Entry, DispatchError> {
    let Some(hold) = held::holding(data, &e.provider) else {
        return Ok(e);
    };
    let Some(to) = next_provider(config, data, &e.request.0.role, &e.provider) else {
        return Ok(e);
    };
    let ids = (&e.id, e.request.0.model.as_deref());
    let why = hold.describe();
    record_by(ctx, &e.ledger, ids, (&e.provider, &to), (&why, None))?;
    e.provider = to;
    e.request.0.model = None;
    super::entry::write(data, &e).map_err(super::io_err(&super::entry::dir(data)))?;
    Ok(e)
}
