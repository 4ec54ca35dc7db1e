//! DSSE, the Dead Simple Signing Envelope in-toto attestations travel in: the pre-auth
//! encoding a signature covers, the envelope signed with vnx's Ed25519 key and checked
//! against trusted keys, the key's id, and its public half as PEM (SubjectPublicKeyInfo).

use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::attest::Attestor;

/// The DSSE payload type of an in-toto Statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope: the payload in base64, its type, and its signatures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The payload's bytes, in standard base64.
    pub payload: String,
    /// What the payload is ([`PAYLOAD_TYPE`]).
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Its signatures, over [`pae`] of the type and the payload's bytes.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// The signing key's id ([`keyid`]).
    pub keyid: String,
    /// The Ed25519 signature, in standard base64.
    pub sig: String,
}

/// Why an envelope does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DsseError {
    /// Its payload is not base64.
    #[error("the envelope's payload is not base64")]
    Payload,
    /// Its payload type is not an in-toto Statement's.
    #[error("the envelope's payload type is `{0}`, not `{PAYLOAD_TYPE}`")]
    PayloadType(String),
    /// No signature verifies under a trusted key.
    #[error(
        "no signature of the envelope verifies under a trusted key ({signatures} signature(s), {keys} trusted key(s))"
    )]
    Unsigned {
        /// Signatures it carries.
        signatures: usize,
        /// Keys tried.
        keys: usize,
    },
}

/// DSSE's pre-authentication encoding: `"DSSEv1" SP len(type) SP type SP len(body) SP body`,
/// lengths in ASCII decimal bytes.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A key's id in envelopes: the hex SHA-256 of its 32 raw public-key bytes.
pub fn keyid(public_key: &[u8; 32]) -> String {
    hex::encode(Sha256::digest(public_key))
}

/// Ed25519's SubjectPublicKeyInfo (RFC 8410) is fixed but for the key: SEQUENCE (42 bytes)
/// of the AlgorithmIdentifier SEQUENCE holding OID 1.3.101.112 (id-Ed25519, no parameters)
/// and a BIT STRING of 33 bytes (no unused bits, then the key). These 12 bytes precede the
/// 32 key bytes in every Ed25519 public key's DER, so no ASN.1 library is needed.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The public key as PEM (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo DER), as
/// OpenSSL, `cryptography` and securesystemslib read it.
pub fn public_key_pem(public_key: &[u8; 32]) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(public_key);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64(&der)
    )
}

/// The Ed25519 key a PEM [`public_key_pem`] wrote holds, or `None` for anything else.
pub fn public_key_from_pem(pem: &str) -> Option<[u8; 32]> {
    let body: String = pem
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")?
        .strip_suffix("-----END PUBLIC KEY-----")?
        .split_whitespace()
        .collect();
    let der = from_base64(&body)?;
    let key = der.strip_prefix(&SPKI_PREFIX[..])?;
    key.try_into().ok()
}

/// `payload` (a Statement's JSON) in an envelope signed by `attestor`.
pub fn sign(attestor: &Attestor, payload: &[u8]) -> Envelope {
    let sig: Signature = attestor.signing_key().sign(&pae(PAYLOAD_TYPE, payload));
    Envelope {
        payload: base64(payload),
        payload_type: PAYLOAD_TYPE.to_owned(),
        signatures: vec![EnvelopeSignature {
            keyid: keyid(&attestor.public_key()),
            sig: base64(&sig.to_bytes()),
        }],
    }
}

/// The payload of `envelope` and the trusted key that signed it: one of its signatures,
/// by the key its keyid names, verifies over the PAE of its type and payload.
pub fn open(envelope: &Envelope, trusted: &[[u8; 32]]) -> Result<(Vec<u8>, [u8; 32]), DsseError> {
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(DsseError::PayloadType(envelope.payload_type.clone()));
    }
    let payload = from_base64(&envelope.payload).ok_or(DsseError::Payload)?;
    let message = pae(&envelope.payload_type, &payload);
    for s in &envelope.signatures {
        let Some(sig) = from_base64(&s.sig).and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
            continue;
        };
        for key in trusted.iter().filter(|k| keyid(k) == s.keyid) {
            let verified = VerifyingKey::from_bytes(key)
                .and_then(|k| k.verify(&message, &Signature::from_bytes(&sig)))
                .is_ok();
            if verified {
                return Ok((payload, *key));
            }
        }
    }
    Err(DsseError::Unsigned {
        signatures: envelope.signatures.len(),
        keys: trusted.len(),
    })
}

/// Standard base64 with padding (RFC 4648 §4) written; read with or without padding, as DSSE
/// readers accept, never with bits set past the last byte.
const STANDARD: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// `bytes` in standard base64 with padding (RFC 4648 §4), as DSSE writes it.
pub fn base64(bytes: &[u8]) -> String {
    base64::Engine::encode(&STANDARD, bytes)
}

/// What [`base64()`] wrote (padding optional, as DSSE readers accept), or `None`.
pub fn from_base64(text: &str) -> Option<Vec<u8>> {
    base64::Engine::decode(&STANDARD, text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648() {
        for (raw, text) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), text);
            assert_eq!(from_base64(text).unwrap(), raw.as_bytes());
        }
        assert_eq!(from_base64("Zm9v!"), None);
    }

    #[test]
    fn pae_is_dsse_v1() {
        // The example of the DSSE specification's protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn the_pem_of_a_key_reads_back_and_is_spki() {
        let key = [7u8; 32];
        let pem = public_key_pem(&key);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"));
        assert_eq!(public_key_from_pem(&pem), Some(key));
        assert_eq!(public_key_from_pem("not a key"), None);
    }
}
