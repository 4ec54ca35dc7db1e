#!/usr/bin/env python3
"""Reference model of VNX's NDJSON receipt hash chain (Python 3.11, stdlib only).

This is an independent re-statement of the behaviour of VNX's
``scripts/lib/ndjson_hash_chain.py`` (ADR-023/029 epoch-aware version),
``scripts/audit_chain.py`` and ``scripts/chain_epoch_seal.py``.  It exists so
the Rust ``vnx`` port can be tested against golden ledgers whose expected
results come from the same algorithm VNX runs.

Algorithm (identical to VNX):

* ``canonical_json(entry)`` = ``json.dumps`` of the entry without its
  ``prev_hash`` key, ``sort_keys=True``, ``separators=(",", ":")``, and the
  defaults ``ensure_ascii=True`` / ``allow_nan=True``.
* ``compute_entry_hash(entry)`` = SHA-256 hex digest of that string's UTF-8.
* ``prev_hash`` holds the entry hash of the previous parsed line; a chain starts
  at ``GENESIS_HASH`` (64 zeros).  ``{"type": "chain_epoch_start", ...}``
  markers carry ``prev_hash == GENESIS_HASH`` and start a new epoch.

Deliberate deviations from VNX (VNX crashes with a traceback in these cases;
this module reports a violation instead and carries on):

* a line that is valid JSON but not an object (``[1,2]``, ``42``, ``"x"``,
  ``null``): VNX raises ``AttributeError`` (``entry.get``);
* a line that is not valid UTF-8: VNX raises ``UnicodeDecodeError`` while
  iterating the file;
* a line ``json.loads`` rejects with something other than ``JSONDecodeError``:
  an integer longer than 4300 digits (``ValueError``, CPython's int/str limit)
  or nesting deep enough to raise ``RecursionError``.

Such lines are treated exactly like VNX treats an invalid-JSON line: they
become a violation and are skipped when linking (the next entry must point at
the last entry that did parse as an object).

Line splitting mirrors VNX, which iterates a text-mode file: ``\\n``, ``\\r\\n``
and a bare ``\\r`` all end a line (Python universal newlines; ``bytes.splitlines``
gives the same split).  Each line is ``str.strip()``-ed (Unicode whitespace as
``str.isspace`` defines it, which includes U+001C..U+001F, U+0085, U+00A0,
U+3000) and blank lines are skipped.  ``line_number`` is 1-based over those
lines; for a file without bare ``\\r`` it is the physical ``\\n`` line number.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

GENESIS_HASH = "0" * 64
EPOCH_MARKER_TYPE = "chain_epoch_start"

STATUS_UNCHAINED = "unchained"
STATUS_VERIFIED = "verified"
STATUS_SEGMENTED = "verified-segmented"
STATUS_BROKEN = "broken"

NOTE_MARKER_NOT_GENESIS = "chain_epoch_start marker must anchor to GENESIS"
NOTE_NAIVE_FLIP = (
    "chained entry without a preceding chain_epoch_start marker (unsealed / naive flip)"
)
NOTE_UNCHAINED_IN_EPOCH = "unchained entry inside a chained epoch"


# ---------------------------------------------------------------------------
# Hashing
# ---------------------------------------------------------------------------


def canonical_json(entry: dict) -> str:
    """The string VNX hashes: every key but ``prev_hash``, sorted, compact."""
    body = {key: value for key, value in entry.items() if key != "prev_hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def compute_entry_hash(entry: dict) -> str:
    """SHA-256 hex of ``canonical_json(entry)`` encoded as UTF-8."""
    return hashlib.sha256(canonical_json(entry).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, raw_line_without_terminator)`` for every line.

    ``bytes.splitlines`` splits on ``\\n``, ``\\r\\n`` and ``\\r`` only, which is
    exactly how VNX's ``for line in open(path, "r", encoding="utf-8")`` splits
    (those bytes never occur inside a UTF-8 multi-byte sequence).
    """
    data = Path(path).read_bytes()
    for number, raw in enumerate(data.splitlines(), start=1):
        yield number, raw


