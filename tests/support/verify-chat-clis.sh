# Scenarios for opencode, qwen, copilot and aider: sourced by verify-clis.sh (it uses that
# script's helpers: headless, check, save, events, final_text, new_repo, want, ...).
# Every one of these CLIs speaks OpenAI chat completions to the model server.
#
# Postures (vnx's read / edits / full) as each CLI offers them, headless:
#   opencode: permission config (env OPENCODE_PERMISSION) ask+ask / edit allow+bash ask / the
#             default (everything "allow"); in `run` an "ask" is auto-rejected.
#   qwen:     --approval-mode default / auto-edit / yolo (the tools offered depend on it).
#   copilot:  nothing / --allow-tool write / --allow-all-tools (else every tool is denied).
#   aider:    --dry-run / (default: it edits and commits) / --yes-always; never runs a shell
#             command headless.

CHAT_CLIS="opencode qwen copilot aider"
declare -A EDITS_ARGS=([opencode]="" [qwen]="--approval-mode auto-edit"
                       [copilot]="--allow-tool write" [aider]="--yes-always")
declare -A FULL_ARGS=([opencode]="" [qwen]="--approval-mode yolo"
                      [copilot]="--allow-all-tools" [aider]="--yes-always --edit-format diff")
declare -A OPENCODE_EDITS_ENV=([opencode]='OPENCODE_PERMISSION={"edit":"allow","bash":"ask"}')
declare -A CHAT_ERR400=([opencode]=1 [qwen]=0 [copilot]=1 [aider]=0)
declare -A CHAT_ERR500=([opencode]=1 [qwen]=0 [copilot]=1 [aider]=0)
# fixture extension of a headless run's output
declare -A EXT=([opencode]=jsonl [qwen]=jsonl [copilot]=jsonl [aider]=txt)

BOTH_PROMPT='Create the greeting file and record that the shell works.
@model write hello.txt hello from the model
@model run echo hi > ran.txt
@model say Wrote hello.txt.'
FOLLOW_PROMPT='Now the second file.
@model write second.txt second
@model say Wrote second.txt.'

