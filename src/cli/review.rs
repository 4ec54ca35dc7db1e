//! `vnx review ID [--comment FILE:LINE TEXT | --send]`: comments on lines of a dispatch's
//! diff, listed, added, or sent to its worker as one follow-up in the same worktree and
//! session; each a signed receipt (the library's `actions::review`, ADR 0091).

use std::process::ExitCode;

use vnx::actions::review;
use vnx::review::Anchor;

use super::CliError;
use super::util::context::desk_in;
use super::util::launch::Started;
use super::util::output::{Out, escape, say};

/// Comment on lines of a dispatch's diff, and send the comments to its worker
///
/// Without a flag, lists the dispatch's review comments: each one's FILE:LINE, `stale` when
/// the line's text differs in the newest head of the dispatch's chain (a follow-up changed
/// it), who made it, and `open` or the follow-up that addressed it; the line it is on; and
/// what it says. All of it escaped.
///
/// --comment FILE:LINE TEXT adds a comment on a line of the diff's new side (an added line or
/// the context around one) as the dispatch's recorded head has it: a signed `review_comment`
/// keeps the file, the line, its text's hash and the comment on the ledger, never where a
/// worker can write. Refused (exit 1) for a line the diff does not show, or a dispatch with
/// no recorded head.
///
/// --send sends the open comments to the worker as one follow-up (`vnx follow-up`) of the
/// newest dispatch of its chain, in the same worktree, on the same branch and in the same CLI
/// session. Its instruction quotes each comment with its file, line and the code around it,
/// as data: bounded, control characters escaped, fenced (the format `vnx pr fix` quotes a
/// pull request's review threads in). A signed `review_sent` names the comments and the
/// follow-up; they count as addressed once it has started. Refused (exit 1) when no comment
/// is open, or the newest dispatch of the chain cannot be followed up (still running, merged,
/// released); nothing is written then.
///
/// Exits 2 for an id never dispatched or a place that is not FILE:LINE, 3 when the ledger or
/// the repository cannot be read.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx review D-3c4d5e6f7a8b --comment demo-output.txt:2 \"Name the hash's algorithm in the line\"\n  $ vnx review D-3c4d5e6f7a8b\n  $ vnx review D-3c4d5e6f7a8b --send"
)]
pub struct Args {
    /// The dispatch id (or its start) whose diff is reviewed
    #[arg(value_name = "ID")]
    id: String,
    /// Add a comment on this line of the diff's new side
    #[arg(
        long,
        value_name = "FILE:LINE",
        requires = "text",
        conflicts_with = "send"
    )]
    comment: Option<String>,
    /// The comment (with --comment)
    #[arg(value_name = "TEXT", requires = "comment")]
    text: Option<String>,
    /// Send the open comments to the worker as one follow-up
    #[arg(long)]
    send: bool,
    /// With --send: return once the follow-up has started
    #[arg(long, requires = "send")]
    detach: bool,
    /// Print the comments (with --comment: the receipt; with --send: the follow-up's
    /// completion, or its launch with --detach) as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let anchor = args.comment.as_deref().map(Anchor::parse).transpose()?;
    let (project, mut ids) = super::util::ids::project_for(std::slice::from_ref(&args.id))?;
    let id = ids.remove(0);
    let socket = args.tmux.tmux_socket.clone();
    let mut out = Out::new();
    if let (Some(at), Some(text)) = (&anchor, &args.text) {
        let made = desk_in(&project, socket, None, |desk| {
            Ok(review::comment(desk, &id, at, text)?)
        })?;
        if args.json {
            out.json(&made)?;
        } else {
            say!("{id}: comment on {} recorded", escape(&at.to_string()));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.send {
        let sending = desk_in(&project, socket.clone(), None, |desk| {
            Ok(review::send(desk, &id)?)
        })?;
        say!("{}", escape(&sending.line()));
        let started = Started {
            detach: args.detach,
            json: args.json,
            open_pr: false,
        };
        return super::util::follow::start(&project, &sending.follow_up, &started, socket);
    }
    let listed = desk_in(&project, socket, None, |desk| Ok(review::list(desk, &id)?))?;
    if args.json {
        out.json(&listed)?;
        return Ok(ExitCode::SUCCESS);
    }
    let open = listed.open().count();
    out.line(&format!(
        "{id}  {} review comment(s), {open} open",
        listed.comments.len()
    ))?;
    for c in &listed.comments {
        for line in super::util::lines::review_comment(c) {
            out.line(&format!("  {line}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
