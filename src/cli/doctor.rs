//! `vnx doctor`: runs the library's checks and prints them as a table or JSON; exit 1 on any
//! FAIL, or on a WARN with `--strict`.

use std::path::PathBuf;
use std::process::ExitCode;

use vnx::doctor::{self, Inputs, Status};
use vnx::tmux::Tmux;

use super::CliError;
use super::util::error::Exit;
use super::util::output::Out;
use super::util::settings::{self, LedgerArg};

/// Check that this machine and repository can dispatch and keep evidence
///
/// Checks git and tmux, each worker CLI (its version, and every flag vnx passes it still
/// listed in its --help; asked once per installed version, and a WARN naming the seconds
/// when it is slow to answer), the project's files, the ledger and its checkpoint, the signing key,
/// git hooks, and what dispatches left behind. Each check is PASS, WARN or FAIL with a hint.
/// Exit 1 on any FAIL, or on a WARN with --strict.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx doctor --json")]
pub struct Args {
    #[command(flatten)]
    ledger: LedgerArg,
    /// Print the checks as JSON
    #[arg(long)]
    json: bool,
    /// Also exit 1 on a WARN
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
    /// The checkpoint signing key [default: as for `audit-chain checkpoint`]
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
    /// Check a remote host instead (`hosts:` in .vnx/config.yaml): the ssh link, its clone,
    /// its vnx and version, git, tmux and the worker CLIs there
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    if let Some(host) = &args.host {
        return super::util::remote::doctor(host, args.json);
    }
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::from_error(&e).with_hint("run from an existing directory"))?;
    let project = vnx::project::Project::discover(&cwd);
    // No ledger can be named outside a repository without --ledger or VNX_LEDGER: the
    // project check says so.
    let ledger = args.ledger.resolve_in(project.as_ref());
    let key_path = settings::key_path(args.key).ok();
    let tmux = Tmux::new(settings::tmux_socket(args.tmux.tmux_socket));
    // Versions and help texts are cached with the project's other caches once it is
    // initialised (never creating .vnx-data/ in a repository that is not), else per user.
    let cache_dir = match &project {
        Some(p) if p.data_dir().is_dir() => Some(p.cache_dir()),
        _ => settings::user_cache_dir(),
    };
    let shared_cache_dir = settings::user_cache_dir();
    let home = settings::env_set("HOME").map(PathBuf::from);
    let homes = settings::session_homes();
    let report = doctor::run(&Inputs {
        cwd: &cwd,
        project: project.as_ref(),
        ledger: ledger.as_deref(),
        tmux: &tmux,
        key_path: key_path.as_deref(),
        witness_dir: settings::witness_dir().as_deref(),
        find_program: &settings::find_program,
        cache_dir: cache_dir.as_deref(),
        shared_cache_dir: shared_cache_dir.as_deref(),
        threads: settings::threads(None),
        home: home.as_deref(),
        homes: &homes,
    });
    let summary = report.summary();
    let mut out = Out::new();
    if args.json {
        out.json(&serde_json::json!({ "checks": report.checks, "summary": summary }))?;
    } else {
        let width = report
            .checks
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0);
        for c in &report.checks {
            out.line(&format!(
                "{}  {:<width$}  {}",
                c.status.label(),
                c.name,
                c.detail
            ))?;
            if let (Some(hint), true) = (&c.hint, c.status != Status::Pass) {
                out.line(&format!("      hint: {hint}"))?;
            }
        }
        out.line(&format!(
            "{} pass, {} warn, {} fail",
            summary.pass, summary.warn, summary.fail
        ))?;
    }
    let failed = match report.worst() {
        Status::Fail => true,
        Status::Warn => args.strict,
        Status::Pass => false,
    };
    Ok(Exit::No.when(failed))
}
