//! The committed project configuration, `.vnx/config.yaml`: its schema, loading, and the
//! validation of user-declared providers, concurrency slots, gates (in `gates`) and roles,
//! with every error pointing at a line and column of the file.
//!
//! Strings in a lane's `argv` and in `model_args` are *templates*: `{prompt}`,
//! `{prompt_file}` and `{model}` are placeholders (each allowed only where the schema says),
//! and a literal brace is written `{{` or `}}`; [`expand`] substitutes them. Permission flags
//! are written the same way but take no placeholders, so they are stored already unescaped.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_saphyr::{Location, MessageFormatter, Spanned};

use crate::provider::kinds::{CompletionSignal, Lane, OutputFormat, PromptTransport};

mod gates;
pub use gates::{GateDef, GateKind};

/// Providers vnx knows without a declaration; their names cannot be declared.
pub const BUILTIN_PROVIDERS: [&str; 5] = ["claude", "codex", "gemini", "ollama", "demo"];

/// A config file larger than this is refused before parsing.
const MAX_BYTES: usize = 1024 * 1024;

/// The parsed, validated configuration. A project without a config file gets the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    pub project_id: Option<String>,
    pub providers: BTreeMap<String, DeclaredProvider>,
    /// Concurrency slots per provider (built-in or declared), each in `1..=256`.
    pub concurrency: BTreeMap<String, u32>,
    pub roles: BTreeMap<String, RoleConfig>,
    /// Gates roles may require before a merge (`crate::gate`).
    pub gates: BTreeMap<String, GateDef>,
}

/// A worker CLI declared under `providers:`.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclaredProvider {
    /// A program name looked up on PATH, or an absolute path.
    pub binary: String,
    pub headless: Option<DeclaredLane>,
    pub interactive: Option<DeclaredLane>,
    /// Templates appended when a model is given (see [`DeclaredProvider::model_argv`]);
    /// together they use `{model}` at least once and no other placeholder. Empty: the
    /// provider takes no model.
    pub model_args: Vec<String>,
    pub permissions: DeclaredPermissions,
    /// Always names a declared lane.
    pub default_lane: Lane,
}

impl DeclaredProvider {
    /// The declared lane of that kind, if any.
    pub fn lane(&self, lane: Lane) -> Option<&DeclaredLane> {
        match lane {
            Lane::Headless => self.headless.as_ref(),
            Lane::Interactive => self.interactive.as_ref(),
        }
    }

    /// `model_args` for `model`: placeholders substituted, braces unescaped.
    pub fn model_argv(&self, model: &str) -> Vec<String> {
        let values = [("model", model)];
        self.model_args.iter().map(|a| expand(a, &values)).collect()
    }
}

/// One lane of a declared provider. `argv` holds templates that use `{prompt}` or
/// `{prompt_file}` exactly as `prompt` requires.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclaredLane {
    pub argv: Vec<String>,
    pub prompt: PromptTransport,
    pub output: OutputFormat,
    pub completion: CompletionSignal,
}

/// Flags per permission posture, final (`{{`/`}}` already unescaped); `None`: not declared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeclaredPermissions {
    pub ask: Option<Vec<String>>,
    pub edits: Option<Vec<String>>,
    pub full: Option<Vec<String>>,
}

/// Defaults for one role.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoleConfig {
    pub skills: Vec<String>,
    /// The gates a dispatch of this role must pass before it is merged. `None` (no `gates:`
    /// key) is not the same as `Some([])`: only an explicit empty list lets a role merge
    /// without gates.
    pub gates: Option<Vec<String>>,
    /// Whether the role is expected to change files (the phantom guard); `None` leaves it to
    /// the built-in list (`dispatch::phantom`).
    pub writes: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("could not read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `line` and `column` are 1-based (characters); 0 when unknown.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl ConfigError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Invalid { .. } => Some(
                "fix the file; the README sections \"Declaring providers\" and \"Gates, merge \
                 and the phantom guard\" describe the format"
                    .into(),
            ),
        }
    }
}

/// Reads and validates the config at `path`; a missing file is the default config.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    let file = match crate::project::open_untrusted(path, 2) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => return Err(io(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    check_size(bytes.len(), path)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let last = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&good[last..]).chars().count() + 1;
        invalid(path, line, column, "the file is not valid UTF-8".into())
    })?;
    parse(&text, path)
}

/// Parses and validates config text; `path` is only used in errors.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = parse_yaml(text, path)?;
    Validator { path }.config(raw)
}

/// Parses YAML text (at most 1 MiB, bounded nesting and aliases) into `T`, with a syntax or
/// type error located by line and column; `path` is only used in errors. Shared with the other
/// YAML files vnx reads (`provider_constraints.yaml`, skill front matter).
pub fn parse_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    check_size(text.len(), path)?;
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 32,
            max_nodes: 100_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
        },
        alias_limits: serde_saphyr::alias_limits! { max_total_replayed_events: 100_000 },
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| line_col(&l));
        invalid(path, line, column, shown(&yaml_message(&e), 300))
    })
}