session_id() { # the session id a headless run reported ($1 = cli, $2 = output file)
    python3 -c '
import json, sys
cli, sid = sys.argv[1], ""
for line in open(sys.argv[2], errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if not isinstance(e, dict): continue
    if cli == "opencode": sid = e.get("sessionID") or sid
    if cli == "qwen": sid = e.get("session_id") or sid
    if cli == "copilot" and e.get("type") == "result": sid = e.get("sessionId") or sid
print(sid)' "$1" "$2"; }

# ---- HTTP 500: slow (the CLIs retry with backoff), so all four run in the background -----
declare -A P500
for cli in $CHAT_CLIS; do
    want "$cli" || continue
    new_repo "r500-$cli"
    ( REPO="$WORK/r500-$cli" headless "$cli" '@model fail 500' ${FULL_ARGS[$cli]}
      echo "$RC $SECS" >"$WORK/http500.$cli"
      cp "$OUT" "$WORK/http500.$cli.out"; cp "$ERR" "$WORK/http500.$cli.err" ) &
    P500[$cli]=$!
done

for cli in $CHAT_CLIS; do
    want "$cli" || continue
    echo "== $cli ($("$WORK/with-env" "$cli" --version 2>/dev/null | head -n 1))"

    # -- the edits posture: write a file
    new_repo repo
    EXTRA_ENV="${OPENCODE_EDITS_ENV[$cli]:-}" headless "$cli" "$WRITE_PROMPT" ${EDITS_ARGS[$cli]}
    [ "$RC" -eq 0 ] && [ "$(cat "$WORK/repo/hello.txt" 2>/dev/null)" = "hello from the model" ]
    st=$?
    check "$cli headless write (edits posture: ${EDITS_ARGS[$cli]:-${OPENCODE_EDITS_ENV[$cli]:-}})" \
        "rc=$RC ${SECS}s; hello.txt written; events: $(events "$OUT")" $st
    save "$OUT" "$cli/headless-success.${EXT[$cli]}"
    if [ "$cli" = aider ]; then
        # aider commits by itself, as the configured identity, and leaves .aider.* files.
        commits=$(git -C "$WORK/repo" rev-list --count HEAD)
        left=$(cd "$WORK/repo" && git status --porcelain | tr '\n' ' ')
        [ "$commits" -eq 2 ] && grep -q '^Commit [0-9a-f]' "$OUT"
        st=$?
        check "aider commits by itself" "commits=$commits ($(git -C "$WORK/repo" log -1 --format='%an <%ae> %s')); untracked: $left" $st
    fi

    # -- the full posture: write a file and run a command
    new_repo repo
    headless "$cli" "$BOTH_PROMPT" ${FULL_ARGS[$cli]}
    if [ "$cli" = aider ]; then
        # aider shows the command the reply proposes but runs none without a person
        # ("Run shell command?" needs an explicit yes; --yes-always does not give it).
        [ "$RC" -eq 0 ] && [ "$(cat "$WORK/repo/hello.txt" 2>/dev/null)" = "hello from the model" ] \
            && [ ! -e "$WORK/repo/ran.txt" ]
        st=$?
        check "aider headless shell (full posture: ${FULL_ARGS[$cli]})" \
            "rc=$RC ${SECS}s; hello.txt written, the proposed command NOT run (ran.txt absent)" $st
    else
        [ "$RC" -eq 0 ] && [ "$(cat "$WORK/repo/hello.txt" 2>/dev/null)" = "hello from the model" ] \
            && [ "$(cat "$WORK/repo/ran.txt" 2>/dev/null)" = "hi" ]
        st=$?
        check "$cli headless write + shell (full posture: ${FULL_ARGS[$cli]:-default})" \
            "rc=$RC ${SECS}s; hello.txt and ran.txt; events: $(events "$OUT")" $st
    fi
    save "$OUT" "$cli/headless-shell.${EXT[$cli]}"
    first_out="$OUT"
    sid="$(session_id "$cli" "$OUT")"

    # -- resume: a follow-up in the same session
    n0=$(wc -l <"$WORK/server.log")
    case "$cli" in
        opencode) headless opencode "$FOLLOW_PROMPT" -s "$sid" ;;
        qwen) headless qwen "$FOLLOW_PROMPT" --approval-mode yolo -r "$sid" ;;
        copilot) headless copilot "$FOLLOW_PROMPT" --allow-all-tools "--resume=$sid" ;;
        aider) headless aider "$FOLLOW_PROMPT" --yes-always --restore-chat-history ;;
    esac
    # the follow-up's requests carry the first prompt (history resent)
    requests_since "$n0" >"$WORK/since"   # (not piped into grep -q: pipefail would see SIGPIPE)
    grep -q 'Create the greeting file' "$WORK/since"; hist=$?
    sid2="$(session_id "$cli" "$OUT")"
    [ "$RC" -eq 0 ] && [ "$(cat "$WORK/repo/second.txt" 2>/dev/null)" = "second" ] && [ "$hist" -eq 0 ] \
        && [ "$sid2" = "$sid" ]
    st=$?
    check "$cli resume the session" "rc=$RC ${SECS}s; second.txt written; history resent: $([ "$hist" -eq 0 ] && echo yes || echo no); session id '$sid' kept ('$sid2')" $st
    save "$OUT" "$cli/resume.${EXT[$cli]}"
    # -- the session files
    case "$cli" in
        opencode) "$WORK/with-env" sh -c "cd '$WORK/repo' && opencode export '$sid'" >"$WORK/session.json" 2>/dev/null
                  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["messages"]))' "$WORK/session.json" >/dev/null 2>&1
                  st=$?
                  check "opencode export" "the session as JSON {info, messages}" $st
                  save "$WORK/session.json" opencode/session-export.json ;;
        qwen) f="$(ls "$WORK"/home/.qwen/projects/*/chats/"$sid".jsonl 2>/dev/null | head -n 1)"
              [ -n "$f" ]
              st=$?
              check "qwen session file" "${f#$WORK/}" $st
              [ -n "$f" ] && save "$f" qwen/session.jsonl ;;
        copilot) f="$WORK/home/.copilot/session-state/$sid/events.jsonl"
                 [ -f "$f" ] && grep -q usage "$f"
                 st=$?
                 check "copilot session file" "${f#$WORK/}" $st
                 save "$f" copilot/session-events.jsonl ;;
        aider) f="$WORK/repo/.aider.chat.history.md"
               [ -f "$f" ]
               st=$?
               check "aider chat history" "${f#$WORK/} (no session id)" $st
               save "$f" aider/chat-history.md ;;
    esac

    # -- a question
    headless "$cli" "$ASK_PROMPT" ${EDITS_ARGS[$cli]}
    if [ "$cli" = aider ]; then grep -qx 'Should I also update the documentation?' "$OUT"
    else [ "$(final_text "$OUT")" = "Should I also update the documentation?" ]; fi
    st=$?; [ "$RC" -eq 0 ] && [ "$st" -eq 0 ]
    st=$?
    check "$cli headless question" "rc=$RC; the question is the final text; events: $(events "$OUT")" $st
    save "$OUT" "$cli/question.${EXT[$cli]}"

    # -- a denied tool
    new_repo repo
    case "$cli" in
        opencode) EXTRA_ENV='OPENCODE_PERMISSION={"edit":"ask","bash":"ask"}' headless opencode "$RUN_PROMPT"
                  [ ! -e "$WORK/repo/ran.txt" ] && grep -q '"status":"error"' "$OUT" \
                      && grep -q 'permission requested' "$ERR" ;;
        qwen) headless qwen "$RUN_PROMPT" --approval-mode auto-edit
              [ ! -e "$WORK/repo/ran.txt" ] && grep -q 'not found in registry' "$OUT" ;;
        copilot) headless copilot "$RUN_PROMPT"
                 [ ! -e "$WORK/repo/ran.txt" ] && grep -q '"success":false' "$OUT" ;;
        aider) headless aider "$WRITE_PROMPT" --dry-run --yes-always
               [ ! -e "$WORK/repo/hello.txt" ] && grep -q 'Did not apply edit to hello.txt (--dry-run)' "$OUT" ;;
    esac
    st=$?
    check "$cli headless denied tool" "rc=$RC (recorded; the CLI reports no denial in its exit code) ${SECS}s; events: $(events "$OUT"); stderr: $(grep -m1 -i 'permission\|denied' "$ERR" | cut -c1-120)" $st
    save "$OUT" "$cli/headless-denied.${EXT[$cli]}"

    # -- HTTP 400
    headless "$cli" '@model fail 400' ${FULL_ARGS[$cli]}
    [ "$RC" -eq "${CHAT_ERR400[$cli]}" ] && grep -q 'scripted failure' "$OUT" "$ERR"
    st=$?
    check "$cli headless HTTP 400" "rc=$RC (want ${CHAT_ERR400[$cli]}) ${SECS}s; events: $(events "$OUT"); says: $(grep -ho 'scripted failure\|API Error: 400[^"]*\|BadRequestError' "$OUT" "$ERR" | head -n 1)" $st
    save "$OUT" "$cli/api-error.${EXT[$cli]}"
