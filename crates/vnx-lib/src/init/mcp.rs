//! `vnx init --mcp`: registers `vnx mcp` as an MCP server with the CLIs a dispatcher runs
//! in, where each one's module says it reads its servers (a JSON settings file in the
//! project or in its home, or `config.toml` in its home, `[mcp_servers.vnx]`), changing only the `vnx`
//! entry, keeping a backup of a file it changes, never writing through a symbolic link.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Action, InitError};
use crate::provider::Provider;
use crate::provider::cli::{self, McpConfig};

/// A CLI `vnx mcp` can be registered with: a built-in CLI whose module says where it reads
/// its MCP servers ([`CodingCli::mcp_config`](crate::provider::cli::CodingCli::mcp_config)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Client(Provider);

impl Client {
    /// Every client, in the registry's order (the order registered).
    pub fn all() -> Vec<Client> {
        Provider::ALL
            .into_iter()
            .filter(|p| cli::of(*p).mcp_config().is_some())
            .map(Client)
            .collect()
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// Every client's name, in the registry's order (what `--mcp` takes).
    pub fn names() -> Vec<&'static str> {
        Client::all().into_iter().map(Client::name).collect()
    }

    /// The client named `name`.
    pub fn parse(name: &str) -> Option<Client> {
        Client::all().into_iter().find(|c| c.name() == name)
    }

    /// Where it reads its MCP servers, in words (`the project's .mcp.json`,
    /// `$HOME_VAR/config.toml (default ~/.home)`).
    pub fn place(self) -> String {
        match self.config() {
            McpConfig::ProjectJson { file, .. } => format!("the project's {file}"),
            McpConfig::ConfigDirJson { file, .. } => {
                format!("$XDG_CONFIG_HOME/{file} (default ~/.config/{file})")
            }
            McpConfig::HomeToml {
                file, unknown_home, ..
            }
            | McpConfig::HomeJson {
                file, unknown_home, ..
            } => match self.home_var() {
                Some(var) => format!("${var}/{file} (default {unknown_home})"),
                None => format!("{unknown_home}/{file}"),
            },
        }
    }

    /// The variable that moves its home, if one does.
    fn home_var(self) -> Option<&'static str> {
        cli::of(self.0).state_paths().iter().find_map(|p| p.var)
    }

    /// Where it reads its MCP servers.
    fn config(self) -> McpConfig {
        cli::of(self.0)
            .mcp_config()
            .expect("a client has an MCP config")
    }
}

/// What registering with one client did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Registration {
    /// The client.
    pub client: Client,
    /// The file it reads its MCP servers from.
    pub path: PathBuf,
    /// Created, Updated (the file existed), or Unchanged (already registered so).
    pub action: Action,
    /// Where the file was copied before it was changed.
    pub backup: Option<PathBuf>,
}

/// The server entry: `vnx mcp` run as `vnx` (an absolute path, so that the client need not
/// find vnx on its `PATH`).
fn argv(vnx: &Path) -> (String, Vec<String>) {
    (vnx.display().to_string(), vec!["mcp".to_owned()])
}

/// Registers `vnx mcp` (run as `vnx`) with each of `clients`: in the project at `root`, or,
/// for a CLI that reads them from its home, in its home among `homes` (the CLIs' homes as
/// the command line's environment names them; required for such a CLI), or in the user's
/// configuration directory `config_dir` (`$XDG_CONFIG_HOME`, else `~/.config`; required
/// for a CLI that reads them there).
pub fn register(
    root: &Path,
    homes: &crate::provider::session::Homes,
    config_dir: Option<&Path>,
    vnx: &Path,
    clients: &[Client],
) -> Result<Vec<Registration>, InitError> {
    let (command, args) = argv(vnx);
    let mut done = Vec::new();
    for &client in clients {
        // A file in the CLI's home, which must be known.
        let in_home = |file: &str, unknown_home: &str| match homes.get(client.name()) {
            Some(home) => Ok(home.join(file)),
            None => Err(InitError::Unreadable {
                path: PathBuf::from(unknown_home).join(file),
                why: unknown_home_why(client),
            }),
        };
        let (path, text) = match client.config() {
            McpConfig::ProjectJson {
                file,
                servers,
                stdio_type,
                no_link,
            } => {
                if let Some(dir) = no_link.map(|d| root.join(d))
                    && fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink())
                {
                    return Err(InitError::Symlink { path: dir });
                }
                let path = root.join(file);
                let entry = if stdio_type {
                    serde_json::json!({"type": "stdio", "command": command, "args": args})
                } else {
                    serde_json::json!({"command": command, "args": args})
                };
                let text = json_with(&path, servers, entry)?;
                (path, text)
            }
            McpConfig::HomeJson {
                file,
                servers,
                unknown_home,
            } => {
                let path = in_home(file, unknown_home)?;
                let entry = serde_json::json!({
                    "type": "local", "command": command, "args": args, "tools": ["*"],
                });
                let text = json_with(&path, servers, entry)?;
                (path, text)
            }
            McpConfig::ConfigDirJson { file, servers } => {
                let Some(dir) = config_dir else {
                    return Err(InitError::Unreadable {
                        path: PathBuf::from("~/.config").join(file),
                        why: "neither XDG_CONFIG_HOME nor HOME is set".into(),
                    });
                };
                let path = dir.join(file);
                let mut list = vec![command.clone()];
                list.extend(args.iter().cloned());
                let entry = serde_json::json!({"type": "local", "command": list, "enabled": true});
                let text = json_with(&path, servers, entry)?;
                (path, text)
            }
            McpConfig::HomeToml { file, unknown_home } => {
                let path = in_home(file, unknown_home)?;
                let text = toml_with(&path, &command, &args)?;
                (path, text)
            }
        };
        done.push(write(client, path, &text)?);
    }
    Ok(done)
}

