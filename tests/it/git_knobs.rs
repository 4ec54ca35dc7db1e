//! vnx's git, run on what a worker left, executes nothing the worker configured. A worker
//! plants every git setting that runs a program (filters, fsmonitor, hooks, external diff,
//! textconv, pager, ssh, gpg, credential and askpass helpers, editors, includes, pack-objects
//! hook, alternate-refs command, merge driver, remote helpers) in every place git reads one
//! that a sandboxed worker can write (a nested repository's config, an include it names, its
//! hooks and attributes; the worktree's `.gitattributes` and `.gitmodules`; the worktree's
//! admin directory's `config.worktree` and hooks); then every vnx operation that runs git on
//! a worker's output runs (teardown, accept, show --diff, gate checkout, merge, pr open,
//! worktree-release, clean, prune), and no planted program ran. A plain `git status` in the
//! same worktree runs them: the plants are live. docs/reference.md has the table.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::forge::ScriptedForge;
use crate::common::{Repo, completion, configure, run};

/// Each setting that makes git run a program, as config lines; `{E}` is the planted program,
/// which records the knob's name (its first argument) in the marks directory.
const KNOBS: &[(&str, &str)] = &[
    (
        "filter",
        "[filter \"evil\"]\n\tclean = {E} filter-clean\n\tsmudge = {E} filter-smudge\n\trequired = false\n",
    ),
    (
        "filter-process",
        "[filter \"evilp\"]\n\tprocess = {E} filter-process\n",
    ),
    ("fsmonitor", "[core]\n\tfsmonitor = {E} fsmonitor\n"),
    ("hooks-path", "[core]\n\thooksPath = {H}\n"),
    ("diff-external", "[diff]\n\texternal = {E} diff-external\n"),
    ("textconv", "[diff \"evil\"]\n\ttextconv = {E} textconv\n"),
    ("pager", "[core]\n\tpager = {E} pager\n"),
    ("ssh-command", "[core]\n\tsshCommand = {E} ssh-command\n"),
    (
        "gpg",
        "[gpg]\n\tprogram = {E} gpg\n[commit]\n\tgpgSign = true\n",
    ),
    ("credential", "[credential]\n\thelper = !{E} credential\n"),
    ("askpass", "[core]\n\taskPass = {E} askpass\n"),
    (
        "editor",
        "[core]\n\teditor = {E} editor\n[sequence]\n\teditor = {E} sequence-editor\n",
    ),
    ("include", "[include]\n\tpath = {I}\n"),
    ("include-if", "[includeIf \"gitdir:/\"]\n\tpath = {I}\n"),
    (
        "pack-objects-hook",
        "[uploadpack]\n\tpackObjectsHook = {E} pack-objects-hook\n",
    ),
    (
        "alternate-refs",
        "[core]\n\talternateRefsCommand = {E} alternate-refs\n",
    ),
    (
        "merge-driver",
        "[merge \"evil\"]\n\tdriver = {E} merge-driver %O %A %B\n",
    ),
    (
        "remote",
        "[remote \"origin\"]\n\turl = ext::{E} remote-url\n\tuploadpack = {E} uploadpack\n\treceivepack = {E} receivepack\n[protocol \"ext\"]\n\tallow = always\n",
    ),
    ("gc", "[gc]\n\tauto = 1\n\tautoDetach = false\n"),
];

/// The hooks a git command could run.
const HOOKS: &[&str] = &[
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "post-checkout",
    "post-merge",
    "pre-merge-commit",
    "pre-push",
    "reference-transaction",
    "pre-auto-gc",
    "post-rewrite",
    "post-index-change",
    "fsmonitor-watchman",
    "push-to-checkout",
];

/// The attributes that name the planted drivers, for every path.
const ATTRIBUTES: &str = "* filter=evil diff=evil merge=evil\n*.bin filter=evilp\n";

/// A scratch place of the test's: the planted program, the include file, the hooks and the
/// marks the program leaves.
struct Trap {
    dir: tempfile::TempDir,
}

