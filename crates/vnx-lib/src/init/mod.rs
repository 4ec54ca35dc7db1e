//! `vnx init`: scaffolds a governed repository idempotently — `.vnx/config.yaml` with the
//! project id, the shipped constraints and skills where absent, `.vnx-data/` runtime
//! directories, a `.gitignore` entry for them, and the git hooks of `git_hooks` — never
//! overwriting a user's edit unless forced, and never writing through a symlink. A new config
//! carries the project's test command (`detect`) as the default role's gate, and commented
//! examples of the other settings.

use std::fs;
use std::path::{Path, PathBuf};

use crate::config::is_project_id;
use crate::defaults::{self, DefaultFile};
use crate::project::{CONFIG, DATA_DIR, Project};

pub mod detect;
pub mod git_hooks;
pub mod mcp;

pub use detect::TestCommand;

/// The role a new config gives the detected gate: the role the shipped skills and the phantom
/// guard expect dispatches that change code to have.
pub const DEFAULT_ROLE: &str = "implementer";

/// The name of the detected gate in a new config.
pub const TEST_GATE: &str = "test";

/// Seconds the detected gate may run: it builds in a fresh checkout of the head.
pub const TEST_GATE_TIMEOUT: u64 = 1800;

/// What `init` did to one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Written where nothing was.
    Created,
    /// Already as vnx would write it.
    Unchanged,
    /// The user's version differs from the shipped one and was left alone.
    Kept,
    /// Replaced with the shipped version (`--force`).
    Overwritten,
    /// An existing file was extended (`.gitignore`), or vnx's own hook refreshed.
    Updated,
    /// A hook that was there before vnx was renamed to `<hook>.pre-vnx`, and vnx's hook that
    /// runs it after the check took its place.
    Chained,
    /// Not installed (see the note).
    Skipped,
}

/// One path and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// Relative to the repository root (absolute when outside it).
    pub path: String,
    /// What was done.
    pub action: Action,
    /// Why, when the action alone does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The result of `init`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InitReport {
    /// The repository initialised.
    pub root: PathBuf,
    /// Its project id.
    pub project_id: String,
    /// Each path and what happened to it.
    pub steps: Vec<Step>,
    /// The test command written into a new config as the gate `test` of the role
    /// `implementer`; `None` when none was detected, detection was off, or the config was
    /// there already.
    pub test_gate: Option<TestCommand>,
}

/// What `init` is asked to do.
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// The project id to set; derived from the directory name when `None`.
    pub project_id: Option<String>,
    /// Replace files that differ from the shipped ones, and change the project id.
    pub force: bool,
    /// The vnx binary the git hooks try before `vnx` on PATH (normally the running one).
    pub vnx: Option<PathBuf>,
    /// A worktree pool to set in the config: its size and cache directories.
    pub pool: Option<crate::config::PoolConfig>,
    /// Detect the project's test command and make it the default role's gate in a new
    /// config ([`detect::detect`]).
    pub detect: bool,
}

/// Why `init` stopped.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Not inside a git repository.
    #[error("{path} is not inside a git repository")]
    NotInRepo {
        /// The directory asked about.
        path: PathBuf,
    },
    /// A project id vnx cannot use.
    #[error("project id {id:?} does not match ^[a-z][a-z0-9-]{{1,31}}$")]
    BadProjectId {
        /// The id given.
        id: String,
    },
    #[error(
        "the project id is already {existing:?} in {path}; refusing to change it to {wanted:?}"
    )]
    /// The project id is set and differs; `--force` changes it.
    ProjectIdSet {
        /// `.vnx/config.yaml`.
        path: PathBuf,
        /// The id it has.
        existing: String,
        /// The id asked for.
        wanted: String,
    },
    /// A path vnx would write is a symbolic link.
    #[error("{path} is a symlink; vnx does not write through links")]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// A client's configuration file vnx would change cannot be read as its format.
    #[error("cannot read {path}: {why}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// A file could not be written.
    #[error("could not write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

impl InitError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            InitError::NotInRepo { .. } => {
                "run `git init` first, or run vnx init inside the repository to govern".into()
            }
            InitError::BadProjectId { .. } => {
                "use lowercase letters, digits and dashes, starting with a letter".into()
            }
            InitError::ProjectIdSet { .. } => "pass --force to change the project id".into(),
            InitError::Symlink { .. } => "replace the link with a regular file or directory".into(),
            InitError::Unreadable { .. } => {
                "fix the file, or add the `vnx` server to it by hand (see `vnx mcp --help`)".into()
            }
            InitError::Io { .. } => return None,
        })
    }
}

