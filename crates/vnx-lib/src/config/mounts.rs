//! A container host's `mounts:` and `user:` in `.vnx/config.yaml`: what the engine is given
//! from this machine besides the dispatch's own volume, and who the place's commands run as;
//! the same mount as a dev container definition writes it (`source=…,target=…,type=…`).
//! Each is checked here by its shape alone (an absolute path, a volume's name, a user's
//! name or uid); what a mount may not expose of this machine (the home, `.vnx-data`, the
//! signing key) is checked where the place is made (`remote::container`).

use std::path::{Component, Path};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{Checked, Validator, q};

/// Where vnx's own volume is in a container: no mount may go there.
const VNX_VOLUME: &str = "/work";

/// Where vnx mounts the CLIs' logins in a container: no mount may go there.
const VNX_RUN: &str = "/run/vnx";

/// The longest path or name a mount takes.
const MAX_LEN: usize = 4096;

/// What a mount gives the container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A file or directory of this machine (`type=bind`).
    Bind,
    /// One of the engine's named volumes (`type=volume`).
    Volume,
}

impl MountKind {
    /// As the engine's `--mount` names it.
    pub fn name(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
        }
    }
}

/// A mount the user's config gives a container host's containers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// A bind or a volume.
    pub kind: MountKind,
    /// The absolute path here (a bind), or the volume's name.
    pub source: String,
    /// The absolute path in the container.
    pub target: String,
    /// Whether the container may only read it.
    pub readonly: bool,
}

impl Mount {
    /// The engine's `--mount` value, which podman and docker both read (`ro=true`: podman
    /// 4 refuses `readonly=true` for a volume).
    pub fn engine_arg(&self) -> String {
        let ro = if self.readonly { ",ro=true" } else { "" };
        format!(
            "type={},source={},target={}{ro}",
            self.kind.name(),
            self.source,
            self.target
        )
    }

    /// Whether `other` mounts the same thing at the same place (read-only or not).
    pub fn same_as(&self, other: &Mount) -> bool {
        (self.kind, &self.source, &self.target) == (other.kind, &other.source, &other.target)
    }

    /// The mount with its paths in their plain form, when its shape is one vnx passes on:
    /// a bind's source and every target absolute, without `..`, and neither `/`; a target
    /// not on vnx's own volume (`/work`) nor where vnx mounts the logins; a volume's
    /// name plain and not one of vnx's (`vnx-…`, another dispatch's work); nothing the
    /// engine's `--mount` would split (`,`, a quote, a control character). Else why not.
    pub fn checked(self) -> Result<Mount, String> {
        let source = match self.kind {
            MountKind::Bind => plain_path(&self.source).ok_or_else(|| {
                format!(
                    "a bind's source must be an absolute path here, without `..`, `,` or \
                     quotes, and not `/`: {}",
                    q(&self.source)
                )
            })?,
            MountKind::Volume => {
                let s = &self.source;
                let mut bytes = s.bytes();
                let plain = s.len() <= 128
                    && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
                    && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
                if !plain {
                    return Err(format!("{} is not a volume's name", q(s)));
                }
                if s.to_ascii_lowercase().starts_with("vnx-") {
                    return Err(format!(
                        "{} is one of vnx's own volumes (a dispatch's work)",
                        q(s)
                    ));
                }
                s.clone()
            }
        };
        let target = plain_path(&self.target)
            .filter(|t| {
                let t = Path::new(t);
                !t.starts_with(VNX_VOLUME) && !t.starts_with(VNX_RUN)
            })
            .ok_or_else(|| {
                format!(
                    "a target must be an absolute path in the container, without `..`, `,` or \
                     quotes, and not `/`, {VNX_VOLUME} (the dispatch's volume) or {VNX_RUN}: {}",
                    q(&self.target)
                )
            })?;
        Ok(Mount {
            source,
            target,
            ..self
        })
    }
}

/// `p` in its plain form (no `.`, no trailing `/`), when it is absolute, not `/`, without
/// `..`, and holds nothing the engine's `--mount` would split.
fn plain_path(p: &str) -> Option<String> {
    if p.len() > MAX_LEN
        || !p.starts_with('/')
        || p.contains(|c: char| c == ',' || c == '"' || c.is_control())
    {
        return None;
    }
    let mut out = String::new();
    for (i, c) in Path::new(p).components().enumerate() {
        match c {
            Component::RootDir if i == 0 => {}
            Component::Normal(n) => {
                out.push('/');
                out.push_str(n.to_str()?);
            }
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A mount as a dev container definition writes it: `source=…,target=…,type=bind|volume`
/// (also `src`, `destination`/`dst`, `readonly`/`ro` with or without `=true|false`, and
/// docker's `consistency`, which changes nothing on Linux). Only its syntax: the mount is
/// [`Mount::checked`] afterwards.
pub fn parse_mount(text: &str) -> Result<Mount, String> {
    let (mut kind, mut source, mut target, mut readonly) = (None, None, None, false);
    for field in text.split(',').map(str::trim) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim_end(), Some(v.trim_start())),
            None => (field, None),
        };
        match (key, value) {
            ("type", Some("bind")) => kind = Some(MountKind::Bind),
            ("type", Some("volume")) => kind = Some(MountKind::Volume),
            ("type", Some(other)) => {
                return Err(format!("vnx takes a bind or a volume, not {}", q(other)));
            }
            ("source" | "src", Some(v)) => source = Some(v.to_owned()),
            ("target" | "destination" | "dst", Some(v)) => target = Some(v.to_owned()),
            ("readonly" | "ro", None | Some("true" | "1")) => readonly = true,
            ("readonly" | "ro", Some("false" | "0")) => readonly = false,
            ("consistency", Some(_)) => {}
            _ => return Err(format!("vnx does not take {} in a mount", q(field))),
        }
    }
    match (kind, source, target) {
        (Some(kind), Some(source), Some(target)) => Ok(Mount {
            kind,
            source,
            target,
            readonly,
        }),
        _ => Err("a mount needs a `type`, a `source` and a `target`".into()),
    }
}

