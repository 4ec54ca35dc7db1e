#!/usr/bin/env bash
# Install the reference in-toto implementation (`in-toto` and `securesystemslib` from PyPI,
# pinned) into a virtualenv in a cache dir, for tests/support/intoto_verify.py: vnx's
# attestations checked by someone else's code (tests/it/attest.rs).
#
#   tests/support/install-intoto.sh [CACHE_DIR]
#
# CACHE_DIR defaults to ${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}; the virtualenv is
# CACHE_DIR/intoto-python. Idempotent: when the pinned versions are installed it does
# nothing. Only PyPI is contacted. The last stdout line is the virtualenv's python; progress
# goes to stderr.
set -euo pipefail

INTOTO_VERSION="${VNX_INTOTO_VERSION:-3.1.0}"
SSLIB_VERSION="${VNX_SSLIB_VERSION:-1.6.0}"
CACHE_DIR="${1:-${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}}"
VENV="$CACHE_DIR/intoto-python"
PY="$VENV/bin/python"

log() { printf 'install-intoto: %s\n' "$*" >&2; }

installed() {
    [ -x "$PY" ] && "$PY" -c 'import importlib.metadata as m, sys
sys.exit(m.version("in-toto") != sys.argv[1] or m.version("securesystemslib") != sys.argv[2])' \
        "$INTOTO_VERSION" "$SSLIB_VERSION" 2>/dev/null
}

if ! installed; then
    command -v python3 >/dev/null || { log "python3 is not on PATH"; exit 2; }
    log "installing in-toto==$INTOTO_VERSION securesystemslib==$SSLIB_VERSION into $VENV"
    mkdir -p "$CACHE_DIR"
    python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --disable-pip-version-check \
        "in-toto==$INTOTO_VERSION" "securesystemslib==$SSLIB_VERSION" >&2
    installed || { log "in-toto $INTOTO_VERSION did not install"; exit 1; }
fi
echo "$PY"