/// A project id derived from a directory name, or `vnx-<hash>` when nothing usable is left.
pub fn derive_project_id(root: &Path) -> String {
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_matches('-')
        .chars()
        .take(32)
        .collect();
    let slug = slug.trim_end_matches('-').to_owned();
    if is_project_id(&slug) {
        slug
    } else {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(root.to_string_lossy().as_bytes());
        format!("vnx-{}", &hex::encode(digest)[..8])
    }
}

/// Scaffolds the repository containing `dir`.
pub fn init(dir: &Path, options: &InitOptions) -> Result<InitReport, InitError> {
    let project = Project::discover(dir).ok_or_else(|| InitError::NotInRepo {
        path: dir.to_owned(),
    })?;
    let root = project.root.clone();
    if let Some(id) = &options.project_id
        && !is_project_id(id)
    {
        return Err(InitError::BadProjectId { id: id.clone() });
    }
    // Refuse links anywhere before writing anything, so a refusal leaves nothing half-made.
    let data_dirs = ["state", "worktrees", "dispatches"].map(|sub| format!("{DATA_DIR}/{sub}"));
    for rel in [CONFIG, ".gitignore"]
        .into_iter()
        .chain(defaults::FILES.iter().map(|f| f.path))
        .chain(data_dirs.iter().map(String::as_str))
    {
        check_no_symlink(&root, rel)?;
    }
    let mut steps = Vec::new();
    let test = options.detect.then(|| detect::detect(&root)).flatten();
    let github = options.detect.then(|| github_remote(&root)).flatten();
    let (project_id, step) = write_config(&root, options, test.as_ref(), github.as_ref())?;
    let test_gate = test.filter(|_| step.action == Action::Created);
    steps.push(step);
    if let Some(pool) = &options.pool {
        steps.push(write_pool(&root, pool)?);
    }
    for file in defaults::FILES {
        steps.push(install_default(&root, file, options.force)?);
    }
    let data = root.join(DATA_DIR);
    crate::files::private_dir(&data).map_err(io_err(&data))?;
    for rel in &data_dirs {
        steps.push(make_dir(&root, rel)?);
    }
    steps.push(ignore_data_dir(&root)?);
    steps.extend(git_hooks::install(
        &root,
        options.vnx.as_deref(),
        options.force,
    )?);
    Ok(InitReport {
        root,
        project_id,
        steps,
        test_gate,
    })
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> InitError + '_ {
    move |source| InitError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Refuses symlinks anywhere between the root and `rel` (inclusive).
fn check_no_symlink(root: &Path, rel: &str) -> Result<PathBuf, InitError> {
    let mut path = root.to_path_buf();
    for part in Path::new(rel).components() {
        path.push(part);
        if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(InitError::Symlink { path });
        }
    }
    Ok(path)
}

/// Creates the parent directories of `path` and writes it atomically with `mode`
/// ([`crate::files::write_atomic`], durable).
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), InitError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    crate::files::write_atomic(path, contents, mode, true).map_err(io_err(path))
}

