//! The devices paired with `vnx serve`: each a name, an id, and the SHA-256 of its secret
//! token (the token itself is only ever in the device's cookie), kept in
//! `.vnx-data/serve/devices.json` (0600, written whole and atomically under a lock), read
//! again at every check so a revocation by `vnx serve --revoke` counts at once.

use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AccessError, random, same_secret};

/// The most bytes the devices file may hold.
const MAX_FILE: u64 = 1 << 20;
/// The most characters of a device's name.
pub const NAME_CHARS: usize = 40;
/// How often a device's last use is written (at most).
const SEEN_EVERY: i64 = 60;

/// A device's secret, as its cookie carries it: 64 hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// The token a request carries, if it has the token's form.
    pub fn parse(text: &str) -> Option<Token> {
        (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Token(text.to_ascii_lowercase()))
    }

    /// The token's text (for the cookie that carries it).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The anti-forgery value the pages of this token's device carry and every request that
    /// changes anything must send back: derived from the token, so another site, which
    /// cannot read the cookie, cannot make it.
    pub fn csrf(&self) -> String {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(b"vnx serve: the anti-forgery value of a paired device");
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// Whether `given` is this token's anti-forgery value.
    pub fn csrf_matches(&self, given: &str) -> bool {
        same_secret(self.csrf().as_bytes(), given.as_bytes())
    }
}

/// One paired device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Its id, `dev-` and 8 hex digits.
    pub id: String,
    /// The name it was paired under.
    pub name: String,
    /// The SHA-256 of its token, in hex.
    token_sha256: String,
    /// When it was paired.
    pub paired_at: jiff::Timestamp,
    /// When it was last used (to the minute).
    pub last_seen: Option<jiff::Timestamp>,
    /// Where it paired from (the address the request came from).
    pub paired_from: String,
}

impl Device {
    /// How receipts name this device: `NAME (dev-…)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.id)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    devices: Vec<Device>,
}

/// The paired devices of one project.
#[derive(Clone, Debug)]
pub struct DeviceStore {
    path: PathBuf,
}

impl DeviceStore {
    /// The store of the project whose data directory is `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> DeviceStore {
        DeviceStore {
            path: super::dir_in(data_dir).join("devices.json"),
        }
    }

    /// The file it keeps.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every paired device, oldest first.
    pub fn list(&self) -> Result<Vec<Device>, AccessError> {
        Ok(self.read()?.devices)
    }

    /// Pairs a new device named `name` (cut to a plain name), from `from`: its token, which
    /// is shown once, and the device.
    pub fn pair(&self, name: &str, from: &str) -> Result<(Token, Device), AccessError> {
        let token = Token(hex::encode(random::<32>()?));
        let device = Device {
            id: format!("dev-{}", hex::encode(random::<4>()?)),
            name: plain_name(name),
            token_sha256: token.digest(),
            paired_at: jiff::Timestamp::now(),
            last_seen: None,
            paired_from: from.to_owned(),
        };
        self.change(|f| {
            f.devices.push(device.clone());
            Ok(())
        })?;
        Ok((token, device))
    }

    /// The device whose token this is, if it is paired and not revoked; its last use noted.
    pub fn admit(&self, token: &Token) -> Result<Option<Device>, AccessError> {
        let digest = token.digest();
        let file = self.read()?;
        let Some(found) = file
            .devices
            .into_iter()
            .find(|d| same_secret(d.token_sha256.as_bytes(), digest.as_bytes()))
        else {
            return Ok(None);
        };
        let now = jiff::Timestamp::now();
        let stale = found
            .last_seen
            .is_none_or(|t| now.as_second() - t.as_second() >= SEEN_EVERY);
        if stale {
            // Noting the use is worth no failed request, and no wait: while another process
            // holds the lock, this use goes unnoted (the next one notes it).
            let _ = self.change_unless_busy(|f| {
                if let Some(d) = f.devices.iter_mut().find(|d| d.id == found.id) {
                    d.last_seen = Some(now);
                }
                Ok(())
            });
        }
        Ok(Some(found))
    }

    /// Revokes the device named `name` (its name or id): its token admits nothing from now
    /// on. The device revoked.
    pub fn revoke(&self, name: &str) -> Result<Device, AccessError> {
        let mut gone = None;
        self.change(|f| {
            let at = (f.devices.iter())
                .position(|d| d.id == name)
                .or_else(|| f.devices.iter().position(|d| d.name == name))
                .ok_or_else(|| AccessError::UnknownDevice {
                    name: name.to_owned(),
                })?;
            gone = Some(f.devices.remove(at));
            Ok(())
        })?;
        Ok(gone.expect("set when found"))
    }

    fn read(&self) -> Result<File, AccessError> {
        let bytes = match crate::files::read_bounded(&self.path, MAX_FILE) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(File::default()),
            Err(source) => {
                return Err(AccessError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        serde_json::from_slice(&bytes).map_err(|e| AccessError::Corrupt {
            path: self.path.clone(),
            detail: e.to_string(),
        })
    }

    fn change(
        &self,
        f: impl FnOnce(&mut File) -> Result<(), AccessError>,
    ) -> Result<(), AccessError> {
        self.change_locked(true, f)
    }

    /// [`Self::change`], or nothing when another process holds the lock.
    fn change_unless_busy(
        &self,
        f: impl FnOnce(&mut File) -> Result<(), AccessError>,
    ) -> Result<(), AccessError> {
        self.change_locked(false, f)
    }

    fn change_locked(
        &self,
        wait: bool,
        f: impl FnOnce(&mut File) -> Result<(), AccessError>,
    ) -> Result<(), AccessError> {
        let io = |source| AccessError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().expect("the file is in a directory");
        crate::files::private_dir(dir).map_err(io)?;
        let Some(_lock) = crate::files::lock_file(&dir.join("devices.lock"), wait).map_err(io)?
        else {
            return Ok(());
        };
        let mut file = self.read()?;
        f(&mut file)?;
        let text = serde_json::to_vec_pretty(&file).expect("devices serialise");
        crate::files::write_atomic_private(&self.path, &text, true).map_err(io)
    }
}

/// A device's name as given, kept to letters, digits, spaces and `-_.`, at most
/// [`NAME_CHARS`] characters; "device" when nothing is left.
pub fn plain_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
        .take(NAME_CHARS)
        .collect();
    let kept = kept.trim();
    if kept.is_empty() {
        "device".to_owned()
    } else {
        kept.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paired_token_is_admitted_until_revoked_and_only_its_digest_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = DeviceStore::in_data_dir(dir.path());
        let (token, device) = store.pair("ana's phone\u{1b}[31m", "127.0.0.1").unwrap();
        assert_eq!(device.name, "anas phone31m");
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains(token.as_str()), "the token is not stored");
        let admitted = store.admit(&token).unwrap().unwrap();
        assert_eq!(admitted.id, device.id);
        let other = Token::parse(&"a".repeat(64)).unwrap();
        assert_eq!(store.admit(&other).unwrap(), None);
        assert!(token.csrf_matches(&token.csrf()));
        assert!(!other.csrf_matches(&token.csrf()));
        store.revoke(&device.id).unwrap();
        assert_eq!(store.admit(&token).unwrap(), None);
        assert!(matches!(
            store.revoke("nobody"),
            Err(AccessError::UnknownDevice { .. })
        ));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn only_tokens_of_the_right_form_parse() {
        assert!(Token::parse("").is_none());
        assert!(Token::parse(&"g".repeat(64)).is_none());
        assert!(Token::parse(&"A".repeat(64)).is_some());
        assert!(Token::parse(&"a".repeat(65)).is_none());
    }
}
