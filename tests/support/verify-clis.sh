#!/usr/bin/env bash
# Drive the REAL claude, codex and gemini offline against model_server.py and check each
# scenario: headless write / shell / question / HTTP 400 / HTTP 500 / sleep, and interactive
# (tmux) turns whose end-of-turn hook must fire. Then the same, and more, for opencode, qwen,
# copilot and aider (verify-chat-clis.sh: postures, denials, resume, hooks and plugins, the
# TUI's permission dialog). Optionally records the fixtures.
#
#   tests/support/verify-clis.sh [--fixtures DIR] [--no-sleep] [--only CLI]
#
# CLI is one of claude codex gemini opencode qwen copilot aider.
#
# Installs the CLIs first (install-clis.sh; npm registry only). Everything else talks to
# 127.0.0.1 only. Works in a fresh mktemp dir and removes it; kills every process it
# started (by pid) and its private tmux server. Prints one PASS/FAIL line per check and
# a closing "N passed, N failed" line; exits 1 if any check failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FIXTURES=""
SLEEP=1
ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --fixtures) FIXTURES="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
        --no-sleep) SLEEP=0; shift ;;
        --only) ONLY="$2"; shift 2 ;;
        *) echo "usage: $0 [--fixtures DIR] [--no-sleep] [--only CLI]" >&2; exit 2 ;;
    esac
done

BIN="$("$HERE/install-clis.sh" | tail -n 1)" || { echo "install-clis.sh failed" >&2; exit 1; }
CLI_CACHE="${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}"
CODEX_DIR=""

WORK="$(mktemp -d /tmp/vnx-clis.XXXXXX)"
# gemini writes /tmp/gemini-client-error-*.json (outside any work dir) on API errors.
GEMINI_ERRORS_BEFORE="$(ls /tmp/gemini-client-error-*.json 2>/dev/null)"
SOCK="vnxsupport-$$"
SERVER_PID=""
PASS=0
FAIL=0

cleanup() {
    # Interactive CLIs: gemini survives the pty hangup of `tmux kill-server`, so collect
    # every process below the panes first and end them by pid.
    local pids=""
    if tmux -L "$SOCK" has-session 2>/dev/null; then
        local p
        for p in $(tmux -L "$SOCK" list-panes -a -F '#{pane_pid}' 2>/dev/null); do
            pids="$pids $p $(descendants "$p")"
        done
        tmux -L "$SOCK" kill-server 2>/dev/null
    fi
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    # the background HTTP 500 runs of verify-chat-clis.sh, if still going
    for p in ${P500[@]+"${P500[@]}"}; do
        for c in $(descendants "$p") "$p"; do kill -TERM "$c" 2>/dev/null; done
    done
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
    [ -n "${GEMINI_SYS_DIR:-}" ] && rm -rf "$GEMINI_SYS_DIR"
    [ -n "${CODEX_DIR:-}" ] && rm -rf "$CODEX_DIR"
    rm -rf "$WORK"
    local f
    for f in /tmp/gemini-client-error-*.json; do
        [ -e "$f" ] || continue
        grep -qxF "$f" <<<"$GEMINI_ERRORS_BEFORE" || rm -f "$f"
    done
}
trap cleanup EXIT
trap "exit 130" INT   # (the EXIT trap cleans up; without an exit the script went on)
trap "exit 143" TERM

descendants() { # all descendant pids of $1
    local c
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$c"
        descendants "$c"
    done
}

check() { # check NAME CONDITION-DESCRIPTION STATUS(0=ok)
    if [ "$3" -eq 0 ]; then PASS=$((PASS + 1)); echo "PASS $1: $2"
    else FAIL=$((FAIL + 1)); echo "FAIL $1: $2"; fi
}

want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

# ---- model server, HOME, repo ---------------------------------------------------------
python3 "$HERE/model_server.py" --port 0 --log "$WORK/server.log" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 50); do grep -q '^PORT=' "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
PORT="$(sed -n 's/^PORT=//p' "$WORK/server.out")"
[ -n "$PORT" ] || { echo "model server did not start" >&2; cat "$WORK/server.err" >&2; exit 1; }

