//! What the container kind registers in `kinds`: under `container`, its factory (a
//! [`Container`] per dispatch) and its orphan listing (the containers and volumes the engine
//! shows with the project's label, read as hostile).

use serde_json::Value;

use super::Container;
use crate::config::hosts::container::ContainerHost;
use crate::config::{HostConfig, HostKind};
use crate::ids::DispatchId;
use crate::process::Cmd;
use crate::remote::RemoteError;
use crate::remote::made::{MAX_FOUND, Seen, listing};
use crate::remote::place::{Here, Kind, Place};

/// The container kind, as the registry holds it.
pub(in crate::remote) static KIND: Kind = Kind {
    name: "container",
    per_dispatch: true,
    place,
    listed,
};

/// The container section of `host`, when it is a container host.
fn spec(host: &HostConfig) -> Option<&ContainerHost> {
    match &host.kind {
        HostKind::Container(c) => Some(c),
        _ => None,
    }
}

/// Its factory: dispatch `id`'s container on `host`.
fn place(
    host: &HostConfig,
    id: Option<&DispatchId>,
    here: Here<'_>,
) -> Result<Option<Box<dyn Place>>, RemoteError> {
    let made = spec(host)
        .zip(id)
        .map(|(c, id)| Container::new(host, c, id, here));
    Ok(made.map(|m| Box::new(m) as Box<dyn Place>))
}

/// Its orphan listing (see [`Kind::listed`]).
fn listed(host: &HostConfig, key: &str) -> Result<Vec<Seen>, RemoteError> {
    let Some(c) = spec(host) else {
        return Ok(Vec::new());
    };
    let filter = format!("label={}={key}", super::PROJECT_LABEL);
    let engine = || Cmd::new(c.engine.program());
    let mut seen = Vec::new();
    for (argv, runner) in [(["ps", "-a"], true), (["volume", "ls"], false)] {
        let cmd = engine()
            .args(argv)
            .args(["--filter", &filter, "--format", "json"]);
        seen.extend(parse_engine(&listing(host, cmd)?, runner));
    }
    Ok(seen)
}

/// What a container engine lists with `--format json` (podman: one array; docker: an object
/// a line, its labels as `K=V,…`): each container (`runner`) or volume vnx made, by its
/// dispatch label, when its name is the one vnx gives that dispatch's.
pub(in crate::remote) fn parse_engine(text: &[u8], runner: bool) -> Vec<Seen> {
    let items: Vec<Value> = match serde_json::from_slice::<Value>(text) {
        Ok(Value::Array(items)) => items,
        Ok(item @ Value::Object(_)) => vec![item],
        _ => text
            .split(|&b| b == b'\n')
            .filter_map(|line| serde_json::from_slice::<Value>(line).ok())
            .collect(),
    };
    let mut out = Vec::new();
    for item in items.iter().take(MAX_FOUND) {
        let name = match (&item["Names"], &item["Name"]) {
            (Value::Array(names), _) => names.first().and_then(Value::as_str),
            (Value::String(name), _) | (_, Value::String(name)) => Some(name.as_str()),
            _ => None,
        };
        let label = match &item["Labels"] {
            Value::Object(labels) => labels
                .get(super::LABEL)
                .and_then(Value::as_str)
                .map(str::to_owned),
            Value::String(labels) => labels.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k == super::LABEL).then(|| v.to_owned())
            }),
            _ => None,
        };
        let (Some(name), Some(label)) = (name, label) else {
            continue;
        };
        let Ok(id) = DispatchId::parse(&label) else {
            continue;
        };
        let expected = format!("vnx-{}", id.as_str().to_ascii_lowercase());
        if name != expected {
            continue;
        }
        let running = runner && item["State"].as_str() == Some("running");
        let what = if runner { "container" } else { "volume" };
        out.push(Seen {
            object: format!("{what} {expected}"),
            id,
            running,
        });
    }
    out
}
