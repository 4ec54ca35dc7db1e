#!/usr/bin/env python3
"""Seed an empty HOME so the real claude, codex and gemini start without any dialog and
talk only to the model server on 127.0.0.1:PORT.

    python3 tests/support/seed_home.py HOME PORT [--trust DIR]... [--codex-home DIR]

Writes HOME/.claude.json, CODEX_HOME/config.toml (CODEX_HOME defaults to HOME/.codex) and
HOME/.gemini/settings.json, then prints the environment the CLIs need as KEY=VALUE lines
on stdout (HOME included). Every --trust DIR is marked trusted for claude and codex;
trusting a parent directory also covers the worktrees below it. Existing files are
overwritten. Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os

# Any value works against the model server; claude remembers approving a custom key by its
# last 20 characters.
ANTHROPIC_KEY = "sk-ant-api03-vnx-mock-key-0123456789abcdefghijklmn"
MOCK_KEY = "sk-vnx-mock-key"
GEMINI_KEY = "AIzaVnxMockKey0123456789abcdefghijklmn"
CODEX_MODEL = "gpt-5.5"


def toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def claude_json(trust: list[str]) -> dict:
    return {
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": "2.1.197",
        "lastReleaseNotesSeen": "2.1.197",
        "numStartups": 1,
        "theme": "dark",
        "bypassPermissionsModeAccepted": True,
        "autoUpdates": False,
        "customApiKeyResponses": {"approved": [ANTHROPIC_KEY[-20:]], "rejected": []},
        "projects": {
            d: {
                "hasTrustDialogAccepted": True,
                "hasCompletedProjectOnboarding": True,
                "projectOnboardingSeenCount": 1,
                "allowedTools": [],
            }
            for d in trust
        },
    }


def codex_config(port: int, trust: list[str]) -> str:
    lines = [
        f"model = {toml_str(CODEX_MODEL)}",
        'model_provider = "mock"',
        'approval_policy = "never"',
        'sandbox_mode = "workspace-write"',
        "check_for_update_on_startup = false",
        "",
        "[model_providers.mock]",
        'name = "mock"',
        f'base_url = "http://127.0.0.1:{port}/v1"',
        'env_key = "MOCK_API_KEY"',
        'wire_api = "responses"',
        "request_max_retries = 0",
        "stream_max_retries = 0",
        "",
        "[analytics]",
        "enabled = false",
        "",
        "[feedback]",
        "enabled = false",
        "",
        "[notice]",
        "hide_full_access_warning = true",
        "",
        "[notice.model_migrations]",
        f'{toml_str(CODEX_MODEL)} = "gpt-6-sol"',
        "",
        "[tui]",
        "screen_reader_detection_done = true",
        "",
        "[tui.model_availability_nux]",
        '"gpt-6.1-sol" = 1',
    ]
    for d in trust:
        lines += ["", f"[projects.{toml_str(d)}]", 'trust_level = "trusted"']
    return "\n".join(lines) + "\n"


def gemini_settings() -> dict:
    return {
        "security": {
            "auth": {"selectedType": "gemini-api-key"},
            "folderTrust": {"enabled": False},
        },
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        # maxAttempts 1: a 5xx fails at once instead of ~10 retries with backoff (minutes).
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True, "maxAttempts": 1},
        "ide": {"enabled": False},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("home")
    ap.add_argument("port", type=int)
    ap.add_argument("--trust", action="append", default=[], metavar="DIR",
                    help="a directory to mark trusted (repeatable)")
    ap.add_argument("--codex-home", help="default HOME/.codex")
    args = ap.parse_args()

    home = os.path.abspath(args.home)
    trust = [os.path.realpath(d) for d in args.trust]
    # Also list the paths as given, in case they differ from the resolved ones (symlinks).
    trust += [os.path.abspath(d) for d in args.trust if os.path.abspath(d) not in trust]
    codex_home = os.path.abspath(args.codex_home or os.path.join(home, ".codex"))

    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, ".claude.json"), "w") as f:
        json.dump(claude_json(trust), f, indent=2)
    os.makedirs(codex_home, exist_ok=True)
    with open(os.path.join(codex_home, "config.toml"), "w") as f:
        f.write(codex_config(args.port, trust))
    os.makedirs(os.path.join(home, ".gemini"), exist_ok=True)
    with open(os.path.join(home, ".gemini", "settings.json"), "w") as f:
        json.dump(gemini_settings(), f, indent=2)

    base = f"http://127.0.0.1:{args.port}"
    env = [
        ("HOME", home),
        # claude
        ("ANTHROPIC_BASE_URL", base),
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("DISABLE_TELEMETRY", "1"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("DISABLE_ERROR_REPORTING", "1"),
        ("CLAUDE_CODE_MAX_RETRIES", "1"),
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.append(("IS_SANDBOX", "1"))
    env += [
        # codex
        ("CODEX_HOME", codex_home),
        ("MOCK_API_KEY", MOCK_KEY),
        ("CODEX_OSS_BASE_URL", base + "/v1"),
        # gemini
        ("GOOGLE_GEMINI_BASE_URL", base),
        ("GEMINI_API_KEY", GEMINI_KEY),
    ]
    for k, v in env:
        print(f"{k}={v}")


if __name__ == "__main__":
    main()
