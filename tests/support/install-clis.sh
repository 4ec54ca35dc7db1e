#!/usr/bin/env bash
# Install the pinned real coding CLIs into a cache dir, so the offline tests can run them
# against tests/support/model_server.py:
#   from the npm registry: claude, codex, gemini, opencode, qwen, copilot;
#   from PyPI, into a virtualenv: aider.
#
#   tests/support/install-clis.sh [CACHE_DIR]
#
# CACHE_DIR defaults to ${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}. Idempotent: when the pinned
# versions are already installed (and their native binaries present) it does nothing.
# The last stdout line is the bin dir to put on PATH (CACHE_DIR/node_modules/.bin; aider is
# linked into it from CACHE_DIR/aider-venv); progress goes to stderr.
#
# Only the npm registry and PyPI are contacted. claude-code's postinstall (install.cjs) does
# not download anything: it links the native binary from the npm-hosted optional dependency
# @anthropic-ai/claude-code-<platform>; codex ships its binary in the optional dependency
# @openai/codex-<platform> (an alias of @openai/codex@<ver>-<platform>); opencode-ai's
# binary is in an optional dependency opencode-linux-x64* (its postinstall links it);
# copilot's native binary is in the optional dependency @github/copilot-<platform>. All need optional dependencies
# enabled (npm's default) and install scripts enabled.
#
# qwen: npm's `latest` (0.24.x) requires node >= 22; 0.15.10 is the newest that runs on
# node 20. Set VNX_SKIP_AIDER=1 to skip the aider virtualenv (about 690 MB).
set -euo pipefail

CLAUDE_VERSION="${VNX_CLAUDE_VERSION:-2.1.197}"
CODEX_VERSION="${VNX_CODEX_VERSION:-0.169.0}"
GEMINI_VERSION="${VNX_GEMINI_VERSION:-0.61.0}"
OPENCODE_VERSION="${VNX_OPENCODE_VERSION:-1.18.33}"
QWEN_VERSION="${VNX_QWEN_VERSION:-0.15.10}"
COPILOT_VERSION="${VNX_COPILOT_VERSION:-1.0.102}"
AIDER_VERSION="${VNX_AIDER_VERSION:-0.86.2}"

CACHE_DIR="${1:-${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}}"
BIN_DIR="$CACHE_DIR/node_modules/.bin"
AIDER_VENV="$CACHE_DIR/aider-venv"
SKIP_AIDER="${VNX_SKIP_AIDER:-}"

log() { printf 'install-clis: %s\n' "$*" >&2; }

command -v node >/dev/null || { log "node is not on PATH"; exit 2; }
command -v npm >/dev/null || { log "npm is not on PATH"; exit 2; }

# package@version, in the order npm installs them
NPM_SPECS=(
    "@anthropic-ai/claude-code@$CLAUDE_VERSION"
    "@openai/codex@$CODEX_VERSION"
    "@google/gemini-cli@$GEMINI_VERSION"
    "opencode-ai@$OPENCODE_VERSION"
    "@qwen-code/qwen-code@$QWEN_VERSION"
    "@github/copilot@$COPILOT_VERSION"
)
NPM_BINS=(claude codex gemini opencode qwen copilot)

installed_version() { # $1 = package name
    local pj="$CACHE_DIR/node_modules/$1/package.json"
    [ -f "$pj" ] || return 0
    node -e 'process.stdout.write(require(process.argv[1]).version || "")' "$pj" 2>/dev/null || true
}

npm_up_to_date() {
    local spec
    for spec in "${NPM_SPECS[@]}"; do
        [ "$(installed_version "${spec%@*}")" = "${spec##*@}" ] || return 1
    done
    local b
    for b in "${NPM_BINS[@]}"; do [ -x "$BIN_DIR/$b" ] || return 1; done
    # Checked without running the CLIs: even `--version` writes into $HOME (codex creates
    # ~/.codex/tmp, gemini leaves ~/.gemini/projects.json.*.tmp).
    # claude's bin/claude.exe is a small placeholder until the postinstall has copied the
    # native binary (about 245 MB) over it.
    local exe="$CACHE_DIR/node_modules/@anthropic-ai/claude-code/bin/claude.exe"
    [ -f "$exe" ] && [ "$(wc -c <"$exe")" -gt 10000000 ] || return 1
    # codex's launcher needs its platform package's native binary.
    compgen -G "$CACHE_DIR/node_modules/@openai/codex-*/vendor/*/bin/codex" >/dev/null || return 1
    # opencode's postinstall links the bun-compiled binary (about 185 MB) of its platform
    # package to bin/opencode.exe.
    exe="$CACHE_DIR/node_modules/opencode-ai/bin/opencode.exe"
    [ -f "$exe" ] && [ "$(wc -c <"$exe")" -gt 10000000 ] || return 1
    # copilot's loader runs the native binary of @github/copilot-<platform> when present.
    compgen -G "$CACHE_DIR/node_modules/@github/copilot-linux-*/copilot" >/dev/null || return 1
    return 0
}