/// Expands a template from the config: each `{name}` found in `values` is replaced by its
/// value, `{{` and `}}` become `{` and `}`. Anything else (an unknown placeholder, a stray
/// brace; never present in a validated config) is kept as written.
pub fn expand(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let scanned = scan(template, |token| match token {
        Token::Text(text) => out.push_str(text),
        Token::Hole(name) => match values.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => out.push_str(value),
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        },
    });
    if scanned.is_err() {
        return template.to_owned();
    }
    out
}

enum Token<'a> {
    Text(&'a str),
    Hole(&'a str),
}

/// Splits a template into literal text (with `{{`/`}}` unescaped) and placeholder names.
fn scan<'a>(template: &'a str, mut on: impl FnMut(Token<'a>)) -> Result<(), String> {
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        on(Token::Text(&rest[..i]));
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
            on(Token::Text(&tail[..1]));
            rest = after;
        } else if tail.starts_with('}') {
            return Err("a lone `}`".into());
        } else {
            match tail[1..].find(['{', '}']) {
                Some(end) if tail.as_bytes()[end + 1] == b'}' => {
                    on(Token::Hole(&tail[1..end + 1]));
                    rest = &tail[end + 2..];
                }
                _ => return Err("an unclosed `{`".into()),
            }
        }
    }
    on(Token::Text(rest));
    Ok(())
}

