//! The command line: argument parsing, settings resolution and rendering. One file per
//! subcommand; the work itself happens in the `vnx` library.

mod attach;
mod audit_checkpoint;
mod audit_seal;
mod audit_verify;
mod audit_walk;
mod best_of;
mod cancel;
mod clean;
mod compare;
mod completions;
mod constraints_check_imports;
mod constraints_list;
mod cost;
mod dashboard;
mod demo_worker;
mod dispatch_agent;
mod doctor;
mod drain;
mod error;
mod evidence_reach;
mod exits;
mod follow_up;
mod gate_check;
mod group;
mod hook;
mod init;
mod mcp;
mod merge;
mod output;
mod pool;
mod prune;
mod receipts_append;
mod receipts_tail;
mod recover;
mod relay;
mod remote;
mod remote_log;
mod remote_sync;
mod replay;
mod report;
mod settings;
mod show;
mod status;
mod supervise;
mod wait;
mod worktree_release;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::{CliError, Exit};

/// What `vnx --version` says: the version, then the commit and the date it was built from
/// (`build.rs`); `-V` says the version alone.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("VNX_BUILD_COMMIT"),
    ", built ",
    env!("VNX_BUILD_DATE"),
    ")"
);

/// A tmux and git-worktree dispatcher for AI coding CLIs, with a hash-chained receipt ledger.
#[derive(Parser)]
#[command(name = "vnx", version, long_version = LONG_VERSION, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Init(init::Args),
    #[command(name = "dispatch-agent")]
    DispatchAgent(dispatch_agent::Args),
    #[command(name = "follow-up")]
    FollowUp(follow_up::Args),
    Replay(replay::Args),
    Compare(compare::Args),
    #[command(name = "best-of")]
    BestOf(best_of::Args),
    /// Show or decide a best-of-N group
    #[command(subcommand)]
    Group(group::Command),
    Wait(wait::Args),
    Status(status::Args),
    Show(show::Args),
    Dashboard(dashboard::Args),
    Attach(attach::Args),
    Cancel(cancel::Args),
    Recover(recover::Args),
    #[command(name = "gate-check")]
    GateCheck(gate_check::Args),
    Merge(merge::Args),
    Mcp(mcp::Args),
    Doctor(doctor::Args),
    Report(report::Args),
    Cost(cost::Args),
    Clean(clean::Args),
    Prune(prune::Args),
    #[command(name = "worktree-release")]
    WorktreeRelease(worktree_release::Args),
    Completions(completions::Args),
    Man(completions::ManArgs),
    #[command(name = "__supervise", hide = true)]
    Supervise(supervise::Args),
    #[command(name = "__demo-worker", hide = true)]
    DemoWorker(demo_worker::Args),
    #[command(name = "__hook", hide = true)]
    Hook(hook::Args),
    #[command(name = "__evidence-reach", hide = true)]
    EvidenceReach(evidence_reach::Args),
    #[command(name = "__relay", hide = true)]
    Relay(relay::Args),
    #[command(name = "__remote-sync", hide = true)]
    RemoteSync(remote_sync::Args),
    /// Panics on purpose: shows how vnx reports an internal bug (exit 4)
    #[command(name = "__crash", hide = true)]
    Crash,
    /// Append to and read the receipt ledger
    #[command(subcommand)]
    Receipts(ReceiptsCommand),
    /// Check, seal, list and checkpoint the ledger's hash chain
    #[command(subcommand, name = "audit-chain")]
    AuditChain(AuditCommand),
    /// Check provider_constraints.yaml and scan for forbidden imports
    #[command(subcommand)]
    Constraints(ConstraintsCommand),
    /// Show, fill and empty the worktree pools
    #[command(subcommand)]
    Pool(PoolCommand),
}

#[derive(Subcommand)]
enum PoolCommand {
    Status(pool::StatusArgs),
    Fill(pool::FillArgs),
    Clear(pool::ClearArgs),
}

#[derive(Subcommand)]
enum ConstraintsCommand {
    List(constraints_list::Args),
    #[command(name = "check-imports")]
    CheckImports(constraints_check_imports::Args),
}

#[derive(Subcommand)]
enum ReceiptsCommand {
    Append(receipts_append::Args),
    Tail(receipts_tail::Args),
}

