#!/usr/bin/env bash
# Install playwright-core (npm, pinned; the driver only, no browser download) into a cache dir,
# for the browser tests (tests/it/browser.rs, tests/support/browser.mjs), which drive Debian's
# Chromium (/usr/bin/chromium) headless.
#
#   tests/support/install-playwright.sh [CACHE_DIR]
#
# CACHE_DIR defaults to ${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}; the package is installed in
# CACHE_DIR/playwright. Idempotent: when the pinned version is there it does nothing. Only
# the npm registry is contacted. The last stdout line is the package's directory.
set -euo pipefail

VERSION="${VNX_PLAYWRIGHT_VERSION:-1.64.1}"
CACHE_DIR="${1:-${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}}"
DIR="$CACHE_DIR/playwright"
PKG="$DIR/node_modules/playwright-core"

log() { printf 'install-playwright: %s\n' "$*" >&2; }

installed() {
    [ -f "$PKG/package.json" ] && node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' "$PKG/package.json" "$VERSION" 2>/dev/null
}

if ! installed; then
    command -v npm >/dev/null || { log "npm is not on PATH"; exit 2; }
    log "installing playwright-core@$VERSION into $DIR"
    mkdir -p "$DIR"
    (cd "$DIR" && [ -f package.json ] || echo '{"private": true}' > package.json)
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$DIR" --no-audit --no-fund --silent \
        "playwright-core@$VERSION" >&2
fi
installed || { log "playwright-core@$VERSION is not installed in $DIR"; exit 1; }
echo "$PKG"
