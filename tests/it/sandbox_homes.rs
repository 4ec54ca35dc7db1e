//! A sandboxed worker's CLI home is a private copy (ADR 0069): a worker that plants a hook,
//! a plugin or an MCP server in every state path of its CLI (each built-in CLI's, as the
//! registry lists them, driven by its stand-in) leaves nothing of it in the real home, where
//! the next run outside the sandbox would read it; it saw the login and settings the user
//! had; and its copy is gone once it has ended.

use std::path::{Path, PathBuf};

use vnx::provider::cli::CLIS;
use vnx::sandbox::StatePath;

use crate::common::{Fakes, Repo, configure};

/// What the worker writes everywhere it can in its CLI's state.
const PLANTED: &str = "PLANTED-BY-THE-WORKER";

/// The state paths a CLI's worker is shown (its program's installation apart), with where
/// they are in `home`.
fn shown(paths: &[StatePath], home: &Path) -> Vec<(StatePath, PathBuf)> {
    paths
        .iter()
        .filter(|p| p.writable || !p.dir)
        .map(|p| (*p, home.join(p.rel)))
        .collect()
}

/// What the user had there: a login and settings in a state directory, and a plugin in a
/// subdirectory of it; a state or configuration file's own text.
fn seed(path: &StatePath, real: &Path) -> String {
    if path.dir {
        std::fs::create_dir_all(real.join("plugin")).unwrap();
        std::fs::write(real.join("plugin/users-own.js"), "the user's plugin").unwrap();
        let login = format!("the user's login in {}", path.rel);
        std::fs::write(real.join("login.json"), &login).unwrap();
        std::fs::write(real.join("settings.json"), "the user's settings").unwrap();
        login
    } else {
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        let text = format!("the user's {}", path.rel);
        std::fs::write(real, &text).unwrap();
        text
    }
}

/// The shell the worker runs: for each path, what it sees (into `seen-N.txt` in its
/// worktree), then a hook, a plugin and rewritten settings planted there.
fn planting(paths: &[(StatePath, PathBuf)]) -> String {
    let mut sh = String::new();
    for (n, (path, real)) in paths.iter().enumerate() {
        let p = real.display();
        if path.dir {
            sh.push_str(&format!(
                "cat \"{p}/login.json\" > seen-{n}.txt; ls \"{p}/plugin\" > listed-{n}.txt; \
                 echo {PLANTED} > \"{p}/settings.json\"; echo {PLANTED} > \"{p}/hook.sh\"; \
                 mkdir -p \"{p}/plugin\"; echo {PLANTED} > \"{p}/plugin/planted.js\"; "
            ));
        } else {
            sh.push_str(&format!(
                "cat \"{p}\" > seen-{n}.txt; echo {PLANTED} > \"{p}\"; "
            ));
        }
    }
    sh.push_str("true");
    sh
}

/// Every file under `dir` (not through links) that holds the planted text.
fn planted_in(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return found;
    };
    if meta.is_file() {
        if std::fs::read_to_string(dir).is_ok_and(|t| t.contains(PLANTED)) {
            found.push(dir.to_owned());
        }
    } else if meta.is_dir() {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            found.extend(planted_in(&e.path()));
        }
    }
    found
}

/// A file the worker wrote in its worktree: there if the worktree was kept, else on its
/// branch.
fn in_worktree(repo: &Repo, id: &str, name: &str) -> Option<String> {
    let wt = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id}/{name}"));
    std::fs::read_to_string(wt).ok().or_else(|| {
        let mut git = std::process::Command::new("git");
        crate::common::hermetic(&mut git, &repo.env.home());
        let out = git
            .current_dir(repo.env.path())
            .args(["show", &format!("dispatch/{id}:{name}")])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    })
}