#[derive(Subcommand)]
enum AuditCommand {
    Verify(audit_verify::Args),
    Seal(audit_seal::Args),
    Walk(audit_walk::Args),
    Checkpoint(audit_checkpoint::Args),
}

/// The command line, with the exit codes under every command's `--help`.
fn command() -> clap::Command {
    fn with_exit_codes(cmd: clap::Command) -> clap::Command {
        // A command's examples (its `after_long_help`) come first in `--help`.
        let long = match cmd.get_after_long_help() {
            Some(examples) => format!("{examples}\n\n{}", error::EXIT_CODES),
            None => error::EXIT_CODES.to_owned(),
        };
        cmd.after_help(error::EXIT_CODES)
            .after_long_help(long)
            .mut_subcommands(with_exit_codes)
    }
    with_exit_codes(<Cli as clap::CommandFactory>::command())
}

/// Runs the command line and turns the outcome into an exit code. A panic is a bug in vnx:
/// it is reported as one and ends with exit status 4, whatever thread it was in.
pub fn run() -> ExitCode {
    ignore_file_size_signal();
    std::panic::set_hook(Box::new(|info| {
        let _ = CliError::new(format!("internal bug in vnx: {info}"))
            .with_hint("please report it, with the command that was run")
            .exit(Exit::Bug)
            .report();
        // A panic off the main thread would otherwise leave the process running, or end it
        // with another status.
        std::process::exit(Exit::Bug as i32);
    }));
    let parsed = command()
        .try_get_matches()
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            }
            .into();
        }
    };
    let result = match cli.command {
        Command::Init(a) => init::run(a),
        Command::DispatchAgent(a) => dispatch_agent::run(a),
        Command::FollowUp(a) => follow_up::run(a),
        Command::Replay(a) => replay::run(a),
        Command::Compare(a) => compare::run(a),
        Command::BestOf(a) => best_of::run(a),
        Command::Group(c) => group::run(c),
        Command::Wait(a) => wait::run(a),
        Command::Status(a) => status::run(a),
        Command::Show(a) => show::run(a),
        Command::Dashboard(a) => dashboard::run(a),
        Command::Attach(a) => attach::run(a),
        Command::Cancel(a) => cancel::run(a),
        Command::Recover(a) => recover::run(a),
        Command::GateCheck(a) => gate_check::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Mcp(a) => mcp::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Supervise(a) => supervise::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => completions::man(a),
        Command::DemoWorker(a) => demo_worker::run(a),
        Command::Hook(a) => hook::run(a),
        Command::EvidenceReach(a) => evidence_reach::run(a),
        Command::Relay(a) => relay::run(a),
        Command::RemoteSync(a) => remote_sync::run(a),
        Command::Crash => panic!("a deliberate crash (vnx __crash)"),
        Command::Report(a) => report::run(a),
        Command::Cost(a) => cost::run(a),
        Command::WorktreeRelease(a) => worktree_release::run(a),
        Command::Clean(a) => clean::run(a),
        Command::Prune(a) => prune::run(a),
        Command::Receipts(ReceiptsCommand::Append(a)) => receipts_append::run(a),
        Command::Receipts(ReceiptsCommand::Tail(a)) => receipts_tail::run(a),
        Command::AuditChain(AuditCommand::Verify(a)) => audit_verify::run(a),
        Command::AuditChain(AuditCommand::Seal(a)) => audit_seal::run(a),
        Command::AuditChain(AuditCommand::Walk(a)) => audit_walk::run(a),
        Command::AuditChain(AuditCommand::Checkpoint(a)) => audit_checkpoint::run(a),
        Command::Constraints(ConstraintsCommand::List(a)) => constraints_list::run(a),
        Command::Pool(PoolCommand::Status(a)) => pool::status(a),
        Command::Pool(PoolCommand::Fill(a)) => pool::fill(a),
        Command::Pool(PoolCommand::Clear(a)) => pool::clear(a),
        Command::Constraints(ConstraintsCommand::CheckImports(a)) => {
            constraints_check_imports::run(a)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => e.report(),
    }
}

/// Makes a write past `ulimit -f` fail with `EFBIG` (which the ledger rolls back and reports)
/// instead of killing the process with `SIGXFSZ` halfway through an append.
#[expect(unsafe_code, reason = "libc::signal sets SIGXFSZ to SIG_IGN")]
fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code and happens
    // before any thread is started.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
