//! Where a notice's address comes from, and whether the notices posted there may carry
//! approve and deny links (ADR 0104). An address written in `.vnx/config.yaml` is in the
//! repository, which every worker reads (its worktree holds the committed config, and a
//! sandboxed one still sees the main checkout): a worker that reaches the network could
//! subscribe to that ntfy topic (or read that webhook's receiver) and follow its own approve
//! link. So notices to such an address carry the dispatch's page, which needs a paired
//! device, and no links ([`carries_links`]); [`exposed`] names each one for `vnx doctor` and
//! `vnx serve` to warn about. An address kept in a file outside the repository
//! (`file:PATH`) is read when the server starts ([`read_kept`]), refused when that file is
//! in the repository after all (but for `.vnx-data/serve/`, which no worker sees).

use std::path::{Path, PathBuf};

use super::NoticeError;
use crate::config::{Endpoint, ServeConfig, shown_url};

/// The longest address file read, in bytes.
const MAX_ADDRESS_FILE: u64 = 4096;
/// Where in the project's data directory an address may be kept (with the link key).
const DATA_SERVE_DIR: &str = "serve";

/// Whether notices posted to `e` may carry approve and deny links: only when its address is
/// kept in a file outside the repository (`file:PATH`), where workers do not read it.
pub fn carries_links(e: &Endpoint) -> bool {
    e.from_file.is_some()
}

/// An entry of `serve.notify:` whose address is written in `.vnx/config.yaml`, where every
/// worker reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exposed {
    /// Its place in `serve.notify:`, from 0.
    pub index: usize,
    /// The entry.
    pub endpoint: Endpoint,
}

impl Exposed {
    /// What is wrong, naming the file and the key.
    pub fn says(&self) -> String {
        let e = &self.endpoint;
        format!(
            "{} serve.notify[{}] (`{}: {}`) is in the repository, which every worker reads: a \
             worker could follow its own approve link from there, so notices to it carry no \
             approve or deny links",
            crate::project::CONFIG,
            self.index,
            e.kind.name(),
            shown_url(&e.url)
        )
    }

    /// What to do about it.
    pub fn fix(&self) -> String {
        let kind = self.endpoint.kind.name();
        format!(
            "keep the address outside the repository: write it into ~/.config/vnx/{kind} and \
             put `- {kind}: file:~/.config/vnx/{kind}` in its place in serve.notify"
        )
    }
}

/// The entries of `serve.notify:` whose address is written in the config.
pub fn exposed(serve: &ServeConfig) -> Vec<Exposed> {
    (serve.notify.iter().enumerate())
        .filter(|(_, e)| !carries_links(e))
        .map(|(index, e)| Exposed {
            index,
            endpoint: e.clone(),
        })
        .collect()
}

/// The file `e`'s address is kept in, `~/` resolved against `home`: `None` for an address
/// written in the config, or one under `~/` without a home.
pub fn kept_path(e: &Endpoint, home: Option<&Path>) -> Option<PathBuf> {
    let file = e.from_file.as_deref()?;
    match file.strip_prefix("~") {
        Ok(rest) => Some(home?.join(rest)),
        Err(_) => Some(file.to_owned()),
    }
}

/// `e` with its address read from `path` (its [`kept_path`]): refused when the file (its
/// links followed) is in the repository at `root`, but for the project's
/// `.vnx-data/serve/`; when it cannot be read; or when it holds no address `e` takes.
pub fn read_kept(e: &Endpoint, path: &Path, root: &Path) -> Result<Endpoint, NoticeError> {
    let io = NoticeError::io(path);
    let real = std::fs::canonicalize(path).map_err(io)?;
    if in_repository(&real, root) {
        return Err(NoticeError::KeptInRepository {
            path: path.to_owned(),
        });
    }
    let bytes = crate::files::read_named(&real, MAX_ADDRESS_FILE).map_err(io)?;
    e.with_address(&String::from_utf8_lossy(&bytes))
        .map_err(|why| NoticeError::BadAddress {
            path: path.to_owned(),
            why,
        })
}

