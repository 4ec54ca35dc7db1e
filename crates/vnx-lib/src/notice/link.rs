//! Signed, single-use, expiring links (ADR 0090): a [`Link`] says "approve (or deny) the
//! request this dispatch announced, until then", [`LinkKey::sign`] makes it a URL-safe token
//! (the link's bytes and their HMAC-SHA256 under a key only vnx keeps,
//! `.vnx-data/serve/link.key`), [`LinkKey::open`] gives the link back only when the MAC holds
//! (compared in constant time) and it has not expired, and [`UsedLinks`] remembers, under a
//! lock, the links already redeemed until they expire, so a token acts once.

use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};

use crate::ids::DispatchId;

use super::NoticeError;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The directory of the data directory that holds the link key, the used links and what was
/// noticed.
pub const SERVE_DIR: &str = "serve";
/// The key's file in [`SERVE_DIR`].
const KEY_FILE: &str = "link.key";
/// The used links' file in [`SERVE_DIR`], and its lock.
const USED_FILE: &str = "used-links";
const USED_LOCK: &str = "used-links.lock";
/// The longest token [`LinkKey::open`] reads; a longer one is malformed.
pub const MAX_TOKEN: usize = 512;
/// The most used links remembered (a file larger is not read: every link counts as used).
const MAX_USED: u64 = 4 * 1024 * 1024;
/// What the MAC covers before the link's bytes: the format and its version.
const DOMAIN: &[u8] = b"vnx-link v1\n";
/// The format's first byte.
const VERSION: u8 = 1;

/// What following a link does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkAction {
    /// Approves the request.
    Approve,
    /// Denies it.
    Deny,
}

impl LinkAction {
    /// As a page says it.
    pub fn name(self) -> &'static str {
        match self {
            LinkAction::Approve => "approve",
            LinkAction::Deny => "deny",
        }
    }
}

/// One link: an action on the request a dispatch announced, good until it expires, once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The dispatch.
    pub dispatch: DispatchId,
    /// The entry hash (hex) of the receipt that announced what the dispatch waits for (its
    /// `dispatch_blocked`).
    pub request: String,
    /// What it does.
    pub action: LinkAction,
    /// When it stops working (whole seconds).
    pub expires: jiff::Timestamp,
    /// What tells it from every other link: the key of its single use.
    pub nonce: [u8; 16],
}

impl Link {
    /// A new link with a fresh random nonce.
    pub fn new(
        dispatch: &DispatchId,
        request: &str,
        action: LinkAction,
        expires: jiff::Timestamp,
    ) -> Link {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).expect("the OS gives random bytes");
        Link {
            dispatch: dispatch.clone(),
            request: request.to_owned(),
            action,
            expires: jiff::Timestamp::from_second(expires.as_second()).unwrap_or(expires),
            nonce,
        }
    }

    /// Its bytes: version, action, expiry, nonce, the request (its length first), the id.
    fn bytes(&self) -> Vec<u8> {
        let mut out = vec![
            VERSION,
            match self.action {
                LinkAction::Approve => b'a',
                LinkAction::Deny => b'd',
            },
        ];
        out.extend_from_slice(&self.expires.as_second().to_be_bytes());
        out.extend_from_slice(&self.nonce);
        let request = self.request.as_bytes();
        let len = u8::try_from(request.len()).unwrap_or(u8::MAX);
        out.push(len);
        out.extend_from_slice(&request[..usize::from(len)]);
        out.extend_from_slice(self.dispatch.as_str().as_bytes());
        out
    }

    /// The link `bytes` hold (after their MAC held).
    fn from_bytes(bytes: &[u8]) -> Option<Link> {
        let (&version, rest) = bytes.split_first()?;
        let (&action, rest) = rest.split_first()?;
        if version != VERSION {
            return None;
        }
        let action = match action {
            b'a' => LinkAction::Approve,
            b'd' => LinkAction::Deny,
            _ => return None,
        };
        let (expires, rest) = rest.split_first_chunk::<8>()?;
        let (nonce, rest) = rest.split_first_chunk::<16>()?;
        let (&len, rest) = rest.split_first()?;
        let (request, id) = rest.split_at_checked(usize::from(len))?;
        Some(Link {
            dispatch: DispatchId::parse(std::str::from_utf8(id).ok()?).ok()?,
            request: std::str::from_utf8(request).ok()?.to_owned(),
            action,
            expires: jiff::Timestamp::from_second(i64::from_be_bytes(*expires)).ok()?,
            nonce: *nonce,
        })
    }

    /// Its nonce in hex, as the used links record it.
    pub fn nonce_hex(&self) -> String {
        hex::encode(self.nonce)
    }
}

/// Why a token opens no link.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token vnx makes (cut, too long, not URL-safe base64, not a link's bytes).
    #[error("this is not a link vnx made (it may have been cut short)")]
    Malformed,
    /// A token whose MAC does not hold: not signed with this project's key, or changed.
    #[error("this link's signature does not hold: it was not made by this project's vnx")]
    Forged,
    /// A link past its expiry.
    #[error("this link expired at {at}")]
    Expired {
        /// When.
        at: jiff::Timestamp,
    },
}