done

# ---- hooks and plugins ----------------------------------------------------------------
HOOKS="$WORK/hooks"
cat >"$HOOKS/answer.sh" <<EOF
#!/bin/sh
# answer.sh NAME [REPLY]: keeps the payload (stdin) as NAME.<ns>.json, prints REPLY
cat >"$HOOKS/\$1.tmp.\$\$"; mv "$HOOKS/\$1.tmp.\$\$" "$HOOKS/\$1.\$(date +%s%N).json"
[ -z "\${2:-}" ] || printf '%s\n' "\$2"
exit 0
EOF
chmod +x "$HOOKS/answer.sh"
first_payload() { ls "$HOOKS"/$1.*.json 2>/dev/null | head -n 1; }
keys() { python3 -c 'import json,sys; print(", ".join(json.load(open(sys.argv[1]))))' "$1" 2>/dev/null; }

if want qwen; then
    # Claude-style hooks in settings.json. PreToolUse answers for run_shell_command:
    # {"hookSpecificOutput":{"permissionDecision":"deny"}} blocks the call, even in yolo.
    cp "$WORK/home/.qwen/settings.json" "$WORK/qwen-settings.orig"
    python3 - "$WORK/home/.qwen/settings.json" "$HOOKS/answer.sh" <<'PY'
