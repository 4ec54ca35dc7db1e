#!/usr/bin/env bash
# Prove tests/support/github_api.py with the REAL gh: every pull-request flow issue 39
# needs, and every error case, offline. gh talks to the stand-in over a Unix socket
# (`http_unix_socket`); git pushes land in a bare repository through pushInsteadOf.
#
#   tests/support/verify-gh.sh [--keep] [--quiet]
#
# Works in a fresh mktemp dir and removes it (--keep leaves it and prints its path). Starts
# one server and kills it by pid on exit. An HTTPS_PROXY tripwire (127.0.0.1:9) makes any
# request that would leave the socket fail at once. Prints one PASS/FAIL line per check,
# an ERR line per error case (exit code and exact stderr, JSON-quoted), and a closing
# "N passed, N failed" line; exits 1 if any check failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KEEP=0
QUIET=0
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) KEEP=1; shift ;;
        --quiet) QUIET=1; shift ;;
        *) echo "usage: $0 [--keep] [--quiet]" >&2; exit 2 ;;
    esac
done
command -v gh >/dev/null || { echo "gh is missing (Debian: apt-get install gh)" >&2; exit 1; }

WORK="$(mktemp -d /tmp/vnx-gh.XXXXXX)"
SOCK="$WORK/api.sock"
BARE="$WORK/origin.git"
REPO="$WORK/work"
API="$HERE/github_api.py"
SERVER_PID=""
PASS=0
FAIL=0

cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [ "$KEEP" = 1 ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

pass() { PASS=$((PASS + 1)); echo "PASS $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $1${2:+: $2}"; }
check() { # NAME COMMAND...: PASS when the command succeeds
    local name="$1"; shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# run NAME CMD...: runs CMD, keeps its stdout/stderr/exit in $WORK/out/NAME.{out,err,rc}.
run() {
    local name="$1"; shift
    mkdir -p "$WORK/out"
    "$@" >"$WORK/out/$name.out" 2>"$WORK/out/$name.err" </dev/null
    echo $? >"$WORK/out/$name.rc"
    [ "$QUIET" = 1 ] || [ "$(cat "$WORK/out/$name.rc")" = 0 ] ||
        { echo "  ($name: exit $(cat "$WORK/out/$name.rc"))"; }
}
rc() { cat "$WORK/out/$1.rc"; }
out() { cat "$WORK/out/$1.out"; }
err() { cat "$WORK/out/$1.err"; }
# expect_rc NAME CODE LABEL: PASS when run NAME exited with CODE.
expect_rc() {
    if [ "$(rc "$1")" = "$2" ]; then pass "$3 (exit $2)"
    else fail "$3" "exit $(rc "$1"), want $2; stderr: $(head -c 400 "$WORK/out/$1.err")"; fi
}
# record NAME: one ERR line with the exit code and the exact stderr (JSON-quoted).
record() {
    python3 - "$1" "$(rc "$1")" "$WORK/out/$1.err" <<'EOF'
import json, sys
print(f"ERR {sys.argv[1]}: exit={sys.argv[2]} stderr={json.dumps(open(sys.argv[3]).read())}")
EOF
}
# jq-less JSON reads: json_get FILE PYTHON-EXPR (the value is `d`).
json_get() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(v if not isinstance(v,(dict,list,bool)) and v is not None else json.dumps(v))' "$1" "$2"
}
ctl() { python3 "$API" --control "$SOCK" "$@"; }
# counted NAME CMD...: `run`, then one REQ line with the API requests the command made.
counted() {
    local before
    before=$(ctl "requests?limit=0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
    run "$@"
    ctl "requests?since=$before" | python3 -c '
import json, sys
rs = [r for r in json.load(sys.stdin)["requests"] if not r["path"].startswith("/_control/")]
print(f"REQ {sys.argv[1]}: {len(rs)} requests: " + " ".join(
    r.get("operation") or (r["method"] + " " + r["path"]) for r in rs))' "$1"
}
state() { ctl state >"$WORK/state.json" && json_get "$WORK/state.json" "$1"; }
bare_sha() { git -C "$BARE" rev-parse "refs/heads/$1"; }
eq() { [ "$1" = "$2" ] || { echo "  want [$2] got [$1]" >&2; return 1; }; }
contains() { grep -qF -- "$2" <<<"$1" || { echo "  [$2] not in: $(head -c 300 <<<"$1")" >&2; return 1; }; }

# ---- the forge, gh's environment, the work repository -------------------------------

git init -q --bare -b main "$BARE"
export HOME="$WORK/home" GH_CONFIG_DIR="$WORK/gh-config"
mkdir -p "$HOME" "$GH_CONFIG_DIR"
printf 'http_unix_socket: %s\n' "$SOCK" >"$GH_CONFIG_DIR/config.yml"
export GH_TOKEN=vnx-test-token GH_HOST=github.com GH_NO_UPDATE_NOTIFIER=1 \
    GH_PROMPT_DISABLED=1 NO_COLOR=1 GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 \
    HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
    https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9
unset GH_REPO GH_ENTERPRISE_TOKEN GITHUB_TOKEN GH_DEBUG 2>/dev/null
git config --global user.name "Dev" && git config --global user.email dev@example.com
git config --global init.defaultBranch main && git config --global pull.ff only

git init -q "$REPO"
cd "$REPO" || exit 1
echo "one" >a.txt && git add a.txt && git commit -qm "initial"
git remote add origin https://github.com/o/r.git
git config "url.$BARE.pushInsteadOf" https://github.com/o/r.git
git push -q origin main 2>/dev/null || { echo "seed push failed" >&2; exit 1; }

python3 "$API" --socket "$SOCK" --repo o/r --bare "$BARE" --log "$WORK/api.log" --token vnx-test-token \
    >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q '^SOCKET=' "$WORK/server.out" 2>/dev/null && break; sleep 0.05; done
grep -q '^SOCKET=' "$WORK/server.out" || { echo "server did not start: $(cat "$WORK/server.err")" >&2; exit 1; }
echo "gh: $(gh --version | head -n1)"

branch() { # NAME FILE: a branch off main with one commit, pushed
    git checkout -q main && git checkout -qb "$1" && echo "$1" >"$2" && git add "$2" &&
        git commit -qm "$1: add $2" && git push -q -u origin "$1" 2>/dev/null
}

# ---- auth and repository ------------------------------------------------------------

run auth_in gh auth status
expect_rc auth_in 0 "gh auth status, GH_TOKEN set"
check "auth status names the token and the viewer" contains "$(err auth_in)" "vnx-user"
record auth_in
run auth_out env -u GH_TOKEN -u GH_HOST gh auth status
expect_rc auth_out 1 "gh auth status, logged out (no token, no GH_HOST)"
record auth_out
run pr_list_out env -u GH_TOKEN -u GH_HOST gh pr list
expect_rc pr_list_out 4 "gh pr list, logged out (no token, no GH_HOST)"
record pr_list_out
# With GH_HOST set, gh 2.23 counts that host as logged in even with no token anywhere: it
# sends requests without Authorization and the API answers 401.
run auth_out_host env -u GH_TOKEN gh auth status
expect_rc auth_out_host 1 "gh auth status, no token but GH_HOST set (401)"
record auth_out_host
run pr_list_out_host env -u GH_TOKEN gh pr list
expect_rc pr_list_out_host 1 "gh pr list, no token but GH_HOST set (401)"
record pr_list_out_host
run auth_bad env GH_TOKEN=wrong gh auth status
expect_rc auth_bad 1 "gh auth status, a token the API refuses (401 Bad credentials)"
record auth_bad

run repo_view gh repo view --json nameWithOwner,url,defaultBranchRef,viewerPermission
expect_rc repo_view 0 "gh repo view --json"
check "repo view resolves o/r from the origin remote" \
    eq "$(json_get "$WORK/out/repo_view.out" 'd["nameWithOwner"]+" "+d["defaultBranchRef"]["name"]')" "o/r main"
run repo_view_plain gh repo view
expect_rc repo_view_plain 0 "gh repo view (no README)"

# ---- open, update, view -------------------------------------------------------------

branch feat f.txt
counted create gh pr create --title "Add f" --body "First body" --base main
expect_rc create 0 "gh pr create --base main"
check "pr create prints the PR URL" eq "$(out create)" "https://github.com/o/r/pull/1"
check "the PR head is the pushed commit" eq "$(state 'd["pull_requests"][0]["head_oid"]')" "$(bare_sha feat)"
run create_again gh pr create --title "Again" --body "x"
expect_rc create_again 1 "gh pr create for a branch that has a PR"
record create_again

run view_missing gh pr view 99 --json state
expect_rc view_missing 1 "gh pr view, no such PR number"
record view_missing
run view_nobranch gh pr view main --json state
expect_rc view_nobranch 1 "gh pr view BRANCH, no PR for that branch"
record view_nobranch
git checkout -q -b unpushed && echo u >u.txt && git add u.txt && git commit -qm unpushed
run create_unpushed gh pr create --title "u" --body "u"
expect_rc create_unpushed 1 "gh pr create, branch never pushed (non-interactive)"
record create_unpushed
git checkout -q feat
run edit gh pr edit 1 --title "Add f, take 2" --body "Second body"
expect_rc edit 0 "gh pr edit"
FIELDS=number,url,state,headRefName,headRefOid,baseRefName,isDraft,title,body,reviewDecision,statusCheckRollup,comments,reviews,latestReviews,mergeable,mergeStateStatus,mergedAt,mergedBy,mergeCommit,closed,closedAt,commits
counted view gh pr view 1 --json "$FIELDS"
expect_rc view 0 "gh pr view N --json (22 fields)"
check "pr edit changed title and body" eq "$(json_get "$WORK/out/view.out" 'd["title"]+"|"+d["body"]')" "Add f, take 2|Second body"
check "pr view: OPEN, CLEAN, MERGEABLE, no checks" eq "$(json_get "$WORK/out/view.out" \
    '" ".join([d["state"],d["mergeStateStatus"],d["mergeable"],str(len(d["statusCheckRollup"])),repr(d["reviewDecision"])])')" "OPEN CLEAN MERGEABLE 0 ''"
run view_branch gh pr view feat --json number,headRefOid
check "pr view BRANCH finds the PR by head branch" eq "$(json_get "$WORK/out/view_branch.out" 'd["number"]')" 1
run view_current gh pr view --json number
check "pr view (current branch) finds the PR" eq "$(json_get "$WORK/out/view_current.out" 'd["number"]')" 1
run list_head gh pr list --head feat --state open --json number,headRefName,state
check "pr list --head --state open" eq "$(json_get "$WORK/out/list_head.out" '[p["number"] for p in d]')" "[1]"
run list_merged gh pr list --head feat --state merged --json number
check "pr list --state merged (none yet)" eq "$(out list_merged)" "[]"
run view_all gh pr view 1 --json bogus
record view_all
# The fields gh 2.23 accepts, from its own error message: all of them resolve.
ALL=$(err view_all | tail -n +3 | tr -d ' ' | paste -sd, -)
run view_every gh pr view 1 --json "$ALL"
expect_rc view_every 0 "gh pr view --json with every field gh 2.23 accepts"
check "no field gh asked for is unknown to the stand-in" eq "$(ctl unknown)" "{}"

# ---- checks -------------------------------------------------------------------------

HOSTILE=$(python3 -c 'print("error: boom\x1b[31m red \x07 bell\r\n" + "x"*20000 + "\n$(rm -rf ~) `id`")')
ctl checks "$(python3 -c 'import json,sys; print(json.dumps({"pr":1,"name":"ci","status":"completed","conclusion":"failure","log":sys.argv[1],"title":"tests failed"}))' "$HOSTILE")" >"$WORK/ci.json"
ctl checks '{"pr":1,"name":"lint","kind":"status","state":"success"}' >/dev/null
counted checks_fail gh pr checks 1
expect_rc checks_fail 1 "gh pr checks, a check failing"
check "pr checks lists the failing check by name" contains "$(out checks_fail)" "ci"
run view_rollup gh pr view 1 --json statusCheckRollup,mergeStateStatus
check "statusCheckRollup: CheckRun FAILURE + StatusContext SUCCESS" eq "$(json_get "$WORK/out/view_rollup.out" \
    '" ".join(sorted(c["__typename"]+":"+(c.get("conclusion") or c.get("state")) for c in d["statusCheckRollup"]))')" \
    "CheckRun:FAILURE StatusContext:SUCCESS"
check "mergeStateStatus UNSTABLE while a check fails (no protection)" eq "$(json_get "$WORK/out/view_rollup.out" 'd["mergeStateStatus"]')" UNSTABLE
HEAD1=$(bare_sha feat)
CHECK_ID=$(json_get "$WORK/ci.json" 'd["id"]')
run api_checkruns gh api "repos/o/r/commits/$HEAD1/check-runs"
check "gh api check-runs: the whole log text (20048 chars, \\r\\n and last line kept)" \
    eq "$(json_get "$WORK/out/api_checkruns.out" '(lambda t: [len(t), t.endswith("\n$(rm -rf ~) `id`"), "\r\n" in t])([c["output"]["text"] for c in d["check_runs"] if c["name"]=="ci"][0])')" '[20048, true, true]'
check "gh api rewrites C0 control characters in JSON strings as caret notation (ESC -> ^[)" \
    eq "$(json_get "$WORK/out/api_checkruns.out" '(lambda t: [t[:26], "\x1b" in t, "\x07" in t])([c["output"]["text"] for c in d["check_runs"] if c["name"]=="ci"][0])')" '["error: boom^[[31m red ^G b", false, false]'

run api_joblog gh api "repos/o/r/actions/jobs/$CHECK_ID/logs"
expect_rc api_joblog 0 "gh api actions/jobs/ID/logs (302 to the log, followed)"
check "the job log ends with the log's last line" contains "$(tail -n1 "$WORK/out/api_joblog.out")" '$(rm -rf ~) `id`'
RUN_ID=$(json_get "$WORK/ci.json" 'd["run_id"]')
counted run_log_failed gh run view --job "$CHECK_ID" --log-failed
expect_rc run_log_failed 0 "gh run view --job ID --log-failed"
check "run view --log-failed prints the failed step's log" contains "$(out run_log_failed)" "error: boom"
ctl checks '{"pr":1,"name":"ci","status":"in_progress"}' >/dev/null
run checks_pending gh pr checks 1
expect_rc checks_pending 1 "gh pr checks, a check pending"
ctl checks '{"pr":1,"name":"ci","status":"completed","conclusion":"success"}' >/dev/null
run checks_pass gh pr checks 1
expect_rc checks_pass 0 "gh pr checks, all green"

# ---- reviews and comments -----------------------------------------------------------

ctl review '{"pr":1,"author":"alice","state":"CHANGES_REQUESTED","body":"Please fix\u0000 the \u001b[2Jname","comments":[{"path":"f.txt","line":1,"body":"rename this"},{"path":"a.txt","line":1,"body":"done already","resolved":true}]}' >/dev/null
ctl comment '{"pr":1,"author":"bob","body":"Looks close."}' >/dev/null
run view_review gh pr view 1 --json reviewDecision,reviews,latestReviews,comments
check "reviewDecision CHANGES_REQUESTED" eq "$(json_get "$WORK/out/view_review.out" 'd["reviewDecision"]')" CHANGES_REQUESTED
check "reviews: author, state, body (gh shows control chars as ^@ ^[)" eq "$(json_get "$WORK/out/view_review.out" \
    'd["reviews"][0]["author"]["login"]+" "+d["reviews"][0]["state"]+" "+d["reviews"][0]["body"]')" "alice CHANGES_REQUESTED Please fix^@ the ^[[2Jname"
check "comments: the issue comment" eq "$(json_get "$WORK/out/view_review.out" 'd["comments"][0]["author"]["login"]+": "+d["comments"][0]["body"]')" "bob: Looks close."
counted api_review_comments gh api repos/o/r/pulls/1/comments
check "gh api pulls/N/comments: author, path, line, body" eq "$(json_get "$WORK/out/api_review_comments.out" \
    '"; ".join(c["user"]["login"]+" "+c["path"]+":"+str(c["line"])+" "+c["body"] for c in d)')" "alice f.txt:1 rename this; alice a.txt:1 done already"
run api_threads gh api graphql -F number=1 -f query='query($number:Int!){repository(owner:"o",name:"r"){pullRequest(number:$number){reviewThreads(first:100){nodes{isResolved path line comments(first:50){nodes{author{login} body}}}}}}}'
check "gh api graphql reviewThreads: unresolved vs resolved" eq "$(json_get "$WORK/out/api_threads.out" \
    '" ".join(t["path"]+"="+str(t["isResolved"]) for t in d["data"]["repository"]["pullRequest"]["reviewThreads"]["nodes"])')" "f.txt=False a.txt=True"
run api_issue_comments gh api repos/o/r/issues/1/comments
check "gh api issues/N/comments" eq "$(json_get "$WORK/out/api_issue_comments.out" 'd[0]["body"]')" "Looks close."
run view_comments gh pr view 1 --comments
expect_rc view_comments 0 "gh pr view --comments"
run pr_comment gh pr comment 1 --body "from gh"
expect_rc pr_comment 0 "gh pr comment"
run pr_review gh pr review 1 --comment --body "a note"
expect_rc pr_review 0 "gh pr review --comment"
run view_after gh pr view 1 --json comments,reviews
check "gh's own comment and review read back" eq "$(json_get "$WORK/out/view_after.out" \
    'd["comments"][-1]["body"]+"|"+d["reviews"][-1]["state"]+"|"+d["reviews"][-1]["author"]["login"]')" "from gh|COMMENTED|vnx-user"
run pr_status gh pr status
expect_rc pr_status 0 "gh pr status"

# ---- merge refused while blocked, fix forward, merge --------------------------------

ctl protect '{"branch":"main","required_checks":["ci"],"required_reviews":1}' >/dev/null
ctl checks '{"pr":1,"name":"ci","status":"completed","conclusion":"failure","log":"still failing"}' >/dev/null
git checkout -q main
run view_blocked gh pr view 1 --json mergeStateStatus
check "mergeStateStatus BLOCKED (required check failing, changes requested)" eq "$(json_get "$WORK/out/view_blocked.out" 'd["mergeStateStatus"]')" BLOCKED
run merge_blocked gh pr merge 1 --merge
expect_rc merge_blocked 1 "gh pr merge refused while BLOCKED"
record merge_blocked
check "nothing landed while blocked" eq "$(bare_sha main)" "$(git rev-parse main)"

git checkout -q feat && echo "fixed" >>f.txt && git commit -qam "fix: review" && git push -q 2>/dev/null
HEAD2=$(git rev-parse HEAD)
run view_fix gh pr view 1 --json headRefOid,statusCheckRollup
check "a fix pushed to the branch is the PR's new head" eq "$(json_get "$WORK/out/view_fix.out" 'd["headRefOid"]')" "$HEAD2"
check "checks of the old head are not the new head's" eq "$(json_get "$WORK/out/view_fix.out" 'len(d["statusCheckRollup"])')" 0
run checks_none gh pr checks 1
expect_rc checks_none 1 "gh pr checks, no checks on the head yet"
record checks_none
ctl checks '{"pr":1,"name":"ci","conclusion":"success"}' >/dev/null
ctl review '{"pr":1,"author":"alice","state":"APPROVED","body":"LGTM"}' >/dev/null
run view_ok gh pr view 1 --json reviewDecision,mergeStateStatus
check "after the fix: APPROVED and CLEAN" eq "$(json_get "$WORK/out/view_ok.out" 'd["reviewDecision"]+" "+d["mergeStateStatus"]')" "APPROVED CLEAN"
git checkout -q main
run merge_stale gh pr merge 1 --merge --match-head-commit "$HEAD1"
expect_rc merge_stale 1 "gh pr merge --match-head-commit OLD refused"
record merge_stale
check "nothing landed on a stale head" eq "$(bare_sha main)" "$(git rev-parse main)"
counted merge gh pr merge 1 --merge --match-head-commit "$HEAD2"
expect_rc merge 0 "gh pr merge --merge --match-head-commit HEAD"
MAIN=$(bare_sha main)
check "a real merge commit on main: parents old main and the PR head" eq \
    "$(git -C "$BARE" rev-parse "$MAIN^1" "$MAIN^2" | paste -sd' ')" "$(git rev-parse main) $HEAD2"
run view_merged gh pr view 1 --json state,mergeCommit,mergedBy,mergedAt
check "pr view: MERGED with the merge commit" eq "$(json_get "$WORK/out/view_merged.out" 'd["state"]+" "+d["mergeCommit"]["oid"]')" "MERGED $MAIN"
run merge_again gh pr merge 1 --merge
record merge_again
run list_merged2 gh pr list --head feat --state merged --json number,state
check "pr list --state merged finds it" eq "$(json_get "$WORK/out/list_merged2.out" '[p["number"] for p in d]')" "[1]"
ctl protect '{"branch":"main","off":true}' >/dev/null

git checkout -q main && git pull -q "$BARE" main 2>/dev/null
branch sq s.txt && echo more >>s.txt && git commit -qam "sq: more" && git push -q 2>/dev/null
git checkout -q main
printf -- '--body looks like a flag\n$(id)\n' >"$WORK/body.md"
run create_sq gh pr create --repo o/r --head sq --base main --title "-t Squash me" --body-file "$WORK/body.md"
expect_rc create_sq 0 "gh pr create --repo --head --base --body-file, from another branch"
check "title and body taken as data" eq "$(gh pr view 2 --json title,body -q '.title+"|"+.body')" '-t Squash me|--body looks like a flag
$(id)'
run edit_body gh pr edit 2 --body-file "$WORK/body.md" --title "Squash me"
expect_rc edit_body 0 "gh pr edit --body-file"
run merge_sq gh pr merge 2 --squash
expect_rc merge_sq 0 "gh pr merge --squash"
MAIN=$(bare_sha main)
check "squash: one new commit on main with the branch's tree" eq \
    "$(git -C "$BARE" rev-list --count "$MAIN^@" --no-walk) $(git -C "$BARE" rev-parse "$MAIN^{tree}")" "1 $(git rev-parse "sq^{tree}")"

git pull -q "$BARE" main 2>/dev/null
branch rb r.txt && echo more >>r.txt && git commit -qam "rb: more" && git push -q 2>/dev/null
run create_rb gh pr create --title "Rebase me" --body "b"
BEFORE=$(bare_sha main)
git checkout -q main
run merge_rb gh pr merge 3 --rebase
expect_rc merge_rb 0 "gh pr merge --rebase"
MAIN=$(bare_sha main)
check "rebase: the branch's 2 commits replayed on main, same tree" eq \
    "$(git -C "$BARE" rev-list --count "$BEFORE..$MAIN") $(git -C "$BARE" log -1 --format=%s "$MAIN") $(git -C "$BARE" rev-parse "$MAIN^{tree}")" \
    "2 rb: more $(git rev-parse "rb^{tree}")"

# ---- draft, ready, close; a person merges or closes ---------------------------------

git pull -q "$BARE" main 2>/dev/null
branch dr d.txt
run create_draft gh pr create --draft --title "WIP" --body "salvaged" --base main
expect_rc create_draft 0 "gh pr create --draft"
run view_draft gh pr view 4 --json isDraft,mergeStateStatus
check "isDraft true, mergeStateStatus DRAFT" eq "$(json_get "$WORK/out/view_draft.out" 'str(d["isDraft"])+" "+d["mergeStateStatus"]')" "True DRAFT"
git checkout -q main
run merge_draft gh pr merge 4 --merge
expect_rc merge_draft 1 "gh pr merge refused for a draft"
record merge_draft
run ready gh pr ready 4
expect_rc ready 0 "gh pr ready"
check "ready: isDraft false" eq "$(gh pr view 4 --json isDraft -q .isDraft)" false
run close gh pr close 4
expect_rc close 0 "gh pr close"
check "closed: state CLOSED" eq "$(gh pr view 4 --json state -q .state)" CLOSED
run merge_closed gh pr merge 4 --merge
expect_rc merge_closed 1 "gh pr merge on a closed PR"
record merge_closed
run edit_closed gh pr edit 4 --title "x"
record edit_closed

run reopen gh pr reopen 4
expect_rc reopen 0 "gh pr reopen"
check "reopened: state OPEN" eq "$(gh pr view 4 --json state -q .state)" OPEN
run close_again gh pr close 4
git checkout -q main && git pull -q "$BARE" main 2>/dev/null
branch del x.txt
run create_del gh pr create --title "Delete after" --body "b"
git checkout -q main
DEL=$(basename "$(out create_del)")
run merge_del gh pr merge "$DEL" --squash --delete-branch
expect_rc merge_del 0 "gh pr merge --squash --delete-branch (from another branch)"
record merge_del
check "--delete-branch deleted the remote and the local branch" eq \
    "$(git -C "$BARE" rev-parse -q --verify refs/heads/del; git rev-parse -q --verify refs/heads/del)" ""
git pull -q "$BARE" main 2>/dev/null
branch pm p.txt
run create_pm gh pr create --title "Person merges" --body "b"
PM=$(basename "$(out create_pm)")
ctl merge "{\"pr\":$PM,\"author\":\"maintainer\",\"method\":\"squash\"}" >/dev/null
run view_pm gh pr view "$PM" --json state,mergedBy,mergeCommit
check "a PR merged by a person: MERGED, mergedBy maintainer" eq "$(json_get "$WORK/out/view_pm.out" 'd["state"]+" "+d["mergedBy"]["login"]')" "MERGED maintainer"
check "the person's merge landed on main in the bare repo" eq "$(json_get "$WORK/out/view_pm.out" 'd["mergeCommit"]["oid"]')" "$(bare_sha main)"
git checkout -q main && git pull -q "$BARE" main 2>/dev/null
branch pc c.txt
run create_pc gh pr create --title "Person closes" --body "b"
PC=$(basename "$(out create_pc)")
ctl close "{\"pr\":$PC,\"author\":\"maintainer\"}" >/dev/null
run view_pc gh pr view pc --json number,state,closed
check "a PR closed by a person: pr view BRANCH says CLOSED" eq "$(json_get "$WORK/out/view_pc.out" 'str(d["number"])+" "+d["state"]')" "$PC CLOSED"
run view_pc_current gh pr view --json number,state
check "pr view (current branch) finds the closed PR too" eq "$(out view_pc_current)" "{\"number\":$PC,\"state\":\"CLOSED\"}"
run list_pc gh pr list --head pc --json number
check "pr list --head (default state open) omits the closed PR" eq "$(out list_pc)" "[]"

# ---- transport errors: rate limits, 5xx, forge unreachable --------------------------

git checkout -q main
for spec in "403 rate_limit" "429 rate_limit" "500 plain" "502 plain"; do
    set -- $spec
    ctl fail "{\"status\":$1,\"kind\":\"$2\",\"count\":1}" >/dev/null
    run "http_$1_view" gh pr view 1 --json state
    expect_rc "http_$1_view" 1 "gh pr view, HTTP $1 ($2)"
    record "http_$1_view"
    ctl fail "{\"status\":$1,\"kind\":\"$2\",\"count\":1}" >/dev/null
    run "http_$1_api" gh api repos/o/r/pulls/1/comments
    expect_rc "http_$1_api" 1 "gh api, HTTP $1 ($2)"
    record "http_$1_api"
done
ctl fail '{"kind":"graphql_rate_limited","path_prefix":"/graphql","count":1}' >/dev/null
run graphql_rate_view gh pr view 1 --json state
expect_rc graphql_rate_view 1 "gh pr view, GraphQL RATE_LIMITED (HTTP 200)"
record graphql_rate_view
run after_failures gh pr view 1 --json state -q .state
check "after the scripted failures gh works again" eq "$(out after_failures)" MERGED

mv "$GH_CONFIG_DIR/config.yml" "$WORK/config.yml.real"
printf 'http_unix_socket: %s\n' "$WORK/no-such.sock" >"$GH_CONFIG_DIR/config.yml"
run unreachable_view gh pr view 1 --json state
expect_rc unreachable_view 1 "gh pr view, forge unreachable (socket gone)"
record unreachable_view
run unreachable_api gh api repos/o/r
expect_rc unreachable_api 1 "gh api, forge unreachable"
record unreachable_api
run unreachable_auth gh auth status
record unreachable_auth
: >"$GH_CONFIG_DIR/config.yml"   # no socket: gh would go to the network, the proxy stops it
run tripwire gh api repos/o/r
expect_rc tripwire 1 "without http_unix_socket the HTTPS_PROXY tripwire stops gh"
check "the tripwire names 127.0.0.1:9" contains "$(err tripwire)" "127.0.0.1:9"
record tripwire
mv "$WORK/config.yml.real" "$GH_CONFIG_DIR/config.yml"

# ---- no GitHub remote ----------------------------------------------------------------

git init -q "$WORK/plain" && git -C "$WORK/plain" commit -q --allow-empty -m x
(cd "$WORK/plain" && run no_remote gh pr view 1 --json state)
expect_rc no_remote 1 "gh pr view, no GitHub remote"
record no_remote
git -C "$WORK/plain" remote add origin "$BARE"
(cd "$WORK/plain" && run non_github_remote gh pr list)
expect_rc non_github_remote 1 "gh pr list, origin is not a GitHub URL"
record non_github_remote
(cd "$WORK/plain" && run non_github_remote_nohost env -u GH_HOST gh pr list)
expect_rc non_github_remote_nohost 1 "gh pr list, origin is not a GitHub URL, no GH_HOST"
record non_github_remote_nohost

# ---- push rejections (a git matter: the bare repo) ---------------------------------

git checkout -q feat
OTHER=$(git -C "$BARE" commit-tree "$(git -C "$BARE" rev-parse "feat^{tree}")" -p "$(bare_sha feat)" -m "someone else")
git -C "$BARE" update-ref refs/heads/feat "$OTHER"
echo "mine" >>f.txt && git commit -qam "mine"
run push_nonff git push origin feat
expect_rc push_nonff 1 "git push, remote has unknown commits (fetch first)"
record push_nonff
git fetch -q "$BARE" feat
run push_nonff2 git push origin feat
expect_rc push_nonff2 1 "git push, non-fast-forward (remote commit known locally)"
record push_nonff2
ctl protect '{"branch":"main","reject_push":true}' >/dev/null
git checkout -q main && echo direct >>a.txt && git commit -qam "direct to main"
BEFORE=$(bare_sha main)
run push_protected git push origin main
expect_rc push_protected 1 "git push, protected branch (pre-receive hook)"
record push_protected
check "a rejected push moved nothing" eq "$(bare_sha main)" "$BEFORE"
ctl protect '{"branch":"main","off":true}' >/dev/null
run push_unprotected git push origin main
expect_rc push_unprotected 0 "git push once the protection is off (hook removed)"

# ---- the tripwire and the request log -----------------------------------------------

check "no other command hit the proxy tripwire" \
    eq "$(grep -l '127.0.0.1:9' "$WORK"/out/*.err 2>/dev/null | grep -v /tripwire.err | wc -l)" 0
check "the log names gh's GraphQL operations" contains "$(ctl requests?limit=200 | tr ',' '\n' | grep -o '"operation": "[A-Za-z_]*"' | sort -u | paste -sd' ')" PullRequestMerge
[ "$QUIET" = 1 ] || echo "operations seen: $(grep -o '"operation": "[A-Za-z_]*"' "$WORK/api.log" | cut -d'"' -f4 | sort -u | paste -sd' ')"
check "no field gh asked for was unknown" eq "$(ctl unknown)" "{}"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