def parse_line(raw: bytes) -> tuple[str, Any, str | None]:
    """Classify one raw line.

    Returns ``(kind, value, error)`` where kind is ``"blank"``, ``"entry"``
    (value is the parsed dict) or ``"error"`` (error is the violation text).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # VNX: crash (UnicodeDecodeError)
        return "error", None, f"invalid UTF-8: {exc}"
    text = text.strip()
    if not text:
        return "blank", None, None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:  # exactly VNX's message
        return "error", None, f"invalid JSON: {exc}"
    except (ValueError, RecursionError) as exc:  # VNX: crash
        return "error", None, f"unparseable JSON: {type(exc).__name__}: {exc}"
    if not isinstance(value, dict):  # VNX: crash (AttributeError on .get)
        return "error", None, f"not a JSON object: {type(value).__name__}"
    return "entry", value, None


def read_entries(path: Path) -> tuple[list[tuple[int, dict]], list[dict], int]:
    """Return ``(entries, parse_errors, line_count)`` for a ledger file."""
    entries: list[tuple[int, dict]] = []
    errors: list[dict] = []
    line_count = 0
    for number, raw in iter_lines(path):
        line_count = number
        kind, value, error = parse_line(raw)
        if kind == "entry":
            entries.append((number, value))
        elif kind == "error":
            errors.append({"line_number": number, "error": error})
    return entries, errors, line_count


# ---------------------------------------------------------------------------
# Verification (mirrors VNX verify_chain, ADR-029 epoch-aware)
# ---------------------------------------------------------------------------


def verify_chain(path: Path) -> tuple[bool, list[dict], str]:
    """Return ``(is_valid, violations, status)`` exactly as VNX computes them.

    status: ``unchained`` (valid; missing/empty file, or nothing chained and no
    marker), ``verified`` (valid; chained from GENESIS on the first entry, no
    prefix, no marker), ``verified-segmented`` (valid; an unchained epoch-0
    prefix and/or at least one marker, every epoch intact) or ``broken``.
    Violations list parse errors first (in line order), then chain violations
    (in line order), as VNX does.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return True, [], STATUS_UNCHAINED

    entries, parse_errors, _ = read_entries(path)
    if parse_errors and not entries:
        return False, parse_errors, STATUS_BROKEN
    if not entries:
        return True, [], STATUS_UNCHAINED

    violations: list[dict] = list(parse_errors)
    in_chain = False  # inside a chained epoch
    saw_chain = False  # any marker or chained entry
    saw_prefix = False  # an unchained epoch-0 entry before any chain
    saw_marker = False  # an explicit chain_epoch_start marker
    expected_prev = GENESIS_HASH

    for number, entry in entries:
        has_prev = "prev_hash" in entry
        actual_prev = entry.get("prev_hash")

        if entry.get("type") == EPOCH_MARKER_TYPE:
            # Any entry whose "type" is the marker type; its "epoch" value is
            # never looked at.  It always (re)starts a chain, even on error.
            saw_chain = saw_marker = True
            if actual_prev != GENESIS_HASH:
                violations.append({
                    "line_number": number,
                    "expected_prev_hash": GENESIS_HASH,
                    "actual_prev_hash": actual_prev,
                    "note": NOTE_MARKER_NOT_GENESIS,
                })
            in_chain = True
            expected_prev = compute_entry_hash(entry)
            continue

        if not in_chain:
            if not has_prev:
                saw_prefix = True
                continue
            saw_chain = True
            if not (actual_prev == GENESIS_HASH and not saw_prefix):
                # After an unchained prefix, or anchored to something other
                # than GENESIS (e.g. a head-truncated chain), with no marker.
                violations.append({"line_number": number, "note": NOTE_NAIVE_FLIP})
            in_chain = True
            expected_prev = compute_entry_hash(entry)
            continue

        if not has_prev:
            violations.append({"line_number": number, "note": NOTE_UNCHAINED_IN_EPOCH})
        elif actual_prev != expected_prev:
            violations.append({
                "line_number": number,
                "expected_prev_hash": expected_prev,
                "actual_prev_hash": actual_prev,
            })
        expected_prev = compute_entry_hash(entry)

    if violations:
        return False, violations, STATUS_BROKEN
    if not saw_chain:
        return True, [], STATUS_UNCHAINED
    if saw_prefix or saw_marker:
        return True, [], STATUS_SEGMENTED
    return True, [], STATUS_VERIFIED