import json, sys
p, ans = sys.argv[1], sys.argv[2]
s = json.load(open(p))
deny = json.dumps({"hookSpecificOutput": {"hookEventName": "PreToolUse",
                   "permissionDecision": "deny", "permissionDecisionReason": "vnx denies this"}})
ev = ["SessionStart", "UserPromptSubmit", "PermissionRequest", "PostToolUse", "Notification",
      "Stop", "SessionEnd"]
s["hooks"] = {e: [{"matcher": "*", "hooks": [{"type": "command", "command": f"{ans} qwen-{e}"}]}]
              for e in ev}
s["hooks"]["PreToolUse"] = [
    {"matcher": "run_shell_command", "hooks": [{"type": "command",
                                                 "command": f"{ans} qwen-PreToolUse '{deny}'"}]}]
json.dump(s, open(p, "w"), indent=2)
PY
    new_repo repo
    headless qwen "$BOTH_PROMPT" --approval-mode yolo
    pre="$(first_payload qwen-PreToolUse)"
    [ "$RC" -eq 0 ] && [ -e "$WORK/repo/hello.txt" ] && [ ! -e "$WORK/repo/ran.txt" ] && [ -n "$pre" ] \
        && grep -q '"permission_denials":\[{' "$OUT"
    st=$?
    check "qwen PreToolUse hook denies run_shell_command (yolo)" "rc=$RC; ran.txt absent; result.permission_denials lists it; fired: $(cd "$HOOKS" && ls qwen-*.json | sed 's/\..*//' | sort | uniq -c | tr -s ' \n' ' ')" $st
    for e in PreToolUse PostToolUse Stop UserPromptSubmit Notification; do
        f="$(first_payload "qwen-$e")"; [ -n "$f" ] && echo "     qwen $e: $(keys "$f")" && save "$f" "qwen/hook-$e.json"
    done
    save "$OUT" qwen/hook-denied.jsonl
    cp "$WORK/qwen-settings.orig" "$WORK/home/.qwen/settings.json"
fi

if want copilot; then
    # Repo hooks (.github/hooks/*.json, read in a trusted folder). permissionRequest answers
    # {"behavior":"allow"|"deny"} for headless -p without --allow-all-tools.
    for answer in allow deny; do
        new_repo repo
        rm -f "$HOOKS"/copilot-*.json
        mkdir -p "$WORK/repo/.github/hooks"
        python3 - "$WORK/repo/.github/hooks/vnx.json" "$HOOKS/answer.sh" "$answer" <<'PY'
import json, sys
p, ans, answer = sys.argv[1:4]
ev = ["sessionStart", "userPromptSubmitted", "preToolUse", "postToolUse", "notification",
      "agentStop", "sessionEnd", "errorOccurred"]