/// Why a CLI's home is unknown: the variables the command line looks at.
fn unknown_home_why(client: Client) -> String {
    let var = client
        .home_var()
        .map(|v| format!("{v} nor "))
        .unwrap_or_default();
    format!("neither {var}HOME is set")
}

/// The file's text, or `None` when it does not exist; refuses a symbolic link.
fn existing(path: &Path) -> Result<Option<String>, InitError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(InitError::Symlink {
            path: path.to_owned(),
        }),
        // Never blocking on a FIFO, bounded.
        Ok(_) => crate::files::read_bounded(path, 16 << 20)
            .and_then(|b| String::from_utf8(b).map_err(std::io::Error::other))
            .map(Some)
            .map_err(|source| InitError::Io {
                path: path.to_owned(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(InitError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The JSON file at `path` with `servers.vnx` set to `entry`, everything else as it was.
fn json_with(path: &Path, servers: &str, entry: serde_json::Value) -> Result<String, InitError> {
    let unreadable = |why: String| InitError::Unreadable {
        path: path.to_owned(),
        why,
    };
    let mut doc = match existing(path)? {
        Some(text) if !text.trim().is_empty() => serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| unreadable(e.to_string()))?,
        _ => serde_json::json!({}),
    };
    let Some(top) = doc.as_object_mut() else {
        return Err(unreadable("it is not a JSON object".into()));
    };
    let list = top.entry(servers).or_insert_with(|| serde_json::json!({}));
    let Some(list) = list.as_object_mut() else {
        return Err(unreadable(format!("its `{servers}` is not an object")));
    };
    list.insert("vnx".into(), entry);
    let mut text = serde_json::to_string_pretty(&doc).map_err(|e| unreadable(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// A `config.toml` at `path` with `[mcp_servers.vnx]` set, the rest of the file (its
/// comments and layout included) as it was.
fn toml_with(path: &Path, command: &str, args: &[String]) -> Result<String, InitError> {
    let unreadable = |why: String| InitError::Unreadable {
        path: path.to_owned(),
        why,
    };
    let text = existing(path)?.unwrap_or_default();
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| unreadable(e.to_string()))?;
    let servers = doc
        .entry("mcp_servers")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_like_mut()
        .ok_or_else(|| unreadable("its `mcp_servers` is not a table".into()))?;
    let mut vnx = toml_edit::Table::new();
    vnx.insert("command", toml_edit::value(command));
    let mut list = toml_edit::Array::new();
    for a in args {
        list.push(a.as_str());
    }
    vnx.insert("args", toml_edit::value(list));
    let unchanged = servers.get("vnx").is_some_and(|old| {
        old.get("command").and_then(|c| c.as_str()) == Some(command)
            && old.get("args").and_then(|a| a.as_array()).is_some_and(|a| {
                a.iter()
                    .map(|v| v.as_str())
                    .eq(args.iter().map(|s| Some(s.as_str())))
            })
    });
    if unchanged {
        return Ok(text);
    }
    servers.insert("vnx", toml_edit::Item::Table(vnx));
    Ok(doc.to_string())
}

/// Writes `text` to `path` unless it already holds it, copying the old file to
/// `<name>.pre-vnx` (or `.pre-vnx.N` when that is taken) first.
fn write(client: Client, path: PathBuf, text: &str) -> Result<Registration, InitError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| InitError::Io { path, source }
    };
    let old = existing(&path)?;
    if old.as_deref() == Some(text) {
        return Ok(Registration {
            client,
            path,
            action: Action::Unchanged,
            backup: None,
        });
    }
    // The file keeps its permissions (a CLI's home may hold credentials); a new one is
    // private when it lives in the user's home, readable like the rest of the project
    // otherwise.
    let in_home = matches!(
        client.config(),
        McpConfig::HomeToml { .. } | McpConfig::HomeJson { .. } | McpConfig::ConfigDirJson { .. }
    );
    let mode = match fs::metadata(&path) {
        Ok(m) => std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777,
        Err(_) if in_home => 0o600,
        Err(_) => 0o644,
    };
    let mut backup = None;
    if let Some(old) = &old {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let free = (0..)
            .map(|n| match n {
                0 => path.with_file_name(format!("{name}.pre-vnx")),
                n => path.with_file_name(format!("{name}.pre-vnx.{n}")),
            })
            .find(|p| fs::symlink_metadata(p).is_err())
            .unwrap_or_default();
        crate::files::write_atomic(&free, old.as_bytes(), mode, true).map_err(io(&free))?;
        backup = Some(free);
    } else if let Some(dir) = path.parent() {
        if fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(InitError::Symlink {
                path: dir.to_owned(),
            });
        }
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    crate::files::write_atomic(&path, text.as_bytes(), mode, true).map_err(io(&path))?;
    Ok(Registration {
        client,
        action: if old.is_some() {
            Action::Updated
        } else {
            Action::Created
        },
        path,
        backup,
    })
}
