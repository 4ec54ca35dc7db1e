#!/usr/bin/env bash
# A no-op dispatch in a container against its floor (docs/benchmarks.md, issue 52): N
# interleaved rounds of `ENGINE run --rm IMAGE true`, the git work a dispatch moves (the base
# packed here and indexed in a new clone), a no-op container dispatch on host `box` and the
# same dispatch here, each in milliseconds; then the medians and the ratio. Run it in a
# repository whose .vnx/config.yaml declares `hosts: {box: {container: {image: IMAGE}}}`.
# Environment: N (15), IMAGE (localhost/vnx-worker:rel), VNX (vnx), ENGINE (podman).
set -euo pipefail
N=${N:-15} IMAGE=${IMAGE:-localhost/vnx-worker:rel} VNX=${VNX:-vnx} ENGINE=${ENGINE:-podman}
ms() { local s; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; echo $(( ($(date +%s%N) - s) / 1000000 )); }
git_work() {
  local d; d=$(mktemp -d)
  git init -q "$d"
  git rev-parse HEAD | git pack-objects --stdout --revs -q | git -C "$d" index-pack --stdin >/dev/null
  rm -rf "$d"
}
dispatch() { "$VNX" dispatch-agent "$@" --agent implementer --provider demo --model noop --instruction x --json; }
out=$(mktemp)
for _ in $(seq 1 "$N"); do
  echo "$(ms "$ENGINE" run --rm --network=none "$IMAGE" true) $(ms git_work) $(ms dispatch --host box) $(ms dispatch)" >> "$out"
done
python3 - "$out" <<'PY'
import statistics as st, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
cols = list(zip(*rows))
ratios = sorted(c / (f + g) for f, g, c, _ in rows)
print("floor %d ms, git work %d ms, container dispatch %d ms, local dispatch %d ms (medians)"
      % tuple(st.median(c) for c in cols))
print("container dispatch / (floor + git work): median %.2fx, %.2f-%.2fx" % (st.median(ratios), ratios[0], ratios[-1]))
print("added over a local dispatch: %d ms (median)" % st.median(c - l for _, _, c, l in rows))
PY
rm -f "$out"