aider_up_to_date() {
    [ -n "$SKIP_AIDER" ] && return 0
    [ -x "$AIDER_VENV/bin/aider" ] && [ -x "$BIN_DIR/aider" ] || return 1
    [ "$(cat "$AIDER_VENV/.vnx-version" 2>/dev/null)" = "$AIDER_VERSION" ]
}

summary() {
    echo "claude $CLAUDE_VERSION, codex $CODEX_VERSION, gemini $GEMINI_VERSION, opencode $OPENCODE_VERSION, qwen $QWEN_VERSION, copilot $COPILOT_VERSION$([ -n "$SKIP_AIDER" ] || echo ", aider $AIDER_VERSION")"
}

link_aider() { # npm may prune foreign entries of .bin: link again after every npm install
    [ -n "$SKIP_AIDER" ] && return 0
    [ -x "$AIDER_VENV/bin/aider" ] || return 0
    mkdir -p "$BIN_DIR"
    ln -sfn "../../aider-venv/bin/aider" "$BIN_DIR/aider"
}

if npm_up_to_date && aider_up_to_date; then
    log "$(summary) already in $CACHE_DIR"
    printf '%s\n' "$BIN_DIR"
    exit 0
fi

mkdir -p "$CACHE_DIR"
if ! npm_up_to_date; then
    if [ ! -f "$CACHE_DIR/package.json" ]; then
        printf '{\n  "name": "vnx-clis",\n  "private": true,\n  "description": "real coding CLIs for vnx tests (tests/support/install-clis.sh)"\n}\n' \
            >"$CACHE_DIR/package.json"
    fi
    for spec in "${NPM_SPECS[@]}"; do
        if [ -z "$(npm view "$spec" version 2>/dev/null)" ]; then
            log "$spec is not in the npm registry (npm view found nothing)"
            exit 1
        fi
    done
    log "npm: installing into $CACHE_DIR (about 1.1 GB) ..."
    start=$(date +%s)
    (
        cd "$CACHE_DIR"
        npm install --no-audit --no-fund --save-exact --ignore-scripts=false --include=optional \
            --loglevel=error --no-update-notifier "${NPM_SPECS[@]}" >&2
    )
    log "npm install took $(( $(date +%s) - start ))s"
fi

if ! aider_up_to_date; then
    command -v python3 >/dev/null || { log "python3 is not on PATH (needed for aider)"; exit 2; }
    log "PyPI: installing aider-chat $AIDER_VERSION into $AIDER_VENV (about 690 MB) ..."
    start=$(date +%s)
    rm -rf "$AIDER_VENV"
    python3 -m venv "$AIDER_VENV" >&2
    "$AIDER_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input "aider-chat==$AIDER_VERSION" >&2
    printf '%s\n' "$AIDER_VERSION" >"$AIDER_VENV/.vnx-version"
    log "pip install took $(( $(date +%s) - start ))s"
fi
link_aider

if ! npm_up_to_date || ! aider_up_to_date; then
    log "installation incomplete: versions or binaries are not as pinned"
    for spec in "${NPM_SPECS[@]}"; do
        log "  ${spec%@*}: want ${spec##*@}, have '$(installed_version "${spec%@*}")'"
    done
    log "  aider: want $AIDER_VERSION, have '$(cat "$AIDER_VENV/.vnx-version" 2>/dev/null)'"
    exit 1
fi
log "$(summary): $(du -sh "$CACHE_DIR" 2>/dev/null | cut -f1) in $CACHE_DIR"
printf '%s\n' "$BIN_DIR"