impl Trap {
    fn new() -> Trap {
        let trap = Trap {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir(trap.marks()).unwrap();
        std::fs::create_dir(trap.hooks()).unwrap();
        let evil = trap.program();
        executable(
            &evil,
            &format!(
                "#!/bin/sh\ntouch \"{}/$1\"\nexec cat\n",
                trap.marks().display()
            ),
        );
        for hook in HOOKS {
            executable(
                &trap.hooks().join(hook),
                &format!(
                    "#!/bin/sh\nexec {} hook-{hook} </dev/null\n",
                    evil.display()
                ),
            );
        }
        std::fs::write(trap.include(), trap.config("include-file")).unwrap();
        trap
    }

    fn program(&self) -> PathBuf {
        self.dir.path().join("evil.sh")
    }

    fn marks(&self) -> PathBuf {
        self.dir.path().join("marks")
    }

    fn hooks(&self) -> PathBuf {
        self.dir.path().join("hooks")
    }

    fn include(&self) -> PathBuf {
        self.dir.path().join("included.config")
    }

    /// Every knob, as one config file; the include file names its own program argument so
    /// a run through it is told apart.
    fn config(&self, tag: &str) -> String {
        let e = self.program().display().to_string();
        let e = if tag == "include-file" {
            format!("{e} via-include")
        } else {
            e
        };
        KNOBS
            .iter()
            .filter(|(name, _)| tag != "include-file" || !name.starts_with("include"))
            .map(|(_, lines)| {
                lines
                    .replace("{E}", &e)
                    .replace("{H}", &self.hooks().display().to_string())
                    .replace("{I}", &self.include().display().to_string())
            })
            .collect()
    }

    /// What ran since the last look (and forgets it).
    fn ran(&self) -> Vec<String> {
        let mut ran: Vec<String> = std::fs::read_dir(self.marks())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ran.sort();
        for name in &ran {
            std::fs::remove_file(self.marks().join(name)).unwrap();
        }
        ran
    }
}

fn executable(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Where the worker plants: in a nested repository it commits as a gitlink (its config, an
/// include, its hooks, its attributes; its files left dirty so a status must hash them), and
/// in the worktree's `.gitattributes` and `.gitmodules` (both variants); or in the worktree's
/// admin directory (`config.worktree`, read when the user's repository has
/// `extensions.worktreeConfig` on, and `hooks/`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Place {
    Nested,
    AdminDir,
}

/// The declared worker: plants, leaves uncommitted work, and exits 1 when its instruction
/// says FAIL (so a person can `accept` it), else 0 (done).
fn planter(trap: &Trap, place: Place) -> String {
    let config = trap.config("planted");
    let e = trap.program().display().to_string();
    let git = "git -c core.hooksPath=/dev/null -c user.name=w -c user.email=w@localhost.invalid";
    let mut s = format!(
        "set -e\n\
         {git} init -q sub\n\
         (cd sub && echo base > f && echo bin > x.bin && {git} add f x.bin && {git} commit -qm sub)\n\
         printf '{ATTRIBUTES}' > .gitattributes\n\
         printf '[submodule \"sub\"]\\n\\tpath = sub\\n\\turl = ext::{e} gitmodules-url\\n\\tfetchRecurseSubmodules = true\\n\\tignore = none\\n' > .gitmodules\n\
         {git} add .gitattributes .gitmodules sub\n\
         {git} commit -qm plant\n"
    );
    match place {
        Place::Nested => s.push_str(&format!(
            "cat >> sub/.git/config <<'VNX_EOF'\n{config}VNX_EOF\n\
             cp {hooks}/* sub/.git/hooks/\n\
             printf '{ATTRIBUTES}' > sub/.gitattributes\n\
             mkdir -p sub/.git/info && printf '{ATTRIBUTES}' > sub/.git/info/attributes\n\
             echo dirt >> sub/f; echo dirt >> sub/x.bin\n",
            hooks = trap.hooks().display()
        )),
        Place::AdminDir => s.push_str(&format!(
            "admin=\"$(git rev-parse --absolute-git-dir)\"\n\
             cat > \"$admin/config.worktree\" <<'VNX_EOF'\n{config}VNX_EOF\n\
             mkdir -p \"$admin/hooks\" && cp {hooks}/* \"$admin/hooks/\"\n",
            hooks = trap.hooks().display()
        )),
    }
    s.push_str("echo work > work.txt\ncase \"$*\" in *FAIL*) exit 1;; esac\nexit 0\n");
    s
}

fn set_up(place: Place) -> (Repo, Trap, ScriptedForge) {
    let repo = Repo::new();
    let trap = Trap::new();
    let bin = trap.dir.path().join("planter");
    executable(&bin, &format!("#!/bin/sh\n{}", planter(&trap, place)));
    configure(
        &repo,
        &format!(
            "providers:\n  planter:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n\
             gates:\n  passes: {{kind: command, argv: ['true']}}\n\
             roles:\n  implementer: {{gates: [passes]}}\n",
            bin.display()
        ),
    );
    if place == Place::AdminDir {
        // The user's own choice (`git sparse-checkout` makes it): git then reads each
        // worktree's config.worktree.
        repo.env
            .git(&["config", "extensions.worktreeConfig", "true"]);
    }
    let forge = ScriptedForge::for_repo(&repo);
    (repo, trap, forge)
}

fn dispatch(repo: &Repo, instruction: &str) -> String {
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "planter",
        "--instruction",
        instruction,
        "--json",
    ]));
    let c = completion(&r);
    assert_eq!(c["teardown_class"], "dirty", "{c:#}\n{}", r.stderr);
    c["dispatch_id"].as_str().unwrap().to_owned()
}

