//! The command line: argument parsing, settings resolution and rendering. One file per
//! subcommand; the work itself happens in the `vnx` library.

mod accept;
mod approve;
mod attach;
mod attest;
mod audit_checkpoint;
mod audit_seal;
mod audit_verify;
mod audit_walk;
mod best_of;
mod cancel;
mod capture;
mod clean;
mod compare;
mod complete;
mod completions;
mod constraints_check_imports;
mod constraints_list;
mod cost;
mod dashboard;
mod demo_worker;
mod deny;
mod dismiss;
mod dispatch_agent;
mod doctor;
mod evidence_reach;
mod follow_up;
mod gate_check;
mod group;
mod hook;
mod init;
mod key_relay;
mod key_tunnel;
mod mcp;
mod memory;
mod merge;
mod pause;
mod place_relay;
mod pool;
mod pr;
mod prune;
mod receipts_append;
mod receipts_tail;
mod recover;
mod relay;
mod remote_sync;
mod replay;
mod report;
mod resume;
mod review;
mod schedule;
mod serve;
mod show;
mod status;
mod supervise;
mod tidy;
pub(crate) mod util;
mod wait;
mod worktree_release;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use util::error::{CliError, Exit};

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

// `defer`: a command's arguments are built only when it is run (or its help is shown), so a
// run of one command does not build the other forty (see `parser`).
#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    Init(init::Args),
    #[command(name = "dispatch-agent", visible_alias = "run")]
    DispatchAgent(dispatch_agent::Args),
    FollowUp(follow_up::Args),
    Replay(replay::Args),
    Compare(compare::Args),
    BestOf(best_of::Args),
    /// Show or decide a best-of-N group
    #[command(subcommand)]
    Group(group::Command),
    Wait(wait::Args),
    Status(status::Args),
    Show(show::Args),
    Dashboard(dashboard::Args),
    Serve(serve::Args),
    /// List the schedules of .vnx/config.yaml, or fire what is due
    #[command(subcommand)]
    Schedule(schedule::Command),
    /// Read what workers wrote to their CLI's memory; promote it to the project's
    #[command(subcommand)]
    Memory(memory::Command),
    Attach(attach::Args),
    Accept(accept::Args),
    Dismiss(dismiss::Args),
    Approve(approve::Args),
    Deny(deny::Args),
    Cancel(cancel::Args),
    Pause(pause::Args),
    Recover(recover::Args),
    Resume(resume::Args),
    Review(review::Args),
    GateCheck(gate_check::Args),
    Merge(merge::Args),
    /// Open, show and merge dispatches' pull requests on the project's forge
    #[command(subcommand)]
    Pr(pr::Command),
    Mcp(mcp::Args),
    Doctor(doctor::Args),
    Report(report::Args),
    Cost(cost::Args),
    Attest(attest::Args),
    Clean(clean::Args),
    Prune(prune::Args),
    Tidy(tidy::Args),
    WorktreeRelease(worktree_release::Args),
    Completions(completions::Args),
    Man(completions::ManArgs),
    #[command(name = "__supervise", hide = true)]
    Supervise(supervise::Args),
    #[command(name = "__demo-worker", hide = true)]
    DemoWorker(demo_worker::Args),
    #[command(name = "__hook", hide = true)]
    Hook(hook::Args),
    #[command(name = "__complete", hide = true)]
    Complete(complete::Args),
    #[command(name = "__evidence-reach", hide = true)]
    EvidenceReach(evidence_reach::Args),
    #[command(name = "__capture", hide = true)]
    Capture(capture::Args),
    #[command(name = "__relay", hide = true)]
    Relay(relay::Args),
    #[command(name = "__key-relay", hide = true)]
    KeyRelay(key_relay::Args),
    #[command(name = "__key-tunnel", hide = true)]
    KeyTunnel(key_tunnel::Args),
    #[command(name = "__place-relay", hide = true)]
    PlaceRelay(place_relay::Args),
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
#[command(defer = true)]
enum PoolCommand {
    Status(pool::StatusArgs),
    Fill(pool::FillArgs),
    Clear(pool::ClearArgs),
}

#[derive(Subcommand)]
#[command(defer = true)]
enum ConstraintsCommand {
    List(constraints_list::Args),
    CheckImports(constraints_check_imports::Args),
}

#[derive(Subcommand)]
#[command(defer = true)]
enum ReceiptsCommand {
    Append(receipts_append::Args),
    Tail(receipts_tail::Args),
}

#[derive(Subcommand)]
#[command(defer = true)]
enum AuditCommand {
    Verify(audit_verify::Args),
    Seal(audit_seal::Args),
    Walk(audit_walk::Args),
    Checkpoint(audit_checkpoint::Args),
}

