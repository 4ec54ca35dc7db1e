//! The `serve:` section of `.vnx/config.yaml`: the address the links in notices point at
//! (`url:`), how long a link in a notice stays good (`link_ttl:`), and where notices are
//! posted (`notify:`, each a `webhook:` or an `ntfy:` address; nothing is sent anywhere
//! unless listed), validated with line and column. An address is http or https; one that
//! holds credentials (`user:pass@`, a query) is never printed back whole ([`shown_url`]).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{Checked, Validator};

/// How long a link in a notice stays good when the config does not say: 30 minutes.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(30 * 60);
/// The shortest `link_ttl:`.
const MIN_LINK_TTL: Duration = Duration::from_secs(60);
/// The longest `link_ttl:`: a week.
const MAX_LINK_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest address the config takes, in bytes.
const MAX_URL: usize = 2048;

/// Where a notice is posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointKind {
    /// A JSON POST of the notice to the address.
    Webhook,
    /// ntfy's JSON publish format, POSTed to the server's root, the topic being the
    /// address's last path segment.
    Ntfy,
}

impl EndpointKind {
    /// As the config spells it.
    pub fn name(self) -> &'static str {
        match self {
            EndpointKind::Webhook => "webhook",
            EndpointKind::Ntfy => "ntfy",
        }
    }
}

/// One entry of `serve.notify:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Webhook or ntfy.
    pub kind: EndpointKind,
    /// The address, as the config writes it (it may hold credentials: print [`Endpoint::shown`]);
    /// empty while it is still to be read from [`Endpoint::from_file`].
    pub url: String,
    /// The file outside the repository the address is kept in (`file:PATH`, absolute or
    /// `~/…`), read by the server when it starts ([`Endpoint::with_address`]): where workers,
    /// who read the repository, do not see it.
    pub from_file: Option<PathBuf>,
}

impl Endpoint {
    /// `ntfy https://ntfy.sh/topic`, its credentials cut (or the file it is to be read from).
    pub fn shown(&self) -> String {
        match (&self.from_file, self.url.is_empty()) {
            (Some(f), true) => format!("{} (from {})", self.kind.name(), f.display()),
            _ => format!("{} {}", self.kind.name(), shown_url(&self.url)),
        }
    }

    /// This endpoint with its address `text` (a file's content, trimmed), checked as one the
    /// config would take; why not, in words (credentials cut).
    pub fn with_address(&self, text: &str) -> Result<Endpoint, String> {
        let url = text.trim();
        check_address(self.kind, url)?;
        Ok(Endpoint {
            url: url.to_owned(),
            ..self.clone()
        })
    }
}

/// Whether `url` is an address a `kind` endpoint takes; why not, in words.
fn check_address(kind: EndpointKind, url: &str) -> Result<(), String> {
    if !usable(url) {
        return Err(format!(
            "serve.notify: a {} must be an http or https address without spaces, not {}",
            kind.name(),
            shown_url(url)
        ));
    }
    if kind == EndpointKind::Ntfy && ntfy_topic(url).is_none() {
        return Err(format!(
            "serve.notify: an ntfy address ends with its topic (1-64 letters, digits, `-` \
             or `_`) and has no query, like https://ntfy.sh/my-topic, not {}",
            shown_url(url)
        ));
    }
    Ok(())
}

/// `serve:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeConfig {
    /// The address the links in notices point at (`{url}/d/{id}`, `{url}/l/{token}`),
    /// without a trailing `/`.
    pub url: Option<String>,
    /// How long a link in a notice stays good.
    pub link_ttl: Duration,
    /// Where notices are posted.
    pub notify: Vec<Endpoint>,
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            url: None,
            link_ttl: DEFAULT_LINK_TTL,
            notify: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServe {
    url: Option<Spanned<String>>,
    link_ttl: Option<Spanned<String>>,
    notify: Option<Spanned<Vec<Spanned<RawEndpoint>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    webhook: Option<Spanned<String>>,
    ntfy: Option<Spanned<String>>,
}