h = {e: [{"type": "command", "bash": f"{ans} copilot-{e}"}] for e in ev}
reply = json.dumps({"behavior": answer})
h["permissionRequest"] = [{"type": "command", "bash": f"{ans} copilot-permissionRequest '{reply}'"}]
json.dump({"version": 1, "hooks": h}, open(p, "w"), indent=2)
PY
        headless copilot "$BOTH_PROMPT"
        req="$(first_payload copilot-permissionRequest)"
        if [ "$answer" = allow ]; then
            [ "$RC" -eq 0 ] && [ -e "$WORK/repo/hello.txt" ] && [ -e "$WORK/repo/ran.txt" ] && [ -n "$req" ]
        else
            [ "$RC" -eq 0 ] && [ ! -e "$WORK/repo/hello.txt" ] && [ ! -e "$WORK/repo/ran.txt" ] && [ -n "$req" ]
        fi
        st=$?
        check "copilot permissionRequest hook answers $answer (no --allow-all-tools)" "rc=$RC; events: $(events "$OUT"); fired: $(cd "$HOOKS" && ls copilot-*.json 2>/dev/null | sed 's/\..*//' | sort | uniq -c | tr -s ' \n' ' ')" $st
        save "$OUT" "copilot/hook-$answer.jsonl"
        if [ "$answer" = allow ]; then
            for e in permissionRequest preToolUse postToolUse agentStop sessionStart sessionEnd userPromptSubmitted; do
                f="$(first_payload "copilot-$e")"; [ -n "$f" ] && echo "     copilot $e: $(keys "$f")" && save "$f" "copilot/hook-$e.json"
            done
        fi
    done
fi

if want opencode; then
    # A plugin in the config dir. Pitfall: with a plugin present opencode first runs
    # `npm install @opencode-ai/plugin` into ~/.config/opencode (needs the npm registry).
    mkdir -p "$WORK/home/.config/opencode/plugin"
    cat >"$WORK/home/.config/opencode/plugin/vnx.js" <<EOF
import { appendFileSync } from "node:fs";
const log = (kind, x) => appendFileSync("$HOOKS/opencode-plugin.jsonl", JSON.stringify({ kind, ...x }) + "\\n");
export const Vnx = async () => ({
  event: async ({ event }) => log("event", { event }),
  "tool.execute.before": async (input, output) => log("tool.execute.before", { input, output }),
  "permission.ask": async (input, output) => { log("permission.ask", { input, output }); output.status = "allow"; },
});
EOF
    new_repo repo
    t0=$(date +%s)
    EXTRA_ENV='OPENCODE_PERMISSION={"edit":"ask","bash":"ask"}' timeout 180 bash -c \
        "$(declare -f headless); WORK='$WORK'; headless opencode \"\$1\"; echo \$RC >'$WORK/plugin.rc'; cp \"\$OUT\" '$WORK/plugin.out'" _ "$RUN_PROMPT"
    rc="$(cat "$WORK/plugin.rc" 2>/dev/null || echo timeout)"
    types="$(python3 -c '
import json, sys
seen = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    t = e["kind"] if e["kind"] != "event" else e["event"].get("type")
    if t not in seen: seen.append(t)
print(" ".join(seen))' "$HOOKS/opencode-plugin.jsonl" 2>/dev/null)"
    grep -qw 'permission.asked' <<<"$types" && grep -qw 'session.idle' <<<"$types"
    st=$?
    check "opencode plugin events" "rc=$rc after $(( $(date +%s) - t0 ))s (first start installs @opencode-ai/plugin); ran.txt $([ -e "$WORK/repo/ran.txt" ] && echo written || echo absent); seen: $types" $st
    if [ -n "$FIXTURES" ] && [ -f "$HOOKS/opencode-plugin.jsonl" ]; then
        mkdir -p "$FIXTURES/opencode"; cp "$HOOKS/opencode-plugin.jsonl" "$FIXTURES/opencode/plugin-events.jsonl"
    fi
    rm -rf "$WORK/home/.config/opencode/plugin"
