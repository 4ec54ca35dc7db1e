//! Skills: `skills/<name>/SKILL.md` (YAML front matter naming and describing the skill, then
//! the methodology as Markdown) with optional `references/` and `scripts/`. Loading validates
//! everything a composed prompt relies on, and errors name the file (and the line and column
//! of a YAML error).

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;
use sha2::{Digest, Sha256};

use crate::yaml::{self, YamlError};

/// Where skills live, relative to the repository root.
pub const DIR: &str = "skills";

/// A `SKILL.md` larger than this is refused.
const MAX_SKILL_BYTES: usize = 256 * 1024;
/// At most this many files are indexed per skill.
const MAX_RESOURCES: usize = 500;
/// A resource's summary is at most this many characters.
pub const SUMMARY_CHARS: usize = 120;
/// The heading that opens the assignment in a composed prompt; a skill may not use it.
const RESERVED_HEADING: &str = "## Assignment";

/// A loaded skill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skill {
    /// Its directory's name under `skills/`.
    pub name: String,
    /// The front matter's `description`: when to use it.
    pub description: String,
    /// The methodology: `SKILL.md` after its front matter, trimmed.
    pub body: String,
    /// SHA-256 of `SKILL.md`'s bytes.
    pub sha256: String,
    /// Every file under `references/` and `scripts/`, in path order.
    pub resources: Vec<Resource>,
}

/// A file a skill brings, listed in the prompt's resource index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Relative to the repository root, e.g. `skills/reviewer/references/checklist.md`.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The first non-empty line (after a `#!` line), trimmed, at most [`SUMMARY_CHARS`]
    /// characters; `(binary)` for a binary file.
    pub summary: String,
    /// Under `scripts/` (something to run rather than read).
    pub script: bool,
}

/// Why skills could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    /// A name that cannot be a skill directory (it could escape `skills/`).
    #[error("skill name {name:?} does not match ^[a-z0-9][a-z0-9_-]{{0,63}}$")]
    BadName {
        /// The name given.
        name: String,
    },
    /// The same skill named twice for one dispatch.
    #[error("skill `{name}` is given twice")]
    Duplicate {
        /// The skill named twice.
        name: String,
    },
    /// No such skill in the repository.
    #[error("skill `{name}` not found: {path} does not exist")]
    Missing {
        /// The skill asked for.
        name: String,
        /// Where its `SKILL.md` would be.
        path: PathBuf,
        /// The skills that do exist.
        available: Vec<String>,
    },
    /// A skill's file could not be read, or its `SKILL.md` is too large, not UTF-8, or its
    /// front matter not YAML of the expected shape.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// A file could not be read while indexing a skill's resources.
    #[error("could not read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A problem at a place in a `SKILL.md` (a name or description the front matter's shape
    /// allows but a skill does not, a missing or misplaced part). `line` and `column` are
    /// 1-based; column 0 when unknown.
    #[error(transparent)]
    Invalid(crate::yaml::Spot),
    /// A problem with a file or directory as a whole.
    #[error("{path}: {message}")]
    Bad {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

impl SkillError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            SkillError::BadName { .. } => "e.g. --skill implementer".into(),
            SkillError::Duplicate { .. } => "name each skill once".into(),
            SkillError::Missing { available, .. } if available.is_empty() => {
                "skills/ holds no skill; `vnx init` installs the shipped ones".into()
            }
            SkillError::Missing { available, .. } => {
                format!("available skills: {}", available.join(", "))
            }
            SkillError::Io { .. } | SkillError::Yaml(YamlError::Io { .. }) => return None,
            SkillError::Yaml(_) | SkillError::Invalid(_) | SkillError::Bad { .. } => {
                "a skill is skills/<name>/SKILL.md: a `---` line, \
                 `name: <name>` and `description: …`, a `---` line, then the methodology"
                    .into()
            }
        })
    }
}

