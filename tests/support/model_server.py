#!/usr/bin/env python3
"""A scripted stand-in for the model APIs that claude, codex and gemini talk to.

    python3 tests/support/model_server.py --port 0 --log FILE

Speaks enough of the Anthropic Messages API, the OpenAI Responses API, the Gemini
generateContent API and the Ollama API for the real CLIs to run a turn against it on
127.0.0.1. The first stdout line is `PORT=<n>` (flushed); it then serves until killed.

What the "model" does is scripted by `@model` lines in the user's prompt (see README.md
beside this file). The server is stateless: every request is answered from the request
alone, by finding the script and counting the tool results that follow it.

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ASK_TEXT = "Should I also update the documentation?"
DEFAULT_FINAL = "Done."
SIDE_TEXT = "OK."
OLLAMA_VERSION = "0.20.0"
OLLAMA_MODEL = "mock-model"
OLLAMA_TAGS = [OLLAMA_MODEL, OLLAMA_MODEL + ":latest", "gpt-oss:20b"]

# `\@model` is accepted too: gemini treats an unescaped `@word` in a prompt as a file
# reference and, when a file matching *word* exists in the workspace, rewrites it.
SCRIPT_LINE = re.compile(r"^[ \t]*\\?@model[ \t]+(\S+)[ \t]*(.*?)[ \t]*$", re.MULTILINE)
# Headers whose value is a secret: the log records only that they were sent.
SECRET_HEADERS = {"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie",
                  "proxy-authorization"}

# --------------------------------------------------------------------------------------
# The script
# --------------------------------------------------------------------------------------


class Step:
    def __init__(self, kind: str, arg: str, line: str):
        self.kind = kind
        self.arg = arg
        self.line = line

    @property
    def is_tool(self) -> bool:
        return self.kind in ("write", "run", "escalate", "tool", "edit")

    def to_json(self) -> dict:
        return {"kind": self.kind, "arg": self.arg}


def parse_script(text: str) -> list[Step]:
    steps = []
    for m in SCRIPT_LINE.finditer(text):
        kind, arg = m.group(1).lower(), m.group(2)
        steps.append(Step(kind, arg, m.group(0).strip()))
    return steps


def final_text(steps: list[Step]) -> str:
    text = DEFAULT_FINAL
    for s in steps:
        if s.kind == "say":
            text = s.arg or DEFAULT_FINAL
        elif s.kind == "ask":
            text = ASK_TEXT
    return text


class Decision:
    """What to answer: a tool call, the final text, a failure. `sleep` comes first."""

    def __init__(self, kind: str, **kw):
        self.kind = kind  # "tool" | "text" | "fail" | "limit" | "side" | "json"
        self.text = kw.get("text", "")
        self.step: Step | None = kw.get("step")
        self.step_index: int | None = kw.get("step_index")
        self.status: int = kw.get("status", 200)
        self.sleep: float = kw.get("sleep", 0.0)
        self.tool_results = kw.get("tool_results", 0)
        self.tool_name: str | None = None
        self.tool_args = None  # dict, or str for a freeform (custom) tool
        self.tool_type = "function"  # codex: "function" or "custom"
        self.json_value = kw.get("json_value")
        # A `limit`: seconds until its window ends, and whether it is a quota (not a rate).
        self.reset_in: float = 0.0
        self.quota = False
        # Text said in the same message before the tool call (Anthropic only).
        self.preface: str = kw.get("preface", "")

    def log(self) -> dict:
        d = {"kind": self.kind}
        if self.step is not None:
            d["step"] = self.step.to_json()
            d["step_index"] = self.step_index
        if self.kind in ("text", "side"):
            d["text"] = self.text
        if self.kind == "tool":
            d["tool"] = self.tool_name
            d["tool_type"] = self.tool_type
            d["args"] = self.tool_args
        if self.kind == "fail":
            d["status"] = self.status
        if self.kind == "limit":
            d["status"] = self.status
            d["reset_in"] = round(self.reset_in, 3)
        if self.kind == "json":
            d["json"] = self.json_value
        if self.sleep:
            d["sleep"] = self.sleep
        d["tool_results"] = self.tool_results
        return d


def decide(steps: list[Step], tool_results: int, passed: frozenset = frozenset()) -> Decision:
    """The next step once `tool_results` tool calls of the script have been answered; a
    `limit` step whose line is in `passed` (its window is over) is stepped over."""
    done = 0
    start = 0
    # Skip the steps up to and including the `tool_results`-th tool step.
    if tool_results > 0:
        for i, s in enumerate(steps):
            if s.is_tool:
                done += 1
                if done == tool_results:
                    start = i + 1
                    break
        else:
            start = len(steps)
    slept = 0.0
    preface = ""
    for i in range(start, len(steps)):
        s = steps[i]
        if s.kind == "preface":
            preface = s.arg
        elif s.kind == "sleep":
            try:
                slept += float(s.arg.split()[0])
            except (ValueError, IndexError):
                pass
        elif s.kind == "fail":
            try:
                status = int(s.arg.split()[0])
            except (ValueError, IndexError):
                status = 500
            return Decision("fail", step=s, step_index=i, status=status, sleep=slept,
                            tool_results=tool_results)
        elif s.kind == "limit":
            if s.line in passed:
                continue
            return Decision("limit", step=s, step_index=i, status=429, sleep=slept,
                            tool_results=tool_results)
        elif s.is_tool:
            return Decision("tool", step=s, step_index=i, sleep=slept, tool_results=tool_results,
                            preface=preface)
    return Decision("text", text=final_text(steps), sleep=slept, tool_results=tool_results)


def split_write(arg: str) -> tuple[str, str]:
    parts = arg.split(None, 1)
    path = parts[0] if parts else "out.txt"
    text = parts[1] if len(parts) > 1 else ""
    return path, text + "\n"


def split_edit(arg: str) -> tuple[str, str, str]:
    """`PATH OLD => NEW` of an `edit` step: the file, the text replaced and its replacement."""
    parts = arg.split(None, 1)
    path = parts[0] if parts else "out.txt"
    old, _, new = (parts[1] if len(parts) > 1 else "").partition(" => ")
    return path, old, new


def split_tool(arg: str) -> tuple[str, dict]:
    """`NAME [JSON]` of a `tool` step: the tool's name and its arguments (an object)."""
    parts = arg.split(None, 1)
    name = parts[0] if parts else "unnamed"
    try:
        args = json.loads(parts[1]) if len(parts) > 1 else {}
    except ValueError:
        args = {}
    return name, args if isinstance(args, dict) else {}


