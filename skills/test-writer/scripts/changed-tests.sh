#!/bin/sh
# List test files changed (committed, staged, unstaged or untracked) since the merge-base with a ref.
#
# usage: changed-tests.sh [--all] [BASE_REF]
#   BASE_REF  defaults to the upstream branch, then origin/HEAD, main, master
#   --all     list every changed file, not just tests
# Exit status: 0 on success (even with no output), 2 on usage or git errors.
set -eu

all=0
base=
for arg in "$@"; do
    case $arg in
        --all) all=1 ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "changed-tests.sh: unknown option: $arg" >&2; exit 2 ;;
        *) [ -z "$base" ] || { echo "changed-tests.sh: more than one BASE_REF" >&2; exit 2; }
           base=$arg ;;
    esac
done

git rev-parse --is-inside-work-tree >/dev/null 2>&1 || {
    echo "changed-tests.sh: not inside a git work tree" >&2; exit 2; }

if [ -z "$base" ]; then
    for candidate in '@{upstream}' origin/HEAD main master; do
        if git rev-parse --verify --quiet "$candidate^{commit}" >/dev/null; then
            base=$candidate; break
        fi
    done
    [ -n "$base" ] || { echo "changed-tests.sh: no base ref found; pass one" >&2; exit 2; }
elif ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
    echo "changed-tests.sh: unknown ref '$base'" >&2; exit 2
fi

mb=$(git merge-base "$base" HEAD 2>/dev/null) || {
    echo "changed-tests.sh: no merge-base between '$base' and HEAD" >&2; exit 2; }

cd "$(git rev-parse --show-toplevel)"
{
    git diff --name-only --diff-filter=ACMR "$mb"
    git ls-files --others --exclude-standard
} | sort -u | if [ "$all" -eq 1 ]; then cat; else
    grep -E '(^|/)(tests?|__tests__|spec)/|(^|/)test_[^/]*$|_test\.[^/.]+$|_spec\.[^/.]+$|\.(test|spec)\.[^/.]+$|(^|/)[^/]*Tests?\.[^/.]+$' || true
fi