/// Whether `name` is a valid skill name (`^[a-z0-9][a-z0-9_-]{0,63}$`).
pub fn is_name(name: &str) -> bool {
    let mut b = name.bytes();
    name.len() <= 64
        && b.next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

/// Loads the named skills from `<root>/skills/`, in the order given.
pub fn load_all(root: &Path, names: &[String]) -> Result<Vec<Skill>, SkillError> {
    let mut skills: Vec<Skill> = Vec::with_capacity(names.len());
    for name in names {
        if skills.iter().any(|s| &s.name == name) {
            return Err(SkillError::Duplicate { name: name.clone() });
        }
        skills.push(load(root, name)?);
    }
    Ok(skills)
}

/// Loads one skill from `<root>/skills/<name>/`.
pub fn load(root: &Path, name: &str) -> Result<Skill, SkillError> {
    if !is_name(name) {
        return Err(SkillError::BadName {
            name: name.to_owned(),
        });
    }
    let dir = root.join(DIR).join(name);
    let path = dir.join("SKILL.md");
    let open = |p: &Path| crate::files::open_untrusted(p, 3);
    let Some(text) = yaml::read(&path, MAX_SKILL_BYTES, open)? else {
        return Err(SkillError::Missing {
            name: name.to_owned(),
            path,
            available: available(root),
        });
    };
    let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    let (meta, body, body_line) = split_front_matter(&text, &path)?;
    if meta.name != name {
        return Err(invalid(
            &path,
            2,
            1,
            &format!(
                "the front matter names `{}`, but the directory is skills/{name}/",
                meta.name
            ),
        ));
    }
    if meta.description.trim().is_empty() {
        return Err(invalid(&path, 2, 1, "the `description` is empty"));
    }
    if body.trim().is_empty() {
        return Err(invalid(
            &path,
            body_line,
            1,
            "the skill has no body after its front matter",
        ));
    }
    if let Some(n) = body.lines().position(|l| l.trim_end() == RESERVED_HEADING) {
        return Err(invalid(
            &path,
            body_line + n,
            1,
            "`## Assignment` is the heading vnx opens the dispatch's instruction with; use \
             another heading",
        ));
    }
    let mut resources = Vec::new();
    for sub in ["references", "scripts"] {
        index(root, &dir.join(sub), sub == "scripts", &mut resources)?;
    }
    if resources.len() > MAX_RESOURCES {
        return Err(bad(
            &dir,
            &format!("more than {MAX_RESOURCES} files under references/ and scripts/"),
        ));
    }
    Ok(Skill {
        name: name.to_owned(),
        description: meta.description.trim().to_owned(),
        body: body.trim().to_owned(),
        sha256,
        resources,
    })
}

/// The skill directories under `<root>/skills/` that hold a `SKILL.md`, by name.
pub fn available(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join(DIR))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("SKILL.md").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Front matter fields. Beyond `name` and `description`, the optional fields of the Agent
/// Skills format are accepted and ignored; anything else is an error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    name: String,
    description: String,
    #[expect(dead_code, reason = "accepted and ignored: never read")]
    license: Option<IgnoredAny>,
    #[expect(dead_code, reason = "accepted and ignored: never read")]
    compatibility: Option<IgnoredAny>,
    #[expect(dead_code, reason = "accepted and ignored: never read")]
    metadata: Option<IgnoredAny>,
    #[expect(dead_code, reason = "accepted and ignored: never read")]
    #[serde(rename = "allowed-tools")]
    allowed_tools: Option<IgnoredAny>,
}