/// The whole command line with the exit codes under every command's `--help`, for
/// completions and the man page (which build it all).
fn command() -> clap::Command {
    /// Gives each command the description it has once built, before anything is built: the
    /// `help` command copies its siblings' descriptions when it is made.
    fn describe(cmd: clap::Command, built: &clap::Command) -> clap::Command {
        cmd.mut_subcommands(|sub| {
            let Some(done) = built.find_subcommand(sub.get_name()) else {
                return sub;
            };
            let sub = match done.get_about() {
                Some(about) => sub.about(about.clone()),
                None => sub,
            };
            describe(sub, done)
        })
    }
    let built = command_for_help();
    let mut cmd = with_exit_codes(describe(<Cli as clap::CommandFactory>::command(), &built));
    cmd.build();
    examples_first(cmd)
}

/// The whole command line as [`command`], each command built the way parsing builds it
/// (which is not quite what [`clap::Command::build`] does to the `help` command): what help
/// is printed from.
fn command_for_help() -> clap::Command {
    fn paths(cmd: &clap::Command, above: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands() {
            let mut path = above.to_vec();
            path.push(sub.get_name().to_owned());
            paths(sub, &path, out);
            out.push(path);
        }
    }
    let mut cmd = with_exit_codes(<Cli as clap::CommandFactory>::command());
    let mut all = Vec::new();
    paths(&cmd, &[], &mut all);
    for path in all {
        // Parsing `vnx PATH… --version` builds each command on the path, and stops there.
        let args = std::iter::once("vnx")
            .chain(path.iter().map(String::as_str))
            .chain(["--version"]);
        let _ = cmd.try_get_matches_from_mut(args);
    }
    util::command_groups::grouped(examples_first(cmd))
}

/// Sets every command's `--help` epilogue to the exit codes, before it is built: a command's
/// own `after_long_help` (its examples) is set when it is built (`defer`), over this.
fn with_exit_codes(cmd: clap::Command) -> clap::Command {
    let long = match cmd.get_after_long_help() {
        Some(examples) => format!("{examples}\n\n{}", util::error::EXIT_CODES),
        None => util::error::EXIT_CODES.to_owned(),
    };
    cmd.after_help(util::error::EXIT_CODES)
        .after_long_help(long)
        .mut_subcommands(with_exit_codes)
}

/// Once built: a command's examples (its `after_long_help`) come first in `--help`, then the
/// exit codes.
fn examples_first(cmd: clap::Command) -> clap::Command {
    let examples = cmd
        .get_after_long_help()
        .map(ToString::to_string)
        .filter(|text| !text.ends_with(util::error::EXIT_CODES));
    let cmd = match examples {
        Some(examples) => cmd.after_long_help(format!("{examples}\n\n{}", util::error::EXIT_CODES)),
        None => cmd,
    };
    cmd.mut_subcommands(examples_first)
}

/// The command line to parse `args` with. A plain run of one command (`vnx receipts append
/// …`, `vnx --version`) prints no help, so it is parsed with only that command built (clap
/// builds it as it parses): building all of them took most of the start-up of a short
/// command. Anything that can print help — `-h`, `--help`, `help`, or a group of commands
/// named without one of its commands (`vnx`, `vnx receipts`) — gets [`command_for_help`].
fn parser(args: &[std::ffi::OsString]) -> clap::Command {
    let lean = <Cli as clap::CommandFactory>::command();
    let helpish = |a: &std::ffi::OsString| {
        let a = a.as_encoded_bytes();
        a == b"help"
            || a == b"--help"
            || (a.starts_with(b"-") && !a.starts_with(b"--") && a.contains(&b'h'))
    };
    if args.iter().skip(1).any(helpish) {
        return command_for_help();
    }
    let mut at = &lean;
    for arg in args.iter().skip(1) {
        if at.has_subcommands() {
            match arg.to_str().and_then(|name| at.find_subcommand(name)) {
                Some(sub) => at = sub,
                // `vnx --version`, or an error: neither lists the commands' descriptions.
                None => return lean,
            }
        } else {
            break;
        }
    }
    if at.has_subcommands() {
        // A group named without a command: clap prints the group's help.
        return command_for_help();
    }
    lean
}