mkdir -p "$WORK/home" "$WORK/hooks"
# claude: trusting the parent covers every repo below it; codex: only the repo itself
# (and its worktrees) counts, so each repo the TUI runs in is listed.
# CODEX_HOME outside /tmp: codex creates its `codex-linux-sandbox` helper alias only outside
# temp dirs, and with a system bwrap on PATH it needs that alias: under /tmp every sandboxed
# command failed ("bwrap: execvp codex-linux-sandbox: No such file or directory", exit 1).
CODEX_DIR="$(mkdir -p "$CLI_CACHE" && mktemp -d "$CLI_CACHE/codex-home.XXXXXX")"
python3 "$HERE/seed_home.py" "$WORK/home" "$PORT" --codex-home "$CODEX_DIR" --trust "$WORK" --trust "$WORK/repo" \
    --trust "$WORK/tui-claude" --trust "$WORK/tui-codex" --trust "$WORK/tui-gemini" >"$WORK/env"
# A git identity in HOME: aider writes "Your Name" into a repo's .git/config when none is set.
printf '[user]\n\tname = vnx test\n\temail = test@vnx.invalid\n' >"$WORK/home/.gitconfig"

# A clean environment for every CLI run: nothing from this shell leaks in.
cat >"$WORK/with-env" <<EOF
#!/bin/sh
exec env -i PATH="$BIN:/usr/local/bin:/usr/bin:/bin" TERM=xterm-256color LANG=C.UTF-8 \\
    \$(cat "$WORK/env") \${EXTRA_ENV:-} "\$@"
EOF
chmod +x "$WORK/with-env"

cat >"$WORK/hooks/record.sh" <<EOF
#!/bin/sh
# record.sh NAME [JSON]: the payload is the argument (codex notify) or stdin (claude, gemini)
if [ \$# -ge 2 ]; then printf '%s' "\$2" >"$WORK/hooks/\$1.tmp"; else cat >"$WORK/hooks/\$1.tmp"; fi
mv "$WORK/hooks/\$1.tmp" "$WORK/hooks/\$1.\$(date +%s%N).json"
EOF
chmod +x "$WORK/hooks/record.sh"

new_repo() { # new_repo NAME -> a fresh git repo under $WORK
    rm -rf "$WORK/$1"; mkdir -p "$WORK/$1"
    git -C "$WORK/$1" init -q && git -C "$WORK/$1" -c user.name=t -c user.email=t@t commit -q --allow-empty -m init
}

requests_since() { # lines of the server log after line $1
    tail -n +"$(( $1 + 1 ))" "$WORK/server.log"
}

# headless CLI PROMPT ARGS... : runs in $WORK/repo, sets RC, SECS, OUT, ERR
headless() {
    local cli="$1" prompt="$2"; shift 2
    OUT="$WORK/out.$cli.$RANDOM"; ERR="$OUT.err"
    local t0; t0=$(date +%s.%N)
    local repo="${REPO:-$WORK/repo}"
    case "$cli" in
        opencode) (cd "$repo" && "$WORK/with-env" opencode run --format json "$@" "$prompt" \
                    </dev/null >"$OUT" 2>"$ERR") ;;
        qwen) (cd "$repo" && "$WORK/with-env" qwen -o stream-json "$@" "$prompt" \
                    </dev/null >"$OUT" 2>"$ERR") ;;
        copilot) (cd "$repo" && "$WORK/with-env" copilot -p "$prompt" --output-format json "$@" \
                    </dev/null >"$OUT" 2>"$ERR") ;;
        aider) (cd "$repo" && "$WORK/with-env" aider --no-pretty --no-fancy-input "$@" \
                    --message "$prompt" </dev/null >"$OUT" 2>"$ERR") ;;
        claude) (cd "$WORK/repo" && "$WORK/with-env" claude -p "$prompt" --output-format stream-json \
                    --verbose --permission-mode acceptEdits "$@" </dev/null >"$OUT" 2>"$ERR") ;;
        codex) (cd "$WORK/repo" && "$WORK/with-env" codex exec --json --skip-git-repo-check \
                    -s workspace-write "$@" "$prompt" </dev/null >"$OUT" 2>"$ERR") ;;
        gemini) (cd "$WORK/repo" && "$WORK/with-env" gemini -p "$prompt" --output-format stream-json \
                    --skip-trust "$@" </dev/null >"$OUT" 2>"$ERR") ;;
    esac
    RC=$?
    SECS=$(echo "$(date +%s.%N) - $t0" | bc)
}

