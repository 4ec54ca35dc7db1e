#!/usr/bin/env bash
# Install the pinned real coding CLIs (claude, codex, gemini) from the npm registry into a
# cache dir, so the offline tests can run them against tests/support/model_server.py.
#
#   tests/support/install-clis.sh [CACHE_DIR]
#
# CACHE_DIR defaults to ${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}. Idempotent: when the pinned
# versions are already installed (and their native binaries present) it does nothing.
# The last stdout line is the bin dir to put on PATH (CACHE_DIR/node_modules/.bin);
# progress goes to stderr.
#
# Only the npm registry is contacted. claude-code's postinstall (install.cjs) does not
# download anything: it links the native binary from the npm-hosted optional dependency
# @anthropic-ai/claude-code-<platform>; codex ships its binary in the optional dependency
# @openai/codex-<platform> (an alias of @openai/codex@<ver>-<platform>). Both need
# optional dependencies enabled (npm's default) and install scripts enabled.
set -euo pipefail

CLAUDE_VERSION="${VNX_CLAUDE_VERSION:-2.1.197}"
CODEX_VERSION="${VNX_CODEX_VERSION:-0.169.0}"
GEMINI_VERSION="${VNX_GEMINI_VERSION:-0.61.0}"

CACHE_DIR="${1:-${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}}"
BIN_DIR="$CACHE_DIR/node_modules/.bin"

log() { printf 'install-clis: %s\n' "$*" >&2; }

command -v node >/dev/null || { log "node is not on PATH"; exit 2; }
command -v npm >/dev/null || { log "npm is not on PATH"; exit 2; }

installed_version() { # $1 = package name
    local pj="$CACHE_DIR/node_modules/$1/package.json"
    [ -f "$pj" ] || return 0
    node -e 'process.stdout.write(require(process.argv[1]).version || "")' "$pj" 2>/dev/null || true
}

up_to_date() {
    [ "$(installed_version @anthropic-ai/claude-code)" = "$CLAUDE_VERSION" ] || return 1
    [ "$(installed_version @openai/codex)" = "$CODEX_VERSION" ] || return 1
    [ "$(installed_version @google/gemini-cli)" = "$GEMINI_VERSION" ] || return 1
    local b
    for b in claude codex gemini; do [ -x "$BIN_DIR/$b" ] || return 1; done
    # Checked without running the CLIs: even `--version` writes into $HOME (codex creates
    # ~/.codex/tmp, gemini leaves ~/.gemini/projects.json.*.tmp).
    # claude's bin/claude.exe is a small placeholder until the postinstall has copied the
    # native binary (about 245 MB) over it.
    local exe="$CACHE_DIR/node_modules/@anthropic-ai/claude-code/bin/claude.exe"
    [ -f "$exe" ] && [ "$(wc -c <"$exe")" -gt 10000000 ] || return 1
    # codex's launcher needs its platform package's native binary.
    compgen -G "$CACHE_DIR/node_modules/@openai/codex-*/vendor/*/bin/codex" >/dev/null || return 1
    return 0
}

if up_to_date; then
    log "claude $CLAUDE_VERSION, codex $CODEX_VERSION, gemini $GEMINI_VERSION already in $CACHE_DIR"
    printf '%s\n' "$BIN_DIR"
    exit 0
fi

mkdir -p "$CACHE_DIR"
if [ ! -f "$CACHE_DIR/package.json" ]; then
    printf '{\n  "name": "vnx-clis",\n  "private": true,\n  "description": "real coding CLIs for vnx tests (tests/support/install-clis.sh)"\n}\n' \
        >"$CACHE_DIR/package.json"
fi

for spec in "@anthropic-ai/claude-code@$CLAUDE_VERSION" "@openai/codex@$CODEX_VERSION" \
            "@google/gemini-cli@$GEMINI_VERSION"; do
    if [ -z "$(npm view "$spec" version 2>/dev/null)" ]; then
        log "$spec is not in the npm registry (npm view found nothing)"
        exit 1
    fi
done

log "installing into $CACHE_DIR (about 750 MB) ..."
start=$(date +%s)
(
    cd "$CACHE_DIR"
    npm install --no-audit --no-fund --save-exact --ignore-scripts=false --include=optional \
        --loglevel=error --no-update-notifier \
        "@anthropic-ai/claude-code@$CLAUDE_VERSION" \
        "@openai/codex@$CODEX_VERSION" \
        "@google/gemini-cli@$GEMINI_VERSION" >&2
)
log "npm install took $(( $(date +%s) - start ))s"

if ! up_to_date; then
    log "installation incomplete: versions or binaries are not as pinned"
    log "  claude: $(installed_version @anthropic-ai/claude-code) codex: $(installed_version @openai/codex) gemini: $(installed_version @google/gemini-cli)"
    exit 1
fi
log "$(du -sh "$CACHE_DIR" 2>/dev/null | cut -f1) in $CACHE_DIR"
printf '%s\n' "$BIN_DIR"