def line_hashes(path: Path) -> list[tuple[int, str | None]]:
    """``(line_number, entry_hash or None)`` for every non-blank line."""
    out: list[tuple[int, str | None]] = []
    for number, raw in iter_lines(path):
        kind, value, _ = parse_line(raw)
        if kind == "entry":
            out.append((number, compute_entry_hash(value)))
        elif kind == "error":
            out.append((number, None))
    return out


def head_entry_hash(path: Path) -> str | None:
    """Entry hash of the last non-blank line, or None if it is not an object.

    (This is the "head" a verifier reports.  VNX's writer uses a slightly
    different tail rule, see ``read_last_hash``.)
    """
    path = Path(path)
    if not path.exists():
        return None
    hashes = line_hashes(path)
    return hashes[-1][1] if hashes else None


# ---------------------------------------------------------------------------
# Writing (mirrors VNX's writers, including their quirks)
# ---------------------------------------------------------------------------


def read_last_hash(path: Path) -> str | None:
    """VNX ``_read_last_hash``: hash of the last physical line, else None.

    Quirks kept on purpose: only ``\\n`` ends a line here (binary readline);
    if the file ends in a blank line (``...\\n\\n``) or a torn/unparseable line
    the result is None, which callers turn into GENESIS.  VNX would crash on a
    non-object last line; this raises ``TypeError`` in that case.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    data = path.read_bytes()
    # Start of the last line = after the last b"\n" that is not the final byte.
    start = data.rfind(b"\n", 0, len(data) - 1) + 1
    end = data.find(b"\n", start)
    last = data[start:] if end == -1 else data[start:end + 1]
    text = last.decode("utf-8").strip()
    if not text:
        return None
    try:
        entry = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(entry, dict):
        raise TypeError("last line is JSON but not an object (VNX crashes here)")
    return compute_entry_hash(entry)


def _append_line(path: Path, line: str) -> None:
    """Append text as VNX does: no check that the file ends in a newline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(line)


def append_entry(
    path: Path,
    entry: dict,
    *,
    chain: bool = True,
    compact: bool = False,
    prev_hash: str | None = None,
) -> str:
    """Append one receipt the way VNX does; return its entry hash.

    * ``compact=False``: ``append_chained_entry`` style — ``json.dumps`` with
      default separators (``", "`` / ``": "``), insertion order, and
      ``{**entry, "prev_hash": prev}`` (prev_hash last unless already a key).
    * ``compact=True``: hot-path style (``_write_receipt_under_lock``) —
      ``receipt["prev_hash"] = prev`` then
      ``json.dumps(receipt, separators=(",", ":"), sort_keys=False)``.
    * ``chain=False``: the receipt is written as is (VNX_CHAIN_RECEIPTS off).
    * ``prev_hash``: override the tail read (used to build damaged ledgers).
    """
    if chain:
        if prev_hash is None:
            prev_hash = read_last_hash(path) or GENESIS_HASH
        record = dict(entry)
        record["prev_hash"] = prev_hash
    else:
        record = dict(entry)
    if compact:
        text = json.dumps(record, separators=(",", ":"), sort_keys=False)
    else:
        text = json.dumps(record)
    _append_line(path, text + "\n")
    return compute_entry_hash(record)


def append_raw(path: Path, text: str) -> None:
    """Append literal text (no newline added) — for hand-made or damaged lines."""
    _append_line(path, text)


def epoch_state(path: Path) -> tuple[int, bool]:
    """VNX ``epoch_state``: ``(max_epoch, chaining_active)``."""
    max_epoch = 0
    last_has_prev = False
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return max_epoch, last_has_prev
    for _, raw in iter_lines(path):
        kind, entry, _ = parse_line(raw)
        if kind != "entry":
            continue
        if entry.get("type") == EPOCH_MARKER_TYPE:
            try:
                max_epoch = max(max_epoch, int(entry.get("epoch", 0)))
            except (TypeError, ValueError):
                pass
            last_has_prev = True
        else:
            last_has_prev = "prev_hash" in entry
    return max_epoch, last_has_prev