/// Whether `s` names a user as the engine's `--user` takes it and vnx passes it on: a name
/// (a letter or `_`, then letters, digits, `_`, `.` or `-`; at most 32), a uid, or
/// `uid:gid`.
pub fn is_user(s: &str) -> bool {
    let id = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u32>().is_ok()
    };
    if let Some((uid, gid)) = s.split_once(':') {
        return id(uid) && id(gid);
    }
    let mut bytes = s.bytes();
    id(s)
        || (s.len() <= 32
            && bytes
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)))
}

/// What `chown` is given to make `user`'s the files of the place: a name with its login
/// group (`name:`), a uid alone or with its gid.
pub fn owner_of(user: &str) -> String {
    if user.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        user.to_owned()
    } else {
        format!("{user}:")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMount {
    #[serde(rename = "type")]
    kind: Option<String>,
    source: String,
    target: String,
    readonly: Option<bool>,
}

impl Validator<'_> {
    /// A container host's `mounts:` (at `at`): each checked ([`Mount::checked`]), no two at
    /// one target.
    pub(super) fn mounts(
        &self,
        at: &str,
        raw: Option<Vec<Spanned<RawMount>>>,
    ) -> Checked<Vec<Mount>> {
        let mut mounts: Vec<Mount> = Vec::new();
        for m in raw.unwrap_or_default() {
            let kind = match m.value.kind.as_deref() {
                None | Some("bind") => MountKind::Bind,
                Some("volume") => MountKind::Volume,
                Some(other) => {
                    let msg = format!("{at}.mounts: `type` is bind or volume, not {}", q(other));
                    return self.err(&m.referenced, msg);
                }
            };
            let mount = Mount {
                kind,
                source: m.value.source,
                target: m.value.target,
                readonly: m.value.readonly.unwrap_or(false),
            };
            let mount = match mount.checked() {
                Ok(mount) => mount,
                Err(why) => return self.err(&m.referenced, format!("{at}.mounts: {why}")),
            };
            if mounts.iter().any(|o| o.target == mount.target) {
                let msg = format!("{at}.mounts has two mounts at {}", q(&mount.target));
                return self.err(&m.referenced, msg);
            }
            mounts.push(mount);
        }
        Ok(mounts)
    }

    /// A container host's `user:` (at `at`).
    pub(super) fn user(&self, at: &str, raw: Option<Spanned<String>>) -> Checked<Option<String>> {
        match raw {
            Some(u) if !is_user(&u.value) => {
                let msg = format!(
                    "{at}.user must be a user's name, a uid or uid:gid, not {}",
                    q(&u.value)
                );
                self.err(&u.referenced, msg)
            }
            other => Ok(other.map(|u| u.value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{Mount, MountKind, is_user, owner_of, parse_mount};
    use crate::config::{Config, ConfigError, HostKind};

    fn parse(text: &str) -> Result<Config, ConfigError> {
        super::super::parse(text, std::path::Path::new(".vnx/config.yaml"))
    }

    fn bind(source: &str, target: &str, readonly: bool) -> Mount {
        Mount {
            kind: MountKind::Bind,
            source: source.into(),
            target: target.into(),
            readonly,
        }
    }

    #[test]
    fn a_hosts_mounts_and_user_are_read_in_their_plain_form() {
        let c = parse(
            "hosts:\n  box:\n    container:\n      image: w\n      user: '1000:1000'\n      mounts:\n        - {source: /srv/data/, target: /data, readonly: true}\n        - {type: volume, source: cache, target: /opt/./cache}\n",
        )
        .unwrap();
        let HostKind::Container(h) = &c.hosts["box"].kind else {
            panic!("a container host")
        };
        assert_eq!(h.user.as_deref(), Some("1000:1000"));
        assert_eq!(h.mounts[0], bind("/srv/data", "/data", true));
        assert_eq!(
            h.mounts[0].engine_arg(),
            "type=bind,source=/srv/data,target=/data,ro=true"
        );
        assert_eq!(
            h.mounts[1].engine_arg(),
            "type=volume,source=cache,target=/opt/cache"
        );
    }

    #[test]
    fn bad_mounts_and_users_are_refused_with_where() {
        for (yaml, says) in [
            ("user: '-u0'", "user must be a user's name"),
            ("user: 'a b'", "user must be a user's name"),
            ("user: '1000:'", "user must be a user's name"),
            ("mounts: [{source: rel, target: /d}]", "a bind's source"),
            ("mounts: [{source: /, target: /d}]", "a bind's source"),
            ("mounts: [{source: /a/../b, target: /d}]", "a bind's source"),
            ("mounts: [{source: '/a,b', target: /d}]", "a bind's source"),
            (
                "mounts: [{source: /a, target: /work/x}]",
                "a target must be",
            ),
            ("mounts: [{source: /a, target: /work}]", "a target must be"),
            (
                "mounts: [{source: /a, target: /run/vnx/l}]",
                "a target must be",
            ),
            ("mounts: [{source: /a, target: d}]", "a target must be"),
            ("mounts: [{source: /a, target: /}]", "a target must be"),
            (
                "mounts: [{type: tmpfs, source: /a, target: /d}]",
                "bind or volume",
            ),
            (
                "mounts: [{type: volume, source: /a, target: /d}]",
                "not a volume's name",
            ),
            (
                "mounts: [{type: volume, source: vnx-d-1, target: /d}]",
                "vnx's own volumes",
            ),
            (
                "mounts: [{source: /a, target: /d, propagation: x}]",
                "unknown field",
            ),
            (
                "mounts: [{source: /a, target: /d}, {source: /b, target: /d/}]",
                "two mounts at",
            ),
        ] {
            let text = format!("hosts:\n  box:\n    container:\n      image: w\n      {yaml}\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(says), "{yaml}: {err}");
            assert!(err.contains(".vnx/config.yaml:"), "{yaml}: {err}");
            let named = says == "unknown field" || err.contains("hosts.box.container");
            assert!(named, "{yaml}: {err}");
        }
    }

    #[test]
    fn a_definitions_mount_string_is_read_in_its_spellings() {
        assert_eq!(
            parse_mount("source=/a,target=/b,type=bind,consistency=cached").unwrap(),
            bind("/a", "/b", false)
        );
        assert_eq!(
            parse_mount("type=bind, src=/a, dst=/b, readonly").unwrap(),
            bind("/a", "/b", true)
        );
        assert_eq!(
            parse_mount("type=volume,source=v,destination=/b,ro=true").unwrap(),
            Mount {
                kind: MountKind::Volume,
                source: "v".into(),
                target: "/b".into(),
                readonly: true
            }
        );
        for (text, says) in [
            ("source=/a,target=/b", "needs a `type`"),
            ("type=tmpfs,target=/b", "not `tmpfs`"),
            (
                "type=bind,source=/a,target=/b,bind-propagation=shared",
                "does not take",
            ),
            ("type=bind,source=/a,target=/b,ro=maybe", "does not take"),
        ] {
            let err = parse_mount(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn users_and_their_owners() {
        for ok in ["vscode", "node", "_svc", "a.b-c", "0", "1000", "1000:100"] {
            assert!(is_user(ok), "{ok}");
        }
        for bad in [
            "",
            "-x",
            "a b",
            "a:b",
            "1000:",
            ":1",
            "99999999999",
            "${localEnv:USER}",
        ] {
            assert!(!is_user(bad), "{bad}");
        }
        assert_eq!(owner_of("vscode"), "vscode:");
        assert_eq!(owner_of("1000"), "1000");
        assert_eq!(owner_of("1000:100"), "1000:100");
    }

    proptest! {
        /// Any mount written out as the engine takes it reads back the same.
        #[test]
        fn a_mount_written_out_reads_back(
            volume in any::<bool>(),
            source in "/[a-zA-Z0-9_.-]{1,12}(/[a-zA-Z0-9_-]{1,8}){0,3}",
            target in "/[a-z][a-z0-9_]{0,8}(/[a-z0-9_.-]{1,8}){0,2}",
            readonly in any::<bool>(),
        ) {
            let kind = if volume { MountKind::Volume } else { MountKind::Bind };
            let source = if volume { source.trim_start_matches('/').replace('/', "_") } else { source };
            let m = Mount { kind, source, target, readonly };
            prop_assert_eq!(parse_mount(&m.engine_arg()), Ok(m));
        }

        /// Whatever the text, the parser answers (never panics), and what it takes and
        /// [`Mount::checked`] lets through writes out with no field the engine would split.
        #[test]
        fn any_text_is_read_or_refused_and_what_passes_is_plain(
            fields in prop::collection::vec(
                "(type|source|src|target|dst|ro|readonly|consistency|x)(=\\PC{0,10})?",
                1..6,
            ),
        ) {
            let text = fields.join(",");
            if let Ok(m) = parse_mount(&text).and_then(Mount::checked) {
                let arg = m.engine_arg();
                prop_assert_eq!(arg.matches(',').count(), 2 + usize::from(m.readonly));
                prop_assert!(!arg.contains('"'));
                prop_assert!(m.target != "/" && !std::path::Path::new(&m.target).starts_with("/work"));
            }
        }
    }
}