save() { [ -n "$FIXTURES" ] && mkdir -p "$(dirname "$FIXTURES/$2")" && cp "$1" "$FIXTURES/$2"; return 0; }

events() { python3 -c '
import json, sys
out = []
for line in open(sys.argv[1], errors="replace"):
    line = line.strip()
    if not line: continue
    try:
        e = json.loads(line)
    except ValueError:
        continue  # aider prints text
    if not isinstance(e, dict) or e.get("ephemeral"): continue  # copilot deltas
    t = e.get("type")
    if t == "item.completed" or t == "item.started": t += "(" + e["item"]["type"] + ")"
    if e.get("subtype"): t += "/" + e["subtype"]
    part = e.get("part") if isinstance(e.get("part"), dict) else {}
    if t == "tool_use" and part.get("tool"):  # opencode
        t += "(" + part["tool"] + ":" + (part.get("state") or {}).get("status", "?") + ")"
    if t == "step_finish" and part.get("reason"): t += "(" + part["reason"] + ")"
    data = e.get("data") if isinstance(e.get("data"), dict) else {}
    if t == "tool.execution_complete":  # copilot
        t += "(" + ("ok" if data.get("success") else "failed") + ")"
    if t == "tool.execution_start": t += "(" + str(data.get("toolName")) + ")"
    if t in ("assistant.turn_start", "assistant.turn_end"): continue
    out.append(t)
print(" ".join(out))' "$1"; }

final_text() { python3 -c '
import json, sys
text = ""
for line in open(sys.argv[1]):
    line = line.strip()
    if not line: continue
    e = json.loads(line)
    if e.get("type") == "result" and isinstance(e.get("result"), str): text = e["result"]
    if e.get("type") == "item.completed" and e["item"]["type"] == "agent_message": text = e["item"]["text"]
    if e.get("type") == "message" and e.get("role") == "assistant": text = e["content"]
    if e.get("type") == "text" and isinstance(e.get("part"), dict): text = e["part"].get("text", "")
    if e.get("type") == "assistant.message" and (e.get("data") or {}).get("content"):
        text = e["data"]["content"]
print(text)' "$1"; }

WRITE_PROMPT='Create the greeting file.
@model write hello.txt hello from the model
@model say Wrote hello.txt.'
RUN_PROMPT='Record that the shell works.
@model run echo hi > ran.txt
@model say Ran it.'
ASK_PROMPT='Tidy the module.
@model ask'

declare -A ERR400=([claude]=1 [codex]=1 [gemini]=144)   # gemini exits with the HTTP status % 256
declare -A ERR500=([claude]=1 [codex]=1 [gemini]=244)

for cli in claude codex gemini; do
    want "$cli" || continue
    # (--version too runs with the seeded HOME: `gemini --version` leaves
    # $HOME/.gemini/projects.json.*.tmp files behind)
    echo "== $cli ($("$WORK/with-env" "$cli" --version 2>/dev/null | head -n 1))"

    new_repo repo
    headless "$cli" "$WRITE_PROMPT" $([ "$cli" = gemini ] && echo --approval-mode auto_edit)
    [ "$RC" -eq 0 ] && [ "$(cat "$WORK/repo/hello.txt" 2>/dev/null)" = "hello from the model" ]
    st=$?
    check "$cli headless write" "rc=$RC ${SECS}s; hello.txt written; events: $(events "$OUT")" $st
    save "$OUT" "$cli-headless-success.jsonl"

    new_repo repo
    # gemini offers run_shell_command only in yolo mode when headless
    headless "$cli" "$RUN_PROMPT" $([ "$cli" = gemini ] && echo --approval-mode yolo)
    [ "$RC" -eq 0 ] && [ "$(cat "$WORK/repo/ran.txt" 2>/dev/null)" = "hi" ]
    st=$?
    check "$cli headless shell" "rc=$RC ${SECS}s; ran.txt = hi; events: $(events "$OUT")" $st
    save "$OUT" "$cli-headless-shell.jsonl"

    if [ "$cli" = gemini ]; then
        new_repo repo
        headless gemini "$RUN_PROMPT" --approval-mode auto_edit
        [ "$RC" -eq 0 ] && [ ! -e "$WORK/repo/ran.txt" ] && grep -q tool_not_registered "$OUT"
        st=$?
        check "gemini headless shell under auto_edit" "rc=$RC; run_shell_command is not offered (tool_not_registered), ran.txt absent" $st
    fi

    headless "$cli" "$ASK_PROMPT" $([ "$cli" = gemini ] && echo --approval-mode auto_edit)
    [ "$RC" -eq 0 ] && [ "$(final_text "$OUT")" = "Should I also update the documentation?" ]
    st=$?
    check "$cli headless question" "rc=$RC; final text is the question; events: $(events "$OUT")" $st
    save "$OUT" "$cli-question.jsonl"

    n0=$(wc -l <"$WORK/server.log")
    headless "$cli" '@model fail 400' $([ "$cli" = gemini ] && echo --approval-mode auto_edit)
    [ "$RC" -eq "${ERR400[$cli]}" ] && grep -q 'scripted failure' "$OUT" "$ERR"
    st=$?
    check "$cli headless HTTP 400" "rc=$RC (want ${ERR400[$cli]}) ${SECS}s; 'scripted failure' reported; events: $(events "$OUT")" $st
    save "$OUT" "$cli-api-error.jsonl"

    n0=$(wc -l <"$WORK/server.log")
    headless "$cli" '@model fail 500' $([ "$cli" = gemini ] && echo --approval-mode auto_edit)
    tries=$(requests_since "$n0" | grep -c '"status": 500')
    [ "$RC" -eq "${ERR500[$cli]}" ]
    st=$?
    check "$cli headless HTTP 500" "rc=$RC (want ${ERR500[$cli]}) ${SECS}s; $tries request(s) answered 500" $st
done

if [ "$SLEEP" = 1 ]; then
    # All three at once: each must just wait for the slow answer.
    declare -A SPID
    for cli in claude codex gemini; do
        want "$cli" || continue
        ( headless "$cli" '@model sleep 30
@model say Woke up.' $([ "$cli" = gemini ] && echo --approval-mode auto_edit)
          echo "$RC $SECS $(final_text "$OUT")" >"$WORK/sleep.$cli" ) &
        SPID[$cli]=$!
    done
    for cli in "${!SPID[@]}"; do
        wait "${SPID[$cli]}"
        read -r rc secs text <"$WORK/sleep.$cli"
        [ "$rc" -eq 0 ] && [ "${secs%.*}" -ge 30 ] && [ "$text" = "Woke up." ]
        st=$?
        check "$cli headless sleep 30" "rc=$rc after ${secs}s; final text '$text'" $st
    done
fi

# ---- interactive, in a private tmux server ------------------------------------------
cat >"$WORK/hooks/claude-settings.json" <<EOF
{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "$WORK/hooks/record.sh claude-stop"}]}]}}
EOF
# gemini ignores a system settings file unless it and every parent directory are owned by
# root and not group/other-writable: /tmp (mode 1777) disqualifies anything below it.
GEMINI_SYS_DIR=""
if [ "$(id -u)" = 0 ]; then
    GEMINI_SYS_DIR="$(mktemp -d "${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}/hooks.XXXXXX")"
    chmod 755 "$GEMINI_SYS_DIR"
    cat >"$GEMINI_SYS_DIR/system.json" <<EOF
{"hooks": {"AfterAgent": [{"hooks": [{"type": "command", "command": "$WORK/hooks/record.sh gemini-afteragent"}]}]}}
EOF
    chmod 644 "$GEMINI_SYS_DIR/system.json"