/// The front matter, the body, and the body's first line number.
fn split_front_matter<'t>(
    text: &'t str,
    path: &Path,
) -> Result<(FrontMatter, &'t str, usize), SkillError> {
    let Some(rest) = text.strip_prefix("---\n") else {
        return Err(invalid(
            path,
            1,
            1,
            "the file must open with a `---` line and YAML front matter",
        ));
    };
    let (front, body) = if let Some(body) = rest.strip_prefix("---\n") {
        ("", body)
    } else {
        match rest.find("\n---\n") {
            Some(i) => (&rest[..i + 1], &rest[i + 5..]),
            None if rest.ends_with("\n---") => (&rest[..rest.len() - 3], ""),
            None => {
                return Err(invalid(
                    path,
                    1,
                    1,
                    "the front matter is not closed by a `---` line",
                ));
            }
        }
    };
    let body_line = 3 + front.lines().count();
    let meta: FrontMatter = yaml::parse_front_matter(front, path)?;
    Ok((meta, body, body_line))
}

/// Adds every file under `dir` (if it exists) to `out`, in path order.
fn index(root: &Path, dir: &Path, script: bool, out: &mut Vec<Resource>) -> Result<(), SkillError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SkillError::Io { path, source }
    };
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir)(e)),
    };
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(bad(dir, "must be a directory (not a link)"));
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort();
    for path in entries {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return Err(bad(&path, "the file name is not UTF-8"));
        };
        if name.starts_with('.') {
            continue;
        }
        if name.chars().any(char::is_control) {
            return Err(bad(&path, "the file name holds a control character"));
        }
        let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        if meta.file_type().is_symlink() {
            return Err(bad(
                &path,
                "is a symbolic link; a skill's resources are regular files",
            ));
        }
        if meta.is_dir() {
            index(root, &path, script, out)?;
        } else if meta.is_file() {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            out.push(Resource {
                path: relative.to_string_lossy().into_owned(),
                bytes: meta.len(),
                summary: summary(&path).map_err(io(&path))?,
                script,
            });
        }
    }
    Ok(())
}

/// The first non-empty line of a file (after a `#!` line), trimmed, control characters made
/// spaces, cut to [`SUMMARY_CHARS`] characters; `(binary)` when it is not text.
fn summary(path: &Path) -> std::io::Result<String> {
    let mut head = Vec::new();
    std::fs::File::open(path)?
        .take(64 * 1024)
        .read_to_end(&mut head)?;
    if head.contains(&0) {
        return Ok("(binary)".into());
    }
    let text = String::from_utf8_lossy(&head);
    let line = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i, l.trim()))
        .find(|&(i, l)| !(l.is_empty() || i == 0 && l.starts_with("#!")))
        .map_or("", |(_, l)| l);
    Ok(line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SUMMARY_CHARS)
        .collect::<String>()
        .trim_end()
        .to_owned())
}

fn bad(path: &Path, message: &str) -> SkillError {
    SkillError::Bad {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

fn invalid(path: &Path, line: usize, column: usize, message: &str) -> SkillError {
    SkillError::Invalid(crate::yaml::Spot::new(path, line, column, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_names() {
        for ok in ["a", "0x", "test-writer", "snake_case", &"a".repeat(64)] {
            assert!(is_name(ok), "{ok}");
        }
        for bad in ["", "-a", "_a", "A", "a/b", "..", "a.b", &"a".repeat(65)] {
            assert!(!is_name(bad), "{bad}");
        }
    }

    #[test]
    fn skill_files_are_read_bounded_and_utf8() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("skills/s");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("SKILL.md");
        let mut text = b"---\nname: s\ndescription: d\n---\n".to_vec();
        text.resize(MAX_SKILL_BYTES + 1, b'x');
        std::fs::write(&path, &text).unwrap();
        let err = load(root.path(), "s").unwrap_err();
        let want = "the file is larger than 256 KiB, the most vnx reads";
        assert_eq!(err.to_string(), format!("{}: {want}", path.display()));
        assert!(err.hint().is_some());
        std::fs::write(&path, b"---\nname: s\ndescription: d\xff\n---\nbody\n").unwrap();
        let err = load(root.path(), "s").unwrap_err().to_string();
        assert!(
            err.ends_with("SKILL.md:3:15: the file is not valid UTF-8"),
            "{err}"
        );
    }
}
