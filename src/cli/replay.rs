//! `vnx replay ID`: dispatches a recorded dispatch again, to the same or another provider or
//! model, and can compare the two when the replay ends.

use std::process::ExitCode;
use std::time::Duration;

use vnx::dispatch::Request;
use vnx::dispatch::start::replay;

use super::CliError;
use super::util::context::with_desk;
use super::util::launch::{Repeat, SandboxFlags, Started};
use super::util::output::say;
use super::util::settings;

/// Dispatch a recorded dispatch again: same instruction, skills, role and base
///
/// The instruction is read from the original's dispatch directory and checked against the
/// hash its signed `dispatch_started` recorded. Provider, model, lane, posture, deadline and
/// sandbox are the original's unless given. The replay's `dispatch_started.replay_of` names
/// the original and says whether the original prompt still rebuilds byte for byte (a skill
/// changed since makes it not; both hashes are recorded). Compare the two with `vnx compare`.
///
/// The replay starts from the original's base commit, unless --base-ref names another: a
/// branch (e.g. the original's base, which moved on) makes the replay start from its tip and
/// merge back into it. That is the way through a merge conflict (ADR 0047): replay the task
/// on the current base, then gate and merge the replay.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx replay D-1a2b3c4d5e6f --provider demo --model dirty\n  $ vnx compare D-1a2b3c4d5e6f D-7e8f9a0b1c2d"
)]
pub struct Args {
    /// The dispatch to replay (an id, or its start)
    #[arg(value_name = "ID")]
    id: String,
    /// The provider [default: the original's]
    #[arg(long, value_name = "P")]
    provider: Option<String>,
    /// Start from this ref instead (a branch: its current tip, and the replay merges into
    /// it) [default: the original's base commit]
    #[arg(long, value_name = "REF")]
    base_ref: Option<String>,
    /// A short title for lists [default: the original's]
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,
    #[command(flatten)]
    repeat: Repeat,
    #[command(flatten)]
    sandbox: SandboxFlags,
    #[command(flatten)]
    started: Started,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    super::util::ids::check_dispatch_id(&args.id)?;
    with_desk(args.tmux.tmux_socket.clone(), |desk| {
        let ctx = desk.ctx;
        let id = super::util::ids::dispatch_id(ctx.project, &args.id)?;
        let original = replay::original(&ctx.project.root, ctx.ledger, &id, desk.trusted)?;
        let link = replay::link(&ctx.project.root, &original);
        if !link.identical {
            say!(
                "the prompt of {} does not rebuild byte for byte{}: the replay records both hashes",
                id,
                if link.changed_skills.is_empty() {
                    String::new()
                } else {
                    format!(" (changed since: {})", link.changed_skills.join(", "))
                }
            );
        }
        let s = &original.started;
        let same_provider = args.provider.as_deref().is_none_or(|p| p == s.provider);
        let (overrides, override_reasons) = settings::constraint_overrides();
        let request = Request {
            gates: s.gates.clone(),
            role: s.role.clone(),
            provider: Some(args.provider.clone().unwrap_or_else(|| s.provider.clone())),
            model: args
                .repeat
                .model
                .clone()
                .or_else(|| same_provider.then(|| s.model.clone()).flatten()),
            base_ref: args
                .base_ref
                .clone()
                .unwrap_or_else(|| s.base_commit.to_string()),
            deadline: Duration::from_secs(args.repeat.deadline.unwrap_or(s.deadline_seconds)),
            permission: args.repeat.permission.map_or(s.permission, Into::into),
            lane: args
                .repeat
                .lane
                .map(Into::into)
                .or_else(|| same_provider.then_some(s.lane)),
            skills: s.skills.iter().map(|k| k.name.clone()).collect(),
            overrides,
            override_reasons,
            sandbox: args.sandbox.sandbox().or(Some(s.sandbox.is_some())),
            network: args
                .sandbox
                .network()
                .or(s.sandbox.as_ref().map(|shape| shape.network)),
            replay_of: Some(link),
            title: args.title.clone().or_else(|| s.title.clone()),
            ..Request::of(original.instruction.clone())
        };
        args.started.start(desk, &request, &Default::default())
    })
}
