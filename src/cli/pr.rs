//! `vnx pr`: a dispatch's pull request on the project's forge, through the user's own `gh`:
//! opened (or updated) from the recorded head, shown, fixed forward by a follow-up that is
//! told the failing checks and the reviews, and merged when vnx's conditions and the forge's
//! checks hold, and watched for the reactions `forge.reactions` asks for (`watch`, in
//! `pr_watch.rs`). Also the supervisor's "open the pull request when done".

use std::process::ExitCode;

use vnx::forge::{self, ForgeError};

#[path = "pr_watch.rs"]
mod watch;

use super::CliError;
use super::util::forge::Setup;
use super::util::launch::Started;
use super::util::output::{Out, escape, say};
use crate::shown::short;

/// Open, show, fix and merge dispatches' pull requests on the project's forge
#[derive(clap::Subcommand)]
pub enum Command {
    Open(OpenArgs),
    Show(ShowArgs),
    Fix(FixArgs),
    Merge(MergeArgs),
    Watch(watch::WatchArgs),
}

/// Fix a dispatch's pull request forward: a follow-up told its failing checks and reviews
///
/// One read of the forge gathers what is wrong with the pull request recorded for the
/// dispatch: the failing checks (by name, with the tail of their failed steps' log where gh
/// can fetch it), the unresolved review threads (author, file, line, text), the review
/// decision and the reviews' bodies: only those of authors the project trusts
/// (forge.trusted_associations: by default GitHub's OWNER, MEMBER and COLLABORATOR), the
/// others named as left out. All of it is bounded, its control characters escaped,
/// and quoted as data in the instruction of a follow-up (`vnx follow-up`) that works in the
/// same worktree, on the same branch and in the same CLI session. When that follow-up ends
/// done and its role's gates pass, its new head is pushed to the same branch and the pull
/// request updated (a signed `pr_opened`, action `updated`), as `vnx pr open` would.
///
/// Refused (exit 1): no pull request recorded for the dispatch, or it is merged or closed,
/// or the forge reports nothing to fix (no failing check, no unresolved thread of a trusted
/// author, no change a trusted reviewer requested).
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx pr fix D-6d7e8f9a0b1c")]
pub struct FixArgs {
    /// The dispatch (or the latest follow-up of its chain) whose pull request to fix
    #[arg(value_name = "ID")]
    id: String,
    /// Return once the follow-up has started
    #[arg(long)]
    detach: bool,
    /// Print the follow-up's completion (or, with --detach, its launch) as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

/// Push dispatches' recorded heads and open (or update) their pull requests
///
/// For each dispatch, in order: the ledger must verify and the dispatch must have ended done
/// (or its work been accepted with `vnx accept`). Its recorded head — exactly the commit its
/// completion recorded, never what the branch holds now — is pushed to `dispatch/<id>` on the
/// remote `forge.remote` names (never forced), then the branch's open pull request is updated,
/// or a new one opened: titled with the task's title, its body the worker's summary, the gates
/// that passed on that head and the receipt that proves it. A signed `pr_opened` records the
/// number, address, head and base. `gh` runs in the main checkout with your own login.
///
/// Refused (exit 1): a dispatch that is not done, a ledger that does not verify, a push the
/// forge rejects (a branch with commits vnx never recorded, a protected branch), a pull
/// request closed or merged on the forge meanwhile (recorded as such). Exit 3 when gh is
/// missing or logged out, the remote is missing, or the forge is unreachable or
/// rate-limited; nothing is recorded then.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx pr open D-6d7e8f9a0b1c")]
pub struct OpenArgs {
    /// The dispatch ids (or their starts)
    #[arg(value_name = "ID", required = true, num_args = 1..)]
    ids: Vec<String>,
    /// Open it as a draft [default: forge.draft]
    #[arg(long, conflicts_with = "ready")]
    draft: bool,
    /// Open it ready for review, whatever forge.draft says
    #[arg(long)]
    ready: bool,
    /// The branch to merge into [default: the branch the dispatch started from]
    #[arg(long, value_name = "BRANCH")]
    base: Option<String>,
    /// Print each `pr_opened` receipt as a JSON line
    #[arg(long)]
    json: bool,
}

/// Show a dispatch's pull request as the forge has it now
///
/// One read of the forge: its state, head, checks (pass, fail or pending, by name), review
/// decision, reviews and comments, and whether its head is the head vnx recorded. A pull
/// request merged or closed on the forge by a person is recorded (`pr_merged`, `pr_closed`).
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx pr show D-6d7e8f9a0b1c")]
pub struct ShowArgs {
    /// The dispatch id (or its start)
    #[arg(value_name = "ID")]
    id: String,
    /// Print it as JSON
    #[arg(long)]
    json: bool,
}

/// Merge a dispatch's pull request on the forge, when vnx's conditions and its checks hold
///
/// The conditions, in order (a refusal names the first that fails; --json lists all):
/// pr_open (open, not a draft), pr_at_recorded_head (the forge's head is the head the
/// dispatch recorded), checks_green (every check on it passes; with none, only when
/// forge.require_checks is false), ledger_verifies, checkpoint_extended, dispatch_done,
/// gates_passed (every gate the role and the task require passed on that head); for a pull
/// request stacked on a dependency's branch (`--after`), stack_parent_merged (it is then
/// retargeted onto its base first). Then `gh pr merge --match-head-commit HEAD` with the
/// method forge.merge_method names, and a signed `pr_merged` with the merge commit; `vnx
/// worktree-release` then counts the work as landed.
///
/// Refused (exit 1): a condition fails, or the forge refuses the merge (branch protection,
/// reviews it requires). A pull request merged on the forge already (by a person, or by a
/// merge interrupted before its receipt) is recorded as merged (exit 0).
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx pr merge D-6d7e8f9a0b1c --method merge")]
pub struct MergeArgs {
    /// The dispatch id (or its start)
    #[arg(value_name = "ID")]
    id: String,
    /// merge, squash or rebase [default: forge.merge_method]
    #[arg(long, value_name = "METHOD", value_parser = ["merge", "squash", "rebase"])]
    method: Option<String>,
    /// Print the `pr_merged` receipt (or the refusal's conditions) as JSON
    #[arg(long)]
    json: bool,
    /// Merge the stack under it first (`--after`): from the bottom, each pull request
    /// behind its own conditions, retargeted onto its base once the one below merged
    #[arg(long)]
    stack: bool,
}

pub fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Open(a) => open(a),
        Command::Show(a) => show(a),
        Command::Fix(a) => fix(a),
        Command::Merge(a) => merge(a),
        Command::Watch(a) => watch::run(a),
    }
}

