#!/usr/bin/env bash
# Install `kubernetes-validate` (PyPI, pinned; it bundles the published Kubernetes schemas)
# into a virtualenv in a cache dir, for tests/it/kubernetes_place.rs: every manifest vnx
# makes for a kubernetes host is validated against the real schemas, as no cluster runs here.
#
#   tests/support/install-kube-validate.sh [CACHE_DIR]
#
# CACHE_DIR defaults to ${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}; the virtualenv is
# CACHE_DIR/kube-validate. Idempotent. Only PyPI is contacted. The last stdout line is the
# program's path; progress goes to stderr.
set -euo pipefail

VERSION="${VNX_KUBE_VALIDATE_VERSION:-1.37.0}"
CACHE_DIR="${1:-${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}}"
VENV="$CACHE_DIR/kube-validate"
PY="$VENV/bin/python"

log() { printf 'install-kube-validate: %s\n' "$*" >&2; }

installed() {
    [ -x "$PY" ] && "$PY" -c 'import importlib.metadata as m, sys; sys.exit(m.version("kubernetes-validate") != sys.argv[1])' "$VERSION" 2>/dev/null
}

if ! installed; then
    command -v python3 >/dev/null || { log "python3 is not on PATH"; exit 2; }
    log "installing kubernetes-validate==$VERSION into $VENV"
    mkdir -p "$CACHE_DIR"
    python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --disable-pip-version-check "kubernetes-validate==$VERSION" >&2
    installed || { log "kubernetes-validate $VERSION did not install"; exit 1; }
fi
echo "$VENV/bin/kubernetes-validate"
