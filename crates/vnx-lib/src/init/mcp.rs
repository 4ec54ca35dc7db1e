//! `vnx init --mcp`: registers `vnx mcp` as an MCP server with the CLIs a dispatcher runs
//! in — claude (the project's `.mcp.json`), codex (`config.toml` in its home,
//! `[mcp_servers.vnx]`) and gemini (the project's `.gemini/settings.json`, `mcpServers`) —
//! changing only the `vnx` entry, keeping a backup of a file it changes, never writing
//! through a symbolic link.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Action, InitError};

/// A CLI `vnx mcp` can be registered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Client {
    /// Claude Code: `.mcp.json` at the project root (project scope).
    Claude,
    /// Codex: `config.toml` in its home (`~/.codex`), user scope.
    Codex,
    /// Gemini CLI: `.gemini/settings.json` at the project root (project scope).
    Gemini,
}

impl Client {
    /// Every client, in the order registered.
    pub const ALL: [Client; 3] = [Client::Claude, Client::Codex, Client::Gemini];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Client::Claude => "claude",
            Client::Codex => "codex",
            Client::Gemini => "gemini",
        }
    }

    /// The client named `name`.
    pub fn parse(name: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.name() == name)
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

/// Registers `vnx mcp` (run as `vnx`) with each of `clients`: claude and gemini in the
/// project at `root`, codex in `codex_home` (required for codex).
pub fn register(
    root: &Path,
    codex_home: Option<&Path>,
    vnx: &Path,
    clients: &[Client],
) -> Result<Vec<Registration>, InitError> {
    let (command, args) = argv(vnx);
    let mut done = Vec::new();
    for &client in clients {
        let (path, text) = match client {
            Client::Claude => {
                let path = root.join(".mcp.json");
                let entry = serde_json::json!({"type": "stdio", "command": command, "args": args});
                let text = json_with(&path, "mcpServers", entry)?;
                (path, text)
            }
            Client::Gemini => {
                // A committed `.gemini` link would have the settings written wherever it
                // points, outside the project.
                let dir = root.join(".gemini");
                if fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
                    return Err(InitError::Symlink { path: dir });
                }
                let path = dir.join("settings.json");
                let entry = serde_json::json!({"command": command, "args": args});
                let text = json_with(&path, "mcpServers", entry)?;
                (path, text)
            }
            Client::Codex => {
                let Some(home) = codex_home else {
                    return Err(InitError::Unreadable {
                        path: PathBuf::from("~/.codex/config.toml"),
                        why: "neither CODEX_HOME nor HOME is set".into(),
                    });
                };
                let path = home.join("config.toml");
                let text = toml_with(&path, &command, &args)?;
                (path, text)
            }
        };
        done.push(write(client, path, &text)?);
    }
    Ok(done)
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

/// Codex's `config.toml` at `path` with `[mcp_servers.vnx]` set, the rest of the file (its
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
    // The file keeps its permissions (codex's may hold credentials); a new one is private
    // when it lives in the user's home, readable like the rest of the project otherwise.
    let mode = match fs::metadata(&path) {
        Ok(m) => std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777,
        Err(_) if client == Client::Codex => 0o600,
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