/// The parts of an http or https address.
struct Parts<'a> {
    scheme: &'a str,
    /// Whether `user[:pass]@` precedes the host.
    userinfo: bool,
    host: &'a str,
    /// From the first `/` after the host, without the query or fragment.
    path: &'a str,
    /// Whether a `?query` or `#fragment` follows.
    query: bool,
}

fn parts(url: &str) -> Option<Parts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((_, host)) => (true, host),
        None => (false, authority),
    };
    let q = tail.find(['?', '#']).unwrap_or(tail.len());
    Some(Parts {
        scheme,
        userinfo,
        host,
        path: &tail[..q],
        query: q < tail.len(),
    })
}

/// Whether `url` is an http or https address with a host, of printable ASCII without
/// spaces, at most [`MAX_URL`] bytes.
fn usable(url: &str) -> bool {
    url.len() <= MAX_URL
        && url.bytes().all(|b| b.is_ascii_graphic())
        && parts(url).is_some_and(|p| {
            !p.host.is_empty()
                && !p.host.starts_with(':')
                && p.host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
        })
}

/// An address as it may be printed: `user:pass@` and a query cut (`https://…@host/path?…`).
pub fn shown_url(url: &str) -> String {
    match parts(url) {
        Some(p) => format!(
            "{}://{}{}{}{}",
            p.scheme,
            if p.userinfo { "…@" } else { "" },
            p.host,
            p.path,
            if p.query { "?…" } else { "" }
        ),
        None => "(an address that is not http or https)".to_owned(),
    }
}

/// An ntfy address's server root and topic: `https://ntfy.sh/alerts` → (`https://ntfy.sh`,
/// `alerts`). `None` when the last path segment is not a topic (1-64 letters, digits, `-`,
/// `_`).
pub fn ntfy_topic(url: &str) -> Option<(String, String)> {
    let p = parts(url)?;
    let (root_path, topic) = p.path.rsplit_once('/')?;
    let ok = (1..=64).contains(&topic.len())
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    if !ok || p.query {
        return None;
    }
    let root = url.strip_suffix(topic)?.strip_suffix('/')?;
    debug_assert!(root.ends_with(root_path));
    Some((root.to_owned(), topic.to_owned()))
}

