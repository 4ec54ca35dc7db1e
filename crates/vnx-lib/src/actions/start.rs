//! Starting a dispatch (a new one, a follow-up, a replay, a resume): its plan, its pull
//! request asked for when it is done, and its launch or its place in the queue, with what a
//! front end says about them on the way.

use super::{ActionError, Desk};
use crate::dispatch::queue::{self, Submitted, Ticket};
use crate::dispatch::{self, Request};
use crate::ids::DispatchId;
use crate::provider::Lane;

/// What is worth saying while a dispatch starts, as it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// The egress policy found secrets in what the worker is sent (a list of them): sent as
    /// they are (`redacted` false), or redacted in the prompt with the files holding one
    /// withheld.
    Secrets {
        /// What was found.
        found: String,
        /// Whether they were redacted.
        redacted: bool,
    },
    /// A follow-up starts a new CLI session, told the earlier instruction: the dispatch it
    /// continues recorded none, or its provider cannot resume one in its lane.
    NewSession {
        /// The dispatch it continues.
        continued: DispatchId,
        /// The provider that cannot resume one here, when one was recorded.
        cannot_resume: Option<(String, Lane)>,
    },
    /// tmux's server shut down under the start this many times (its socket) and the session
    /// started on a fresh one.
    TmuxRestarted {
        /// The dispatch.
        id: DispatchId,
        /// The socket.
        socket: String,
        /// How many times.
        times: u32,
    },
    /// The budget limits dollars, but the cost cannot be read while the worker runs: its
    /// CLI records no running cost and `prices:` names no price for its model (ADR 0098).
    CostAtEnd {
        /// The provider.
        provider: String,
        /// The model, when one was named.
        model: Option<String>,
    },
}

impl Note {
    /// The line that says it.
    pub fn line(&self) -> String {
        match self {
            Note::Secrets { found, redacted } => format!(
                "egress policy: secrets found ({found}): {}; the egress_decision receipt \
                 records them",
                if *redacted {
                    "redacted in the prompt; included files holding one are not copied"
                } else {
                    "sent as they are"
                }
            ),
            Note::NewSession {
                continued,
                cannot_resume: None,
            } => format!(
                "{continued} recorded no CLI session: the follow-up starts a new one, told the \
                 earlier instruction"
            ),
            Note::NewSession {
                cannot_resume: Some((provider, lane)),
                ..
            } => format!(
                "{provider} cannot resume a session in the {} lane: the follow-up starts a new \
                 one, told the earlier instruction",
                lane.name()
            ),
            Note::TmuxRestarted { id, socket, times } => format!(
                "note: tmux's server on socket {socket} shut down under the start of {id} \
                 {times} time{} (\"server exited unexpectedly\"); it started on a fresh one",
                if *times == 1 { "" } else { "s" }
            ),
            Note::CostAtEnd { provider, model } => format!(
                "note: the budget's dollars are held to {provider}'s end-of-run cost: it records \
                 no running cost, and `prices:` in .vnx/config.yaml names no price for {}",
                model
                    .as_deref()
                    .map_or("its default model".to_owned(), |m| format!("model {m}"))
            ),
        }
    }
}

/// A dispatch started, or queued.
#[derive(Debug)]
pub struct Started {
    /// Launched, or waiting in its provider's queue.
    pub submitted: Submitted,
    /// Its provider's name.
    pub provider: String,
    /// Its role.
    pub role: String,
}

impl Started {
    /// Its id.
    pub fn id(&self) -> &DispatchId {
        match &self.submitted {
            Submitted::Started(launched) => &launched.id,
            Submitted::Queued { id, .. } => id,
        }
    }
}

/// A new dispatch as a person or an agent asks for it (the command line's flags, the MCP
/// server's `dispatch` arguments): `asked` with the role, provider, model and lane `named`
/// completed from the project's `defaults` ([`crate::config::Defaults::fill`]), planning
/// first in its posture when `plan` is asked for; `None` when no role is named and none is a
/// default.
pub fn asked(
    defaults: &crate::config::Defaults,
    named: crate::config::Named,
    plan: bool,
    asked: Request,
) -> Option<Request> {
    let filled = defaults.fill(named);
    Some(Request {
        role: filled.role?,
        provider: filled.provider,
        model: filled.model,
        lane: filled.lane,
        plan: plan.then(|| dispatch::planned::planning_step(asked.permission)),
        ..asked
    })
}

/// Plans `request` and launches it, or queues it when every slot of its provider is taken;
/// with `open_pr`, its supervisor is asked to open its pull request when it ends done and
/// its gates pass. Each [`Note`] is `told` when it arises.
pub fn start(
    desk: &Desk<'_>,
    request: &Request,
    ticket: &Ticket,
    open_pr: bool,
    told: &dyn Fn(Note),
) -> Result<Started, ActionError> {
    let ctx = desk.ctx;
    let plan = dispatch::plan(ctx, request)?;
    if open_pr {
        let wanted = crate::forge::auto::Wanted::default();
        crate::forge::auto::request(&ctx.project.data_dir(), &plan.spec.id, &wanted)?;
    }
    if let Some(action) = plan.egress.strictest() {
        told(Note::Secrets {
            found: dispatch::refusal::list(&plan.egress.findings),
            redacted: action != crate::egress::Action::Warn,
        });
    }
    if let (Some(c), Some(record)) = (&request.continues, &plan.spec.continues)
        && record.session_id.is_none()
    {
        told(Note::NewSession {
            continued: c.id().clone(),
            cannot_resume: c
                .session_id
                .as_ref()
                .map(|_| (plan.spec.provider.to_string(), plan.spec.lane)),
        });
    }
    let spec = &plan.spec;
    if [&spec.budget, &spec.project_day]
        .into_iter()
        .flatten()
        .any(|b| b.cost_usd.is_some())
        && !dispatch::budget::cost_read_live(spec)
    {
        told(Note::CostAtEnd {
            provider: plan.spec.provider.to_string(),
            model: plan.spec.model.clone(),
        });
    }
    let submitted = queue::submit(ctx, &plan, request, ticket)?;
    if let Submitted::Started(launched) = &submitted
        && launched.tmux_server_restarts > 0
    {
        told(Note::TmuxRestarted {
            id: launched.id.clone(),
            socket: launched.tmux_socket.clone(),
            times: launched.tmux_server_restarts,
        });
    }
    Ok(Started {
        submitted,
        provider: plan.spec.provider.to_string(),
        role: plan.spec.role,
    })
}
