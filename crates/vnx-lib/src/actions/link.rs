//! Following a signed link from a notice (ADR 0090): [`peek`] says what it would do without
//! doing it (what a page shows on GET, which a chat app's link preview also fetches), and
//! [`redeem`] does it (on POST): opens the token, checks the link was not used and that its
//! dispatch still waits for the very request the link was made for, records the link used,
//! and approves or denies as `vnx approve`/`vnx deny` do, with the same signed
//! `dispatch_answered` (for a plan that waits, `plan_approved` or `plan_denied`, bound to the
//! plan the completion it was made for holds). Each refusal is an outcome of its own, said
//! in words.

use super::answer::answer_state;
use super::{ActionError, Desk};
use crate::dispatch::view::{DispatchState, State};
use crate::ids::DispatchId;
use crate::notice::{Link, LinkAction, LinkError, LinkKey, UsedLinks, request_of};
use crate::receipts::DispatchStatus;
use crate::receipts::{DispatchAnswered, PermissionAnswer, WaitingFor};

/// What a denial from a link tells the worker.
pub const DENIED: &str = "denied from a notification link";

/// Why a link does nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a link vnx made.
    Malformed,
    /// Its signature does not hold.
    Forged,
    /// It expired.
    Expired {
        /// When.
        at: jiff::Timestamp,
    },
    /// It was followed before.
    AlreadyUsed {
        /// Its dispatch.
        dispatch: DispatchId,
    },
    /// Its dispatch is not on the ledger.
    UnknownDispatch {
        /// The id it names.
        dispatch: DispatchId,
    },
    /// Its dispatch no longer waits for the request it was made for: answered already (here,
    /// in the pane, by another link), asked something else since, or ended.
    NoLongerWaiting {
        /// The dispatch.
        dispatch: DispatchId,
        /// What it is now (`running`, `blocked`, `done`, …).
        status: &'static str,
    },
    /// It waits for an answer typed in its pane, which a link cannot give: its page can.
    OnlyOpens {
        /// The dispatch.
        dispatch: DispatchId,
    },
}

impl Refusal {
    /// The refusal in plain words, as a page says it.
    pub fn says(&self) -> String {
        match self {
            Refusal::Malformed => LinkError::Malformed.to_string() + ": it does nothing",
            Refusal::Forged => LinkError::Forged.to_string() + ": it does nothing",
            Refusal::Expired { at } => format!("This link expired at {at}: it does nothing."),
            Refusal::AlreadyUsed { dispatch } => {
                format!(
                    "This link was already used: it acts once. {dispatch}'s page shows what became of it."
                )
            }
            Refusal::UnknownDispatch { dispatch } => {
                format!("This link names dispatch {dispatch}, which this project does not have.")
            }
            Refusal::NoLongerWaiting { dispatch, status } => format!(
                "{dispatch} no longer waits for this request (it is {status} now): it was \
                 answered already, or asked something else. Nothing was done."
            ),
            Refusal::OnlyOpens { dispatch } => {
                format!("{dispatch} asks a question that is answered on its page, not with a link.")
            }
        }
    }

    fn of(e: LinkError) -> Refusal {
        match e {
            LinkError::Malformed => Refusal::Malformed,
            LinkError::Forged => Refusal::Forged,
            LinkError::Expired { at } => Refusal::Expired { at },
        }
    }
}

/// What a link would do, or why it would do nothing.
#[derive(Clone, Debug, PartialEq)]
pub enum Peeked {
    /// It would approve or deny this request.
    Would {
        /// The link.
        link: Link,
        /// The dispatch as it is now.
        state: Box<DispatchState>,
        /// What it waits for, in a line (worker text: a front end escapes it).
        what: String,
    },
    /// It would do nothing.
    Refused(Refusal),
}

/// What following a link did.
#[derive(Clone, Debug, PartialEq)]
pub enum Redeemed {
    /// It approved or denied the request; the receipt is on the ledger.
    Answered {
        /// The link.
        link: Link,
        /// The signed receipt written.
        receipt: Box<DispatchAnswered>,
    },
    /// It approved a plan, or sent it back; the receipt is on the ledger and the follow-up
    /// that carries it out (or plans again) started.
    PlanDecided {
        /// The link.
        link: Link,
        /// The line that says so (`plan approved (sha256 …): D-… carries it out`).
        line: String,
    },
    /// It did nothing.
    Refused(Refusal),
}

