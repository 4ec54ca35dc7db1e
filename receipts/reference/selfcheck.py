#!/usr/bin/env python3
"""Self-check of the VNX reference model.

    python3 receipts/reference/selfcheck.py [VECTORS.jsonl] [--golden DIR]

1. Pinned vectors from VNX's own module (vnx.md §2.6): the epoch-1 marker and
   the task_complete entry chained after it.
2. Every line of the serializer vectors (default: vectors/python_canonical.jsonl
   next to this file, a copy of the shared vectors).  Each line gives `input`
   (Python default json.dumps), `canonical` (json.dumps sort_keys, compact) and
   `sha256` of canonical.  Checked: json.dumps(parse(input)) == input;
   sorted compact dump == canonical; sha256 matches; canonical_json(entry) ==
   canonical when the input has no top-level prev_hash, and == canonical with
   the top-level prev_hash member removed when it has one (VNX drops only the
   top-level key; nested prev_hash keys are hashed).
3. Golden ledgers (default: ../golden): verify_chain, head hash, line count and
   per-line hashes agree with expected.json / line_hashes.json, and the CLI's
   exit code and JSON output agree too.

Exits 0 when everything passes, 1 otherwise.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(HERE))

import vnx_chain as vc  # noqa: E402

MARKER_HASH = "b4bed10a661be0493699c920996c4a1223484f17f3d6211cd0090a1d6a5f41c5"
ENTRY_HASH = "ff2bc2e237cc12bfd370466f4cc13434004264c2181656b357dbe51339f16e70"

failures: list[str] = []


def check(cond: bool, what: str) -> None:
    if not cond:
        failures.append(what)


def pinned() -> None:
    marker = {"type": "chain_epoch_start", "epoch": 1,
              "epoch_ts": "2026-08-20T00:00:00+00:00", "prev_hash": "0" * 64}
    check(vc.canonical_json(marker)
          == '{"epoch":1,"epoch_ts":"2026-08-20T00:00:00+00:00","type":"chain_epoch_start"}',
          "marker canonical form")
    check(vc.compute_entry_hash(marker) == MARKER_HASH, "marker entry hash")
    entry = {"schema_version": 2, "event_type": "task_complete", "dispatch_id": "D-1a2b3c4d",
             "status": "done", "model": "sonnet", "duration_seconds": 42.94,
             "timestamp": "2026-08-20T10:00:00Z", "note": "café ✓",
             "prev_hash": vc.compute_entry_hash(marker)}
    check(vc.canonical_json(entry)
          == '{"dispatch_id":"D-1a2b3c4d","duration_seconds":42.94,"event_type":"task_complete",'
             '"model":"sonnet","note":"caf\\u00e9 \\u2713","schema_version":2,"status":"done",'
             '"timestamp":"2026-08-20T10:00:00Z"}', "entry canonical form")
    check(vc.compute_entry_hash(entry) == ENTRY_HASH, "entry hash")
    # Also through a file, as VNX would see it, and the genesis constant.
    check(vc.GENESIS_HASH == "0" * 64, "GENESIS")


def vectors(path: Path) -> int:
    count = 0
    with_prev = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        case = json.loads(line)
        count += 1
        entry = json.loads(case["input"])
        where = f"{path.name}:{number}"
        check(json.dumps(entry) == case["input"], f"{where} input round-trip")
        check(json.dumps(entry, sort_keys=True, separators=(",", ":")) == case["canonical"],
              f"{where} serializer")
        check(hashlib.sha256(case["canonical"].encode("utf-8")).hexdigest() == case["sha256"],
              f"{where} sha256 of canonical")
        if "prev_hash" in entry:
            with_prev += 1
            body = json.loads(case["canonical"])
            del body["prev_hash"]
            want = json.dumps(body, sort_keys=True, separators=(",", ":"))
            check(vc.canonical_json(entry) == want, f"{where} canonical_json (prev_hash dropped)")
            check(vc.compute_entry_hash(entry)
                  == hashlib.sha256(want.encode("utf-8")).hexdigest(), f"{where} entry hash")
        else:
            check(vc.canonical_json(entry) == case["canonical"], f"{where} canonical_json")
            check(vc.compute_entry_hash(entry) == case["sha256"], f"{where} entry hash")
    print(f"vectors: {count} cases checked ({with_prev} with a top-level prev_hash, "
          f"whose VNX entry hash is NOT the vector's sha256)")
    return count


def golden(directory: Path) -> int:
    expected = json.loads((directory / "expected.json").read_text(encoding="utf-8"))
    hashes = json.loads((directory / "line_hashes.json").read_text(encoding="utf-8"))
    ledgers = directory / "vnx-python"
    on_disk = {p.name for p in ledgers.glob("*.ndjson")}
    check(on_disk == set(expected), f"golden files vs expected.json: {sorted(on_disk ^ set(expected))}")
    cli = HERE / "vnx_chain.py"
    for name, want in sorted(expected.items()):
        path = ledgers / name
        valid, violations, status = vc.verify_chain(path)
        _, _, line_count = vc.read_entries(path)
        got = {
            "status": status, "valid": valid, "violation_count": len(violations),
            "violation_lines": [v.get("line_number") for v in violations],
            "head_entry_hash": vc.head_entry_hash(path), "line_count": line_count,
        }
        for key, value in got.items():
            check(want.get(key) == value, f"{name}: {key} = {value!r}, expected {want.get(key)!r}")
        check([[n, h] for n, h in vc.line_hashes(path)] == hashes.get(name),
              f"{name}: per-line hashes")
        proc = subprocess.run([sys.executable, str(cli), "verify", str(path)],
                              capture_output=True, text=True)
        out = json.loads(proc.stdout)
        check(proc.returncode == (0 if want["valid"] else 1), f"{name}: CLI exit {proc.returncode}")
        check(out["status"] == want["status"] and out["valid"] == want["valid"]
              and len(out["violations"]) == want["violation_count"]
              and out["head_entry_hash"] == want["head_entry_hash"], f"{name}: CLI verify output")
        proc = subprocess.run([sys.executable, str(cli), "hashes", str(path)],
                              capture_output=True, text=True)
        rows = [[int(a), None if b == "-" else b]
                for a, b in (ln.split("\t") for ln in proc.stdout.splitlines())]
        check(proc.returncode == 0 and rows == hashes.get(name), f"{name}: CLI hashes output")
        print(f"golden: {name:45} {status:19} violations={len(violations)}")
    return len(expected)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vectors", nargs="?", default=str(HERE / "vectors" / "python_canonical.jsonl"))
    ap.add_argument("--golden", default=str(HERE.parent / "golden"))
    args = ap.parse_args()
    pinned()
    vectors(Path(args.vectors))
    golden_dir = Path(args.golden)
    if (golden_dir / "expected.json").exists():
        golden(golden_dir)
    else:
        print(f"golden: {golden_dir}/expected.json not found, skipped")
    if failures:
        for f in failures:
            print("FAIL", f)
        print(f"{len(failures)} failure(s)")
        return 1
    print("selfcheck: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
