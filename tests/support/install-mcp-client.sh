#!/usr/bin/env bash
# Install the official Python MCP SDK (`mcp` from PyPI, pinned) into a virtualenv in a cache
# dir, for tests/support/mcp_client.py: a second MCP client for `vnx mcp` besides rmcp's and
# the real claude.
#
#   tests/support/install-mcp-client.sh [CACHE_DIR]
#
# CACHE_DIR defaults to ${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}; the virtualenv is
# CACHE_DIR/mcp-python. Idempotent: when the pinned version is installed it does nothing.
# Only PyPI is contacted. The last stdout line is the virtualenv's python; progress goes to
# stderr.
set -euo pipefail

MCP_VERSION="${VNX_MCP_PY_VERSION:-2.3.0}"
CACHE_DIR="${1:-${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}}"
VENV="$CACHE_DIR/mcp-python"
PY="$VENV/bin/python"

log() { printf 'install-mcp-client: %s\n' "$*" >&2; }

installed() {
    [ -x "$PY" ] && "$PY" -c 'import importlib.metadata as m, sys; sys.exit(m.version("mcp") != sys.argv[1])' "$MCP_VERSION" 2>/dev/null
}

if ! installed; then
    command -v python3 >/dev/null || { log "python3 is not on PATH"; exit 2; }
    log "installing mcp==$MCP_VERSION into $VENV"
    mkdir -p "$CACHE_DIR"
    python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --disable-pip-version-check "mcp==$MCP_VERSION" >&2
    installed || { log "mcp $MCP_VERSION did not install"; exit 1; }
fi
echo "$PY"