fi

if want aider; then
    # No git identity at all: aider writes one into the repo's .git/config.
    new_repo repo
    EXTRA_ENV="GIT_CONFIG_GLOBAL=/dev/null" headless aider "$WRITE_PROMPT" --yes-always
    name="$(git -C "$WORK/repo" config --local user.name)"
    [ "$RC" -eq 0 ] && [ -n "$name" ]
    st=$?
    check "aider writes a git identity into .git/config when none is set" "rc=$RC; user.name='$name' user.email='$(git -C "$WORK/repo" config --local user.email)'" $st
fi

# ---- against "Ollama": the server's Ollama endpoints ----------------------------------
# (No ollama binary here: the clients speak its HTTP API to the model server.)
OLLAMA_PROMPT='Create the file through Ollama.
@model write ollama.txt via ollama
@model say Wrote ollama.txt.'
if want opencode; then
    # Ollama's OpenAI compatibility (/v1/chat/completions), as opencode's docs configure it
    new_repo repo
    n0=$(wc -l <"$WORK/server.log")
    oc_cfg="{\"model\":\"ollama/mock-model\",\"small_model\":\"ollama/mock-model\",\"provider\":{\"ollama\":{\"npm\":\"@ai-sdk/openai-compatible\",\"name\":\"Ollama\",\"options\":{\"baseURL\":\"http://127.0.0.1:$PORT/v1\"},\"models\":{\"mock-model\":{\"name\":\"mock-model\",\"tool_call\":true}}}}}"
    EXTRA_ENV="OPENCODE_CONFIG_CONTENT=$oc_cfg" headless opencode "$OLLAMA_PROMPT"
    requests_since "$n0" >"$WORK/since"
    [ "$RC" -eq 0 ] && [ "$(cat "$WORK/repo/ollama.txt" 2>/dev/null)" = "via ollama" ] \
        && grep -q '"model": "mock-model"' "$WORK/since"
    st=$?
    check "opencode against Ollama's /v1 (provider ollama)" "rc=$RC ${SECS}s; ollama.txt written; events: $(events "$OUT")" $st
fi
if want aider; then
    # Ollama's own API (/api/show, /api/chat) through litellm's ollama_chat/ provider
    new_repo repo
    n0=$(wc -l <"$WORK/server.log")
    headless aider "$OLLAMA_PROMPT" --yes-always --model ollama_chat/mock-model
    requests_since "$n0" >"$WORK/since"
    [ "$RC" -eq 0 ] && [ "$(cat "$WORK/repo/ollama.txt" 2>/dev/null)" = "via ollama" ] \
        && grep -q '"path": "/api/chat"' "$WORK/since"
    check "aider against Ollama's /api/chat (ollama_chat/mock-model)" "rc=$RC ${SECS}s; ollama.txt written; requests: $(python3 -c '
import json, sys
print(" ".join(sorted({json.loads(l)["path"] for l in open(sys.argv[1])})))' "$WORK/since")" $?
    save "$OUT" aider/ollama.txt
fi

# ---- HTTP 500 results -----------------------------------------------------------------
for cli in "${!P500[@]}"; do
    wait "${P500[$cli]}"
    read -r rc secs <"$WORK/http500.$cli"
    [ "$rc" -eq "${CHAT_ERR500[$cli]}" ]
    st=$?
    check "$cli headless HTTP 500" "rc=$rc (want ${CHAT_ERR500[$cli]}) after ${secs}s; events: $(events "$WORK/http500.$cli.out")" $st
    save "$WORK/http500.$cli.out" "$cli/api-error-500.${EXT[$cli]}"
done
[ ${#P500[@]} -eq 0 ] || echo "     HTTP 500 answers in the log (all CLIs): $(grep -c '"status": 500' "$WORK/server.log")"

# ---- interactive, in the private tmux server ------------------------------------------
. "$HERE/verify-chat-tuis.sh"