/// The secret links are signed with.
pub struct LinkKey([u8; 32]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(…)")
    }
}

impl LinkKey {
    /// A key of these bytes (tests, and a caller that keeps its own).
    pub fn from_bytes(bytes: [u8; 32]) -> LinkKey {
        LinkKey(bytes)
    }

    /// The project's key, `serve/link.key` in `data_dir`, made (32 random bytes, 0600)
    /// the first time. A key file that is not 32 bytes is an error, never replaced.
    pub fn load_or_create(data_dir: &Path) -> Result<LinkKey, NoticeError> {
        let dir = serve_dir(data_dir)?;
        let path = dir.join(KEY_FILE);
        let io = NoticeError::io(&path);
        match crate::files::read_bounded(&path, 64) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
                    io(std::io::Error::other(format!(
                        "it holds {} bytes, not a 32-byte key",
                        b.len()
                    )))
                })?;
                Ok(LinkKey(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).expect("the OS gives random bytes");
                // Written whole and durably beside it, then linked into place, which never
                // replaces a key another process made meanwhile (nor leaves half of one).
                let tmp = dir.join(format!(".{KEY_FILE}.new-{}", std::process::id()));
                let made = crate::files::write_atomic_private(&tmp, &key, true)
                    .and_then(|()| std::fs::hard_link(&tmp, &path));
                let _ = std::fs::remove_file(&tmp);
                match made {
                    Ok(()) => Ok(LinkKey(key)),
                    // Another process made it first: its key is the key.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        LinkKey::load_or_create(data_dir)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    fn mac(&self, bytes: &[u8]) -> HmacSha256 {
        let mut m = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key");
        m.update(DOMAIN);
        m.update(bytes);
        m
    }

    /// The link as a URL-safe token: its bytes and their MAC, in base64url.
    pub fn sign(&self, link: &Link) -> String {
        let mut bytes = link.bytes();
        let mac = self.mac(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&mac);
        base64url(&bytes)
    }

    /// The link `token` holds, if its MAC holds and it has not expired at `now`.
    pub fn open(&self, token: &str, now: jiff::Timestamp) -> Result<Link, LinkError> {
        if token.len() > MAX_TOKEN {
            return Err(LinkError::Malformed);
        }
        let bytes = from_base64url(token).ok_or(LinkError::Malformed)?;
        let (body, mac) = bytes.split_last_chunk::<32>().ok_or(LinkError::Malformed)?;
        self.mac(body)
            .verify_slice(mac)
            .map_err(|_| LinkError::Forged)?;
        let link = Link::from_bytes(body).ok_or(LinkError::Malformed)?;
        if link.expires <= now {
            return Err(LinkError::Expired { at: link.expires });
        }
        Ok(link)
    }
}

/// `serve/` in `data_dir`, made private if absent.
fn serve_dir(data_dir: &Path) -> Result<PathBuf, NoticeError> {
    let dir = data_dir.join(SERVE_DIR);
    crate::files::private_dir(&dir).map_err(NoticeError::io(&dir))?;
    Ok(dir)
}

