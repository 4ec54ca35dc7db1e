#!/usr/bin/env python3
"""Regenerate the golden VNX-format ledgers and expected.json.

    python3 receipts/golden/generate.py

Deterministic: fixed timestamps, no randomness, no clock reads.  Every ledger
is written with the writer in receipts/reference/vnx_chain.py (which appends
the way Python VNX does); damaged ledgers are then made by editing lines the
way an attacker or a crash would.  expected.json is produced by running the
reference verifier (vnx_chain.verify_chain) over each file, and the generator
asserts each result against the status the scenario is meant to have.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(HERE.parent / "reference"))

import vnx_chain as vc  # noqa: E402

OUT = HERE / "vnx-python"
G = vc.GENESIS_HASH

PROVIDERS = [("anthropic", "sonnet"), ("openai", "gpt-5-codex"), ("google", "gemini-2.5-pro"),
             ("anthropic", "opus"), ("ollama", "qwen3:8b")]
EVENTS = ["dispatch_created", "task_started", "task_complete", "review_gate_request", "task_failed"]


def ts(i: int) -> str:
    return f"2026-08-20T{10 + i // 60:02d}:{i % 60:02d}:00Z"


def receipt(i: int, **extra) -> dict:
    """A realistic VNX v2 receipt; i selects deterministic field values."""
    provider, model = PROVIDERS[i % len(PROVIDERS)]
    r = {
        "schema_version": 2,
        "event_type": EVENTS[i % len(EVENTS)],
        "dispatch_id": f"D-{(0x1a2b3c4d + i * 0x1111):08x}",
        "terminal": f"T{1 + i % 3}",
        "provider": provider,
        "model": model,
        "status": "failed" if i % 5 == 4 else "done",
        "timestamp": ts(i),
        "duration_seconds": round(12.5 + i * 3.07, 2),
        "token_usage": {"input_tokens": 1200 + 37 * i, "output_tokens": 300 + 11 * i,
                        "cache_read_tokens": 0 if i % 2 else 4096},
        "cost_usd": round(0.0031 * (i + 1), 6),
        "provenance": {"git_sha": f"{(0x9f2c1ab4 * (i + 3)) & 0xffffffff:08x}e07d",
                       "branch": "main", "dirty": bool(i % 2), "host": "vnx-ci-01"},
    }
    r.update(extra)
    return r


# Values that exercise the Python serializer (repr floats, big ints, escapes).
SPECIAL = [
    {"note": "café ✓"},
    {"note": "astral 😀 and 𝄞"},
    {"note": "DEL \u007f end"},
    {"note": "ctrl \u0000\u0001\u0008\t\n\u000b\u000c\r\u001b\u001f", "quote": "\"\\/"},
    {"note": "line sep \u2028 para sep \u2029 bom \ufeff nbsp \u00a0"},
    {"seq": 2 ** 64, "neg": -(2 ** 63) - 1, "u64max": 2 ** 64 - 1, "huge": 2 ** 200},
    {"f_1e16": 1e16, "f_1_5e_05": 1.5e-05, "f_neg_zero": -0.0, "f_min_sub": 5e-324},
    {"f_1e22": 1e22, "f_0_1": 0.1, "f_sum": 0.1 + 0.2, "f_100": 100.0, "f_1e_07": 1e-07},
    {"f_max": 1.7976931348623157e308, "f_1e15": 1e15, "f_9999": 9999999999999998.0,
     "f_0_0001": 0.0001, "f_big": 123456789012345680.0, "f_neg": -2.5e-300},
    {"keys": {"\uffff": "bmp-max", "😀": "astral", "a": 1, "B": 2, "é": 3, "": "empty"}},
    {"nested": {"list": [1, 2.0, "3", None, True, False, [], {}], "empty": ""}},
    {"cost_usd": 0.0, "duration_seconds": 42.94},
]


def build_verified(w: vc.Writer, n: int = 20) -> list[str]:
    hashes = []
    for i in range(n):
        extra = SPECIAL[i] if i < len(SPECIAL) else {}
        hashes.append(w.append(receipt(i, **extra)))
    return hashes


def rewrite_line(path: Path, number: int, new_text: str) -> None:
    """Replace physical line `number` (1-based, \n-split) with new_text."""
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = new_text.encode("utf-8")
    path.write_bytes(b"\n".join(lines))


def read_line(path: Path, number: int) -> dict:
    return json.loads(path.read_bytes().split(b"\n")[number - 1])


# --------------------------------------------------------------------------
# Scenarios: name -> (builder, expected status, note)
# --------------------------------------------------------------------------

SCENARIOS: dict = {}


def scenario(name: str, status: str, note: str | None = None):
    def deco(fn):
        SCENARIOS[name] = (fn, status, note)
        return fn
    return deco


@scenario("empty.ndjson", "unchained", "0-byte ledger")
def _empty(p: Path) -> None:
    vc.Writer(p).create()


@scenario("unchained.ndjson", "unchained", "legacy receipts, VNX_CHAIN_RECEIPTS off")
def _unchained(p: Path) -> None:
    w = vc.Writer(p, chain=False).create()
    for i in range(6):
        w.append(receipt(i, **({"note": "café ✓"} if i == 2 else {})))


@scenario("verified.ndjson", "verified",
          "20 receipts chained from GENESIS (append_chained_entry format)")
def _verified(p: Path) -> None:
    build_verified(vc.Writer(p).create())


@scenario("python-compact.ndjson", "verified",
          "hot-path format: separators (',',':'), sort_keys=False, prev_hash last")
def _compact(p: Path) -> None:
    w = vc.Writer(p, compact=True).create()
    build_verified(w, 14)


@scenario("segmented.ndjson", "verified-segmented",
          "unchained prefix, seal -> epoch 1 chain, marker epoch 2 chain")
def _segmented(p: Path) -> None:
    w = vc.Writer(p, chain=False).create()
    for i in range(3):
        w.append(receipt(i))
    res = w.seal("2026-08-20T00:00:00+00:00")
    assert res["action"] == "sealed" and res["epoch"] == 1, res
    assert res["marker_hash"] == "b4bed10a661be0493699c920996c4a1223484f17f3d6211cd0090a1d6a5f41c5"
    first = {"schema_version": 2, "event_type": "task_complete", "dispatch_id": "D-1a2b3c4d",
             "status": "done", "model": "sonnet", "duration_seconds": 42.94,
             "timestamp": "2026-08-20T10:00:00Z", "note": "café ✓"}
    h = w.append(first, chain=True)
    assert h == "ff2bc2e237cc12bfd370466f4cc13434004264c2181656b357dbe51339f16e70", h
    for i in range(3, 7):
        w.append(receipt(i), chain=True)
    again = w.seal("2026-08-21T00:00:00+00:00")
    assert again["action"] == "noop", again  # VNX seal is idempotent while chaining
    # A second epoch is opened by appending a marker directly (as VNX's
    # chain_origin_anchor does); chain_epoch_seal alone would not.
    w.marker(2, "2026-08-21T00:00:00.123456+00:00")
    for i in range(7, 11):
        w.append(receipt(i, **SPECIAL[i % len(SPECIAL)]), chain=True)


@scenario("marker-after-genesis-chain.ndjson", "verified-segmented",
          "chain from GENESIS (no prefix), then a marker starts epoch 1 mid-file")
def _marker_mid(p: Path) -> None:
    w = vc.Writer(p).create()
    for i in range(3):
        w.append(receipt(i))
    w.marker(1, "2026-08-20T12:00:00+00:00")
    for i in range(3, 6):
        w.append(receipt(i))


@scenario("nan.ndjson", "verified",
          "chained; one entry holds NaN / Infinity / -Infinity as Python writes them")
def _nan(p: Path) -> None:
    w = vc.Writer(p).create()
    w.append(receipt(0))
    w.append(receipt(1, score=float("nan"), ceiling=float("inf"), floor=float("-inf"),
                     samples=[1.0, float("nan")]))
    w.append(receipt(2))


@scenario("dup-keys.ndjson", "verified",
          "raw lines with duplicated keys (incl. prev_hash); last value wins as in Python")
def _dup(p: Path) -> None:
    w = vc.Writer(p).create()
    w.append(receipt(0))
    prev = vc.read_last_hash(p)
    w.raw('{"a": 1, "a": 2, "schema_version": 2, "event_type": "task_complete", '
          '"dispatch_id": "D-0000dup1", "status": "failed", "status": "done", '
          f'"prev_hash": "{G}", "prev_hash": "{prev}"}}\n')
    prev = vc.read_last_hash(p)
    w.raw('{"obj": {"x": 1, "x": {"deep": true}}, "obj": "scalar wins", '
          f'"event_type": "task_started", "prev_hash": "{prev}"}}\n')
    w.append(receipt(3))


@scenario("lone-surrogate.ndjson", "verified",
          "strings and keys with lone UTF-16 surrogates (\\ud800, \\udfff) and key order traps")
def _surrogate(p: Path) -> None:
    w = vc.Writer(p).create()
    w.append(receipt(0))
    w.append(receipt(1, note="lone high \ud800 here", tail="low \udc00"))
    w.append({"event_type": "key_order", "\uffff": 1, "😀": 2, "\ud800": 3, "\udfff": 4,
              "\ue000": 5})
    prev = vc.read_last_hash(p)
    # The same astral char written as a raw escaped pair and as UTF-8.
    w.raw('{"event_type": "pair", "a": "\\ud83d\\ude00", "b": "\U0001F600", '
          f'"prev_hash": "{prev}"}}\n')
    w.append(receipt(4))


@scenario("foreign-writer.ndjson", "verified",
          "hand-written lines (not Python's format): raw UTF-8, uppercase escapes, \\/, "
          "1E5, 1e400, -0, 1.50, extra whitespace; hashes use Python's re-serialization")
def _foreign(p: Path) -> None:
    w = vc.Writer(p).create()
    w.append(receipt(0))
    bodies = [
        '{"note":"café ✓ 😀","esc":"\\u00E9\\u2713\\/","prev_hash":"%s"}',
        '{ "n1" : 1E5 , "n2" : 1e400 , "n3" : -0 , "n4" : 1.50 , "n5" : 0e0 , '
        '"n6" : -1e-400 , "n7" : 100000000000000000000000 , "prev_hash" : "%s" }',
        '{"prev_hash":"%s","z":[ ],"y":{ },"x":1.0e+2,"w":-0.0e0,"v":12345678901234567890.0}',
        '\t{"padded": "leading tab, trailing spaces", "prev_hash": "%s"}   ',
    ]
    for body in bodies:
        prev = vc.read_last_hash(p)
        w.raw(body % prev + "\n")
    w.append(receipt(1))


@scenario("crlf-blank-lines.ndjson", "verified",
          "CRLF line endings, blank and whitespace-only lines between entries")
def _crlf(p: Path) -> None:
    w = vc.Writer(p).create()
    prev = G
    for i in range(4):
        rec = receipt(i)
        rec["prev_hash"] = prev
        w.raw(json.dumps(rec) + "\r\n" + ("\r\n  \t \r\n" if i == 1 else ""))
        prev = vc.compute_entry_hash(rec)
    w.raw("\r\n")


@scenario("bare-cr.ndjson", "verified",
          "two chained records on one \\n-line separated by a bare \\r: Python text mode "
          "(and VNX) split on \\r, so VNX sees 3 lines; a \\n-only splitter sees 2")
def _bare_cr(p: Path) -> None:
    w = vc.Writer(p).create()
    a = receipt(0)
    a["prev_hash"] = G
    b = receipt(1)
    b["prev_hash"] = vc.compute_entry_hash(a)
    w.raw(json.dumps(a) + "\r" + json.dumps(b) + "\n")
    # VNX's own tail read splits on \n only, sees one unparseable line and
    # would fall back to GENESIS; link explicitly so the file stays valid.
    w.append(receipt(2), prev_hash=vc.compute_entry_hash(b))


@scenario("unicode-whitespace.ndjson", "verified",
          "lines padded with characters Python's str.strip() removes (U+001C, U+0085, "
          "U+00A0, U+3000) but JSON does not allow")
def _uws(p: Path) -> None:
    w = vc.Writer(p).create()
    w.append(receipt(0))
    prev = vc.read_last_hash(p)
    rec = receipt(1)
    rec["prev_hash"] = prev
    w.raw("\u001c\u00a0" + json.dumps(rec) + "\u3000\u0085\n")
    w.append(receipt(2))


@scenario("tail-truncated.ndjson", "verified",
          "VNX weakness: last 3 lines of a chain deleted; still verifies")
def _tail_trunc(p: Path) -> None:
    w = vc.Writer(p).create()
    build_verified(w, 8)
    lines = p.read_bytes().split(b"\n")
    p.write_bytes(b"\n".join(lines[:5]) + b"\n")


@scenario("vnx-weakness-middle-edit-fixed-next.ndjson", "verified",
          "VNX weakness: line 4 body edited AND line 5's prev_hash set to the new hash; "
          "VNX verifies it (prev_hash is outside the hash, nothing pins line 5's own hash)")
def _weak(p: Path) -> None:
    w = vc.Writer(p).create()
    build_verified(w, 8)
    edited = read_line(p, 4)
    edited["status"] = "done" if edited["status"] != "done" else "failed"
    edited["cost_usd"] = 0.0
    rewrite_line(p, 4, json.dumps(edited))
    nxt = read_line(p, 5)
    nxt["prev_hash"] = vc.compute_entry_hash(edited)
    rewrite_line(p, 5, json.dumps(nxt))


@scenario("broken-middle-edit.ndjson", "broken",
          "line 4 body edited, not re-chained: mismatch reported at line 5")
def _middle(p: Path) -> None:
    w = vc.Writer(p).create()
    build_verified(w, 8)
    edited = read_line(p, 4)
    edited["status"] = "done" if edited["status"] != "done" else "failed"
    rewrite_line(p, 4, json.dumps(edited))


@scenario("broken-invalid-json.ndjson", "broken",
          "torn line 3 mid-file (next entry links to line 2) and a torn tail without newline")
def _invalid(p: Path) -> None:
    w = vc.Writer(p).create()
    w.append(receipt(0))
    h2 = w.append(receipt(1))
    w.raw('{"schema_version": 2, "event_type": "task_co\n')
    w.append(receipt(2), prev_hash=h2)
    w.append(receipt(3))
    full = json.dumps({**receipt(4), "prev_hash": vc.read_last_hash(p)})
    w.raw(full[:40])


@scenario("torn-append.ndjson", "broken",
          "VNX writer appends after a torn tail: tail hash falls back to GENESIS and the new "
          "receipt lands on the torn line (one invalid line, receipt lost)")
def _torn_append(p: Path) -> None:
    w = vc.Writer(p).create()
    for i in range(3):
        w.append(receipt(i))
    w.raw('{"event_type":"task_co')
    assert vc.read_last_hash(p) is None
    w.append(receipt(3))


@scenario("broken-marker-not-genesis.ndjson", "broken",
          "unchained prefix, then a chain_epoch_start marker whose prev_hash is not GENESIS")
def _marker_bad(p: Path) -> None:
    w = vc.Writer(p, chain=False).create()
    for i in range(3):
        w.append(receipt(i))
    last = vc.read_last_hash(p)
    w.raw(json.dumps({"type": "chain_epoch_start", "epoch": 1,
                      "epoch_ts": "2026-08-20T00:00:00+00:00", "prev_hash": last}) + "\n")
    for i in range(3, 6):
        w.append(receipt(i), chain=True)


@scenario("broken-unchained-in-epoch.ndjson", "broken",
          "chain from GENESIS, one receipt written with chaining off, then chaining resumes")
def _unchained_in_epoch(p: Path) -> None:
    w = vc.Writer(p).create()
    for i in range(3):
        w.append(receipt(i))
    w.append(receipt(3), chain=False)
    for i in range(4, 6):
        w.append(receipt(i))


@scenario("broken-naive-flip.ndjson", "broken",
          "unchained prefix, then VNX_CHAIN_RECEIPTS flipped on without a seal "
          "(first chained entry links to the prefix's last hash)")
def _naive(p: Path) -> None:
    w = vc.Writer(p, chain=False).create()
    for i in range(3):
        w.append(receipt(i))
    for i in range(3, 6):
        w.append(receipt(i), chain=True)


@scenario("broken-head-truncated.ndjson", "broken",
          "first 2 lines of a GENESIS chain deleted: first entry's prev_hash is not GENESIS "
          "(reported with the naive-flip note)")
def _head_trunc(p: Path) -> None:
    w = vc.Writer(p).create()
    build_verified(w, 6)
    lines = p.read_bytes().split(b"\n")
    p.write_bytes(b"\n".join(lines[2:]))


@scenario("broken-non-object.ndjson", "broken",
          "a '[1,2]' line inside a chain (next entry links to the entry before it). "
          "Real VNX crashes here (AttributeError); the reference reports 1 violation")
def _non_object(p: Path) -> None:
    w = vc.Writer(p).create()
    w.append(receipt(0))
    h = w.append(receipt(1))
    w.raw("[1,2]\n")
    w.append(receipt(2), prev_hash=h)
    w.append(receipt(3))


@scenario("edge-invalid-utf8.ndjson", "broken",
          "a line with invalid UTF-8 bytes. Real VNX crashes (UnicodeDecodeError); "
          "the reference reports 1 violation")
def _bad_utf8(p: Path) -> None:
    w = vc.Writer(p).create()
    w.append(receipt(0))
    h = w.append(receipt(1))
    with p.open("ab") as f:
        f.write(b'{"note": "latin1 caf\xe9", "prev_hash": "' + h.encode() + b'"}\n')
    w.append(receipt(2), prev_hash=h)


@scenario("edge-huge-int.ndjson", "broken",
          "a 4301-digit integer: Python's json.loads raises ValueError (int/str digit "
          "limit). Real VNX crashes; the reference reports 1 violation")
def _huge_int(p: Path) -> None:
    w = vc.Writer(p).create()
    h = w.append(receipt(0))
    w.raw('{"big": 1' + "0" * 4300 + f', "prev_hash": "{h}"}}\n')
    w.append(receipt(1), prev_hash=h)


# --------------------------------------------------------------------------

VECTORS = HERE.parent / "reference" / "vectors" / "python_canonical.jsonl"
PINNED = [
    {"type": "chain_epoch_start", "epoch": 1, "epoch_ts": "2026-08-20T00:00:00+00:00",
     "prev_hash": G},
    {"schema_version": 2, "event_type": "task_complete", "dispatch_id": "D-1a2b3c4d",
     "status": "done", "model": "sonnet", "duration_seconds": 42.94,
     "timestamp": "2026-08-20T10:00:00Z", "note": "caf\u00e9 \u2713",
     "prev_hash": "b4bed10a661be0493699c920996c4a1223484f17f3d6211cd0090a1d6a5f41c5"},
]


def write_entry_vectors() -> None:
    """entry_hash_vectors.jsonl: VNX entry hashes for the shared serializer vectors.

    The shared vectors' "canonical" keeps a top-level prev_hash key; VNX's
    canonical_json drops it.  Here "entry_canonical"/"entry_hash" are what VNX
    hashes (top-level prev_hash removed), so they differ from the shared
    vector's canonical/sha256 exactly when the input has a top-level prev_hash.
    """
    inputs = [json.dumps(obj) for obj in PINNED]
    if VECTORS.exists():
        inputs += [json.loads(line)["input"] for line in VECTORS.read_text("utf-8").splitlines()
                   if line.strip()]
    with (HERE / "entry_hash_vectors.jsonl").open("w", encoding="utf-8") as out:
        for text in inputs:
            obj = json.loads(text)
            out.write(json.dumps({"input": text, "entry_canonical": vc.canonical_json(obj),
                                  "entry_hash": vc.compute_entry_hash(obj)}) + "\n")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.ndjson"):
        old.unlink()
    expected: dict = {}
    hashes: dict = {}
    failures = []
    for name, (build, want, note) in SCENARIOS.items():
        path = OUT / name
        build(path)
        valid, violations, status = vc.verify_chain(path)
        _, _, line_count = vc.read_entries(path)
        expected[name] = {
            "status": status,
            "valid": valid,
            "violation_count": len(violations),
            "violation_lines": [v.get("line_number") for v in violations],
            "head_entry_hash": vc.head_entry_hash(path),
            "line_count": line_count,
            "note": note,
        }
        hashes[name] = [[n, h] for n, h in vc.line_hashes(path)]
        if status != want:
            failures.append(f"{name}: got {status}, want {want}: {violations}")
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    (HERE / "line_hashes.json").write_text(json.dumps(hashes, indent=1) + "\n", encoding="utf-8")
    write_entry_vectors()
    for f in failures:
        print("MISMATCH", f, file=sys.stderr)
    print(f"wrote {len(SCENARIOS)} ledgers to {OUT}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
