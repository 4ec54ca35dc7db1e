"""Checks a vnx attestation with the reference in-toto implementation, not with vnx.

    python intoto_verify.py ENVELOPE_FILE PUBLIC_KEY_PEM COMMIT

ENVELOPE_FILE holds one DSSE envelope (as `vnx attest` prints it); PUBLIC_KEY_PEM the key
`vnx attest --public-key` prints; COMMIT the commit the attestation must be about (a pull
request's merge commit, say). The envelope's signature is checked by securesystemslib's
Ed25519 key (made from the PEM by pyca/cryptography) through in-toto's DSSE `Envelope`; its
payload must be an in-toto Statement v1 one of whose subjects has `gitCommit` COMMIT.

Prints `verified: ...` and exits 0, or prints why not and exits 1.
"""

import hashlib
import json
import sys

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from in_toto.models.metadata import Envelope
from securesystemslib.signer import SSlibKey

STATEMENT_V1 = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"


def main(envelope_file, pem_file, commit):
    with open(pem_file, "rb") as f:
        public = load_pem_public_key(f.read())
    raw = public.public_bytes_raw()
    # vnx names its key by the SHA-256 of its 32 raw bytes (docs/reference.md, "Attestations").
    keyid = hashlib.sha256(raw).hexdigest()
    key = SSlibKey.from_crypto(public, keyid=keyid)
    with open(envelope_file, encoding="utf-8") as f:
        envelope = Envelope.from_dict(json.loads(f.read()))
    if envelope.payload_type != PAYLOAD_TYPE:
        return f"payload type {envelope.payload_type!r} is not {PAYLOAD_TYPE!r}"
    try:
        envelope.verify(keys=[key], threshold=1)
    except Exception as e:  # noqa: BLE001 - any failure is a verdict here
        return f"signature: {type(e).__name__}: {e}"
    statement = json.loads(envelope.payload)
    if statement.get("_type") != STATEMENT_V1:
        return f"not an in-toto Statement v1: {statement.get('_type')!r}"
    commits = [s.get("digest", {}).get("gitCommit") for s in statement.get("subject", [])]
    if commit not in commits:
        return f"subject: {commit} is not among {commits}"
    print(f"verified: {statement['predicateType']} about {commit}, key {keyid}")
    return None


if __name__ == "__main__":
    why = main(*sys.argv[1:4])
    if why is not None:
        print(f"not verified: {why}")
        sys.exit(1)
