#!/usr/bin/env bash
# What each REAL coding CLI does when its provider answers with a usage limit (issue 71):
# drives claude, codex, gemini, opencode, qwen, copilot and aider headless against
# model_server.py, whose `@model limit SECONDS` answers HTTP 429 as the hosted API does (with
# its reset headers) for SECONDS, and prints one block per CLI: its exit status, how long it
# ran, how many requests met the limit and were retried, the event types it streamed and
# the last lines of its output and stderr. Observation, not a test: it prints, it judges
# nothing, and it always exits 0 unless it could not run.
#
#   tests/support/verify-limits.sh [--window SECONDS] [--timeout SECONDS] [--quota|--per-minute]
#                                  [--only CLI]
#                                  [--fixtures DIR] [--tui]
#
# --tui: claude, codex and gemini in their TUIs instead (in a private tmux server, each with
# its end-of-turn hook): whether and when the hook fired, and the screen's last lines.
# --quota: OpenAI's `insufficient_quota` instead of a rate limit; --per-minute: Gemini's quota
# named per minute instead of per day (gemini gives up at once on a daily one).
#
# With --fixtures, each CLI's stdout and stderr are kept in DIR as CLI.out and CLI.err.
#
# Installs the CLIs first (install-clis.sh; npm registry only). Everything else talks to
# 127.0.0.1 only. Works in a fresh mktemp dir and removes it.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WINDOW=20
TIMEOUT=150
QUOTA=""
ONLY=""
FIXTURES=""
TUI=""
while [ $# -gt 0 ]; do
    case "$1" in
        --window) WINDOW="$2"; shift 2 ;;
        --timeout) TIMEOUT="$2"; shift 2 ;;
        --quota) QUOTA=quota; shift ;;
        --per-minute) QUOTA=minute; shift ;;
        --only) ONLY="$2"; shift 2 ;;
        --tui) TUI=1; shift ;;
        --fixtures) FIXTURES="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
        *) echo "usage: $0 [--window SECONDS] [--timeout SECONDS] [--quota|--per-minute] [--only CLI] [--fixtures DIR] [--tui]" >&2
           exit 2 ;;
    esac
done

BIN="$("$HERE/install-clis.sh" | tail -n 1)" || { echo "install-clis.sh failed" >&2; exit 1; }
CLI_CACHE="${VNX_CLI_CACHE:-$HOME/.cache/vnx-clis}"
WORK="$(mktemp -d /tmp/vnx-limits.XXXXXX)"
CODEX_DIR="$(mkdir -p "$CLI_CACHE" && mktemp -d "$CLI_CACHE/codex-home.XXXXXX")"
SERVER_PID=""
SOCK="vnxlimits-$$"
GEMINI_SYS_DIR=""
cleanup() {
    tmux -L "$SOCK" kill-server 2>/dev/null
    [ -n "$GEMINI_SYS_DIR" ] && rm -rf "$GEMINI_SYS_DIR"
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK" "$CODEX_DIR"
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

python3 "$HERE/model_server.py" --port 0 --log "$WORK/server.log" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 50); do grep -q '^PORT=' "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
PORT="$(sed -n 's/^PORT=//p' "$WORK/server.out")"
[ -n "$PORT" ] || { echo "model server did not start" >&2; cat "$WORK/server.err" >&2; exit 1; }
mkdir -p "$WORK/home" "$WORK/repo"
python3 "$HERE/seed_home.py" "$WORK/home" "$PORT" --codex-home "$CODEX_DIR" --trust "$WORK" \
    --trust "$WORK/repo" >"$WORK/env"
printf '[user]\n\tname = vnx test\n\temail = test@vnx.invalid\n' >"$WORK/home/.gitconfig"
# seed_home.py turns claude's, codex's and gemini's retries down or off (a 5xx would cost
# minutes in the tests); what a CLI does with a limit is seen with its own defaults.
sed -i '/^CLAUDE_CODE_MAX_RETRIES=/d' "$WORK/env"
sed -i '/^request_max_retries\|^stream_max_retries/d' "$CODEX_DIR/config.toml"
python3 - "$WORK/home/.gemini/settings.json" <<'PY'
import json, sys
settings = json.load(open(sys.argv[1]))
settings.get("general", {}).pop("maxAttempts", None)
json.dump(settings, open(sys.argv[1], "w"), indent=2)
PY
git -C "$WORK/repo" init -q && git -C "$WORK/repo" -c user.name=t -c user.email=t@t commit -q --allow-empty -m init
cat >"$WORK/with-env" <<EOF
#!/bin/sh
exec env -i PATH="$BIN:/usr/local/bin:/usr/bin:/bin" TERM=xterm-256color LANG=C.UTF-8 \\
    \$(cat "$WORK/env") \${EXTRA_ENV:-} "\$@"