/// A new `.vnx/config.yaml`: the project id, the detected test command as the default role's
/// gate (or a commented one), and the other settings as commented examples.
pub fn config_text(project_id: &str, test: Option<&TestCommand>) -> String {
    let default = crate::provider::Provider::DEFAULT.name();
    let mut text = format!(
        "# vnx project configuration: committed, written by `vnx init`.\n\
         # Every setting is described in docs/reference.md of vnx's repository.\n\
         version: 1\n\
         project_id: {project_id}\n\n\
         # Defaults: the worker of a dispatch that names none, so `vnx run \"TASK\"` is enough.\n\
         # A dispatch naming another provider, or only a model, takes none of provider, model\n\
         # and lane.\n\
         defaults:\n  role: {DEFAULT_ROLE}\n  provider: {default}\n\
         #   model: MODEL                        # one the provider takes\n\
         #   lane: headless                      # or interactive\n\n\
         # Gates: the checks a dispatch must pass before `vnx merge` lands it. A command gate\n\
         # runs in a fresh checkout of the dispatch's head and passes on exit 0; `vnx merge`\n\
         # runs the gates a dispatch has not passed yet, and again on the merge result when\n\
         # the base moved. A role without a `gates:` key cannot merge; `gates: []` merges\n\
         # without any.\n"
    );
    let example = format!(
        "#   review: {{kind: review, provider: {default}, timeout: 300}}   # a CLI reads the diff\n\
         #   lint: {{kind: command, argv: [\"make\", \"lint\"], idle_timeout: 300}}\n"
    );
    match test {
        Some(t) => {
            let argv: Vec<String> = t
                .argv
                .iter()
                .map(|a| serde_json::to_string(a).expect("strings serialize"))
                .collect();
            text.push_str(&format!(
                "gates:\n  {TEST_GATE}: {{kind: command, argv: [{}], timeout: {TEST_GATE_TIMEOUT}}}   \
                 # found in {}\n{example}roles:\n  {DEFAULT_ROLE}: {{gates: [{TEST_GATE}]}}\n",
                argv.join(", "),
                t.from
            ));
        }
        None => text.push_str(&format!(
            "# gates:\n#   {TEST_GATE}: {{kind: command, argv: [\"make\", \"test\"], timeout: \
             {TEST_GATE_TIMEOUT}}}\n{example}# roles:\n#   {DEFAULT_ROLE}: {{gates: [{TEST_GATE}]}}\n"
        )),
    }
    text.push_str(
        "#   docs: {gates: []}                     # merges without gates\n\
         #   planner: {writes: false, gates: []}   # changes no files: no phantom guard\n\
         #   reviewer: {skills: [reviewer]}        # skills composed into its prompts\n\n",
    );
    let names = crate::provider::Provider::NAMES;
    let (last, rest) = names.split_last().expect("there are built-in providers");
    text.push_str(&format!(
        "# Providers: {} and {last} are built in; the model is\n",
        rest.join(", ")
    ));
    text.push_str(
        "# `--model` on each dispatch (the provider is inferred from it). Any other CLI:\n\
         # providers:\n\
         #   kimi:\n\
         #     binary: kimi\n\
         #     headless: {argv: [\"--print\", \"{prompt}\"], prompt: argument, output: text, completion: exit}\n\
         #     model_args: [\"--model\", \"{model}\"]\n\
         #     permissions: {ask: [], edits: [\"--auto-edit\"]}\n",
    );
    text.push_str(&format!(
        "# concurrency: {{{default}: 4}}              # at most N workers of a provider at once\n"
    ));
    text.push_str(
        "# queue: {policy: queue, max_length: 16}\n\n\
         # Worktrees: commands run in each new worktree, and prepared worktrees kept ready.\n\
         # worktree:\n\
         #   setup: [[\"npm\", \"ci\"]]\n\
         #   pool: {size: 4, keep: [target]}\n\
         # sandbox: {enabled: true, network: on}  # run workers in bubblewrap\n\
         # notify: [\"notify-send\", \"vnx\"]      # told when a dispatch needs you\n\n\
         # Egress (secrets in what a provider would receive), constraints and token budgets are\n\
         # in provider_constraints.yaml at the repository's root.\n",
    );
    text
}

/// Sets `worktree.pool` in the config: appended as a new `worktree:` section, or as the first
/// entry of an existing block-style one. A config that sets a pool already is kept as it is;
/// an edit the config no longer validates with is not written.
fn write_pool(root: &Path, pool: &crate::config::PoolConfig) -> Result<Step, InitError> {
    let path = check_no_symlink(root, CONFIG)?;
    let step = |action, note: Option<&str>| Step {
        path: CONFIG.into(),
        action,
        note: note.map(str::to_owned),
    };
    let text = fs::read_to_string(&path).map_err(io_err(&path))?;
    let config = crate::config::parse(&text, &path);
    if config.as_ref().is_ok_and(|c| c.worktree.pool == *pool) {
        return Ok(step(Action::Unchanged, None));
    }
    let lines: Vec<&str> = text.lines().collect();
    let top = lines.iter().position(|l| l.trim_end() == "worktree:");
    let set_already = top.is_some_and(|at| {
        lines[at + 1..]
            .iter()
            .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
            .any(|l| l.trim_start().starts_with("pool:"))
    });
    if set_already || config.is_err() || (top.is_none() && text.contains("\nworktree:")) {
        return Ok(step(
            Action::Kept,
            Some("it sets worktree.pool already, or in a form this edit cannot extend: edit it"),
        ));
    }
    let keep = pool.keep.join(", ");
    let block = format!("  pool:\n    size: {}\n    keep: [{keep}]\n", pool.size);
    let updated = match top {
        Some(at) => {
            let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            out.insert(at + 1, block.trim_end().to_owned());
            out.join("\n") + "\n"
        }
        None => {
            let mut out = text.clone();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out + "worktree:\n" + &block
        }
    };
    match crate::config::parse(&updated, &path) {
        Ok(c) if c.worktree.pool == *pool => {
            write_file(&path, updated.as_bytes(), 0o644)?;
            Ok(step(Action::Updated, Some("worktree.pool set")))
        }
        _ => Ok(step(
            Action::Kept,
            Some("worktree.pool could not be added safely: edit it"),
        )),
    }
}

