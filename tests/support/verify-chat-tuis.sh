# The TUIs of opencode, qwen, copilot and aider in the private tmux server, each in the
# posture that asks before writing: sourced by verify-chat-clis.sh. For each: the window
# opens with no onboarding or trust dialog, the permission dialog appears (saved as a
# fixture), the answer key lets the write through, the turn ends (the hook fires where the
# CLI has one), and the quit command closes the window.

screen_of() { tmux -L "$SOCK" capture-pane -p -t "vnx:$1" 2>/dev/null; }

# screen_has WINDOW REGEX [GREP-OPTS]: grep the screen from a variable, not a pipe: with
# pipefail, `capture-pane | grep -q` fails when grep exits before tmux has written it all.
screen_has() { local s; s="$(screen_of "$1")"; grep -qE ${3:-} -- "$2" <<<"$s"; }

wait_screen() { # wait_screen WINDOW REGEX SECONDS: the pane shows REGEX
    local i
    for i in $(seq $(( $3 * 5 ))); do
        screen_has "$1" "$2" && return 0
        sleep 0.2
    done
    return 1
}

save_screen() { # save_screen WINDOW NAME
    [ -n "$FIXTURES" ] || return 0
    mkdir -p "$(dirname "$FIXTURES/$2")"
    screen_of "$1" | sed -e "s#$WORK#/work/tmp#g" >"$FIXTURES/$2"
}

# tui CLI CMD READY DIALOG KEYS DONE QUIT [PASTE]: KEYS are tmux send-keys words; DONE marks
# the end of the turn and must not match the echoed prompt (`@model say TUI done.`); PASTE, when
# set, is typed into the ready prompt as a bracketed paste (aider takes no prompt argument).
tui() {
    local cli="$1" cmd="$2" ready="$3" dialog="$4" keys="$5" done_re="$6" quit="$7" paste="${8:-}"
    local dir="$WORK/tui-$cli" t0 secs
    tmux -L "$SOCK" new-window -t vnx -n "$cli" -c "$dir" "$cmd"
    t0=$(date +%s.%N)
    wait_screen "$cli" "$ready" 60
    st=$?
    check "$cli TUI starts offline" "ready marker /$ready/ after $(echo "$(date +%s.%N) - $t0" | bc)s" $st
    save_screen "$cli" "$cli/tui-ready.txt"
    if [ -n "$paste" ]; then
        printf '%s' "$paste" | tmux -L "$SOCK" load-buffer -b vnxprompt -
        tmux -L "$SOCK" paste-buffer -p -d -b vnxprompt -t "vnx:$cli"
        sleep 0.5
        tmux -L "$SOCK" send-keys -t "vnx:$cli" Enter
    fi
    ! screen_has "$cli" 'trust th(is|e files in this) folder|confirm folder trust|sign in|log ?in to|authenticate' -i
    st=$?
    check "$cli TUI: no trust/login dialog" "screen clean" $st
    wait_screen "$cli" "$dialog" 60
    st=$?
    check "$cli TUI permission dialog" "/$dialog/ after $(echo "$(date +%s.%N) - $t0" | bc)s" $st
    save_screen "$cli" "$cli/tui-permission.txt"
    # shellcheck disable=SC2086
    tmux -L "$SOCK" send-keys -t "vnx:$cli" $keys
    wait_for "$dir/tui.txt" 60
    wait_screen "$cli" "$done_re" 30
    [ "$(cat "$dir/tui.txt" 2>/dev/null)" = "from the tui" ]
    st=$?
    check "$cli TUI: '$keys' approves, tui.txt written, turn ends" "done marker /$done_re/ after $(echo "$(date +%s.%N) - $t0" | bc)s" $st
    sleep 1
    save_screen "$cli" "$cli/tui-done.txt"
    tmux -L "$SOCK" send-keys -t "vnx:$cli" -l "$quit"; sleep 1
    tmux -L "$SOCK" send-keys -t "vnx:$cli" Enter
    local i gone=1
    for i in $(seq 100); do
        window_open "$cli" || { gone=0; break; }
        [ "$i" = 25 ] && tmux -L "$SOCK" send-keys -t "vnx:$cli" Enter  # a command popup first
        sleep 0.2
    done
    check "$cli TUI quits with $quit" "window closed" $gone
    if [ "$gone" -ne 0 ]; then
        save_screen "$cli" "$cli/tui-quit-failed.txt"
        local p; p="$(tmux -L "$SOCK" list-panes -t "vnx:$cli" -F '#{pane_pid}' 2>/dev/null)"
        [ -n "$p" ] && for c in $(descendants "$p") "$p"; do kill -TERM "$c" 2>/dev/null; done
    fi
}