EOF
chmod +x "$WORK/with-env"

run() { # run CLI PROMPT: the CLI headless in $WORK/repo, bounded by $TIMEOUT
    local cli="$1" prompt="$2"
    local -a argv
    case "$cli" in
        claude) argv=(claude -p "$prompt" --output-format stream-json --verbose) ;;
        codex) argv=(codex exec --json --skip-git-repo-check -s workspace-write "$prompt") ;;
        gemini) argv=(gemini -p "$prompt" --output-format stream-json --skip-trust) ;;
        opencode) argv=(opencode run --format json "$prompt") ;;
        qwen) argv=(qwen -o stream-json "$prompt") ;;
        copilot) argv=(copilot -p "$prompt" --output-format json) ;;
        aider) argv=(aider --no-pretty --no-fancy-input --message "$prompt") ;;
    esac
    (cd "$WORK/repo" && timeout --kill-after=5 "$TIMEOUT" "$WORK/with-env" "${argv[@]}" \
        </dev/null >"$WORK/$cli.out" 2>"$WORK/$cli.err")
}

q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
mkdir -p "$WORK/hooks"
cat >"$WORK/hooks/record.sh" <<EOF
#!/bin/sh
if [ \$# -ge 2 ]; then printf '%s' "\$2" >"$WORK/hooks/\$1.tmp"; else cat >"$WORK/hooks/\$1.tmp"; fi
mv "$WORK/hooks/\$1.tmp" "$WORK/hooks/\$1.\$(date +%s%N).json"
EOF
chmod +x "$WORK/hooks/record.sh"
tui() { # tui CLI: its TUI on the limit prompt until its hook fires or $TIMEOUT passes
    local cli="$1" cmd glob
    local prompt="limits of $cli's TUI
\\@model limit $WINDOW $QUOTA $cli-tui
\\@model say After the limit."
    case "$cli" in
        claude)
            printf '{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "%s claude-stop"}]}]}}' \
                "$WORK/hooks/record.sh" >"$WORK/hooks/claude-settings.json"
            cmd="$WORK/with-env claude --settings $WORK/hooks/claude-settings.json $(q "$prompt")"
            glob="$WORK/hooks/claude-stop.*.json" ;;
        codex)
            cmd="$WORK/with-env codex --no-daemon -c 'notify=[\"$WORK/hooks/record.sh\",\"codex-notify\"]' $(q "$prompt")"
            glob="$WORK/hooks/codex-notify.*.json" ;;
        gemini)
            [ "$(id -u)" = 0 ] || { echo "=== gemini TUI: skipped (its system settings need root)"; return; }
            GEMINI_SYS_DIR="$(mktemp -d "$CLI_CACHE/hooks.XXXXXX")"; chmod 755 "$GEMINI_SYS_DIR"
            printf '{"hooks": {"AfterAgent": [{"hooks": [{"type": "command", "command": "%s gemini-afteragent"}]}]}}' \
                "$WORK/hooks/record.sh" >"$GEMINI_SYS_DIR/system.json"; chmod 644 "$GEMINI_SYS_DIR/system.json"
            cmd="EXTRA_ENV=GEMINI_CLI_SYSTEM_SETTINGS_PATH=$GEMINI_SYS_DIR/system.json $WORK/with-env gemini -i $(q "$prompt")"
            glob="$WORK/hooks/gemini-afteragent.*.json" ;;
        *) return ;;
    esac
    tmux -L "$SOCK" has-session 2>/dev/null ||
        tmux -L "$SOCK" -f /dev/null new-session -d -s vnx -x 160 -y 45 -c "$WORK" "sleep 3600"
    tmux -L "$SOCK" new-window -t vnx -n "$cli" -c "$WORK/repo" "env $cmd"
    local t0 i fired=""
    t0=$(date +%s)
    for i in $(seq $((TIMEOUT * 2))); do
        # codex's notify fires for its title's sub-thread too: only the main turn's counts.
        if compgen -G "$glob" >/dev/null && [ -n "$(grep -L 'Generate a concise' $glob)" ]; then
            fired=$(( $(date +%s) - t0 )); break
        fi
        sleep 0.5
        if [ "$i" = 20 ]; then
            echo "=== $cli TUI, 10 s in (window ${WINDOW} s${QUOTA:+, $QUOTA}): the screen's last lines"
            tmux -L "$SOCK" capture-pane -p -t "vnx:$cli" | grep -v '^\s*$' | tail -n 8 | sed 's/^/    | /'
        fi
    done
    sleep 1
    local heard="did not fire in $TIMEOUT s"
    [ -n "$fired" ] && heard="fired after $fired s"
    echo "=== $cli TUI (window ${WINDOW} s${QUOTA:+, $QUOTA}): hook $heard"
    tmux -L "$SOCK" capture-pane -p -t "vnx:$cli" | grep -v '^\s*$' | tail -n 12 | sed 's/^/    | /'
    if [ -n "$fired" ]; then echo "    hook payload: $(grep -L 'Generate a concise' $glob | head -n 1 | xargs cat | head -c 600)"; fi
    if [ -n "$FIXTURES" ]; then tmux -L "$SOCK" capture-pane -p -t "vnx:$cli" >"$FIXTURES/$cli-tui.screen"; fi
    if [ "$cli" = codex ]; then
        # What its session file (the rollout) records meanwhile: codex's TUI shows nothing.
        local rollout
        rollout="$(find "$CODEX_DIR/sessions" -name 'rollout-*.jsonl' -newer "$WORK/env" 2>/dev/null | head -n 1)"
        echo "    rollout: ${rollout:+$(basename "$rollout")}"
        [ -n "$rollout" ] && tail -n 6 "$rollout" | cut -c1-400 | sed 's/^/    > /'
        [ -n "$rollout" ] && [ -n "$FIXTURES" ] && cp "$rollout" "$FIXTURES/codex-tui.rollout.jsonl"
    fi
    tmux -L "$SOCK" kill-window -t "vnx:$cli" 2>/dev/null
}
if [ -n "$TUI" ]; then
    for cli in claude codex gemini; do
        [ -z "$ONLY" ] || [ "$ONLY" = "$cli" ] || continue
        tui "$cli"
    done
    exit 0