/// Test builds: arms the crash point `VNX_CRASH_AT` names (`op:step`, or `op:step@N` for
/// the Nth time the process reaches it), logging to `VNX_CRASH_LOG` (ADR 0050); with
/// `VNX_CRASH_MODE=stop` the process stops there (SIGSTOP) instead of dying. A name that is
/// no step is an internal bug of the test.
#[cfg(feature = "test-fakes")]
fn arm_crash_point() {
    let Some(at) = util::settings::env("VNX_CRASH_AT") else {
        return;
    };
    let at = at.to_string_lossy();
    let (name, nth) = match at.split_once('@') {
        Some((name, n)) => (name, n.parse().ok()),
        None => (at.as_ref(), Some(1)),
    };
    let (Some(step), Some(nth)) = (vnx::steps::named(name), nth) else {
        panic!("VNX_CRASH_AT={at} names no step of vnx::steps::STEPS");
    };
    let stop = util::settings::env("VNX_CRASH_MODE").is_some_and(|m| m == "stop");
    vnx::steps::arm(
        step,
        nth,
        util::settings::env("VNX_CRASH_LOG").map(Into::into),
        stop,
    );
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
    #[cfg(feature = "test-fakes")]
    arm_crash_point();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let parsed = parser(&args)
        .try_get_matches_from(args)
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
        Command::Pr(c) => pr::run(c),
        Command::Wait(a) => wait::run(a),
        Command::Status(a) => status::run(a),
        Command::Show(a) => show::run(a),
        Command::Dashboard(a) => dashboard::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Schedule(a) => schedule::run(a),
        Command::Memory(a) => memory::run(a),
        Command::Attach(a) => attach::run(a),
        Command::Accept(a) => accept::run(a),
        Command::Dismiss(a) => dismiss::run(a),
        Command::Approve(a) => approve::run(a),
        Command::Deny(a) => deny::run(a),
        Command::Cancel(a) => cancel::run(a),
        Command::Pause(a) => pause::run(a),
        Command::Recover(a) => recover::run(a),
        Command::Resume(a) => resume::run(a),
        Command::Review(a) => review::run(a),
        Command::GateCheck(a) => gate_check::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Mcp(a) => mcp::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Supervise(a) => supervise::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => completions::man(a),
        Command::DemoWorker(a) => demo_worker::run(a),
        Command::Hook(a) => hook::run(a),
        Command::Complete(a) => complete::run(a),
        Command::EvidenceReach(a) => evidence_reach::run(a),
        Command::Capture(a) => capture::run(a),
        Command::KeyRelay(a) => key_relay::run(a),
        Command::KeyTunnel(a) => key_tunnel::run(a),
        Command::Relay(a) => relay::run(a),
        Command::PlaceRelay(a) => place_relay::run(a),
        Command::RemoteSync(a) => remote_sync::run(a),
        Command::Crash => panic!("a deliberate crash (vnx __crash)"),
        Command::Report(a) => report::run(a),
        Command::Cost(a) => cost::run(a),
        Command::Attest(a) => attest::run(a),
        Command::Tidy(a) => tidy::run(a),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<std::ffi::OsString> {
        line.split_whitespace().map(Into::into).collect()
    }

    /// Every action the library's table gives the command line is a command (`pr open`: a
    /// subcommand of `pr`) listed in `vnx --help`'s groups.
    #[test]
    fn the_command_line_offers_the_actions_the_table_gives_it() {
        use vnx::actions::table::{Front, offered};
        let cli = <Cli as clap::CommandFactory>::command();
        for action in offered(Front::Cli) {
            let mut words = action.split(' ');
            let top = words.next().unwrap_or_default();
            let grouped = (util::command_groups::groups().iter()).any(|(_, c)| c.contains(&top));
            assert!(grouped, "{action} is in no group of vnx --help");
            let found = (cli.find_subcommand(top))
                .and_then(|c| words.try_fold(c, |cmd, word| cmd.find_subcommand(word)));
            assert!(found.is_some(), "no command vnx {action}");
        }
    }

    #[test]
    fn only_a_line_that_can_print_help_builds_every_command() {
        for line in [
            "vnx receipts append --receipt {}",
            "vnx --version",
            "vnx status --json",
            "vnx audit-chain verify",
            "vnx no-such-command",
        ] {
            assert!(parser(&args(line)).get_after_help().is_none(), "{line}");
        }
        for line in [
            "vnx",
            "vnx --help",
            "vnx receipts",
            "vnx receipts append -h",
            "vnx help status",
            "vnx status -jh",
        ] {
            assert!(parser(&args(line)).get_after_help().is_some(), "{line}");
        }
    }

    #[test]
    fn every_command_has_its_description_and_exit_codes_in_help() {
        fn check(cmd: &mut clap::Command, path: &str) {
            // Help wraps lines: compare the words.
            let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
            let help = words(&cmd.render_long_help().to_string());
            assert!(
                help.ends_with(&words(util::error::EXIT_CODES)),
                "{path}: {help}"
            );
            // `help` is clap's own, without an epilogue (as it always was).
            for sub in cmd.get_subcommands_mut().filter(|s| s.get_name() != "help") {
                let name = format!("{path} {}", sub.get_name());
                // The hidden ones (vnx's own plumbing) never had one.
                assert!(
                    sub.is_hide_set() || sub.get_about().is_some(),
                    "{name} has no description"
                );
                check(sub, &name);
            }
        }
        check(&mut command_for_help(), "vnx");
        check(&mut command(), "vnx");
    }
}