def shell_quote(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"


def write_command(path: str, content: str) -> str:
    d = os.path.dirname(path)
    mk = f"mkdir -p {shell_quote(d)} && " if d else ""
    return f"{mk}printf '%s' {shell_quote(content)} > {shell_quote(path)}"


# --------------------------------------------------------------------------------------
# JSON from a schema (side requests that want structured output)
# --------------------------------------------------------------------------------------


def value_for_schema(schema, name: str = ""):
    if not isinstance(schema, dict):
        return SIDE_TEXT
    if "enum" in schema and schema["enum"]:
        enum = schema["enum"]
        # gemini's next-speaker check: "user" ends the turn; "model" would loop.
        for pref in ("user", "flash"):
            if pref in enum:
                return pref
        return enum[0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema and schema[key]:
            return value_for_schema(schema[key][0], name)
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), t[0] if t else "string")
    if isinstance(t, str):
        t = t.lower()
    if t == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {k: value_for_schema(v, k) for k, v in props.items()}
    if t == "array":
        return []
    if t in ("integer", "number"):
        lo = schema.get("minimum", 1)
        hi = schema.get("maximum")
        v = max(1, lo) if isinstance(lo, (int, float)) else 1
        if isinstance(hi, (int, float)) and v > hi:
            v = hi
        return int(v) if t == "integer" else v
    if t == "boolean":
        return False
    if name in ("title",):
        return "Mock title"
    return "mock"


# --------------------------------------------------------------------------------------
# Helpers shared by the APIs
# --------------------------------------------------------------------------------------