TUI_WRITE='@model write tui.txt from the tui
@model say TUI done.'

if want opencode; then
    new_repo tui-opencode
    tui opencode \
        "EXTRA_ENV='OPENCODE_PERMISSION={\"edit\":\"ask\",\"bash\":\"ask\"}' $WORK/with-env opencode --prompt $(q "$TUI_WRITE")" \
        'ctrl\+p commands|Ask anything' 'Permission required' 'Enter' '▣  Build · Mock Model · [0-9.]+s' /exit
fi

if want qwen; then
    new_repo tui-qwen
    cp "$WORK/home/.qwen/settings.json" "$WORK/qwen-settings.orig"
    python3 - "$WORK/home/.qwen/settings.json" "$HOOKS/answer.sh" <<'PY'
import json, sys
p, ans = sys.argv[1], sys.argv[2]
s = json.load(open(p))
s["hooks"] = {e: [{"matcher": "*", "hooks": [{"type": "command", "command": f"{ans} qwen-tui-{e}"}]}]
              for e in ["PermissionRequest", "Notification", "Stop", "PreToolUse"]}
json.dump(s, open(p, "w"), indent=2)
PY
    tui qwen "$WORK/with-env qwen -i $(q "$TUI_WRITE")" \
        'Type your message|for shortcuts' 'Apply this change\?|Allow once' '1' '✦ TUI done\.' /quit
    f="$(first_payload qwen-tui-PermissionRequest)"
    [ -n "$f" ]
    st=$?
    check "qwen TUI PermissionRequest hook fired with the dialog" "$(keys "$f")" $st
    for e in PermissionRequest Notification Stop; do
        f="$(first_payload "qwen-tui-$e")"; [ -n "$f" ] && save "$f" "qwen/tui-hook-$e.json"
    done
    cp "$WORK/qwen-settings.orig" "$WORK/home/.qwen/settings.json"
fi

if want copilot; then
    new_repo tui-copilot
    rm -f "$HOOKS"/copilot-*.json
    mkdir -p "$WORK/tui-copilot/.github/hooks"
    python3 - "$WORK/tui-copilot/.github/hooks/vnx.json" "$HOOKS/answer.sh" <<'PY'
import json, sys
p, ans = sys.argv[1:3]
ev = ["permissionRequest", "notification", "agentStop", "sessionEnd"]
json.dump({"version": 1, "hooks": {e: [{"type": "command", "bash": f"{ans} copilot-tui-{e}"}]
                                   for e in ev}}, open(p, "w"), indent=2)
PY
    tui copilot "$WORK/with-env copilot -i $(q "$TUI_WRITE")" \
        'Copilot v[0-9.]+ uses AI|Manual Approval' 'Do you want to create' '1' '● TUI done\.' /exit
    f="$(first_payload copilot-tui-permissionRequest)"
    [ -n "$f" ]
    st=$?
    check "copilot TUI permissionRequest hook fired with the dialog" "$(keys "$f")" $st
    for e in permissionRequest notification agentStop sessionEnd; do
        f="$(first_payload "copilot-tui-$e")"; [ -n "$f" ] && save "$f" "copilot/tui-hook-$e.json"
    done
fi

if want aider; then
    new_repo tui-aider
    # No --yes-always: aider asks before creating a file. The prompt is pasted (bracketed
    # paste keeps its lines together in aider's prompt_toolkit input).
    tui aider "$WORK/with-env aider --no-pretty" '^>' 'Create new file\?' 'y Enter' \
        'Commit [0-9a-f]+' /exit "$TUI_WRITE"