/// `bytes` in base64url without padding (RFC 4648 §5).
fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What [`base64url`] wrote, or `None` for anything else (padding, other characters, a
/// length no encoding has, bits set past the end: one spelling per token).
fn from_base64url(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

/// The links redeemed and not yet expired, held under their lock: a second redemption of a
/// link, by this process or another, waits for the first and then sees it used.
pub struct UsedLinks {
    path: PathBuf,
    entries: Vec<(String, i64)>,
    lock: Option<std::fs::File>,
}

impl UsedLinks {
    /// Takes the lock (waiting for another holder) and reads the used links of `data_dir`.
    pub fn hold(data_dir: &Path) -> Result<UsedLinks, NoticeError> {
        let dir = serve_dir(data_dir)?;
        let lock_path = dir.join(USED_LOCK);
        let lock =
            crate::files::lock_file(&lock_path, true).map_err(NoticeError::io(&lock_path))?;
        UsedLinks::read(data_dir, lock)
    }

    /// The used links of `data_dir` as they are now, without the lock (the file is replaced
    /// whole): for a look that must not wait while another link is being followed. It
    /// cannot [`UsedLinks::mark`].
    pub fn glance(data_dir: &Path) -> Result<UsedLinks, NoticeError> {
        UsedLinks::read(data_dir, None)
    }

    fn read(data_dir: &Path, lock: Option<std::fs::File>) -> Result<UsedLinks, NoticeError> {
        let path = data_dir.join(SERVE_DIR).join(USED_FILE);
        let text = match crate::files::read_bounded(&path, MAX_USED) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(NoticeError::Io { path, source }),
        };
        let entries = text
            .lines()
            .filter_map(|l| {
                let (nonce, expires) = l.split_once(' ')?;
                Some((nonce.to_owned(), expires.parse().ok()?))
            })
            .collect();
        Ok(UsedLinks {
            path,
            entries,
            lock,
        })
    }

    /// Whether `link` was redeemed.
    pub fn used(&self, link: &Link) -> bool {
        let nonce = link.nonce_hex();
        self.entries.iter().any(|(n, _)| *n == nonce)
    }

    /// Records `link` as redeemed (durably, before it acts), forgetting the links expired
    /// at `now` (they no longer open).
    pub fn mark(&mut self, link: &Link, now: jiff::Timestamp) -> Result<(), NoticeError> {
        if self.lock.is_none() {
            return Err(NoticeError::Io {
                path: self.path.clone(),
                source: std::io::Error::other("the used links were read without their lock"),
            });
        }
        self.entries
            .retain(|(_, expires)| *expires > now.as_second());
        self.entries
            .push((link.nonce_hex(), link.expires.as_second()));
        let text: String = self
            .entries
            .iter()
            .map(|(n, e)| format!("{n} {e}\n"))
            .collect();
        crate::files::write_atomic_private(&self.path, text.as_bytes(), true)
            .map_err(NoticeError::io(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn link(action: LinkAction) -> Link {
        Link::new(
            &DispatchId::parse("D-0123456789ab").unwrap(),
            &"ab".repeat(32),
            action,
            now() + jiff::SignedDuration::from_mins(30),
        )
    }

    #[test]
    fn a_signed_link_opens_as_it_was_until_it_expires() {
        let key = LinkKey::from_bytes([7; 32]);
        for action in [LinkAction::Approve, LinkAction::Deny] {
            let l = link(action);
            let token = key.sign(&l);
            assert!(token.len() < 200, "{token}");
            let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            assert!(token.bytes().all(url_safe), "{token}");
            assert_eq!(key.open(&token, now()), Ok(l.clone()));
            assert_eq!(
                key.open(&token, l.expires),
                Err(LinkError::Expired { at: l.expires })
            );
        }
        // Two links for the same request are two tokens.
        assert_ne!(
            key.sign(&link(LinkAction::Approve)),
            key.sign(&link(LinkAction::Approve))
        );
    }

    #[test]
    fn a_flipped_bit_or_another_key_is_forged() {
        let key = LinkKey::from_bytes([7; 32]);
        let l = link(LinkAction::Deny);
        let bytes = from_base64url(&key.sign(&l)).unwrap();
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                key.open(&base64url(&b), now()),
                Err(LinkError::Forged),
                "bit {i}"
            );
        }
        let other = LinkKey::from_bytes([8; 32]);
        assert_eq!(other.open(&key.sign(&l), now()), Err(LinkError::Forged));
        assert_eq!(key.open("", now()), Err(LinkError::Malformed));
        assert_eq!(key.open("a=b", now()), Err(LinkError::Malformed));
        assert_eq!(key.open(&"A".repeat(600), now()), Err(LinkError::Malformed));
    }

    #[test]
    fn base64url_round_trips_and_has_one_spelling() {
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(from_base64url(&base64url(&bytes)), Some(bytes));
        }
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
        // `-_9` has bits past the last byte: not a spelling [`base64url`] makes.
        assert_eq!(from_base64url("-_9"), None);
        assert_eq!(from_base64url("A"), None);
    }

    #[test]
    fn a_key_is_made_once_private_and_used_links_are_remembered_until_they_expire() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = LinkKey::load_or_create(dir.path()).unwrap();
        let b = LinkKey::load_or_create(dir.path()).unwrap();
        assert_eq!(a.0, b.0);
        let meta = std::fs::metadata(dir.path().join("serve/link.key")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let (l, other) = (link(LinkAction::Approve), link(LinkAction::Approve));
        let mut used = UsedLinks::hold(dir.path()).unwrap();
        assert!(!used.used(&l));
        used.mark(&l, now()).unwrap();
        drop(used);
        let mut used = UsedLinks::hold(dir.path()).unwrap();
        assert!(used.used(&l) && !used.used(&other));
        // A glance sees the same and cannot record.
        let mut glanced = UsedLinks::glance(dir.path()).unwrap();
        assert!(glanced.used(&l));
        assert!(glanced.mark(&other, now()).is_err());
        // Once it expired it is forgotten: it no longer opens anyway.
        used.mark(&other, l.expires).unwrap();
        assert!(!used.used(&l) && used.used(&other));
        std::fs::write(dir.path().join("serve/link.key"), b"short").unwrap();
        assert!(LinkKey::load_or_create(dir.path()).is_err());
    }

    proptest! {
        #[test]
        fn any_text_as_a_token_never_panics_and_never_opens(token in ".{0,700}", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let key = LinkKey::from_bytes([7; 32]);
            prop_assert!(key.open(&token, now()).is_err());
            prop_assert!(key.open(&base64url(&bytes), now()).is_err());
        }
    }
}