/// The `project_id:` value of an existing config, read line by line.
fn existing_project_id(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix("project_id:")
            .map(|v| v.trim().trim_matches(['"', '\'']).to_owned())
    })
}

/// The remote of the repository at `root` that points at GitHub, and the repository it names
/// (`owner/name`): `origin` if it does, else the first other remote by name that does.
pub fn github_remote(root: &Path) -> Option<(String, String)> {
    let repo = git2::Repository::open(root).ok()?;
    let names = repo.remotes().ok()?;
    let mut names: Vec<String> = (0..names.len())
        .filter_map(|i| names.get(i).ok().flatten().map(str::to_owned))
        .collect();
    names.sort_by_key(|n| (n != "origin", n.clone()));
    names.into_iter().find_map(|name| {
        let remote = repo.find_remote(&name).ok()?;
        let repo_name = crate::config::github_repo(remote.url().ok()?)?;
        let plain = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
            && !name.starts_with('-');
        plain.then_some((name, repo_name))
    })
}

/// The `forge:` section `vnx init` writes for a remote on GitHub.
pub fn forge_text(remote: &str, repo: &str) -> String {
    format!(
        "# Pull requests (`vnx pr`): remote {remote} is {repo} on GitHub, reached through your own\n\
         # `gh` and its login (`vnx doctor` checks it).\n\
         forge:\n  kind: github\n  remote: {remote}\n\
         #   merge_method: squash                # merge, squash or rebase\n\
         #   refresh_seconds: 30                 # how long one read of a pull request serves\n\n"
    )
}