fn worktree_of(repo: &Repo, id: &str) -> PathBuf {
    let started = &repo.receipts(id)[0];
    PathBuf::from(started["worktree"].as_str().unwrap())
}

/// Every vnx operation that runs git on the worker's output, in an order that reaches each:
/// nothing the worker planted runs.
fn nothing_runs(place: Place) {
    let (repo, trap, forge) = set_up(place);
    let mut ran = Vec::new();
    let mut step = |what: &str, cmd: &mut std::process::Command| {
        let r = run(cmd);
        let marks = trap.ran();
        if !marks.is_empty() {
            ran.push(format!("{what} (exit {}): {marks:?}", r.code));
        }
    };
    let done = dispatch(&repo, "plant and report");
    let marks = trap.ran();
    assert!(marks.is_empty(), "the teardown ran {marks:?}");
    let failed = dispatch(&repo, "plant and FAIL");
    let marks = trap.ran();
    assert!(marks.is_empty(), "the teardown ran {marks:?}");
    for id in [&done, &failed] {
        step("show --diff", repo.vnx().args(["show", id, "--diff"]));
        step("show --stat", repo.vnx().args(["show", id, "--stat"]));
    }
    step("accept", repo.vnx().args(["accept", &failed]));
    step("gate-check", repo.vnx().args(["gate-check", &done]));
    step("merge", repo.vnx().args(["merge", &done]));
    step("pr open", forge.vnx(&repo).args(["pr", "open", &done]));
    step("status", repo.vnx().args(["status", "--all"]));
    step("doctor", repo.vnx().args(["doctor"]));

    // The control: git as a person runs it, in the worktree vnx kept, runs the plants.
    let kept = worktree_of(&repo, &failed);
    assert!(
        kept.is_dir(),
        "{} holding the plants was not kept",
        kept.display()
    );
    let control = run(std::process::Command::new("timeout")
        .args(["20", "git", "status", "--porcelain"])
        .current_dir(&kept)
        .env("GIT_CONFIG_GLOBAL", "/dev/null"));
    let live = trap.ran();
    assert!(
        !live.is_empty(),
        "a plain git status ran no plant (exit {}: {}): the test would prove nothing",
        control.code,
        control.stderr
    );
    if place == Place::Nested {
        std::fs::write(kept.join("sub/f"), "dirt again\n").unwrap();
    }

    step(
        "worktree-release",
        repo.vnx().args(["worktree-release", "--apply"]),
    );
    step(
        "clean",
        repo.vnx()
            .args(["clean", "--class", "dirty", "--class", "unlanded", "--yes"]),
    );
    step("prune", repo.vnx().args(["prune"]));
    assert!(ran.is_empty(), "planted programs ran:\n{}", ran.join("\n"));
}

#[test]
fn vnx_runs_nothing_planted_in_a_nested_repository_or_the_worktrees_files() {
    nothing_runs(Place::Nested);
}

#[test]
fn vnx_runs_nothing_planted_in_the_worktrees_admin_directory() {
    nothing_runs(Place::AdminDir);
}