fi

tmux -L "$SOCK" -f /dev/null new-session -d -s vnx -x 160 -y 45 -c "$WORK" "sleep 600"

window_open() { # window_open NAME: the private tmux server still has that window
    # (not `list-windows | grep -q`: with pipefail an early grep exit reads as "closed")
    local names; names="$(tmux -L "$SOCK" list-windows -t vnx -F '#{window_name}' 2>/dev/null)"
    grep -qxF -- "$1" <<<"$names"
}

wait_for() { # wait_for GLOB SECONDS
    local i
    for i in $(seq $(( $2 * 10 ))); do
        compgen -G "$1" >/dev/null && return 0
        sleep 0.1
    done
    return 1
}

interactive() { # interactive CLI WINDOW-CMD HOOK-GLOB QUIT
    local cli="$1" cmd="$2" glob="$3" quit="$4"
    new_repo "tui-$cli"
    tmux -L "$SOCK" new-window -t vnx -n "$cli" -c "$WORK/tui-$cli" "$cmd"
    local t0; t0=$(date +%s.%N)
    wait_for "$glob" 40
    local fired=$?
    if [ "$cli" = codex ] && [ "$fired" -eq 0 ]; then
        # notify also fires for the TUI's title sub-thread: wait for the main thread's
        local i
        for i in $(seq 50); do
            [ -n "$(grep -L 'Generate a concise' $glob)" ] && break
            sleep 0.1
        done
    fi
    local secs; secs=$(echo "$(date +%s.%N) - $t0" | bc)
    sleep 0.5
    local screen; screen="$(tmux -L "$SOCK" capture-pane -p -t "vnx:$cli" 2>/dev/null)"
    [ "$fired" -eq 0 ] && [ "$(cat "$WORK/tui-$cli/tui.txt" 2>/dev/null)" = "from the tui" ]
    st=$?
    check "$cli interactive turn + hook" "hook fired after ${secs}s, tui.txt written" $st
    ! grep -qiE 'trust this folder|do you trust|use this api key|how would you like to authenticate|Try new model|choose the text style' <<<"$screen"
    st=$?
    check "$cli interactive: no onboarding/trust/api-key dialog" "screen clean" $st
    if [ "$fired" -eq 0 ]; then
        local payload; payload="$(ls $glob | head -n 1)"
        if [ "$cli" = codex ]; then  # notify also fires for the TUI's title sub-thread
            payload="$(grep -L 'Generate a concise' $glob | head -n 1)"
        fi
        echo "     payload fields: $(python3 -c 'import json,sys; print(", ".join(json.load(open(sys.argv[1]))))' "$payload")"
        save "$payload" "$cli-hook-payload.json"
    else
        printf '%s\n' "$screen" | grep -v '^$' | tail -n 15 | sed 's/^/     | /'
    fi
    tmux -L "$SOCK" send-keys -t "vnx:$cli" -l "$quit"; sleep 0.3
    tmux -L "$SOCK" send-keys -t "vnx:$cli" Enter
    local i gone=1
    for i in $(seq 50); do
        window_open "$cli" || { gone=0; break; }
        sleep 0.1
    done
    check "$cli interactive quits with $quit" "window closed" $gone
}