fi

# ---- a hook answers the permission in the TUI (no dialog) ------------------------------
# tui_answered CLI CMD ANSWER DONE QUIT: the hook was set up to answer ANSWER (allow|deny).
# DONE must not match the prompt's own echo (`@model say TUI done.`): the answer's marker.
tui_answered() {
    local cli="$1" cmd="$2" answer="$3" done_re="$4" quit="$5" win="$1-$3"
    local dir="$WORK/tui-$cli"
    tmux -L "$SOCK" new-window -t vnx -n "$win" -c "$dir" "$cmd"
    wait_screen "$win" "$done_re" 60
    local st=$?
    sleep 1
    if [ "$answer" = allow ]; then
        [ "$st" -eq 0 ] && [ "$(cat "$dir/tui.txt" 2>/dev/null)" = "from the tui" ]
    else
        [ "$st" -eq 0 ] && [ ! -e "$dir/tui.txt" ] && screen_has "$win" 'vnx denied'
    fi
    st=$?
    check "$cli TUI: the permission hook answers $answer, no dialog" "tui.txt $([ -e "$dir/tui.txt" ] && echo written || echo absent); $(screen_of "$win" | grep -m1 -oE 'vnx denied|Permission denied[^│]*' | head -n 1)" $st
    save_screen "$win" "$cli/tui-hook-$answer.txt"
    tmux -L "$SOCK" send-keys -t "vnx:$win" -l "$quit"; sleep 1
    tmux -L "$SOCK" send-keys -t "vnx:$win" Enter
    local i
    for i in $(seq 50); do
        window_open "$win" || return 0
        sleep 0.2
    done
    local p; p="$(tmux -L "$SOCK" list-panes -t "vnx:$win" -F '#{pane_pid}' 2>/dev/null)"
    [ -n "$p" ] && for c in $(descendants "$p") "$p"; do kill -TERM "$c" 2>/dev/null; done
}

for answer in allow deny; do
    if want qwen; then
        # {"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":…}}}
        new_repo tui-qwen
        cp "$WORK/home/.qwen/settings.json" "$WORK/qwen-settings.orig"
        python3 - "$WORK/home/.qwen/settings.json" "$HOOKS/answer.sh" "$answer" <<'PY'
import json, sys
p, ans, answer = sys.argv[1:4]
s = json.load(open(p))
decision = {"behavior": answer}
if answer == "deny":
    decision["message"] = "vnx denied"
reply = json.dumps({"hookSpecificOutput": {"hookEventName": "PermissionRequest",
                                           "decision": decision}})
s["hooks"] = {"PermissionRequest": [{"matcher": "*", "hooks": [
    {"type": "command", "command": f"{ans} qwen-answer '{reply}'"}]}]}
json.dump(s, open(p, "w"), indent=2)
PY
        tui_answered qwen "$WORK/with-env qwen -i $(q "$TUI_WRITE")" "$answer" '✦ TUI done\.' /quit
        cp "$WORK/qwen-settings.orig" "$WORK/home/.qwen/settings.json"
    fi
    if want copilot; then
        # {"behavior":"allow"|"deny","message":…} from the repo's permissionRequest hook
        new_repo tui-copilot
        mkdir -p "$WORK/tui-copilot/.github/hooks"
        python3 - "$WORK/tui-copilot/.github/hooks/vnx.json" "$HOOKS/answer.sh" "$answer" <<'PY'
import json, sys
p, ans, answer = sys.argv[1:4]
reply = {"behavior": answer}
if answer == "deny":
    reply["message"] = "vnx denied"
json.dump({"version": 1, "hooks": {"permissionRequest": [
    {"type": "command", "bash": f"{ans} copilot-answer '{json.dumps(reply)}'"}]}},
    open(p, "w"), indent=2)
PY
        tui_answered copilot "$WORK/with-env copilot -i $(q "$TUI_WRITE")" "$answer" '● TUI done\.' /exit
    fi
done
