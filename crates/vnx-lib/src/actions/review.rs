//! Review comments on a dispatch's diff (`vnx review`, the dashboard's diff view, the web
//! page): a comment added on a line of the diff as the dispatch's recorded head has it, the
//! comments listed with whether each is stale and which follow-up addressed it, and the open
//! ones sent to the worker as one follow-up in the same worktree and session (ADR 0091). The
//! front end starts that follow-up as `vnx pr fix` does, or has [`send_and_start`] do it.

use super::follow_up::{self, Begun, FollowUp, Told};
use super::{ActionError, Desk};
use crate::dispatch::view::State;
use crate::evidence::Evidence;
use crate::ids::DispatchId;
use crate::receipts::{ReviewComment, ReviewSent};
use crate::review::{self, Anchor, Comment, ReviewError, anchor, instruction};

/// A dispatch's review: its comments in the order they were made.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Review {
    /// The dispatch reviewed.
    pub dispatch_id: DispatchId,
    /// Its comments.
    pub comments: Vec<Comment>,
}

impl Review {
    /// The comments no follow-up addressed yet.
    pub fn open(&self) -> impl Iterator<Item = &Comment> {
        self.comments.iter().filter(|c| c.is_open())
    }
}

/// Open comments sent: the receipt that says so and the follow-up they are sent in, for the
/// front end to start.
#[derive(Clone, Debug)]
pub struct Sending {
    /// The comments sent.
    pub comments: Vec<Comment>,
    /// The signed `review_sent`.
    pub sent: ReviewSent,
    /// The follow-up (its id chosen) whose instruction quotes them.
    pub follow_up: FollowUp,
}

impl Sending {
    /// What was sent, in a line.
    pub fn line(&self) -> String {
        format!(
            "{}: {} review comment(s) sent to {} in follow-up {}",
            self.sent.dispatch_id,
            self.comments.len(),
            self.sent.continues,
            self.sent.follow_up
        )
    }
}

/// Dispatch `id`'s review.
pub fn list(desk: &Desk<'_>, id: &DispatchId) -> Result<Review, ActionError> {
    let states = desk.states()?;
    Desk::named(&states, std::slice::from_ref(id))?;
    let ctx = desk.ctx;
    let comments = review::comments(&ctx.project.root, ctx.ledger, &states, id, desk.trusted)?;
    Ok(Review {
        dispatch_id: id.clone(),
        comments,
    })
}

/// Adds a comment `body` on `at` of dispatch `id`'s diff, as its recorded head has the line:
/// refused unless that is a line of the diff's new side, or when the dispatch has no head
/// recorded by vnx.
pub fn comment(
    desk: &Desk<'_>,
    id: &DispatchId,
    at: &Anchor,
    body: &str,
) -> Result<ReviewComment, ActionError> {
    let states = desk.states()?;
    Desk::named(&states, std::slice::from_ref(id))?;
    let ctx = desk.ctx;
    let ev = Evidence::read(ctx.ledger, id, desk.trusted)?;
    let (Some(base), Some(head)) = (ev.base_commit(), ev.head()) else {
        return Err(ReviewError::NoHead { id: id.clone() }.into());
    };
    Ok(review::comment(
        &ctx.project.root,
        ctx.ledger,
        ctx.attestor,
        id,
        (base, head),
        at,
        body,
        desk.by,
    )?)
}

/// Sends dispatch `id`'s open comments: the follow-up of the newest dispatch of its chain
/// whose instruction quotes each with the code it points at, and a signed `review_sent`
/// naming it (the comments count as addressed once that follow-up is on the ledger). Refused
/// when none is open.
pub fn send(desk: &Desk<'_>, id: &DispatchId) -> Result<Sending, ActionError> {
    let states = desk.states()?;
    Desk::named(&states, std::slice::from_ref(id))?;
    let ctx = desk.ctx;
    let open: Vec<Comment> =
        review::comments(&ctx.project.root, ctx.ledger, &states, id, desk.trusted)?
            .into_iter()
            .filter(Comment::is_open)
            .collect();
    if open.is_empty() {
        return Err(ReviewError::NothingToSend { id: id.clone() }.into());
    }
    let newest =
        review::newest(&states, id).ok_or_else(|| ActionError::Unknown { id: id.clone() })?;
    // Refused before anything is written when the follow-up could not start (running,
    // merged, released…); a blocked one is cancelled by the follow-up itself, and a remote
    // one is its host's to judge.
    if newest.state != State::Blocked && newest.place.is_here() {
        let ctx = desk.ctx;
        crate::dispatch::start::follow_up::find(
            ctx.project,
            ctx.ledger,
            &newest.id,
            Some(newest.state),
        )?;
    }
    let continues = newest.id.clone();
    let repo = anchor::open(&ctx.project.root, id).map_err(ActionError::from)?;
    let quoted: Vec<instruction::Quoted> = open
        .iter()
        .map(|c| {
            let r = &c.receipt;
            let code = anchor::around(&repo, &r.head_commit, &r.file, r.line, instruction::CONTEXT);
            (c.clone(), code)
        })
        .collect();
    let new_id = DispatchId::fresh();
    let sent = review::record_sent(
        ctx.ledger,
        ctx.attestor,
        id,
        &open,
        (&continues, &new_id),
        desk.by,
    )?;
    crate::steps::reached(crate::steps::review::SENT_APPENDED);
    let follow_up = FollowUp {
        new_id: Some(new_id),
        title: Some(format!("address {} review comment(s)", open.len())),
        instruction: instruction::instruction(&quoted),
        ..FollowUp::of(continues)
    };
    Ok(Sending {
        comments: open,
        sent,
        follow_up,
    })
}

/// [`send`], then the follow-up started where it belongs, on its dispatch's host or here
/// ([`follow_up::begin`]).
pub fn send_and_start(
    desk: &Desk<'_>,
    id: &DispatchId,
    told: &dyn Fn(Told),
) -> Result<(Sending, Begun), ActionError> {
    let sending = send(desk, id)?;
    let begun = follow_up::begin(desk, &sending.follow_up, told)?;
    Ok((sending, begun))
}