/// The link `token` holds and its dispatch's state, if it would act now (`used`: the links
/// redeemed).
fn judge(
    desk: &Desk<'_>,
    key: &LinkKey,
    token: &str,
    now: jiff::Timestamp,
    used: &UsedLinks,
) -> Result<Result<(Link, DispatchState), Refusal>, ActionError> {
    let link = match key.open(token, now) {
        Ok(l) => l,
        Err(e) => return Ok(Err(Refusal::of(e))),
    };
    if used.used(&link) {
        return Ok(Err(Refusal::AlreadyUsed {
            dispatch: link.dispatch,
        }));
    }
    let states = desk.states()?;
    let Some(state) = states.into_iter().find(|s| s.id == link.dispatch) else {
        return Ok(Err(Refusal::UnknownDispatch {
            dispatch: link.dispatch,
        }));
    };
    let same = request_of(&state).is_some_and(|r| r == link.request);
    match (&state.state, &state.blocked) {
        (State::Blocked, Some(b)) if same && b.waiting_for == WaitingFor::Permission => {
            Ok(Ok((link, state)))
        }
        // A plan that waits, in the very completion the link was made for.
        (State::Ended(DispatchStatus::NeedsInput), _) if same && state.plan_waiting().is_some() => {
            Ok(Ok((link, state)))
        }
        (State::Blocked, Some(_)) if same => Ok(Err(Refusal::OnlyOpens {
            dispatch: link.dispatch,
        })),
        _ => Ok(Err(Refusal::NoLongerWaiting {
            dispatch: link.dispatch,
            status: state.status,
        })),
    }
}

/// What following `token` would do at `now`, doing nothing.
pub fn peek(
    desk: &Desk<'_>,
    key: &LinkKey,
    token: &str,
    now: jiff::Timestamp,
) -> Result<Peeked, ActionError> {
    // A look: it never waits while another link is being followed.
    let used = UsedLinks::glance(&desk.ctx.project.data_dir())?;
    Ok(match judge(desk, key, token, now, &used)? {
        Ok((link, state)) if state.blocked.is_none() => {
            let what = state
                .plan_waiting()
                .map_or_else(String::new, |(plan, sha)| {
                    format!(
                        "the plan (sha256 {}…): {}",
                        &sha[..12],
                        crate::notice::safe(plan)
                    )
                });
            Peeked::Would {
                link,
                state: Box::new(state),
                what,
            }
        }
        Ok((link, state)) => {
            let what = state
                .blocked
                .as_ref()
                .map(|b| match (&b.tool, &b.command) {
                    (Some(t), Some(c)) => format!("{t}: {c}"),
                    (_, Some(c)) => c.clone(),
                    (Some(t), None) => t.clone(),
                    (None, None) => b.message.clone().unwrap_or_default(),
                })
                .unwrap_or_default();
            Peeked::Would {
                link,
                state: Box::new(state),
                what,
            }
        }
        Err(r) => Peeked::Refused(r),
    })
}

/// Follows `token` at `now`: when it would act ([`peek`]), records it used and approves or
/// denies its request as `desk.by`. Links are redeemed one at a time (under the used links'
/// lock, held until the answer is on the ledger), so a link, or an approve and a deny link
/// for one request, act once between them, whichever process follows them. A link whose
/// answer then fails (its pane gone) stays used: a new notice comes with the next request.
pub fn redeem(
    desk: &Desk<'_>,
    key: &LinkKey,
    token: &str,
    now: jiff::Timestamp,
) -> Result<Redeemed, ActionError> {
    let mut used = UsedLinks::hold(&desk.ctx.project.data_dir())?;
    let (link, state) = match judge(desk, key, token, now, &used)? {
        Ok(found) => found,
        Err(r) => return Ok(Redeemed::Refused(r)),
    };
    used.mark(&link, now)?;
    if let Some((_, sha)) = state.plan_waiting() {
        let sha = sha.to_owned();
        let told = |_| {};
        let (approved, next) = match link.action {
            LinkAction::Approve => {
                let d = super::plan::approve(desk, &link.dispatch, None, Some(&sha), &told)?;
                (true, d.follow_up.id().clone())
            }
            LinkAction::Deny => {
                let d = super::plan::deny(desk, &link.dispatch, Some(DENIED), Some(&sha), &told)?;
                (false, d.follow_up.id().clone())
            }
        };
        drop(used);
        let line = super::plan::line(approved, &sha, &next);
        return Ok(Redeemed::PlanDecided { link, line });
    }
    let (decision, message) = match link.action {
        LinkAction::Approve => (PermissionAnswer::Approve, None),
        LinkAction::Deny => (PermissionAnswer::Deny, Some(DENIED)),
    };
    let receipt = answer_state(desk, &state, decision, message)?;
    drop(used);
    Ok(Redeemed::Answered {
        link,
        receipt: Box::new(receipt),
    })
}