/// Whether `real` (canonical) is in the repository at `root` and not in its data directory's
/// `serve/`.
fn in_repository(real: &Path, root: &Path) -> bool {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    let serve = root.join(crate::project::DATA_DIR).join(DATA_SERVE_DIR);
    let serve = std::fs::canonicalize(&serve).unwrap_or(serve);
    real.starts_with(&root) && !real.starts_with(serve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EndpointKind;

    fn ntfy(from_file: Option<&str>) -> Endpoint {
        Endpoint {
            kind: EndpointKind::Ntfy,
            url: if from_file.is_some() {
                String::new()
            } else {
                "https://ntfy.sh/my-topic".into()
            },
            from_file: from_file.map(PathBuf::from),
        }
    }

    #[test]
    fn an_address_written_in_the_config_carries_no_links_and_is_named() {
        let serve = ServeConfig {
            notify: vec![ntfy(Some("~/.config/vnx/ntfy")), ntfy(None)],
            ..ServeConfig::default()
        };
        assert!(carries_links(&serve.notify[0]));
        assert!(!carries_links(&serve.notify[1]));
        let exposed = exposed(&serve);
        assert_eq!(exposed.len(), 1);
        assert_eq!(exposed[0].index, 1);
        let says = exposed[0].says();
        assert!(
            says.starts_with(".vnx/config.yaml serve.notify[1] (`ntfy: https://ntfy.sh/my-topic`)"),
            "{says}"
        );
        assert!(says.contains("no approve or deny links"), "{says}");
        assert!(
            exposed[0]
                .fix()
                .contains("`- ntfy: file:~/.config/vnx/ntfy`"),
            "{}",
            exposed[0].fix()
        );
    }

    #[test]
    fn a_kept_address_is_read_unless_its_file_is_in_the_repository() {
        let home = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let e = ntfy(Some("~/.config/vnx/ntfy"));
        let path = kept_path(&e, Some(home.path())).unwrap();
        assert_eq!(path, home.path().join(".config/vnx/ntfy"));
        assert_eq!(kept_path(&e, None), None);
        assert_eq!(kept_path(&ntfy(None), Some(home.path())), None);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "https://ntfy.example/secret-topic\n").unwrap();
        let read = read_kept(&e, &path, root.path()).unwrap();
        assert_eq!(read.url, "https://ntfy.example/secret-topic");
        assert!(carries_links(&read));

        // In the repository (directly, or through a link), workers read it.
        let inside = root.path().join(".vnx/ntfy");
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::write(&inside, "https://ntfy.example/t\n").unwrap();
        let err = read_kept(&e, &inside, root.path()).unwrap_err();
        assert!(
            matches!(&err, NoticeError::KeptInRepository { path } if *path == inside),
            "{err:?}"
        );
        let link = home.path().join("linked");
        std::os::unix::fs::symlink(&inside, &link).unwrap();
        let err = read_kept(&e, &link, root.path()).unwrap_err();
        assert!(
            matches!(err, NoticeError::KeptInRepository { .. }),
            "{err:?}"
        );
        // `.vnx-data/serve/`, hidden from every worker, is fine.
        let data = root.path().join(".vnx-data/serve/ntfy");
        std::fs::create_dir_all(data.parent().unwrap()).unwrap();
        std::fs::write(&data, "https://ntfy.example/t\n").unwrap();
        assert!(read_kept(&e, &data, root.path()).is_ok());
        // A file that holds no topic.
        std::fs::write(&path, "https://ntfy.example/\n").unwrap();
        let err = read_kept(&e, &path, root.path()).unwrap_err();
        assert!(matches!(err, NoticeError::BadAddress { .. }), "{err:?}");
        let missing = home.path().join("none");
        let err = read_kept(&e, &missing, root.path()).unwrap_err();
        assert!(matches!(err, NoticeError::Io { .. }), "{err:?}");
    }
}