TUI_PROMPT='@model write tui.txt from the tui
@model say TUI done.'
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

want claude && interactive claude \
    "$WORK/with-env claude --settings $WORK/hooks/claude-settings.json --permission-mode acceptEdits $(q "$TUI_PROMPT")" \
    "$WORK/hooks/claude-stop.*.json" /exit
want codex && interactive codex \
    "$WORK/with-env codex --no-daemon -c 'notify=[\"$WORK/hooks/record.sh\",\"codex-notify\"]' $(q "$TUI_PROMPT")" \
    "$WORK/hooks/codex-notify.*.json" /quit
if want gemini; then
    if [ -n "$GEMINI_SYS_DIR" ]; then
        interactive gemini \
            "EXTRA_ENV=GEMINI_CLI_SYSTEM_SETTINGS_PATH=$GEMINI_SYS_DIR/system.json $WORK/with-env gemini --approval-mode auto_edit -i $(q "$TUI_PROMPT")" \
            "$WORK/hooks/gemini-afteragent.*.json" /quit
    else
        echo "SKIP gemini interactive: GEMINI_CLI_SYSTEM_SETTINGS_PATH needs a root-owned file"
    fi
fi

# ---- opencode, qwen, copilot, aider ---------------------------------------------------
. "$HERE/verify-chat-clis.sh"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