#[test]
fn a_sandboxed_worker_plants_nothing_in_its_clis_real_home() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let home = repo.env.home();
    // claude refuses its full posture to root (as CI runs): its worker may run the shell.
    configure(&repo, "roles:\n  implementer:\n    allow: [\"sh -c\"]\n");
    let mut covered: Vec<&[StatePath]> = Vec::new();
    let mut tried = 0;
    for (n, cli) in CLIS.iter().enumerate() {
        let state = cli.state_paths();
        // A CLI with no state of its own (demo), or the same as one tried (ollama is opencode).
        if !state.iter().any(|p| p.writable) || covered.contains(&state) {
            continue;
        }
        covered.push(state);
        let name = cli.provider().name();
        assert!(
            fakes.bin(cli.program()).exists(),
            "{name}: no stand-in to run it sandboxed"
        );
        let paths = shown(state, &home);
        let had: Vec<String> = paths.iter().map(|(p, real)| seed(p, real)).collect();
        let id = format!("D-5a4d0e{n:02}0001");
        let posture = if name == "claude" { "edits" } else { "full" };
        let instruction = format!(
            "plant a hook\n@fake run sh -c '{}'\n@fake run vnx report --status done --summary planted",
            planting(&paths)
        );
        let r = fakes.run_vnx(
            &repo,
            &[
                "dispatch-agent",
                "--agent",
                "implementer",
                "--json",
                "--id",
                &id,
                "--deadline",
                "60",
                "--provider",
                name,
                "--lane",
                "headless",
                "--sandbox",
                "--permission",
                posture,
                "--instruction",
                &instruction,
            ],
        );
        assert_eq!(r.code, 0, "{name}: {}\n{}", r.stdout, r.stderr);
        tried += 1;
        let started = repo
            .receipts(&id)
            .into_iter()
            .find(|r| r["event_type"] == "dispatch_started")
            .unwrap();
        let sandbox = &started["sandbox"];
        let copied: Vec<&str> = sandbox["homes"]
            .as_array()
            .map(|a| a.iter().filter_map(|h| h["shown_at"].as_str()).collect())
            .unwrap_or_default();
        for (i, ((path, real), had)) in paths.iter().zip(&had).enumerate() {
            // Nothing planted reached the real home, and what the user had is as it was.
            assert_eq!(
                planted_in(real),
                Vec::<PathBuf>::new(),
                "{name}: {}",
                path.rel
            );
            if path.dir {
                assert_eq!(
                    &std::fs::read_to_string(real.join("login.json")).unwrap(),
                    had
                );
                let settings = std::fs::read_to_string(real.join("settings.json")).unwrap();
                assert_eq!(settings, "the user's settings", "{name}: {}", path.rel);
            } else {
                assert_eq!(&std::fs::read_to_string(real).unwrap(), had, "{name}");
            }
            // The worker saw the user's login, settings and configuration (a state directory
            // the dispatch's own session place stands in for whole holds its sessions instead).
            let copy = path.writable && path.dir;
            let replaced = sandbox["sessions"]["shown_at"]
                .as_str()
                .is_some_and(|s| Path::new(s) == real);
            if !replaced {
                let seen = in_worktree(&repo, &id, &format!("seen-{i}.txt"));
                assert_eq!(seen.as_deref(), Some(had.as_str()), "{name}: {}", path.rel);
            }
            if copy && !replaced {
                // Its copy held the top-level files only, not the user's subdirectories.
                let listed = in_worktree(&repo, &id, &format!("listed-{i}.txt"));
                assert_eq!(listed.as_deref(), Some(""), "{name}: {}", path.rel);
            }
            if path.writable && !replaced {
                assert!(
                    copied.contains(&real.to_str().unwrap()),
                    "{name}: {} is not a private copy: {sandbox}",
                    path.rel
                );
            }
        }
        // The copy, the user's login among it, is gone now the worker has ended.
        let dispatch_dir = repo.env.path().join(format!(".vnx-data/dispatches/{id}"));
        assert!(dispatch_dir.is_dir());
        assert!(
            !dispatch_dir.join("cli-home").exists(),
            "{name}: its private home outlived it"
        );
    }
    assert!(tried >= 7, "only {tried} CLIs tried");
}