fi

for cli in claude codex gemini opencode qwen copilot aider; do
    [ -z "$ONLY" ] || [ "$ONLY" = "$cli" ] || continue
    before=$(cat "$WORK/server.log" 2>/dev/null | wc -l)
    t0=$(date +%s.%N)
    run "$cli" "limits of $cli
\\@model limit $WINDOW $QUOTA $cli
\\@model say After the limit."
    rc=$?
    [ -n "$FIXTURES" ] && cp "$WORK/$cli.out" "$WORK/$cli.err" "$FIXTURES/"
    secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")
    echo "=== $cli: exit $rc after ${secs} s (window ${WINDOW} s${QUOTA:+, $QUOTA})"
    tail -n +"$((before + 1))" "$WORK/server.log" | python3 -c '
import json, sys
from datetime import datetime
limited, answered = [], 0
for line in sys.stdin:
    e = json.loads(line)
    kind = (e.get("answer") or {}).get("kind")
    if kind == "limit":
        limited.append(datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp())
    elif kind in ("text", "tool"):
        answered += 1
at = " ".join(f"+{t - limited[0]:.1f}" for t in limited)
print(f"  requests met by the limit: {len(limited)} (s after the first: {at}); "
      f"scripted answers after it: {answered}")'
    python3 - "$WORK/$cli.out" <<'PY'
import json, sys
kinds = []
for line in open(sys.argv[1], errors="replace"):
    line = line.strip()
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if not isinstance(e, dict):
        continue
    t = str(e.get("type"))
    if e.get("subtype"):
        t += "/" + str(e["subtype"])
    if not kinds or kinds[-1] != t:
        kinds.append(t)
    if t != "system/init" and any(w in line.lower() for w in ("rate", "limit", "quota")):
        print("  limit event:", line[:400])
print("  events:", " ".join(kinds)[:600])
PY
    echo "  stdout tail:"; tail -n 4 "$WORK/$cli.out" | cut -c1-300 | sed 's/^/    /'
    echo "  stderr tail:"; tail -n 6 "$WORK/$cli.err" | cut -c1-300 | sed 's/^/    /'
done