fn write_config(
    root: &Path,
    options: &InitOptions,
    test: Option<&TestCommand>,
    github: Option<&(String, String)>,
) -> Result<(String, Step), InitError> {
    let path = check_no_symlink(root, CONFIG)?;
    let step = |action| Step {
        path: CONFIG.into(),
        action,
        note: None,
    };
    match fs::read_to_string(&path) {
        Ok(text) => {
            let existing = existing_project_id(&text);
            match (&existing, &options.project_id) {
                (Some(have), Some(want)) if have != want && !options.force => {
                    Err(InitError::ProjectIdSet {
                        path,
                        existing: have.clone(),
                        wanted: want.clone(),
                    })
                }
                (Some(have), Some(want)) if have != want => {
                    let updated = text.replacen(
                        &format!("project_id: {have}"),
                        &format!("project_id: {want}"),
                        1,
                    );
                    write_file(&path, updated.as_bytes(), 0o644)?;
                    Ok((want.clone(), step(Action::Overwritten)))
                }
                (Some(have), _) => Ok((have.clone(), step(Action::Unchanged))),
                (None, want) => {
                    // A config without an id: add one, keeping whatever else it says.
                    let id = want.clone().unwrap_or_else(|| derive_project_id(root));
                    let mut updated = text.clone();
                    if !updated.is_empty() && !updated.ends_with('\n') {
                        updated.push('\n');
                    }
                    updated.push_str(&format!("project_id: {id}\n"));
                    write_file(&path, updated.as_bytes(), 0o644)?;
                    Ok((id, step(Action::Updated)))
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = options
                .project_id
                .clone()
                .unwrap_or_else(|| derive_project_id(root));
            let mut text = config_text(&id, test);
            let mut created = step(Action::Created);
            if let Some((remote, repo)) = github {
                text.push_str(&forge_text(remote, repo));
                created.note = Some(format!(
                    "forge: remote {remote} is {repo} on GitHub; `vnx pr open` opens pull \
                     requests through gh"
                ));
            }
            write_file(&path, text.as_bytes(), 0o644)?;
            Ok((id, created))
        }
        Err(e) => Err(io_err(&path)(e)),
    }
}

fn install_default(root: &Path, file: &DefaultFile, force: bool) -> Result<Step, InitError> {
    let path = check_no_symlink(root, file.path)?;
    let mode = if file.executable { 0o755 } else { 0o644 };
    let action = match fs::read(&path) {
        Ok(current) if current == file.contents.as_bytes() => Action::Unchanged,
        Ok(_) if !force => Action::Kept,
        Ok(_) => {
            write_file(&path, file.contents.as_bytes(), mode)?;
            Action::Overwritten
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_file(&path, file.contents.as_bytes(), mode)?;
            Action::Created
        }
        Err(e) => return Err(io_err(&path)(e)),
    };
    Ok(Step {
        path: file.path.into(),
        action,
        note: None,
    })
}

fn make_dir(root: &Path, rel: &str) -> Result<Step, InitError> {
    let path = check_no_symlink(root, rel)?;
    let action = if path.is_dir() {
        Action::Unchanged
    } else {
        Action::Created
    };
    // vnx's runtime directories are private, and an existing one is narrowed to the user.
    crate::files::private_dir(&path).map_err(io_err(&path))?;
    Ok(Step {
        path: rel.into(),
        action,
        note: None,
    })
}

/// Makes sure `.gitignore` ignores `.vnx-data/`.
fn ignore_data_dir(root: &Path) -> Result<Step, InitError> {
    let path = check_no_symlink(root, ".gitignore")?;
    let entry = format!("/{DATA_DIR}/");
    let step = |action| Step {
        path: ".gitignore".into(),
        action,
        note: None,
    };
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_file(&path, format!("{entry}\n").as_bytes(), 0o644)?;
            return Ok(step(Action::Created));
        }
        Err(e) => return Err(io_err(&path)(e)),
    };
    let covered = text.lines().map(str::trim).any(|l| {
        [
            DATA_DIR,
            &format!("{DATA_DIR}/"),
            &format!("/{DATA_DIR}"),
            &entry,
        ]
        .contains(&l)
    });
    if covered {
        return Ok(step(Action::Unchanged));
    }
    let mut updated = text;
    if !updated.is_empty() && !updated.ends_with('\n') {
        updated.push('\n');
    }
    updated.push_str(&format!("{entry}\n"));
    write_file(&path, updated.as_bytes(), 0o644)?;
    Ok(step(Action::Updated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids() {
        assert!(is_project_id("vnx"));
        assert!(is_project_id("my-repo-2"));
        for bad in ["", "a", "2fast", "Caps", "under_score", &"x".repeat(33)] {
            assert!(!is_project_id(bad), "{bad}");
        }
        assert_eq!(
            derive_project_id(Path::new("/src/My Repo_v2")),
            "my-repo-v2"
        );
        assert_eq!(
            derive_project_id(Path::new("/src/2048")).len(),
            "vnx-".len() + 8
        );
        assert_eq!(derive_project_id(Path::new("/src/ünïcode")), "n-code");
        assert!(is_project_id(&derive_project_id(Path::new("/src/---"))));
    }

    fn is_key(k: &str) -> bool {
        !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    }

    #[test]
    fn a_new_config_parses_with_and_without_a_detected_gate() {
        let path = Path::new(".vnx/config.yaml");
        let test = TestCommand {
            argv: vec!["go".into(), "test".into(), "./...".into()],
            from: "go.mod".into(),
        };
        let config = crate::config::parse(&config_text("demo", Some(&test)), path).unwrap();
        assert_eq!(config.project_id.as_deref(), Some("demo"));
        assert_eq!(
            config.roles[DEFAULT_ROLE].gates.as_deref(),
            Some(&[TEST_GATE.to_owned()][..])
        );
        assert_eq!(
            serde_json::to_string(&config.gates[TEST_GATE]).unwrap(),
            r#"{"kind":"command","argv":["go","test","./..."],"timeout":1800}"#
        );
        let bare = crate::config::parse(&config_text("demo", None), path).unwrap();
        let with_forge = format!("{}{}", config_text("demo", None), forge_text("up", "o/r"));
        let forge = crate::config::parse(&with_forge, path)
            .unwrap()
            .forge
            .unwrap();
        assert_eq!(forge.remote, "up");
        assert!(bare.gates.is_empty() && bare.roles.is_empty());
        assert_eq!(bare.defaults.role.as_deref(), Some(DEFAULT_ROLE));
        assert_eq!(
            bare.defaults.provider.as_deref(),
            Some(crate::provider::Provider::DEFAULT.name())
        );
        // Each commented example is valid once uncommented.
        let uncommented: String = config_text("demo", None)
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.starts_with(' ') || l.split_once(':').is_some_and(|(k, _)| is_key(k)))
            .map(|l| l.split(" # ").next().unwrap().to_owned() + "\n")
            .collect();
        // The first are `defaults:`'s commented keys.
        let all = format!("version: 1\nproject_id: demo\ndefaults:\n{uncommented}");
        crate::config::parse(&all, path).unwrap_or_else(|e| panic!("{e}\n{all}"));
    }
}