/// A duration as the config writes it: a whole number and a unit, `90s`, `30m`, `2h`, `1d`.
pub fn parse_ttl(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: u64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let secs = match unit {
        's' => n,
        'm' => n.checked_mul(60)?,
        'h' => n.checked_mul(3600)?,
        'd' => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

impl Validator<'_> {
    /// `serve:`.
    pub(super) fn serve(&self, raw: RawServe) -> Checked<ServeConfig> {
        let mut serve = ServeConfig::default();
        if let Some(u) = raw.url {
            let ok = usable(&u.value) && parts(&u.value).is_some_and(|p| !p.userinfo && !p.query);
            if !ok {
                let msg = format!(
                    "serve.url must be an http or https address without credentials, a query \
                     or spaces, like https://laptop.example.ts.net:8787, not {}",
                    shown_url(&u.value)
                );
                return self.err(&u.referenced, msg);
            }
            serve.url = Some(u.value.trim_end_matches('/').to_owned());
        }
        if let Some(t) = raw.link_ttl {
            let Some(ttl) =
                parse_ttl(&t.value).filter(|d| (MIN_LINK_TTL..=MAX_LINK_TTL).contains(d))
            else {
                let msg = format!(
                    "serve.link_ttl must be a duration between 1m and 7d, like 30m or 2h, not \
                     {}",
                    super::checked::q(&t.value)
                );
                return self.err(&t.referenced, msg);
            };
            serve.link_ttl = ttl;
        }
        if let Some(list) = raw.notify {
            if serve.url.is_none() && !list.value.is_empty() {
                let msg =
                    "serve.notify needs serve.url: the links in a notice point at it".to_owned();
                return self.err(&list.referenced, msg);
            }
            for entry in list.value {
                serve.notify.push(self.endpoint(entry)?);
            }
        }
        Ok(serve)
    }

    fn endpoint(&self, raw: Spanned<RawEndpoint>) -> Checked<Endpoint> {
        let (kind, url) = match (raw.value.webhook, raw.value.ntfy) {
            (Some(u), None) => (EndpointKind::Webhook, u),
            (None, Some(u)) => (EndpointKind::Ntfy, u),
            _ => {
                let msg =
                    "each serve.notify entry is one `webhook: URL` or one `ntfy: URL`".to_owned();
                return self.err(&raw.referenced, msg);
            }
        };
        // An address kept outside the repository, read when the server starts.
        // (`file://…` is a URL, not this form: refused below as no http address.)
        let kept = url
            .value
            .strip_prefix("file:")
            .filter(|p| !p.starts_with("//"));
        if let Some(path) = kept {
            if !(path.starts_with('/') || path.starts_with("~/")) {
                let msg = format!(
                    "serve.notify: a {} read from a file names it by an absolute path or one \
                     under ~/ (outside the repository, which workers read), like \
                     file:~/.config/vnx/ntfy, not {}",
                    kind.name(),
                    super::checked::q(path)
                );
                return self.err(&url.referenced, msg);
            }
            return Ok(Endpoint {
                kind,
                url: String::new(),
                from_file: Some(PathBuf::from(path)),
            });
        }
        if let Err(msg) = check_address(kind, &url.value) {
            return self.err(&url.referenced, msg);
        }
        Ok(Endpoint {
            kind,
            url: url.value,
            from_file: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::super::tests::parse_err;
    use super::*;
    use std::path::Path;

    const GOOD: &str = "version: 1\nserve:\n  url: https://laptop.tail1234.ts.net:8787/\n  link_ttl: 45m\n  notify:\n    - webhook: https://example.org/hook\n    - ntfy: https://ntfy.sh/my-topic\n";

    #[test]
    fn the_serve_section_is_read() {
        let c = parse(GOOD, Path::new("c")).unwrap();
        assert_eq!(
            c.serve,
            ServeConfig {
                url: Some("https://laptop.tail1234.ts.net:8787".into()),
                link_ttl: Duration::from_secs(45 * 60),
                notify: vec![
                    Endpoint {
                        kind: EndpointKind::Webhook,
                        url: "https://example.org/hook".into(),
                        from_file: None,
                    },
                    Endpoint {
                        kind: EndpointKind::Ntfy,
                        url: "https://ntfy.sh/my-topic".into(),
                        from_file: None,
                    },
                ],
            }
        );
        let bare = parse("version: 1\n", Path::new("c")).unwrap();
        assert_eq!(bare.serve, ServeConfig::default());
        assert_eq!(bare.serve.link_ttl, Duration::from_secs(1800));
    }

    #[test]
    fn bad_values_name_their_line_and_never_print_credentials() {
        let (l, c, m) = parse_err(&GOOD.replace("https://laptop", "ftp://laptop"));
        assert_eq!((l, c), (3, 8), "{m}");
        assert!(
            m.contains("serve.url must be an http or https address"),
            "{m}"
        );
        let (l, _, m) = parse_err(&GOOD.replace("https://laptop", "https://me:hunter2@laptop"));
        assert_eq!(l, 3, "{m}");
        assert!(
            !m.contains("hunter2") && m.contains("https://…@laptop"),
            "{m}"
        );
        let (l, c, m) = parse_err(&GOOD.replace("45m", "45"));
        assert_eq!((l, c), (4, 13), "{m}");
        assert!(m.contains("between 1m and 7d"), "{m}");
        let (l, _, m) = parse_err(&GOOD.replace("45m", "8d"));
        assert_eq!(l, 4, "{m}");
        let (l, _, m) = parse_err(&GOOD.replace("https://example.org/hook", "file:///etc/passwd"));
        assert_eq!(l, 6, "{m}");
        assert!(
            m.contains("a webhook must be an http or https address"),
            "{m}"
        );
        let hidden = "https://u:s3cret@example.org/hook?token=s3cret";
        let (_, _, m) =
            parse_err(&GOOD.replace("https://example.org/hook", &format!("{hidden} x")));
        assert!(!m.contains("s3cret"), "{m}");
        assert!(m.contains("https://…@example.org/hook?…"), "{m}");
        let (l, _, m) = parse_err(&GOOD.replace("my-topic", "my topic!"));
        assert_eq!(l, 7, "{m}");
        let (l, _, m) = parse_err(&GOOD.replace("ntfy.sh/my-topic", "ntfy.sh/"));
        assert_eq!(l, 7, "{m}");
        assert!(m.contains("an ntfy address ends with its topic"), "{m}");
        let (l, _, m) = parse_err(&GOOD.replace("- ntfy:", "- gotify:"));
        assert_eq!(l, 7, "{m}");
        assert!(m.contains("unknown field `gotify`"), "{m}");
        let both = GOOD.replace(
            "- ntfy: https://ntfy.sh/my-topic",
            "- {ntfy: https://ntfy.sh/a, webhook: https://x.org/}",
        );
        let (l, _, m) = parse_err(&both);
        assert_eq!(l, 7, "{m}");
        assert!(m.contains("one `webhook: URL` or one `ntfy: URL`"), "{m}");
        // Links need the address they point at.
        let (l, _, m) =
            parse_err(&GOOD.replace("  url: https://laptop.tail1234.ts.net:8787/\n", ""));
        assert_eq!(l, 5, "{m}");
        assert!(m.contains("serve.notify needs serve.url"), "{m}");
        let (l, _, m) = parse_err(&GOOD.replace("link_ttl", "ttl"));
        assert_eq!(l, 4, "{m}");
        assert!(m.contains("unknown field `ttl`"), "{m}");
    }

    #[test]
    fn addresses_are_cut_and_split() {
        assert_eq!(shown_url("https://a:b@h:1/p?t=x#f"), "https://…@h:1/p?…");
        assert_eq!(shown_url("http://h"), "http://h");
        assert_eq!(
            ntfy_topic("https://ntfy.sh/alerts"),
            Some(("https://ntfy.sh".into(), "alerts".into()))
        );
        assert_eq!(
            ntfy_topic("https://u:p@my.host:8080/ntfy/alerts"),
            Some(("https://u:p@my.host:8080/ntfy".into(), "alerts".into()))
        );
        assert_eq!(ntfy_topic("https://ntfy.sh"), None);
        assert_eq!(parse_ttl("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_ttl("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_ttl("m"), None);
        assert_eq!(parse_ttl("1w"), None);
    }

    #[test]
    fn an_address_can_be_kept_in_a_file_outside_the_repository() {
        let text = "version: 1\nserve:\n  url: https://h\n  notify:\n    - ntfy: file:~/.config/vnx/ntfy\n";
        let serve = parse(text, Path::new("c")).unwrap().serve;
        let e = &serve.notify[0];
        assert_eq!(
            e.from_file.as_deref(),
            Some(Path::new("~/.config/vnx/ntfy"))
        );
        assert_eq!(e.shown(), "ntfy (from ~/.config/vnx/ntfy)");
        let read = e
            .with_address("https://u:t@ntfy.example/secret-topic\n")
            .unwrap();
        assert_eq!(read.url, "https://u:t@ntfy.example/secret-topic");
        assert_eq!(read.shown(), "ntfy https://…@ntfy.example/secret-topic");
        let bad = e.with_address("https://ntfy.example/").unwrap_err();
        assert!(bad.contains("ends with its topic"), "{bad}");
        // A path in the repository, where workers read it, is refused.
        let (_, _, m) = parse_err(&text.replace("file:~/.config/vnx/ntfy", "file:.vnx/ntfy"));
        assert!(m.contains("outside the repository"), "{m}");
    }
}