def est_tokens(obj) -> int:
    try:
        n = len(json.dumps(obj))
    except (TypeError, ValueError):
        n = 0
    return max(1, n // 4)


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def find_cwd(text: str) -> str | None:
    for pat in (r"Primary working directory:\s*(/[^\n]*)",
                r"Working directory:\s*(/[^\n]*)",
                r"<cwd>\s*(/[^<\n]*)\s*</cwd>",
                r"current working directory[^/\n]*?(/[^\s\n'\"`]*)",
                r"working in the directory:?\s*(/[^\s\n'\"`]*)"):
        m = re.search(pat, text, re.IGNORECASE)
        if m:
            return m.group(1).strip().rstrip(".")
    return None


def text_of(obj) -> str:
    """All strings in a JSON value, joined by newlines (for cwd lookup)."""
    out = []

    def walk(o):
        if isinstance(o, str):
            out.append(o)
        elif isinstance(o, list):
            for x in o:
                walk(x)
        elif isinstance(o, dict):
            for x in o.values():
                walk(x)

    walk(obj)
    return "\n".join(out)


# --------------------------------------------------------------------------------------
# Per-API conversation readers: (script steps, tool results after the script)
# --------------------------------------------------------------------------------------


def anthropic_script(body: dict) -> tuple[list[Step], int]:
    msgs = body.get("messages") or []
    script_at, steps = None, []
    for i, m in enumerate(msgs):
        if m.get("role") != "user":
            continue
        c = m.get("content")
        if isinstance(c, str):
            texts = [c]
        else:
            texts = [b.get("text", "") for b in (c or [])
                     if isinstance(b, dict) and b.get("type") == "text"]
        found = parse_script("\n".join(texts))
        if found:
            script_at, steps = i, found
    if script_at is None:
        return [], 0
    n = 0
    for m in msgs[script_at + 1:]:
        c = m.get("content")
        if m.get("role") == "user" and isinstance(c, list):
            n += sum(1 for b in c if isinstance(b, dict) and b.get("type") == "tool_result")
    return steps, n


def responses_script(body: dict) -> tuple[list[Step], int]:
    items = body.get("input")
    if isinstance(items, str):
        return parse_script(items), 0
    items = items or []
    script_at, steps = None, []
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            continue
        if it.get("role") != "user" or it.get("type", "message") != "message":
            continue
        c = it.get("content")
        if isinstance(c, str):
            texts = [c]
        else:
            texts = [p.get("text", "") for p in (c or []) if isinstance(p, dict)]
        found = parse_script("\n".join(texts))
        if found:
            script_at, steps = i, found
    if script_at is None:
        return [], 0
    n = sum(1 for it in items[script_at + 1:] if isinstance(it, dict)
            and it.get("type") in ("function_call_output", "custom_tool_call_output",
                                   "local_shell_call_output", "tool_search_output"))
    return steps, n


def gemini_script(body: dict) -> tuple[list[Step], int]:
    contents = body.get("contents") or []
    script_at, steps = None, []
    for i, c in enumerate(contents):
        if c.get("role", "user") != "user":
            continue
        texts = [p.get("text", "") for p in (c.get("parts") or [])
                 if isinstance(p, dict) and "text" in p]
        found = parse_script("\n".join(texts))
        if found:
            script_at, steps = i, found
    if script_at is None:
        return [], 0
    # Distinct responses: a session gemini resumes after a usage limit carries the response
    # it was sending when the limit met it twice (seen with gemini 0.61).
    seen = set()
    for c in contents[script_at + 1:]:
        for p in (c.get("parts") or []):
            if isinstance(p, dict) and "functionResponse" in p:
                seen.add(json.dumps(p["functionResponse"], sort_keys=True))
    return steps, len(seen)


def chat_text(content) -> str:
    """The text of a chat message's content (a string, or a list of parts). A message
    wrapped whole in double quotes (opencode quotes its argv message) is unwrapped."""
    t = content if isinstance(content, str) else "\n".join(
        p.get("text", "") if isinstance(p, dict) else str(p) for p in (content or []))
    t = t or ""
    s = t.strip()
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return s[1:-1]
    return t


def chat_script(body: dict) -> tuple[list[Step], int]:
    """Chat completions: the script in the last user message holding one, and the number
    of `role: tool` results after it."""
    msgs = body.get("messages") or []
    script_at, steps = None, []
    for i, m in enumerate(msgs):
        if isinstance(m, dict) and m.get("role") == "user":
            found = parse_script(chat_text(m.get("content")))
            if found:
                script_at, steps = i, found
    if script_at is None:
        return [], 0
    n = sum(1 for m in msgs[script_at + 1:] if isinstance(m, dict) and m.get("role") == "tool")
    return steps, n


def chat_schema(body: dict):
    """The JSON schema of a chat request asking for structured output, else None."""
    rf = body.get("response_format")
    if isinstance(rf, dict):
        if rf.get("type") == "json_schema":
            return (rf.get("json_schema") or {}).get("schema") or {}
        if rf.get("type") == "json_object":
            return {}
    return None


def ollama_script(body: dict) -> tuple[list[Step], int]:
    msgs = body.get("messages") or []
    script_at, steps = None, []
    for i, m in enumerate(msgs):
        if m.get("role") == "user":
            found = parse_script(m.get("content") or "")
            if found:
                script_at, steps = i, found
    if script_at is None:
        # /api/generate
        found = parse_script(body.get("prompt") or "")
        return found, 0
    n = sum(1 for m in msgs[script_at + 1:] if m.get("role") == "tool")
    return steps, n


def user_texts(api: str, body: dict) -> list[str]:
    """The text of each user-authored message (tool results left out), in order."""
    out = []
    if api == "anthropic":
        for m in body.get("messages") or []:
            if m.get("role") != "user":
                continue
            c = m.get("content")
            t = c if isinstance(c, str) else "\n".join(
                b.get("text", "") for b in (c or [])
                if isinstance(b, dict) and b.get("type") == "text")
            if t:
                out.append(t)
    elif api == "openai":
        items = body.get("input")
        if isinstance(items, str):
            return [items]
        for it in items or []:
            if isinstance(it, dict) and it.get("role") == "user" \
                    and it.get("type", "message") == "message":
                c = it.get("content")
                t = c if isinstance(c, str) else "\n".join(
                    p.get("text", "") for p in (c or []) if isinstance(p, dict))
                if t:
                    out.append(t)
    elif api == "gemini":
        for c in body.get("contents") or []:
            if c.get("role", "user") == "user":
                t = "\n".join(p.get("text", "") for p in (c.get("parts") or [])
                              if isinstance(p, dict) and "text" in p)
                if t:
                    out.append(t)
    elif api in ("ollama", "openai-chat"):
        for m in body.get("messages") or []:
            if m.get("role") == "user":
                c = m.get("content")
                out.append(c if isinstance(c, str) else text_of(c))
        if body.get("prompt"):
            out.append(body["prompt"])
    return out


def tool_names(body: dict) -> list[str]:
    names = []
    for t in body.get("tools") or []:
        if not isinstance(t, dict):
            continue
        if "functionDeclarations" in t or "function_declarations" in t:
            names += [f.get("name") for f in
                      (t.get("functionDeclarations") or t.get("function_declarations") or [])]
        elif t.get("name"):
            names.append(t["name"])
        elif isinstance(t.get("function"), dict):
            names.append(t["function"].get("name"))
        elif t.get("type"):
            names.append(t["type"])
    return names


def summarize(api: str, body) -> dict:
    """The fields tests assert on most, pulled out of the request body."""
    if not isinstance(body, dict) or api not in ("anthropic", "openai", "gemini", "ollama",
                                                 "openai-chat"):
        return {}
    texts = user_texts(api, body)
    scripted = [t for t in texts if SCRIPT_LINE.search(t)]
    summary = {
        "model": body.get("model"),
        "stream": bool(body.get("stream")),
        "tools": tool_names(body),
        "prompt": scripted[-1] if scripted else (texts[-1] if texts else None),
    }
    if api == "openai":
        meta = (body.get("client_metadata") or {}).get("x-codex-turn-metadata")
        try:
            meta = json.loads(meta) if isinstance(meta, str) else None
        except ValueError:
            meta = None
        if isinstance(meta, dict):
            for k in ("sandbox_mode", "request_kind", "turn_trigger", "thread_source"):
                if k in meta:
                    summary[k] = meta[k]
    return summary


# --------------------------------------------------------------------------------------
# Tool choice per API
# --------------------------------------------------------------------------------------


def anthropic_tool(d: Decision, body: dict) -> None:
    if d.step.kind == "tool":
        d.tool_name, d.tool_args = split_tool(d.step.arg)
        return
    tools = {t.get("name"): t for t in (body.get("tools") or []) if isinstance(t, dict)}
    s = d.step
    if s.kind == "write":
        path, content = split_write(s.arg)
        if not os.path.isabs(path):
            cwd = find_cwd(text_of(body.get("system"))) or find_cwd(text_of(body.get("messages")))
            if cwd:
                path = os.path.join(cwd, path)
        if "Write" in tools:
            d.tool_name, d.tool_args = "Write", {"file_path": path, "content": content}
            return
        cmd = write_command(path, content)
    else:
        cmd = s.arg
    d.tool_name, d.tool_args = "Bash", {"command": cmd, "description": "Run scripted command"}


def openai_tool(d: Decision, body: dict) -> None:
    if d.step.kind == "tool":
        d.tool_name, d.tool_args = split_tool(d.step.arg)
        return
    tools = {}
    for t in body.get("tools") or []:
        if not isinstance(t, dict):
            continue
        name = t.get("name") or (t.get("function") or {}).get("name")
        if name:
            tools[name] = t
    s = d.step
    if s.kind == "write":
        path, content = split_write(s.arg)
        if "apply_patch" in tools:
            body_lines = content[:-1].split("\n") if content.endswith("\n") else content.split("\n")
            patch = "*** Begin Patch\n*** Add File: " + path + "\n" + \
                "".join("+" + ln + "\n" for ln in body_lines) + "*** End Patch\n"
            t = tools["apply_patch"]
            d.tool_name = "apply_patch"
            if t.get("type") == "custom":
                d.tool_type, d.tool_args = "custom", patch
            else:
                props = ((t.get("parameters") or (t.get("function") or {}).get("parameters")
                          or {}).get("properties") or {})
                key = "input" if "input" in props or not props else next(iter(props))
                d.tool_args = {key: patch}
            return
        cmd = write_command(path, content)
    else:
        cmd = s.arg
    for name in ("exec_command", "shell_command", "shell", "local_shell", "bash"):
        if name in tools:
            t = tools[name]
            props = ((t.get("parameters") or (t.get("function") or {}).get("parameters")
                      or {}).get("properties") or {})
            d.tool_name = name
            if "cmd" in props:
                d.tool_args = {"cmd": cmd}
                # `escalate`: ask to run outside codex's sandbox, as a model does when the
                # sandbox refused a command (codex then shows an approval prompt).
                if s.kind == "escalate" and "sandbox_permissions" in props:
                    d.tool_args["sandbox_permissions"] = "require_escalated"
                    if "justification" in props:
                        d.tool_args["justification"] = "Commit the change to the branch?"
            elif props.get("command", {}).get("type") == "array":
                d.tool_args = {"command": ["bash", "-lc", cmd]}
            else:
                d.tool_args = {"command": cmd}
            return
    d.tool_name, d.tool_args = "exec_command", {"cmd": cmd}


def gemini_tool(d: Decision, body: dict) -> None:
    if d.step.kind == "tool":
        d.tool_name, d.tool_args = split_tool(d.step.arg)
        return
    names = set()
    for t in body.get("tools") or []:
        for f in (t.get("functionDeclarations") or t.get("function_declarations") or []):
            names.add(f.get("name"))
    s = d.step
    if s.kind == "write":
        path, content = split_write(s.arg)
        if "write_file" in names or not names:
            d.tool_name, d.tool_args = "write_file", {"file_path": path, "content": content}
            return
        cmd = write_command(path, content)
    else:
        cmd = s.arg
    d.tool_name, d.tool_args = "run_shell_command", {"command": cmd,
                                                     "description": "Run scripted command"}


# Chat-completions / Ollama tools, by the names each CLI gives them (first offered wins):
#   opencode `write{filePath, content}`, `bash{command, description, ...}`;
#   copilot `create{path (absolute), file_text}`, `edit{path, old_str, new_str}`,
#   `bash{command, description, ...}`;
#   qwen `write_file{file_path (absolute), content}`, `run_shell_command{command, ...}`;
#   cn `Write{filepath, content}`, `Bash{command}`.
CHAT_WRITE_TOOLS = ("write", "create", "write_file", "Write", "create_file")
CHAT_SHELL_TOOLS = ("bash", "run_shell_command", "Bash", "shell", "exec_command",
                    "shell_command", "run_command")
PATH_KEYS = ("filePath", "file_path", "filepath", "path", "absolute_path", "filename")
CONTENT_KEYS = ("content", "file_text", "text", "contents")


def chat_tools(body: dict) -> dict:
    """name -> JSON-schema `parameters` of each offered function tool (chat completions,
    Ollama)."""
    out = {}
    for t in body.get("tools") or []:
        if not isinstance(t, dict):
            continue
        f = t.get("function") if isinstance(t.get("function"), dict) else t
        if f.get("name"):
            out[f["name"]] = f.get("parameters") or f.get("input_schema") or {}
    return out


def fill_required(args: dict, params: dict) -> dict:
    """Give every required parameter left unset a value made from its schema (a tool's
    `description`, qwen's `is_background`, ...), so the CLI accepts the call."""
    props = params.get("properties") or {}
    for k in params.get("required") or []:
        if k not in args and k in props:
            args[k] = value_for_schema(props[k], k)
    return args


def chat_tool(d: Decision, body: dict) -> None:
    """A chat-completions (or Ollama) tool call for the step, shaped after the tools the
    request offers. Paths are made absolute with the cwd the request states (qwen's
    write_file and copilot's create reject relative ones)."""
    if d.step.kind == "tool":
        d.tool_name, d.tool_args = split_tool(d.step.arg)
        return
    tools = chat_tools(body)
    s = d.step
    if s.kind == "edit":
        # copilot `edit{path (absolute), old_str, new_str}`; else the same through a shell.
        path, old, new = split_edit(s.arg)
        if not os.path.isabs(path):
            cwd = find_cwd(text_of(body.get("messages"))) or find_cwd(text_of(body.get("system")))
            if cwd:
                path = os.path.join(cwd, path)
        props = (tools.get("edit") or {}).get("properties") or {}
        if all(k in props for k in ("path", "old_str", "new_str")):
            d.tool_name = "edit"
            d.tool_args = fill_required({"path": path, "old_str": old, "new_str": new},
                                        tools["edit"])
            return
        script = ("import sys; p, a, b = sys.argv[1:]; t = open(p).read(); "
                  "open(p, 'w').write(t.replace(a, b, 1))")
        s = Step("run", " ".join(shell_quote(x) for x in ("python3", "-c", script, path, old, new)),
                 s.line)
    if s.kind == "write":
        path, content = split_write(s.arg)
        if not os.path.isabs(path):
            cwd = find_cwd(text_of(body.get("messages"))) or find_cwd(text_of(body.get("system")))
            if cwd:
                path = os.path.join(cwd, path)
        for name in CHAT_WRITE_TOOLS:
            if name not in tools:
                continue
            props = tools[name].get("properties") or {}
            pk = next((k for k in PATH_KEYS if k in props), None)
            ck = next((k for k in CONTENT_KEYS if k in props), None)
            if pk and ck:
                d.tool_name = name
                d.tool_args = fill_required({pk: path, ck: content}, tools[name])
                return
        cmd = write_command(path, content)
    else:
        cmd = s.arg
    for name in CHAT_SHELL_TOOLS:
        if name in tools:
            props = tools[name].get("properties") or {}
            if "cmd" in props:
                args = {"cmd": cmd}
            elif (props.get("command") or {}).get("type") == "array":
                args = {"command": ["bash", "-lc", cmd]}
            else:
                args = {"command": cmd}
            if "description" in props:
                args["description"] = "Run scripted command"
            d.tool_name, d.tool_args = name, fill_required(args, tools[name])
            return
    # Not offered: call it anyway, so the test sees the CLI refuse it.
    d.tool_name, d.tool_args = ("bash" if not tools else "shell"), {"command": cmd}


ollama_tool = chat_tool


# aider sends no tools: it reads edits from the reply text in its edit format, then asks
# for a commit message in a side request.


def aider_kind(body: dict) -> str | None:
    """"commit" (aider's commit-message request), "whole" or "diff" (its coder request in
    that edit format), or None for any other client. aider sends no tools, and its system
    prompts are recognisable."""
    if body.get("tools"):
        return None
    system = "\n".join(chat_text(m.get("content")) for m in body.get("messages") or []
                       if isinstance(m, dict) and m.get("role") == "system")
    if "generates concise, one-line Git commit messages" in system:
        return "commit"
    if "*SEARCH/REPLACE block*" in system or "SEARCH/REPLACE blocks" in system:
        return "diff"
    if "*file listing*" in system:
        return "whole"
    return None


def aider_reply(steps: list[Step], fmt: str) -> str:
    """All the script's writes as one reply in aider's edit format (aider applies every
    edit of a reply at once), then the final text. In the diff format `run` steps become a
    ```bash block, which aider offers to run ("Run shell command?"); the whole format has
    no way to say one."""
    out = []
    for s in steps:
        if s.kind == "write":
            path, content = split_write(s.arg)
            if fmt == "diff":
                out.append(f"{path}\n```\n<<<<<<< SEARCH\n=======\n{content}>>>>>>> REPLACE\n```\n")
            else:
                out.append(f"{path}\n```\n{content}```\n")
        elif s.kind in ("run", "escalate") and fmt == "diff":
            # In the whole format every fenced block is a file listing: no commands there.
            out.append(f"```bash\n{s.arg}\n```\n")
    out.append(final_text(steps))
    return "\n".join(out)


# --------------------------------------------------------------------------------------
# The HTTP server
# --------------------------------------------------------------------------------------

ANTHROPIC_ERROR = {400: "invalid_request_error", 401: "authentication_error",
                   403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                   429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
OPENAI_ERROR = {400: "invalid_request_error", 401: "invalid_request_error",
                403: "permission_error", 404: "invalid_request_error", 429: "rate_limit_error",
                500: "server_error", 503: "server_error"}

ANTHROPIC_MODELS = ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805",
                    "claude-haiku-4-5-20251001"]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, log_path: str | None):
        super().__init__(addr, handler)
        self.log_path = log_path
        self.log_lock = threading.Lock()
        # `limit` steps: the step's line -> when its window ends (the first request that
        # met it opened the window).
        self.limits: dict[str, float] = {}
        self.limits_lock = threading.Lock()

    def limit_window(self, step: Step) -> float:
        """Seconds left in the window of `limit` step `step` (0 once it is over)."""
        try:
            seconds = float(step.arg.split()[0])
        except (ValueError, IndexError):
            seconds = 5.0
        now = time.time()
        with self.limits_lock:
            until = self.limits.setdefault(step.line, now + seconds)
        return max(0.0, until - now)

    def log_json(self, entry: dict) -> None:
        if not self.log_path:
            return
        line = json.dumps(entry, ensure_ascii=False)
        with self.log_lock:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vnx-model-server/1"
    server: Server

    # quiet: the JSONL log is the record
    def log_message(self, fmt, *args):  # noqa: N802
        pass

    # ---- plumbing -------------------------------------------------------------------

    def _read_body(self) -> bytes:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            data = b""
            while True:
                size_line = self.rfile.readline().strip()
                size = int(size_line.split(b";")[0] or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
        else:
            n = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(n) if n else b""
        enc = (self.headers.get("Content-Encoding") or "").lower()
        if enc == "gzip":
            data = gzip.decompress(data)
        elif enc == "deflate":
            data = zlib.decompress(data)
        return data

    def _key_sha256(self, query: dict) -> str | None:
        """The SHA-256 of the key the request carried (a bearer token without its scheme), so
        a test can tell which key reached the server without the log holding it."""
        for h in ("x-api-key", "x-goog-api-key", "api-key", "authorization"):
            if h in self.headers:
                value = self.headers[h]
                if h == "authorization" and value.lower().startswith("bearer "):
                    value = value[7:]
                return hashlib.sha256(value.encode()).hexdigest()
        if "key" in query:
            return hashlib.sha256(query["key"][0].encode()).hexdigest()
        return None

    def _headers_for_log(self) -> dict:
        out = {}
        for k, v in self.headers.items():
            lk = k.lower()
            out[lk] = "<present>" if lk in SECRET_HEADERS else v
        return out

    def _send_json(self, status: int, obj, extra_headers: dict | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
            self.wfile.flush()

    def _start_stream(self, content_type: str, extra_headers: dict | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True

    def _sse(self, event: str | None, data) -> None:
        chunk = ""
        if event:
            chunk += f"event: {event}\n"
        chunk += "data: " + (data if isinstance(data, str) else json.dumps(data)) + "\n\n"
        self.wfile.write(chunk.encode())
        self.wfile.flush()

    def _log(self, api: str, body, answer: dict, started: float) -> None:
        u = urlsplit(self.path)
        q = {k: (v if k != "key" else ["<present>"]) for k, v in parse_qs(u.query).items()}
        summary = summarize(api, body)
        m = re.search(r"/models/([^/:]+):", u.path)
        if summary and m and not summary.get("model"):
            summary["model"] = m.group(1)
            summary["stream"] = u.path.endswith(":streamGenerateContent")
        self.server.log_json({
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started))
                    + f".{int((started % 1) * 1000):03d}Z",
            "method": self.command,
            "path": u.path,
            "query": q,
            "api": api,
            "headers": self._headers_for_log(),
            "auth": any(h in self.headers for h in ("authorization", "x-api-key",
                                                    "x-goog-api-key")) or "key" in q,
            "key_sha256": self._key_sha256(parse_qs(u.query)),
            "summary": summary,
            "body": body,
            "answer": answer,
        })

    # ---- routing --------------------------------------------------------------------

    def do_HEAD(self):  # noqa: N802
        self._send_json(200, {})

    def do_GET(self):  # noqa: N802
        self._route("GET")

    def do_POST(self):  # noqa: N802
        self._route("POST")

    def do_PUT(self):  # noqa: N802
        self._route("PUT")

    def do_DELETE(self):  # noqa: N802
        self._route("DELETE")

    def _route(self, method: str) -> None:
        started = time.time()
        raw = self._read_body() if method in ("POST", "PUT") else b""
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"_raw": raw[:4000].decode("utf-8", "replace")}
        path = urlsplit(self.path).path
        query = parse_qs(urlsplit(self.path).query)
        b = body if isinstance(body, dict) else {}
        try:
            # Anthropic
            if path.endswith("/v1/messages/count_tokens") and method == "POST":
                self._log("anthropic", body, {"kind": "count_tokens"}, started)
                return self._send_json(200, {"input_tokens": est_tokens(b)})
            if path.endswith("/v1/messages") and method == "POST":
                return self._anthropic(b, started)
            # OpenAI Responses (codex) and chat completions
            if path.endswith("/responses") and method == "POST":
                return self._responses(b, started)
            if path.endswith("/chat/completions") and method == "POST":
                return self._chat_completions(b, started)
            if path.endswith("/models") and method == "GET" and "/v1beta" not in path:
                return self._models(path, started)
            # Gemini
            m = re.search(r"/models/([^/:]+):(\w+)$", path)
            if m and method == "POST":
                return self._gemini(m.group(1), m.group(2), query, b, started)
            if "/v1beta/models" in path and method == "GET":
                self._log("gemini", body, {"kind": "models"}, started)
                return self._send_json(200, {"models": [
                    {"name": "models/gemini-2.5-pro", "displayName": "Gemini 2.5 Pro"},
                    {"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash"}]})
            # Ollama
            if path.startswith("/api/"):
                return self._ollama(path, method, b, started)
            if path in ("/", "") and method == "GET":
                self._log("none", body, {"kind": "root"}, started)
                return self._send_json(200, {"status": "ok"})
        except (BrokenPipeError, ConnectionResetError):
            return
        self._log("none", body, {"kind": "not_found", "status": 404}, started)
        if "/v1beta" in path:
            return self._send_json(404, {"error": {"code": 404, "message": "not found",
                                                   "status": "NOT_FOUND"}})
        if path.startswith("/api/"):
            return self._send_json(404, {"error": "not found"})
        return self._send_json(404, {"type": "error", "error": {
            "type": "not_found_error", "message": f"Not found: {path}"}})

    # ---- common decision ------------------------------------------------------------

    def _decide(self, steps, n, has_tools: bool, schema=None) -> Decision:
        """Side requests never follow the script. A request that asks for structured
        output (claude's and codex's title generation, gemini's routing classifier and
        next-speaker check) gets JSON made from its schema; one that offers no tools
        (claude's haiku side requests) or has no script gets a short text."""
        if schema is not None:
            return Decision("json", json_value=value_for_schema(schema), tool_results=n)
        if not steps or not has_tools:
            return Decision("side", text=SIDE_TEXT, tool_results=n)
        return self._limited(steps, n, decide(steps, n))

    def _limited(self, steps, n, d: Decision) -> Decision:
        """`d`, or past each `limit` step whose window is over: the next decision."""
        passed: set[str] = set()
        while d.kind == "limit":
            left = self.server.limit_window(d.step)
            if left > 0:
                words = d.step.arg.split()[1:]
                # `says=N`: the reset the answer names, an hour where the test ends the
                # window sooner (a CLI gives up at once on a far reset).
                says = [w[5:] for w in words if w.startswith("says=")]
                d.reset_in = float(says[0]) if says and says[0].isdigit() else left
                d.quota = "quota" in words
                return d
            passed.add(d.step.line)
            d = decide(steps, n, frozenset(passed))
        return d

    def _send_limit(self, api: str, d: Decision) -> None:
        """A usage limit as each hosted API answers one: HTTP 429, its own error body and
        the headers that say when it resets."""
        left = max(1, int(d.reset_in + 0.999))
        reset_epoch = int(time.time() + d.reset_in + 0.999)
        reset_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset_epoch))
        if api == "anthropic":
            headers = {"request-id": new_id("req_"), "retry-after": str(left),
                       "x-should-retry": "true",
                       "anthropic-ratelimit-requests-limit": "50",
                       "anthropic-ratelimit-requests-remaining": "0",
                       "anthropic-ratelimit-requests-reset": reset_iso,
                       "anthropic-ratelimit-tokens-reset": reset_iso,
                       "anthropic-ratelimit-input-tokens-reset": reset_iso,
                       "anthropic-ratelimit-output-tokens-reset": reset_iso,
                       # What a claude.ai subscription's limit adds (claude reads these).
                       "anthropic-ratelimit-unified-status": "rejected",
                       "anthropic-ratelimit-unified-reset": str(reset_epoch),
                       "anthropic-ratelimit-unified-representative-claim": "five_hour"}
            return self._send_json(429, {"type": "error", "error": {
                "type": "rate_limit_error",
                "message": "This request would exceed your account's rate limit. "
                           "Please try again later."}}, headers)
        if api == "gemini":
            per = "Minute" if "minute" in d.step.arg.split()[1:] else "Day"
            return self._send_json(429, {"error": {
                "code": 429,
                "message": "You exceeded your current quota, please check your plan and "
                           "billing details.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                     "violations": [{"quotaMetric": "generativelanguage.googleapis.com/"
                                     "generate_content_free_tier_requests",
                                     "quotaId": f"GenerateRequestsPer{per}PerProjectPerModel"
                                     "-FreeTier"}]},
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                     "retryDelay": f"{left}s"}]}})
        # OpenAI's APIs (the Responses API and chat completions).
        if d.quota:
            body = {"error": {"message": "You exceeded your current quota, please check your "
                              "plan and billing details.", "type": "insufficient_quota",
                              "param": None, "code": "insufficient_quota"}}
        else:
            body = {"error": {"message": "Rate limit reached for requests. Please try again "
                              f"in {left}s.", "type": "requests", "param": None,
                              "code": "rate_limit_exceeded"}}
        return self._send_json(429, body, {
            "x-request-id": new_id("req_"), "retry-after": str(left),
            "x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{left}s", "x-ratelimit-reset-tokens": f"{left}s"})

    # ---- Anthropic ------------------------------------------------------------------

    def _anthropic(self, body: dict, started: float) -> None:
        steps, n = anthropic_script(body)
        schema = None
        # structured output: claude's title request sends output_config.format (json_schema)
        for of in (body.get("output_format"), (body.get("output_config") or {}).get("format")):
            if isinstance(of, dict) and of.get("schema"):
                schema = of["schema"]
        d = self._decide(steps, n, bool(body.get("tools")), schema)
        if d.kind == "tool":
            anthropic_tool(d, body)
        self._log("anthropic", body, d.log(), started)
        if d.sleep:
            time.sleep(d.sleep)
        if d.kind == "limit":
            return self._send_limit("anthropic", d)
        if d.kind == "fail":
            return self._send_json(d.status, {"type": "error", "error": {
                "type": ANTHROPIC_ERROR.get(d.status, "api_error"),
                "message": "scripted failure"}}, {"request-id": new_id("req_"),
                                                  "x-should-retry": "false"
                                                  if d.status < 500 else "true"})
        model = body.get("model") or ANTHROPIC_MODELS[0]
        msg_id = new_id("msg_")
        in_tok = est_tokens(body)
        blocks = []
        if d.kind == "tool":
            if d.preface:
                blocks.append({"type": "text", "text": d.preface})
            blocks.append({"type": "tool_use", "id": new_id("toolu_"), "name": d.tool_name,
                           "input": d.tool_args})
            stop = "tool_use"
        else:
            text = json.dumps(d.json_value) if d.kind == "json" else d.text
            blocks.append({"type": "text", "text": text})
            stop = "end_turn"
        out_tok = max(1, est_tokens(blocks) // 2)
        usage = {"input_tokens": in_tok, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0, "output_tokens": out_tok,
                 "service_tier": "standard"}
        headers = {"request-id": new_id("req_")}
        if not body.get("stream"):
            return self._send_json(200, {
                "id": msg_id, "type": "message", "role": "assistant", "model": model,
                "content": blocks, "stop_reason": stop, "stop_sequence": None,
                "usage": usage}, headers)
        self._start_stream("text/event-stream", headers)
        start_usage = dict(usage, output_tokens=1)
        self._sse("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}})
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                self._sse("content_block_start", {"type": "content_block_start",
                                                  "index": index,
                                                  "content_block": {"type": "text",
                                                                    "text": ""}})
                self._sse("ping", {"type": "ping"})
                self._sse("content_block_delta", {"type": "content_block_delta",
                                                  "index": index,
                                                  "delta": {"type": "text_delta",
                                                            "text": block["text"]}})
            else:
                self._sse("content_block_start", {"type": "content_block_start",
                                                  "index": index,
                                                  "content_block": dict(block, input={})})
                self._sse("ping", {"type": "ping"})
                self._sse("content_block_delta", {"type": "content_block_delta",
                                                  "index": index,
                                                  "delta": {"type": "input_json_delta",
                                                            "partial_json": json.dumps(
                                                                block["input"])}})
            self._sse("content_block_stop", {"type": "content_block_stop", "index": index})
        self._sse("message_delta", {"type": "message_delta",
                                    "delta": {"stop_reason": stop, "stop_sequence": None},
                                    "usage": {"input_tokens": in_tok,
                                              "cache_creation_input_tokens": 0,
                                              "cache_read_input_tokens": 0,
                                              "output_tokens": out_tok}})
        self._sse("message_stop", {"type": "message_stop"})

    def _models(self, path: str, started: float) -> None:
        now = int(time.time())
        self._log("models", None, {"kind": "models"}, started)
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z",
                 "object": "model", "created": now, "owned_by": "mock"}
                for m in ANTHROPIC_MODELS + ["gpt-5.5", OLLAMA_MODEL]]
        self._send_json(200, {"object": "list", "data": data, "has_more": False,
                              "first_id": data[0]["id"], "last_id": data[-1]["id"]})

    # ---- OpenAI Responses -----------------------------------------------------------

    def _responses(self, body: dict, started: float) -> None:
        steps, n = responses_script(body)
        schema = None
        fmt = ((body.get("text") or {}).get("format") or {})
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            schema = fmt.get("schema")
        d = self._decide(steps, n, bool(body.get("tools")), schema)
        if d.kind == "tool":
            openai_tool(d, body)
        self._log("openai", body, d.log(), started)
        if d.sleep:
            time.sleep(d.sleep)
        if d.kind == "limit":
            return self._send_limit("openai", d)
        if d.kind == "fail":
            return self._send_json(d.status, {"error": {
                "message": "scripted failure", "type": OPENAI_ERROR.get(d.status, "server_error"),
                "param": None, "code": None}}, {"x-request-id": new_id("req_")})
        model = body.get("model") or "gpt-5.5"
        resp_id = new_id("resp_")
        in_tok = est_tokens(body)
        if d.kind == "tool":
            call_id = new_id("call_")
            if d.tool_type == "custom":
                item = {"type": "custom_tool_call", "id": new_id("ctc_"), "status": "completed",
                        "call_id": call_id, "name": d.tool_name, "input": d.tool_args}
            else:
                item = {"type": "function_call", "id": new_id("fc_"), "status": "completed",
                        "call_id": call_id, "name": d.tool_name,
                        "arguments": json.dumps(d.tool_args)}
        else:
            text = json.dumps(d.json_value) if d.kind == "json" else d.text
            item = {"type": "message", "id": new_id("msg_"), "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}
        out_tok = max(1, est_tokens(item) // 2)
        usage = {"input_tokens": in_tok, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": out_tok, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": in_tok + out_tok}
        base = {"id": resp_id, "object": "response", "created_at": int(started),
                "model": model, "error": None, "incomplete_details": None,
                "parallel_tool_calls": False, "tool_choice": "auto", "tools": []}
        final = dict(base, status="completed", output=[item], usage=usage)
        if not body.get("stream"):
            return self._send_json(200, final)
        self._start_stream("text/event-stream", {"x-request-id": new_id("req_")})
        seq = iter(range(1000))

        def ev(kind, **fields):
            self._sse(kind, dict({"type": kind, "sequence_number": next(seq)}, **fields))

        ev("response.created", response=dict(base, status="in_progress", output=[]))
        ev("response.in_progress", response=dict(base, status="in_progress", output=[]))
        if item["type"] == "message":
            text = item["content"][0]["text"]
            ev("response.output_item.added", output_index=0,
               item=dict(item, status="in_progress", content=[]))
            ev("response.content_part.added", item_id=item["id"], output_index=0,
               content_index=0, part={"type": "output_text", "text": "", "annotations": []})
            ev("response.output_text.delta", item_id=item["id"], output_index=0,
               content_index=0, delta=text)
            ev("response.output_text.done", item_id=item["id"], output_index=0,
               content_index=0, text=text)
            ev("response.content_part.done", item_id=item["id"], output_index=0,
               content_index=0, part=item["content"][0])
        elif item["type"] == "function_call":
            ev("response.output_item.added", output_index=0,
               item=dict(item, status="in_progress", arguments=""))
            ev("response.function_call_arguments.delta", item_id=item["id"], output_index=0,
               delta=item["arguments"])
            ev("response.function_call_arguments.done", item_id=item["id"], output_index=0,
               arguments=item["arguments"])
        else:
            ev("response.output_item.added", output_index=0,
               item=dict(item, status="in_progress", input=""))
            ev("response.custom_tool_call_input.delta", item_id=item["id"], output_index=0,
               delta=item["input"])
            ev("response.custom_tool_call_input.done", item_id=item["id"], output_index=0,
               input=item["input"])
        ev("response.output_item.done", output_index=0, item=item)
        ev("response.completed", response=final)

    def _chat_completions(self, body: dict, started: float) -> None:
        """OpenAI chat completions (opencode, qwen, copilot, aider, cn, and Ollama's
        OpenAI compatibility at /v1/chat/completions), streamed or not."""
        steps, n = chat_script(body)
        aider = aider_kind(body)
        if aider == "commit":
            d = Decision("side", text="Add the scripted change", tool_results=n)
        elif aider and steps:
            # aider: no tools; the edits are in the reply text (one reply for the script).
            d = self._limited(steps, 0, decide(steps, 0))
            if d.kind in ("tool", "text"):
                d = Decision("text", text=aider_reply(steps, aider), sleep=d.sleep)
        else:
            d = self._decide(steps, n, bool(body.get("tools")), chat_schema(body))
        if d.kind == "tool":
            chat_tool(d, body)
        self._log("openai-chat", body, d.log(), started)
        if d.sleep:
            time.sleep(d.sleep)
        if d.kind == "limit":
            return self._send_limit("openai", d)
        if d.kind == "fail":
            return self._send_json(d.status, {"error": {
                "message": "scripted failure", "type": OPENAI_ERROR.get(d.status, "server_error"),
                "param": None, "code": None}}, {"x-request-id": new_id("req_")})
        model = body.get("model") or OLLAMA_MODEL
        cid = new_id("chatcmpl-")
        if d.kind == "tool":
            msg = {"role": "assistant", "content": None, "tool_calls": [{
                "id": new_id("call_"), "type": "function",
                "function": {"name": d.tool_name, "arguments": json.dumps(d.tool_args)}}]}
            finish = "tool_calls"
        else:
            text = json.dumps(d.json_value) if d.kind == "json" else d.text
            msg = {"role": "assistant", "content": text}
            finish = "stop"
        in_tok, out_tok = est_tokens(body), max(1, est_tokens(msg) // 2)
        usage = {"prompt_tokens": in_tok, "completion_tokens": out_tok,
                 "total_tokens": in_tok + out_tok,
                 "prompt_tokens_details": {"cached_tokens": 0},
                 "completion_tokens_details": {"reasoning_tokens": 0}}
        if not body.get("stream"):
            return self._send_json(200, {"id": cid, "object": "chat.completion",
                                         "created": int(started), "model": model,
                                         "choices": [{"index": 0, "message": msg,
                                                      "logprobs": None,
                                                      "finish_reason": finish}],
                                         "usage": usage})
        self._start_stream("text/event-stream", {"x-request-id": new_id("req_")})

        def chunk(delta, finish_reason=None, **extra):
            self._sse(None, dict({"id": cid, "object": "chat.completion.chunk",
                                  "created": int(started), "model": model,
                                  "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                               "finish_reason": finish_reason}]}, **extra))

        chunk({"role": "assistant", "content": ""})
        if "tool_calls" in msg:
            tc = msg["tool_calls"][0]
            # As OpenAI streams it: id, type and name first, then the arguments in pieces.
            chunk({"tool_calls": [{"index": 0, "id": tc["id"], "type": "function",
                                   "function": {"name": tc["function"]["name"],
                                                "arguments": ""}}]})
            args = tc["function"]["arguments"]
            for i in range(0, len(args), 64):
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[i:i + 64]}}]})
        else:
            text = msg["content"]
            for i in range(0, len(text), 64):
                chunk({"content": text[i:i + 64]})
        if (body.get("stream_options") or {}).get("include_usage"):
            chunk({}, finish)
            self._sse(None, {"id": cid, "object": "chat.completion.chunk",
                             "created": int(started), "model": model, "choices": [],
                             "usage": usage})
        else:
            chunk({}, finish, usage=usage)
        self._sse(None, "[DONE]")

    # ---- Gemini ---------------------------------------------------------------------

    def _gemini(self, model: str, method: str, query: dict, body: dict, started: float) -> None:
        if method == "countTokens":
            self._log("gemini", body, {"kind": "count_tokens"}, started)
            return self._send_json(200, {"totalTokens": est_tokens(body)})
        if method in ("embedContent", "batchEmbedContents"):
            self._log("gemini", body, {"kind": "embed"}, started)
            n = len(body.get("requests") or [1])
            emb = {"values": [0.0] * 8}
            return self._send_json(200, {"embedding": emb} if method == "embedContent"
                                   else {"embeddings": [emb] * n})
        if method not in ("generateContent", "streamGenerateContent"):
            self._log("gemini", body, {"kind": "not_found", "status": 404}, started)
            return self._send_json(404, {"error": {"code": 404, "message": "not found",
                                                   "status": "NOT_FOUND"}})
        steps, n = gemini_script(body)
        gc = body.get("generationConfig") or {}
        schema = gc.get("responseJsonSchema") or gc.get("responseSchema")
        if schema is None and gc.get("responseMimeType") == "application/json":
            schema = {}
        d = self._decide(steps, n, bool(body.get("tools")), schema)
        if d.kind == "tool":
            gemini_tool(d, body)
        self._log("gemini", body, d.log(), started)
        if d.sleep:
            time.sleep(d.sleep)
        if d.kind == "limit":
            return self._send_limit("gemini", d)
        if d.kind == "fail":
            return self._send_json(d.status, {"error": {
                "code": d.status, "message": "scripted failure",
                "status": GOOGLE_STATUS.get(d.status, "UNKNOWN")}})
        if d.kind == "tool":
            part = {"functionCall": {"name": d.tool_name, "args": d.tool_args}}
        elif d.kind == "json":
            part = {"text": json.dumps(d.json_value)}
        else:
            part = {"text": d.text}
        in_tok = est_tokens(body)
        out_tok = max(1, est_tokens(part) // 2)
        resp = {"candidates": [{"content": {"role": "model", "parts": [part]},
                                "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": in_tok, "candidatesTokenCount": out_tok,
                                  "totalTokenCount": in_tok + out_tok},
                "modelVersion": model, "responseId": new_id("")}
        if method == "generateContent":
            return self._send_json(200, resp)
        if (query.get("alt") or [""])[0] == "sse":
            self._start_stream("text/event-stream")
            self._sse(None, resp)
            return
        return self._send_json(200, [resp])

    # ---- Ollama ---------------------------------------------------------------------

    def _ollama(self, path: str, method: str, body: dict, started: float) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
        details = {"parent_model": "", "format": "gguf", "family": "llama",
                   "families": ["llama"], "parameter_size": "1B",
                   "quantization_level": "Q4_0"}
        if path == "/api/version":
            self._log("ollama", body, {"kind": "version"}, started)
            return self._send_json(200, {"version": OLLAMA_VERSION})
        if path == "/api/tags":
            self._log("ollama", body, {"kind": "tags"}, started)
            # codex --oss looks the requested model up by exact name (and pulls it if
            # missing): list the bare name, the :latest tag and codex's default oss model.
            return self._send_json(200, {"models": [{
                "name": name, "model": name, "modified_at": now, "size": 1,
                "digest": "0" * 64, "details": details} for name in OLLAMA_TAGS]})
        if path == "/api/ps":
            self._log("ollama", body, {"kind": "ps"}, started)
            return self._send_json(200, {"models": []})
        if path == "/api/show":
            self._log("ollama", body, {"kind": "show"}, started)
            return self._send_json(200, {
                "modelfile": "", "parameters": "", "template": "{{ .Prompt }}",
                "details": details, "modified_at": now,
                "model_info": {"general.architecture": "llama", "llama.context_length": 8192},
                "capabilities": ["completion", "tools"]})
        if path == "/api/pull":
            self._log("ollama", body, {"kind": "pull"}, started)
            if body.get("stream") is False:
                return self._send_json(200, {"status": "success"})
            self._start_stream("application/x-ndjson")
            for st in ("pulling manifest", "verifying sha256 digest", "writing manifest",
                       "success"):
                self.wfile.write((json.dumps({"status": st}) + "\n").encode())
            self.wfile.flush()
            return
        if path in ("/api/chat", "/api/generate"):
            return self._ollama_chat(path, body, started, now)
        self._log("ollama", body, {"kind": "not_found", "status": 404}, started)
        return self._send_json(404, {"error": "not found"})

    def _ollama_chat(self, path: str, body: dict, started: float, now: str) -> None:
        steps, n = ollama_script(body)
        aider = aider_kind(body)
        # No tool-less side requests exist here: `ollama run` offers no tools.
        d = decide(steps, n) if steps else Decision("text", text=DEFAULT_FINAL)
        if aider == "commit":
            d = Decision("text", text="Add the scripted change", tool_results=n)
        elif aider and steps and d.kind in ("tool", "text"):
            # aider through litellm's ollama_chat/: the edits in its text format
            d = Decision("text", text=aider_reply(steps, aider), sleep=d.sleep)
        if d.kind == "tool":
            if body.get("tools"):
                ollama_tool(d, body)
            else:
                d = Decision("text", text=final_text(steps), tool_results=n)
        self._log("ollama", body, d.log(), started)
        if d.sleep:
            time.sleep(d.sleep)
        if d.kind == "fail":
            return self._send_json(d.status, {"error": "scripted failure"})
        model = body.get("model") or OLLAMA_MODEL
        in_tok = est_tokens(body)
        if d.kind == "tool":
            msg = {"role": "assistant", "content": "",
                   "tool_calls": [{"function": {"name": d.tool_name, "arguments": d.tool_args}}]}
        else:
            msg = {"role": "assistant", "content": d.text}
        out_tok = max(1, est_tokens(msg) // 2)
        tail = {"done": True, "done_reason": "stop", "total_duration": 1000000,
                "load_duration": 1000, "prompt_eval_count": in_tok, "prompt_eval_duration": 1000,
                "eval_count": out_tok, "eval_duration": 1000}
        if path == "/api/generate":
            first = {"model": model, "created_at": now, "response": msg["content"], "done": False}
            last = dict({"model": model, "created_at": now, "response": ""}, **tail)
        else:
            first = {"model": model, "created_at": now, "message": msg, "done": False}
            last = dict({"model": model, "created_at": now,
                         "message": {"role": "assistant", "content": ""}}, **tail)
        if body.get("stream") is False:
            full = dict(first, **tail)
            return self._send_json(200, full)
        self._start_stream("application/x-ndjson")
        self.wfile.write((json.dumps(first) + "\n" + json.dumps(last) + "\n").encode())
        self.wfile.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--log", help="append one JSON line per request here")
    args = ap.parse_args()
    srv = Server((args.host, args.port), Handler, args.log)
    print(f"PORT={srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
