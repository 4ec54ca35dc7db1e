//! (cargo feature `mcp`) What `vnx mcp` tells its client unasked: `resources/subscribe` and
//! `resources/unsubscribe` of a dispatch's resource, the dispatches the client starts through
//! the acting tools subscribed for it, and `notifications/resources/updated` sent when one of
//! them changes state. A task of the session looks at the ledger now and then while something
//! is watched; what changed, for this client, is the library's (`vnx::mcp::watch`).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{
    CallToolResult, ErrorData, GetMeta, ResourceUpdatedNotification,
    ResourceUpdatedNotificationParam, ServerNotification,
};
use rmcp::service::Peer;

use vnx::ids::DispatchId;
use vnx::mcp::Settings;
use vnx::mcp::watch::{self, Changed, Watch};

use crate::mcp_server::{Server, error};

/// How often the ledger is looked at while something is watched (a `stat`; the states are
/// read only when it changed, or every [`watch::REREAD`]).
const TICK: Duration = Duration::from_secs(1);

/// The `_meta` key of an update that gives the dispatch's state now.
pub const STATUS_META: &str = "vnx/status";

impl Server {
    /// `resources/subscribe`: the dispatch `uri` names watched from its state now on.
    pub(crate) async fn subscribe_to(
        &self,
        uri: String,
        peer: &Peer<RoleServer>,
    ) -> Result<(), ErrorData> {
        let watch = Arc::clone(self.watch());
        self.blocking(move |s| watch::subscribe(s, &watch, &uri))
            .await?;
        self.keep_telling(peer);
        Ok(())
    }

    /// `resources/unsubscribe`: the dispatch `uri` names no longer watched.
    pub(crate) fn unsubscribe_from(&self, uri: &str) -> Result<(), ErrorData> {
        watch::unsubscribe(self.watch(), uri).map_err(|e| error(&e))
    }

    /// Watches, for the client `peer` is, the dispatches an acting tool's `answer` says it
    /// started (`dispatch_id` with `started_by`, and a `follow_up`), from the state the start
    /// left them in.
    pub(crate) fn watch_started(&self, answer: &CallToolResult, peer: &Peer<RoleServer>) {
        if answer.is_error == Some(true) {
            return;
        }
        let Some(said) = &answer.structured_content else {
            return;
        };
        let id = |v: &serde_json::Value| v.as_str().and_then(|t| DispatchId::parse(t).ok());
        let mut started = Vec::new();
        if let (Some(id), true) = (id(&said["dispatch_id"]), said["started_by"].is_string()) {
            let queued = said["state"] == "queued";
            started.push((id, if queued { "queued" } else { "running" }));
        }
        if let Some(id) = id(&said["follow_up"]) {
            started.push((id, "running"));
        }
        if started.is_empty() {
            return;
        }
        {
            let mut w = (self.watch().lock()).unwrap_or_else(|e| e.into_inner());
            for (id, status) in started {
                // Past the bound, a start is not watched; a subscribe says why.
                let _ = w.watch(id, status);
            }
        }
        self.keep_telling(peer);
    }

    /// Starts the task that tells `peer` what changed, unless it runs.
    fn keep_telling(&self, peer: &Peer<RoleServer>) {
        if self.telling().swap(true, Ordering::SeqCst) {
            return;
        }
        tokio::spawn(tell(
            self.settings(),
            Arc::clone(self.watch()),
            peer.clone(),
        ));
    }
}

/// Looks at the ledger every [`TICK`] and tells `peer` of each watched dispatch that changed
/// state, until the session ends.
async fn tell(settings: Arc<Settings>, watch: Arc<Mutex<Watch>>, peer: Peer<RoleServer>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if peer.is_transport_closed() {
            return;
        }
        let (s, w) = (Arc::clone(&settings), Arc::clone(&watch));
        // A read that failed (a ledger being replaced, say) is tried again at the next tick.
        let Ok(Ok(changed)) = tokio::task::spawn_blocking(move || watch::look(&s, &w)).await else {
            continue;
        };
        for c in changed {
            if peer.send_notification(updated(c)).await.is_err() {
                return;
            }
        }
    }
}

/// The notification of `c`: its URI, and its state now in `_meta`, under [`STATUS_META`].
fn updated(c: Changed) -> ServerNotification {
    let param = ResourceUpdatedNotificationParam::new(c.uri);
    let mut updated =
        ServerNotification::ResourceUpdatedNotification(ResourceUpdatedNotification::new(param));
    (updated.get_meta_mut().0.0).insert(STATUS_META.to_owned(), c.status.into());
    updated
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The update carries the dispatch's state in its `_meta`, on the wire.
    #[test]
    fn an_update_gives_the_state_in_its_meta() {
        let id = DispatchId::parse("D-0a1b2c3d4e5f").unwrap();
        let c = Changed {
            uri: watch::uri_of(&id),
            id,
            status: "done",
        };
        let wire = serde_json::to_value(updated(c)).unwrap();
        assert_eq!(wire["method"], "notifications/resources/updated");
        assert_eq!(wire["params"]["uri"], "vnx://dispatch/D-0a1b2c3d4e5f");
        assert_eq!(wire["params"]["_meta"][STATUS_META], "done", "{wire}");
        let back: ServerNotification = serde_json::from_value(wire).unwrap();
        assert_eq!(back.get_meta().0.0[STATUS_META], "done");
    }
}