def append_epoch_marker(path: Path, epoch: int, epoch_ts: str) -> str:
    """Append ``{"type","epoch","epoch_ts","prev_hash":GENESIS}`` (default
    separators); return the marker's entry hash.  VNX fills ``epoch_ts`` with
    ``datetime.now(timezone.utc).isoformat()``; here it is passed in."""
    marker = {
        "type": EPOCH_MARKER_TYPE,
        "epoch": epoch,
        "epoch_ts": epoch_ts,
        "prev_hash": GENESIS_HASH,
    }
    _append_line(path, json.dumps(marker) + "\n")
    return compute_entry_hash(marker)


def seal(path: Path, epoch_ts: str) -> dict:
    """VNX ``chain_epoch_seal.seal_ledger``: idempotent, append-only.

    No-op for a missing/empty ledger or one whose last entry already carries
    ``prev_hash``; otherwise appends a marker with epoch = max epoch + 1.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return {"ledger": str(path), "action": "noop", "reason": "ledger empty or absent"}
    max_epoch, active = epoch_state(path)
    if active:
        return {"ledger": str(path), "action": "noop", "reason": "already chaining",
                "epoch": max_epoch}
    epoch = max_epoch + 1
    marker_hash = append_epoch_marker(path, epoch, epoch_ts)
    _, _, status = verify_chain(path)
    return {"ledger": str(path), "action": "sealed", "epoch": epoch,
            "marker_hash": marker_hash, "status": status}


class Writer:
    """Small convenience wrapper binding the functions above to one path."""

    def __init__(self, path: Path, *, chain: bool = True, compact: bool = False):
        self.path = Path(path)
        self.chain = chain
        self.compact = compact

    def create(self) -> "Writer":
        """Truncate / create the file (0 bytes)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(b"")
        return self

    def append(self, entry: dict, **overrides: Any) -> str:
        kwargs = {"chain": self.chain, "compact": self.compact}
        kwargs.update(overrides)
        return append_entry(self.path, entry, **kwargs)

    def raw(self, text: str) -> None:
        append_raw(self.path, text)

    def seal(self, epoch_ts: str) -> dict:
        return seal(self.path, epoch_ts)

    def marker(self, epoch: int, epoch_ts: str) -> str:
        return append_epoch_marker(self.path, epoch, epoch_ts)


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def verify_report(path: Path) -> dict:
    valid, violations, status = verify_chain(path)
    return {
        "status": status,
        "valid": valid,
        "violations": violations,
        "head_entry_hash": head_entry_hash(path),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="vnx_chain.py", description="Reference model of VNX's NDJSON hash chain")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_verify = sub.add_parser(
        "verify", help="print {status, valid, violations, head_entry_hash}; exit 0 iff valid")
    p_verify.add_argument("ledger")
    p_hashes = sub.add_parser(
        "hashes", help="print '<line_number>\\t<entry_hash>' per non-blank line ('-' if unparseable)")
    p_hashes.add_argument("ledger")
    sub.add_parser(
        "canonical", help="read one JSON object from stdin; print canonical form and its sha256")
    args = parser.parse_args(argv)

    if args.cmd == "verify":
        report = verify_report(Path(args.ledger))
        print(json.dumps(report))
        return 0 if report["valid"] else 1
    if args.cmd == "hashes":
        if not Path(args.ledger).is_file():
            print(f"vnx_chain.py: no such file: {args.ledger}", file=sys.stderr)
            return 2
        out = sys.stdout
        for number, digest in line_hashes(Path(args.ledger)):
            out.write(f"{number}\t{digest if digest is not None else '-'}\n")
        return 0
    if args.cmd == "canonical":
        entry = json.loads(sys.stdin.read())
        if not isinstance(entry, dict):
            print("input is not a JSON object", file=sys.stderr)
            return 2
        print(canonical_json(entry))
        print(compute_entry_hash(entry))
        return 0
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
