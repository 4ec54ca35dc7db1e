//! The project's setup and teardown commands (`worktree.setup` and `worktree.teardown` in
//! the config), run in a dispatch's worktree: setup before the worker starts (the first that
//! fails fails the dispatch, and the worker never runs), teardown after it ends and before
//! the worktree is classified (all run; a failure is recorded, not fatal). Each is an argv
//! from the committed config, never a shell string; its output goes to the worker's log.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::process::{self, Cmd};
use crate::receipts::WorktreeCommand;

/// Runs `commands` of `phase` in `worktree` with `env`, each bounded by `deadline`; with
/// `stop_at_failure`, the first that fails ends the run. Returns what ran and, if one
/// failed, why in words.
pub fn run(
    phase: &str,
    commands: &[Vec<String>],
    worktree: &Path,
    env: &[(String, String)],
    deadline: Instant,
    stop_at_failure: bool,
    log: &mut impl Write,
) -> (Vec<WorktreeCommand>, Option<String>) {
    let mut ran = Vec::new();
    let mut failure = None;
    for argv in commands {
        let Some((program, args)) = argv.split_first() else {
            continue;
        };
        let shown = argv.join(" ");
        let _ = writeln!(log, "vnx: {phase}: {shown}");
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1));
        let mut cmd = Cmd::new(program).args(args).cwd(worktree).timeout(left);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        let started = Instant::now();
        let outcome = process::run(&cmd);
        let seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        let (exit_code, error) = match &outcome {
            Ok(out) => {
                let _ = log.write_all(&out.stdout);
                let _ = log.write_all(&out.stderr);
                (out.status.code(), None)
            }
            // Could not start, or killed at the deadline: said in words.
            Err(e) => (None, Some(e.to_string())),
        };
        let failed = exit_code != Some(0);
        if failed && failure.is_none() {
            failure = Some(match (&error, exit_code) {
                (Some(e), _) => format!("{phase} command `{shown}`: {e}"),
                (None, Some(code)) => format!("{phase} command `{shown}` exited {code}"),
                (None, None) => format!("{phase} command `{shown}` was ended by a signal"),
            });
        }
        ran.push(WorktreeCommand {
            phase: phase.to_owned(),
            argv: argv.clone(),
            exit_code,
            seconds,
            error,
        });
        if failed && stop_at_failure {
            break;
        }
    }
    (ran, failure)
}