// ---- raw, span-carrying schema ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    version: Option<Spanned<String>>,
    project_id: Option<Spanned<String>>,
    providers: Option<Entries<RawProvider>>,
    concurrency: Option<Entries<Spanned<i64>>>,
    roles: Option<Entries<RawRole>>,
    gates: Option<Entries<gates::RawGate>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    binary: Spanned<String>,
    headless: Option<RawLane>,
    interactive: Option<RawLane>,
    model_args: Option<Spanned<Vec<Spanned<String>>>>,
    permissions: Option<RawPermissions>,
    default_lane: Option<Spanned<Lane>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLane {
    argv: Spanned<Vec<Spanned<String>>>,
    prompt: Option<Spanned<PromptTransport>>,
    output: Option<Spanned<OutputFormat>>,
    completion: Option<CompletionSignal>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPermissions {
    ask: Option<Vec<Spanned<String>>>,
    edits: Option<Vec<Spanned<String>>>,
    full: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    skills: Option<Vec<Spanned<String>>>,
    gates: Option<Spanned<Vec<Spanned<String>>>>,
    writes: Option<bool>,
}

/// A mapping kept in document order, with the location of each key.
struct Entries<V>(Vec<(Spanned<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

// ---- validation ----

struct Validator<'p> {
    path: &'p Path,
}

type Checked<T> = Result<T, ConfigError>;

impl Validator<'_> {
    fn err<T>(&self, at: &Location, message: String) -> Checked<T> {
        let (line, column) = line_col(at);
        Err(invalid(self.path, line, column, message))
    }

    fn config(&self, raw: RawConfig) -> Checked<Config> {
        if let Some(v) = &raw.version
            && v.value != "1"
        {
            let msg = format!(
                "unsupported version {}; this vnx reads version 1",
                q(&v.value)
            );
            return self.err(&v.referenced, msg);
        }
        let mut config = Config::default();
        if let Some(id) = raw.project_id {
            if !is_name(&id.value, u8::is_ascii_lowercase, b"-", 2..=32) {
                let msg = format!(
                    "{} is not a valid project_id: use 2-32 lowercase letters, digits and \
                     dashes, starting with a letter",
                    q(&id.value)
                );
                return self.err(&id.referenced, msg);
            }
            config.project_id = Some(id.value);
        }
        for (name, provider) in raw.providers.map_or_else(Vec::new, |e| e.0) {
            if BUILTIN_PROVIDERS.contains(&name.value.as_str()) {
                let msg = format!(
                    "`{}` is a built-in provider; declare a new name",
                    name.value
                );
                return self.err(&name.referenced, msg);
            }
            if !is_name(&name.value, u8::is_ascii_lowercase, b"-_", 1..=32) {
                let msg = format!(
                    "{} is not a valid provider name: use 1-32 lowercase letters, digits, `-` \
                     or `_`, starting with a letter",
                    q(&name.value)
                );
                return self.err(&name.referenced, msg);
            }
            let declared = self.provider(&name, provider)?;
            config.providers.insert(name.value, declared);
        }
        for (name, slots) in raw.concurrency.map_or_else(Vec::new, |e| e.0) {
            if !BUILTIN_PROVIDERS.contains(&name.value.as_str())
                && !config.providers.contains_key(&name.value)
            {
                let msg = format!(
                    "concurrency names {}, which is neither a built-in provider ({}) nor one \
                     declared under `providers:`",
                    q(&name.value),
                    BUILTIN_PROVIDERS.join(", ")
                );
                return self.err(&name.referenced, msg);
            }
            let Some(n) = u32::try_from(slots.value)
                .ok()
                .filter(|n| (1..=256).contains(n))
            else {
                let msg = format!(
                    "concurrency for `{}` must be between 1 and 256, not {}",
                    name.value, slots.value
                );
                return self.err(&slots.referenced, msg);
            };
            config.concurrency.insert(name.value, n);
        }
        config.gates = self.gates(raw.gates, &config.providers)?;
        for (name, role) in raw.roles.map_or_else(Vec::new, |e| e.0) {
            if !is_name(&name.value, u8::is_ascii_lowercase, b"-_", 1..=32) {
                let msg = format!(
                    "{} is not a valid role name: use 1-32 lowercase letters, digits, `-` or \
                     `_`, starting with a letter",
                    q(&name.value)
                );
                return self.err(&name.referenced, msg);
            }
            let mut skills = Vec::new();
            for skill in role.skills.unwrap_or_default() {
                let first = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
                if !is_name(&skill.value, first, b"-_", 1..=64) {
                    let msg = format!(
                        "role `{}`: {} is not a valid skill name: use 1-64 lowercase letters, \
                         digits, `-` or `_`, starting with a letter or digit",
                        name.value,
                        q(&skill.value)
                    );
                    return self.err(&skill.referenced, msg);
                }
                skills.push(skill.value);
            }
            let gates = role
                .gates
                .map(|g| self.role_gates(&name.value, g, &config.gates))
                .transpose()?;
            config.roles.insert(
                name.value,
                RoleConfig {
                    skills,
                    gates,
                    writes: role.writes,
                },
            );
        }
        Ok(config)
    }

    fn provider(&self, name: &Spanned<String>, raw: RawProvider) -> Checked<DeclaredProvider> {
        let who = format!("provider `{}`", name.value);
        let binary = raw.binary;
        let problem = if binary.value.is_empty() {
            Some("is empty")
        } else if binary.value.contains('\0') {
            Some("contains a NUL byte")
        } else if binary.value.contains('/') && !binary.value.starts_with('/') {
            Some("is a relative path")
        } else {
            None
        };
        if let Some(problem) = problem {
            let msg = format!(
                "{who}: `binary` {problem}; give a program name looked up on PATH or an \
                 absolute path"
            );
            return self.err(&binary.referenced, msg);
        }
        let headless = raw
            .headless
            .map(|l| self.lane(&who, Lane::Headless, l))
            .transpose()?;
        let interactive = raw
            .interactive
            .map(|l| self.lane(&who, Lane::Interactive, l))
            .transpose()?;
        let default_lane = match raw.default_lane {
            Some(lane)
                if (lane.value == Lane::Headless && headless.is_none())
                    || (lane.value == Lane::Interactive && interactive.is_none()) =>
            {
                let msg = format!(
                    "{who}: `default_lane` is {0}, but no `{0}:` lane is declared",
                    lane.value.name()
                );
                return self.err(&lane.referenced, msg);
            }
            Some(lane) => lane.value,
            None if headless.is_some() => Lane::Headless,
            None if interactive.is_some() => Lane::Interactive,
            None => {
                let msg =
                    format!("{who} declares no lane; add `headless:`, `interactive:` or both");
                return self.err(&name.referenced, msg);
            }
        };
        let mut model_args = Vec::new();
        if let Some(args) = raw.model_args {
            let mut models = 0;
            for arg in args.value {
                models +=
                    self.template(&arg, &["model"], &format!("{who}: `model_args`"))?["model"];
                model_args.push(arg.value);
            }
            if models == 0 && !model_args.is_empty() {
                let msg = format!(
                    "{who}: `model_args` must contain `{{model}}`, where the model name goes"
                );
                return self.err(&args.referenced, msg);
            }
        }
        let raw_permissions = raw.permissions.unwrap_or_default();
        let flags =
            |posture: &str, list: Option<Vec<Spanned<String>>>| -> Checked<Option<Vec<String>>> {
                let Some(list) = list else { return Ok(None) };
                let what = format!("{who}: the `{posture}` permission flags");
                let mut out = Vec::new();
                for flag in list {
                    if flag.value.is_empty() {
                        return self.err(&flag.referenced, format!("{what} contain an empty flag"));
                    }
                    self.template(&flag, &[], &what)?;
                    out.push(expand(&flag.value, &[]));
                }
                Ok(Some(out))
            };
        let permissions = DeclaredPermissions {
            ask: flags("ask", raw_permissions.ask)?,
            edits: flags("edits", raw_permissions.edits)?,
            full: flags("full", raw_permissions.full)?,
        };
        Ok(DeclaredProvider {
            binary: binary.value,
            headless,
            interactive,
            model_args,
            permissions,
            default_lane,
        })
    }

    fn lane(&self, who: &str, lane: Lane, raw: RawLane) -> Checked<DeclaredLane> {
        let what = format!("{who}, {} lane", lane.name());
        let prompt = raw
            .prompt
            .as_ref()
            .map_or(PromptTransport::Argument, |p| p.value);
        if let (Lane::Interactive, Some(p)) = (lane, &raw.prompt)
            && p.value == PromptTransport::Stdin
        {
            let msg = format!(
                "{what}: `prompt: stdin` is not allowed, stdin is the terminal; use argument or file"
            );
            return self.err(&p.referenced, msg);
        }
        let output = raw.output.as_ref().map_or(OutputFormat::Text, |o| o.value);
        if let (Lane::Interactive, Some(o)) = (lane, &raw.output)
            && o.value != OutputFormat::Text
        {
            let msg = format!("{what}: the output is the terminal, so `output` can only be text");
            return self.err(&o.referenced, msg);
        }
        let want = match prompt {
            PromptTransport::Argument => Some("prompt"),
            PromptTransport::File => Some("prompt_file"),
            PromptTransport::Stdin => None,
        };
        let mut found = 0;
        let mut argv = Vec::new();
        for arg in raw.argv.value {
            let counts =
                self.template(&arg, &["prompt", "prompt_file"], &format!("{what}: argv"))?;
            if let Some((stray, _)) = counts.iter().find(|&(k, n)| Some(*k) != want && *n > 0) {
                let why = match want {
                    Some(w) => format!("it takes the prompt through `{{{w}}}`"),
                    None => "the prompt arrives on stdin".into(),
                };
                let msg = format!(
                    "{what}: `prompt: {}` cannot use `{{{stray}}}`; {why}",
                    prompt.name()
                );
                return self.err(&arg.referenced, msg);
            }
            if let Some(w) = want {
                found += counts[w];
                if found > 1 {
                    let msg = format!("{what}: `{{{w}}}` must appear exactly once in argv");
                    return self.err(&arg.referenced, msg);
                }
            }
            argv.push(arg.value);
        }
        if let Some(w) = want
            && found == 0
        {
            let msg = format!(
                "{what}: `prompt: {}` needs `{{{w}}}` in argv, where the prompt goes",
                prompt.name()
            );
            return self.err(&raw.argv.referenced, msg);
        }
        let completion = raw.completion.unwrap_or(match lane {
            Lane::Headless => CompletionSignal::Exit,
            Lane::Interactive => CompletionSignal::Report,
        });
        Ok(DeclaredLane {
            argv,
            prompt,
            output,
            completion,
        })
    }

    /// Checks one template string; returns how often each allowed placeholder appears.
    fn template(
        &self,
        arg: &Spanned<String>,
        allowed: &[&'static str],
        what: &str,
    ) -> Checked<BTreeMap<&'static str, usize>> {
        let mut counts: BTreeMap<&'static str, usize> = allowed.iter().map(|&a| (a, 0)).collect();
        let mut unknown = None;
        let mut fault = scan(&arg.value, |token| {
            if let Token::Hole(name) = token {
                match allowed.iter().find(|&&a| a == name) {
                    Some(a) => *counts.entry(a).or_default() += 1,
                    None => {
                        unknown.get_or_insert_with(|| name.to_owned());
                    }
                }
            }
        })
        .err();
        if arg.value.contains('\0') {
            fault = Some("a NUL byte".into());
        }
        let allowed_text = match allowed {
            [] => "no placeholders are allowed here".to_owned(),
            _ => format!(
                "allowed here: {}",
                allowed
                    .iter()
                    .map(|a| format!("{{{a}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        if let Some(fault) = fault {
            let msg = format!(
                "{what}: {} contains {fault}; write `{{{{` and `}}}}` for literal braces",
                q(&arg.value)
            );
            return self.err(&arg.referenced, msg);
        }
        if let Some(name) = unknown {
            let msg = format!(
                "{what}: unknown placeholder `{{{}}}` in {}; {allowed_text} (write `{{{{` and `}}}}` for literal braces)",
                shown(&name, 40),
                q(&arg.value)
            );
            return self.err(&arg.referenced, msg);
        }
        Ok(counts)
    }
}

/// The message of a YAML or schema error, in words a config author knows.
fn yaml_message(mut e: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    while let E::WithSnippet { error, .. } | E::AliasError { error, .. } = e {
        e = error;
    }
    let what = match e {
        E::Unexpected { expected, .. } => match *expected {
            "mapping start" => "a mapping (`key: value` entries)",
            "sequence start" => "a list (`[a, b]` or `- a` lines)",
            "string scalar" | "scalar" => "a single value",
            _ => "",
        },
        _ => "",
    };
    if what.is_empty() {
        serde_saphyr::UserMessageFormatter
            .format_message(e)
            .into_owned()
    } else {
        format!("expected {what} here")
    }
}

fn check_size(len: usize, path: &Path) -> Checked<()> {
    if len > MAX_BYTES {
        return Err(invalid(
            path,
            0,
            0,
            "the file is larger than 1 MiB, the most vnx reads".into(),
        ));
    }
    Ok(())
}

fn invalid(path: &Path, line: usize, column: usize, message: String) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_owned(),
        line,
        column,
        message,
    }
}

fn line_col(at: &Location) -> (usize, usize) {
    let n = |v: u64| usize::try_from(v).unwrap_or(0);
    (n(at.line()), n(at.column()))
}

/// `^[first][a-z0-9{extra}]*$` with a length in `len`.
fn is_name(
    s: &str,
    first: fn(&u8) -> bool,
    extra: &[u8],
    len: std::ops::RangeInclusive<usize>,
) -> bool {
    let mut bytes = s.bytes();
    len.contains(&s.len())
        && bytes.next().is_some_and(|b| first(&b))
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
}

/// A user-supplied value quoted for a message.
fn q(s: &str) -> String {
    format!("`{}`", shown(s, 80))
}

/// `s` with control characters escaped, cut to `max` characters.
fn shown(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "\
version: 1
project_id: my-project
providers:
  kimi:
    binary: kimi
    headless:
      argv: [\"--print\", \"{prompt}\"]
      prompt: argument
      output: text
      completion: exit
    interactive:
      argv: [\"--prompt-file={prompt_file}\", \"--json={{}}\"]
      prompt: file
      completion: report
    model_args: [\"--model\", \"{model}\"]
    permissions:
      ask: []
      edits: [\"--auto-edit\"]
      full: [\"--yolo\", \"--config={{\\\"sandbox\\\": false}}\"]
    default_lane: interactive
  my_tool-2:
    binary: /opt/tool/bin/tool
    headless:
      argv: []
      prompt: stdin
      output: claude-stream-json
concurrency:
  claude: 4
  kimi: 1
roles:
  implementer:
    skills: [implementer, 2nd-pass]
    gates: [tests, review]
  reviewer:
    writes: false
    gates: []
gates:
  tests: {kind: command, argv: [cargo, test], timeout: 900, idle_timeout: 120}
  review:
    kind: review
    provider: codex
    model: gpt-5.5
    extra_instructions: Mind the error paths.
";

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn parse_ok(text: &str) -> Config {
        parse(text, Path::new(".vnx/config.yaml")).unwrap()
    }

    /// (line, column, message) of an invalid config; also used by `gates`' tests.
    pub(super) fn parse_err(text: &str) -> (usize, usize, String) {
        match parse(text, Path::new(".vnx/config.yaml")) {
            Err(ConfigError::Invalid {
                line,
                column,
                message,
                ..
            }) => (line, column, message),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn provider(body: &str) -> String {
        format!("version: 1\nproviders:\n  kimi:\n{body}")
    }

    #[test]
    fn full_example() {
        let config = parse_ok(FULL);
        let kimi = DeclaredProvider {
            binary: "kimi".into(),
            headless: Some(DeclaredLane {
                argv: strings(&["--print", "{prompt}"]),
                prompt: PromptTransport::Argument,
                output: OutputFormat::Text,
                completion: CompletionSignal::Exit,
            }),
            interactive: Some(DeclaredLane {
                argv: strings(&["--prompt-file={prompt_file}", "--json={{}}"]),
                prompt: PromptTransport::File,
                output: OutputFormat::Text,
                completion: CompletionSignal::Report,
            }),
            model_args: strings(&["--model", "{model}"]),
            permissions: DeclaredPermissions {
                ask: Some(vec![]),
                edits: Some(strings(&["--auto-edit"])),
                full: Some(strings(&["--yolo", "--config={\"sandbox\": false}"])),
            },
            default_lane: Lane::Interactive,
        };
        let tool = DeclaredProvider {
            binary: "/opt/tool/bin/tool".into(),
            headless: Some(DeclaredLane {
                argv: vec![],
                prompt: PromptTransport::Stdin,
                output: OutputFormat::ClaudeStreamJson,
                completion: CompletionSignal::Exit,
            }),
            interactive: None,
            model_args: vec![],
            permissions: DeclaredPermissions::default(),
            default_lane: Lane::Headless,
        };
        let expected = Config {
            project_id: Some("my-project".into()),
            providers: [("kimi".to_owned(), kimi), ("my_tool-2".to_owned(), tool)].into(),
            concurrency: [("claude".to_owned(), 4), ("kimi".to_owned(), 1)].into(),
            roles: [
                (
                    "implementer".to_owned(),
                    RoleConfig {
                        skills: strings(&["implementer", "2nd-pass"]),
                        gates: Some(strings(&["tests", "review"])),
                        writes: None,
                    },
                ),
                (
                    "reviewer".to_owned(),
                    RoleConfig {
                        skills: vec![],
                        gates: Some(vec![]),
                        writes: Some(false),
                    },
                ),
            ]
            .into(),
            gates: [
                (
                    "tests".to_owned(),
                    GateDef {
                        kind: GateKind::Command {
                            argv: strings(&["cargo", "test"]),
                        },
                        timeout: 900,
                        idle_timeout: Some(120),
                    },
                ),
                (
                    "review".to_owned(),
                    GateDef {
                        kind: GateKind::Review {
                            provider: "codex".into(),
                            model: Some("gpt-5.5".into()),
                            extra_instructions: Some("Mind the error paths.".into()),
                        },
                        timeout: gates::DEFAULT_TIMEOUT,
                        idle_timeout: None,
                    },
                ),
            ]
            .into(),
        };
        assert_eq!(config, expected);
        let kimi = &config.providers["kimi"];
        assert_eq!(kimi.lane(Lane::Interactive), kimi.interactive.as_ref());
        assert_eq!(config.providers["my_tool-2"].lane(Lane::Interactive), None);
    }

    #[test]
    fn defaults_fill_in() {
        let config = parse_ok(&provider(
            "    binary: k\n    interactive:\n      argv: [\"{prompt}\"]\n",
        ));
        let kimi = &config.providers["kimi"];
        assert_eq!(kimi.default_lane, Lane::Interactive);
        let lane = kimi.interactive.as_ref().unwrap();
        assert_eq!(lane.prompt, PromptTransport::Argument);
        assert_eq!(lane.output, OutputFormat::Text);
        assert_eq!(lane.completion, CompletionSignal::Report);
        assert_eq!(config.project_id, None);
    }

    #[test]
    fn minimal_file_as_init_writes_it() {
        let text = "# vnx project configuration: committed, written by `vnx init`.\n\
                    version: 1\nproject_id: demo-project\n";
        let config = parse_ok(text);
        assert_eq!(
            config,
            Config {
                project_id: Some("demo-project".into()),
                ..Config::default()
            }
        );
        assert_eq!(parse_ok(""), Config::default());
        assert_eq!(
            parse_ok("project_id: ab\nproviders:\nroles: {}\n")
                .project_id
                .unwrap(),
            "ab"
        );
    }

    #[test]
    fn load_reads_files_and_tolerates_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        assert_eq!(load(&path).unwrap(), Config::default());
        std::fs::write(&path, "version: 1\nproject_id: demo-project\n").unwrap();
        assert_eq!(
            load(&path).unwrap().project_id.as_deref(),
            Some("demo-project")
        );
        std::fs::write(&path, b"version: 1\nproject_id: d\xffx\n").unwrap();
        let err = load(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}:2:14: the file is not valid UTF-8", path.display())
        );
        assert!(err.hint().unwrap().contains("Declaring providers"));
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
        assert_eq!(err.hint(), None);
    }

    #[test]
    fn too_large_and_bombs() {
        let big = format!("version: 1\n#{}\n", "x".repeat(MAX_BYTES));
        let (line, column, message) = parse_err(&big);
        assert_eq!((line, column), (0, 0));
        assert!(message.contains("1 MiB"), "{message}");
        let mut bomb = String::from("gates:\n  a: &a [1,1,1,1,1,1,1,1,1,1]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h"])
        {
            bomb.push_str(&format!(
                "  {name}: &{name} [{}]\n",
                vec![format!("*{prev}"); 10].join(",")
            ));
        }
        // The config's schema has no place for nested lists, so the bomb is refused at its
        // first line; a reader that accepts any value (as other YAML files' readers may) is
        // stopped by the budget.
        let (line, _, message) = parse_err(&bomb);
        assert!(line > 0, "{message}");
        let any = parse_yaml::<serde::de::IgnoredAny>(&bomb, Path::new("c"));
        let Err(ConfigError::Invalid { line, message, .. }) = any else {
            panic!("{any:?}")
        };
        assert!(line > 0, "{message}");
        assert!(message.contains("too large or too complex"), "{message}");
        let deep = format!("gates: {}{}\n", "[".repeat(100), "]".repeat(100));
        assert_eq!(parse_err(&deep).0, 1);
    }

    #[test]
    fn yaml_and_type_errors_carry_their_location() {
        let (l, c, m) = parse_err("# comment\nversion: 1\nprojectid: x\n");
        assert_eq!((l, c), (3, 1));
        assert_eq!(
            m,
            "unknown field `projectid`, expected one of version, project_id, providers, concurrency, roles, gates"
        );
        let (l, c, m) = parse_err(&provider("    binary: k\n    bogus: 1\n"));
        assert_eq!((l, c), (5, 5));
        assert!(m.contains("unknown field `bogus`"), "{m}");
        let (l, c, m) = parse_err(&provider(
            "    binary: k\n    headless:\n      argv: []\n      promt: stdin\n",
        ));
        assert_eq!((l, c), (7, 7));
        assert!(m.contains("unknown field `promt`"), "{m}");
        let (l, _, m) = parse_err(&provider(
            "    binary: k\n    headless: {argv: [\"{prompt}\"]}\n    permissions:\n      yolo: []\n",
        ));
        assert_eq!(l, 7);
        assert!(
            m.contains("unknown field `yolo`, expected one of ask, edits, full"),
            "{m}"
        );
        let (l, _, m) = parse_err("roles:\n  a:\n    skill: [x]\n");
        assert_eq!(l, 3);
        assert!(m.contains("unknown field `skill`"), "{m}");
        let (l, c, m) = parse_err(&provider("    binary: [k]\n"));
        assert_eq!((l, c, m.as_str()), (4, 13, "expected a single value here"));
        let (l, c, m) = parse_err(&provider(
            "    binary: k\n    headless: {argv: \"{prompt}\"}\n",
        ));
        assert_eq!((l, c), (5, 22));
        assert_eq!(m, "expected a list (`[a, b]` or `- a` lines) here");
        let (l, c, m) = parse_err("42\n");
        assert_eq!(
            (l, c, m.as_str()),
            (1, 1, "expected a mapping (`key: value` entries) here")
        );
        let (l, c, m) = parse_err(&provider(
            "    binary: k\n    headless:\n      argv: []\n      prompt: pipe\n",
        ));
        assert_eq!((l, c), (7, 15));
        assert!(
            m.contains("unknown variant `pipe`, expected one of argument, stdin, file"),
            "{m}"
        );
        let (l, c, m) = parse_err("version: 1\nversion: 1\n");
        assert_eq!((l, c), (2, 1));
        assert!(m.contains("duplicate"), "{m}");
        let (l, _, _) = parse_err("version: 1\nproviders: [\n");
        assert!(l >= 2);
        let (l, c, m) = parse_err(&provider("    headless: {argv: [\"{prompt}\"]}\n"));
        assert_eq!((l, c), (4, 5));
        assert!(m.contains("missing field `binary`"), "{m}");
        let (l, _, m) = parse_err("version: 1\n---\nversion: 1\n");
        assert_eq!(l, 3, "{m}");
    }

    #[test]
    fn version_and_project_id() {
        let (l, c, m) = parse_err("# c\nversion: 2\n");
        assert_eq!(
            (l, c, m.as_str()),
            (2, 10, "unsupported version `2`; this vnx reads version 1")
        );
        let (l, c, m) = parse_err("version: 1\nproject_id: My_Project\n");
        assert_eq!((l, c), (2, 13));
        assert!(
            m.starts_with("`My_Project` is not a valid project_id"),
            "{m}"
        );
        assert_eq!(parse_err("project_id: a\n").0, 1);
    }

    #[test]
    fn provider_names() {
        let (l, c, m) = parse_err("version: 1\nproviders:\n  claude:\n    binary: c\n");
        assert_eq!(
            (l, c, m.as_str()),
            (3, 3, "`claude` is a built-in provider; declare a new name")
        );
        let (l, c, m) = parse_err("providers:\n  Kimi:\n    binary: c\n");
        assert_eq!((l, c), (2, 3));
        assert!(
            m.starts_with("`Kimi` is not a valid provider name: use 1-32 lowercase"),
            "{m}"
        );
        assert_eq!(
            parse_err(&format!(
                "providers:\n  {}: {{binary: c}}\n",
                "k".repeat(33)
            ))
            .0,
            2
        );
    }

    #[test]
    fn binary() {
        let lane = "    headless: {argv: [\"{prompt}\"]}\n";
        for (binary, problem) in [
            ("\"\"", "is empty"),
            ("\"a\\0b\"", "contains a NUL byte"),
            ("bin/kimi", "is a relative path"),
        ] {
            let (l, c, m) = parse_err(&provider(&format!("    binary: {binary}\n{lane}")));
            assert_eq!((l, c), (4, 13), "{m}");
            assert_eq!(
                m,
                format!(
                    "provider `kimi`: `binary` {problem}; give a program name looked up on PATH or an absolute path"
                )
            );
        }
    }

    #[test]
    fn lanes_and_default_lane() {
        let (l, c, m) = parse_err(&provider("    binary: k\n    model_args: []\n"));
        assert_eq!((l, c), (3, 3));
        assert_eq!(
            m,
            "provider `kimi` declares no lane; add `headless:`, `interactive:` or both"
        );
        let (l, c, m) = parse_err(&provider(
            "    binary: k\n    headless: {argv: [\"{prompt}\"]}\n    default_lane: interactive\n",
        ));
        assert_eq!((l, c), (6, 19));
        assert_eq!(
            m,
            "provider `kimi`: `default_lane` is interactive, but no `interactive:` lane is declared"
        );
    }

    #[test]
    fn argv_placeholders() {
        let lane = |body: &str| provider(&format!("    binary: k\n    headless:\n{body}"));
        let (l, c, m) = parse_err(&lane("      argv: [\"--m\", \"{model}\"]\n"));
        assert_eq!((l, c), (6, 21));
        assert_eq!(
            m,
            "provider `kimi`, headless lane: argv: unknown placeholder `{model}` in `{model}`; allowed here: {prompt}, {prompt_file} (write `{{` and `}}` for literal braces)"
        );
        let (l, c, m) = parse_err(&lane("      argv: [\"{prompt}\", \"x}\"]\n"));
        assert_eq!((l, c), (6, 26));
        assert!(m.contains("`x}` contains a lone `}`"), "{m}");
        let (_, _, m) = parse_err(&lane("      argv: [\"{prompt\"]\n"));
        assert!(m.contains("contains an unclosed `{`"), "{m}");
        let (l, c, m) = parse_err(&lane("      argv:\n        - --print\n"));
        assert_eq!((l, c), (7, 9));
        assert_eq!(
            m,
            "provider `kimi`, headless lane: `prompt: argument` needs `{prompt}` in argv, where the prompt goes"
        );
        let (l, c, m) = parse_err(&lane("      argv: [\"{{prompt}}\"]\n"));
        assert_eq!((l, c), (6, 13), "{m}");
        let (l, c, m) = parse_err(&lane("      argv: [\"{prompt}\", \"--again={prompt}\"]\n"));
        assert_eq!((l, c), (6, 26));
        assert_eq!(
            m,
            "provider `kimi`, headless lane: `{prompt}` must appear exactly once in argv"
        );
        let (l, c, m) = parse_err(&lane("      argv: [\"{prompt}\", \"{prompt_file}\"]\n"));
        assert_eq!((l, c), (6, 26));
        assert_eq!(
            m,
            "provider `kimi`, headless lane: `prompt: argument` cannot use `{prompt_file}`; it takes the prompt through `{prompt}`"
        );
        let (_, _, m) = parse_err(&lane("      argv: [\"{prompt}\"]\n      prompt: file\n"));
        assert_eq!(
            m,
            "provider `kimi`, headless lane: `prompt: file` cannot use `{prompt}`; it takes the prompt through `{prompt_file}`"
        );
        let (l, _, m) = parse_err(&lane("      prompt: file\n      argv: []\n"));
        assert_eq!(l, 7);
        assert!(
            m.contains("`prompt: file` needs `{prompt_file}` in argv"),
            "{m}"
        );
        let (_, _, m) = parse_err(&lane(
            "      argv: [\"-p={prompt}\"]\n      prompt: stdin\n",
        ));
        assert_eq!(
            m,
            "provider `kimi`, headless lane: `prompt: stdin` cannot use `{prompt}`; the prompt arrives on stdin"
        );
        let (_, _, m) = parse_err(&lane("      argv: [\"a\\0{prompt}\"]\n"));
        assert!(m.contains("contains a NUL byte"), "{m}");
    }

    #[test]
    fn interactive_lane_refuses_stdin() {
        let text =
            provider("    binary: k\n    interactive:\n      argv: []\n      prompt: stdin\n");
        let (l, c, m) = parse_err(&text);
        assert_eq!((l, c), (7, 15));
        assert_eq!(
            m,
            "provider `kimi`, interactive lane: `prompt: stdin` is not allowed, stdin is the terminal; use argument or file"
        );
        let text = provider(
            "    binary: k\n    interactive:\n      argv: [\"{prompt}\"]\n      output: codex-json\n",
        );
        assert_eq!(parse_err(&text).0, 7);
    }

    #[test]
    fn model_args() {
        let base = "    binary: k\n    headless: {argv: [\"{prompt}\"]}\n";
        let (l, c, m) = parse_err(&provider(&format!("{base}    model_args: [\"--model\"]\n")));
        assert_eq!((l, c), (6, 17));
        assert_eq!(
            m,
            "provider `kimi`: `model_args` must contain `{model}`, where the model name goes"
        );
        let (l, c, m) = parse_err(&provider(&format!(
            "{base}    model_args: [\"-m\", \"{{prompt}}\"]\n"
        )));
        assert_eq!((l, c), (6, 24));
        assert!(
            m.contains("unknown placeholder `{prompt}`") && m.contains("allowed here: {model}"),
            "{m}"
        );
        let ok = parse_ok(&provider(&format!(
            "{base}    model_args: [\"--model={{model}}\"]\n"
        )));
        assert_eq!(ok.providers["kimi"].model_args, ["--model={model}"]);
        let ok = parse_ok(&provider(&format!(
            "{base}    model_args: [\"-m\", \"{{{{model}}}}={{model}}\"]\n"
        )));
        assert_eq!(ok.providers["kimi"].model_argv("m1"), ["-m", "{model}=m1"]);
    }

    #[test]
    fn permission_flags() {
        let base = "    binary: k\n    headless: {argv: [\"{prompt}\"]}\n    permissions:\n";
        let (l, c, m) = parse_err(&provider(&format!(
            "{base}      full: [\"--yolo\", \"\"]\n"
        )));
        assert_eq!((l, c), (7, 24));
        assert_eq!(
            m,
            "provider `kimi`: the `full` permission flags contain an empty flag"
        );
        let (l, _, m) = parse_err(&provider(&format!(
            "{base}      edits:\n        - \"--dir={{prompt_file}}\"\n"
        )));
        assert_eq!(l, 8);
        assert!(
            m.contains("unknown placeholder `{prompt_file}`")
                && m.contains("no placeholders are allowed here"),
            "{m}"
        );
        let (_, _, m) = parse_err(&provider(&format!("{base}      ask: [\"a\\0\"]\n")));
        assert!(m.contains("NUL"), "{m}");
    }

    #[test]
    fn concurrency() {
        let (l, c, m) = parse_err("concurrency:\n  claude: 2\n  kimi: 1\n");
        assert_eq!((l, c), (3, 3));
        assert!(
            m.starts_with("concurrency names `kimi`, which is neither a built-in provider"),
            "{m}"
        );
        for (value, column) in [("0", 11), ("257", 11), ("-1", 11)] {
            let (l, c, m) = parse_err(&format!("concurrency:\n  claude: {value}\n"));
            assert_eq!((l, c), (2, column));
            assert_eq!(
                m,
                format!("concurrency for `claude` must be between 1 and 256, not {value}")
            );
        }
        assert_eq!(parse_err("concurrency:\n  claude: many\n").0, 2);
    }

    #[test]
    fn roles() {
        let (l, c, m) = parse_err("roles:\n  Implementer:\n    skills: []\n");
        assert_eq!((l, c), (2, 3));
        assert!(
            m.starts_with("`Implementer` is not a valid role name"),
            "{m}"
        );
        let (l, c, m) = parse_err("roles:\n  implementer:\n    skills: [ok, \"Not ok\"]\n");
        assert_eq!((l, c), (3, 18));
        assert!(
            m.starts_with("role `implementer`: `Not ok` is not a valid skill name"),
            "{m}"
        );
    }

    #[test]
    fn expansion() {
        let values = [("prompt", "hi {there}"), ("model", "m")];
        assert_eq!(expand("--p={prompt}", &values), "--p=hi {there}");
        assert_eq!(expand("{{prompt}}={model}}}", &values), "{prompt}=m}");
        assert_eq!(expand("{other}", &values), "{other}");
        assert_eq!(expand("bad}", &values), "bad}");
    }

    #[test]
    fn messages_escape_control_characters() {
        let (_, _, m) = parse_err("project_id: \"a\\u001b[31m\"\n");
        assert!(m.starts_with("`a\\u{1b}[31m` is not"), "{m}");
    }
}