fn fix(args: FixArgs) -> Result<ExitCode, CliError> {
    let setup = Setup::new(std::slice::from_ref(&args.id))?;
    let id = &setup.ids[0];
    let data = setup.project.data_dir();
    let fix = setup.within(|ctx, forge, _| vnx::actions::pr::fix(ctx, forge, &data, id))?;
    say!("{}", escape(&fix.line()));
    let started = Started {
        detach: args.detach,
        json: args.json,
        open_pr: fix.follow_up.open_pr,
    };
    let socket = args.tmux.tmux_socket.clone();
    // Not started: nothing is left asking for it.
    super::util::follow::start(&setup.project, &fix.follow_up, &started, socket)
        .inspect_err(|_| fix.abandon(&data))
}

fn open(args: OpenArgs) -> Result<ExitCode, CliError> {
    let setup = Setup::new(&args.ids)?;
    let request = forge::open::Request {
        draft: match (args.draft, args.ready) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        base: args.base,
    };
    let mut out = Out::new();
    for id in &setup.ids {
        let receipt =
            setup.within(|ctx, forge, config| forge::open::open(ctx, forge, config, id, &request));
        let receipt = refused(&mut out, args.json, receipt)?;
        if args.json {
            out.json(&receipt)?;
        } else {
            let verb = match receipt.action {
                vnx::receipts::PrAction::Created => "opened",
                vnx::receipts::PrAction::Updated => "updated",
                vnx::receipts::PrAction::Retargeted => "retargeted",
            };
            out.line(&format!(
                "{}  pull request #{} {verb}{}: {}  (head {})",
                receipt.dispatch_id,
                receipt.number,
                if receipt.draft { " as a draft" } else { "" },
                escape(&receipt.url),
                short(receipt.head_commit.as_str())
            ))?;
        }
    }
    Ok(super::util::error::Exit::Ok.into())
}

fn merge(args: MergeArgs) -> Result<ExitCode, CliError> {
    let setup = Setup::new(std::slice::from_ref(&args.id))?;
    let id = &setup.ids[0];
    let method = args
        .method
        .as_deref()
        .and_then(vnx::receipts::PrMergeMethod::chosen);
    let mut out = Out::new();
    if args.stack {
        let json = args.json;
        let said = |m: &forge::merge::Merged| {
            let _ = merged_line(&mut Out::new(), m, json);
        };
        let merged = setup.within(|ctx, forge, config| {
            forge::stack::merge(ctx, forge, config, id, method, &said)
        });
        refused(&mut out, args.json, merged)?;
        return Ok(super::util::error::Exit::Ok.into());
    }
    let merged =
        setup.within(|ctx, forge, config| forge::merge::merge(ctx, forge, config, id, method));
    let merged = refused(&mut out, args.json, merged)?;
    merged_line(&mut out, &merged, args.json)?;
    Ok(super::util::error::Exit::Ok.into())
}

/// One merged pull request: its receipt (`json`), or a line saying how it merged.
fn merged_line(out: &mut Out, merged: &forge::merge::Merged, json: bool) -> Result<(), CliError> {
    let r = &merged.receipt;
    if json {
        out.json(merged)?;
    } else {
        let how = match (merged.recorded_before, merged.found_merged) {
            (true, _) => "was merged already".to_owned(),
            (_, true) => format!(
                "was found merged on the forge by {}",
                escape(r.merged_by.as_deref().unwrap_or("someone"))
            ),
            _ => format!("merged ({})", r.method.name()),
        };
        out.line(&format!(
            "{}  pull request #{} {how}: {} into {} as {}",
            r.dispatch_id,
            r.number,
            escape(&r.url),
            escape(&r.base),
            short(r.merge_commit.as_str())
        ))?;
    }
    out.flush().map(drop)
}

fn show(args: ShowArgs) -> Result<ExitCode, CliError> {
    let setup = Setup::new(std::slice::from_ref(&args.id))?;
    let id = &setup.ids[0];
    let seen = setup.within(|ctx, forge, _| forge::watch::show(ctx, forge, id))?;
    let mut out = Out::new();
    if args.json {
        out.json(&seen)?;
        return Ok(super::util::error::Exit::Ok.into());
    }
    let pr = &seen.pr;
    out.line(&format!(
        "{}  #{} {}{}  {}",
        seen.dispatch_id,
        pr.number,
        pr.state.name(),
        if pr.draft { " (draft)" } else { "" },
        escape(&pr.url)
    ))?;
    let not = if seen.at_recorded_head { "" } else { "NOT " };
    let head = short(&pr.head_commit);
    out.line(&format!("  head      {head}  ({not}the recorded head)"))?;
    out.line(&format!(
        "  checks    {}",
        if pr.checks.is_empty() {
            "none".to_owned()
        } else {
            pr.checks
                .iter()
                .map(|c| format!("{} {}", escape(&c.name), c.state.name()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ))?;
    let review = Some(pr.review_decision.as_str()).filter(|r| !r.is_empty());
    out.line(&format!("  review    {}", review.unwrap_or("none")))?;
    for r in &pr.reviews {
        out.line(&format!(
            "  review by {} ({}): {}",
            escape(&r.author),
            escape(&r.state),
            escape(&vnx::forge::text::line(&r.body, 200))
        ))?;
    }
    for c in &pr.comments {
        out.line(&format!(
            "  comment by {}: {}",
            escape(&c.author),
            escape(&vnx::forge::text::line(&c.body, 200))
        ))?;
    }
    Ok(super::util::error::Exit::Ok.into())
}

/// What was `done`; or a refusal's conditions printed (as JSON with --json, else one line
/// each on stderr), then the error.
fn refused<T>(out: &mut Out, json: bool, done: Result<T, ForgeError>) -> Result<T, CliError> {
    if let Err(ForgeError::Refused { conditions, id, .. }) = &done {
        if json {
            out.json(&serde_json::json!({
                "dispatch_id": id,
                "result": "refused",
                "conditions": conditions,
            }))?;
        } else {
            for c in conditions {
                say!(
                    "  {} {}: {}",
                    if c.ok { "ok  " } else { "FAIL" },
                    c.name,
                    escape(&c.detail)
                );
            }
        }
    }
    Ok(done?)
}
