#!/usr/bin/env python3
"""Seed an empty HOME so the real claude, codex, gemini, opencode, qwen, copilot and aider
start without any dialog and talk only to the model server on 127.0.0.1:PORT.

    python3 tests/support/seed_home.py HOME PORT [--trust DIR]... [--codex-home DIR]

Writes HOME/.claude.json, HOME/.claude/settings.json, CODEX_HOME/config.toml (CODEX_HOME
defaults to HOME/.codex), HOME/.gemini/settings.json, HOME/.config/opencode/opencode.json,
HOME/.qwen/settings.json, HOME/.copilot/config.json, HOME/.aider.conf.yml and
HOME/.aider.model.metadata.json, then prints the environment the CLIs need as KEY=VALUE
lines on stdout (HOME included). Every --trust DIR is marked trusted for claude, codex and
copilot; trusting a parent directory also covers the worktrees below it (not for codex).
Existing files are overwritten.
Python 3.11 standard library only.
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
# The model name the OpenAI-compatible CLIs (opencode, qwen, copilot, aider) ask for.
CHAT_MODEL = "mock-model"


def toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def claude_json(trust: list[str]) -> dict:
    return {
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": "2.1.197",
        "lastReleaseNotesSeen": "2.1.197",
        "numStartups": 1,
        "theme": "dark",
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


def opencode_config(port: int) -> dict:
    # The bundled @ai-sdk/openai-compatible provider: no npm install for the provider. The default
    # permissions ("allow" for everything) are left as they are: that is the CLI's default
    # posture.
    return {
        "$schema": "https://opencode.ai/config.json",
        "model": f"mock/{CHAT_MODEL}",
        "small_model": f"mock/{CHAT_MODEL}",
        "autoupdate": False,
        "share": "disabled",
        "provider": {"mock": {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Mock",
            "options": {"baseURL": f"http://127.0.0.1:{port}/v1", "apiKey": MOCK_KEY},
            "models": {CHAT_MODEL: {"name": "Mock Model", "tool_call": True,
                                    "limit": {"context": 128000, "output": 8192}}},
        }},
    }


def qwen_settings() -> dict:
    # general.enableAutoUpdate false: with only disableAutoUpdate the TUI runs
    # `npm install -g @qwen-code/qwen-code@latest` (outside HOME).
    return {
        "security": {"auth": {"selectedType": "openai"}, "folderTrust": {"enabled": False}},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "general": {"enableAutoUpdate": False, "disableAutoUpdate": True,
                    "disableUpdateNag": True},
        "ide": {"enabled": False, "hasSeenNudge": True},
    }


def copilot_config(trust: list[str]) -> dict:
    # trustedFolders skips the "Confirm folder trust" dialog (a parent covers the dirs below);
    # repo hooks (.github/hooks/*.json) load only in a trusted folder.
    return {"trustedFolders": trust, "banner": "never", "beep": False}


def aider_conf() -> str:
    # Read by aider from HOME, the git root and the cwd. What keeps it offline and quiet:
    # no update check, no analytics, no release notes (with --yes-always aider would open
    # them in lynx), no .gitignore edit, no model warnings.
    return "\n".join([
        f"model: openai/{CHAT_MODEL}",
        "check-update: false",
        "analytics-disable: true",
        "show-release-notes: false",
        "show-model-warnings: false",
        "gitignore: false",
        "",
    ])


def aider_metadata() -> dict:
    # Without it aider fetches litellm's price list from the network (and goes on).
    return {f"openai/{CHAT_MODEL}": {
        "max_input_tokens": 128000, "max_output_tokens": 8192,
        "input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002,
        "litellm_provider": "openai", "mode": "chat"}}


def write_json(path: str, obj) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)


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
    # Bypass Permissions mode accepted where claude 2.1.197 keeps it: its user settings. The
    # older key in ~/.claude.json is migrated by each claude that starts, and a claude started
    # meanwhile was seen to ask again (three TUIs started at once on a loaded machine).
    write_json(os.path.join(home, ".claude", "settings.json"),
               {"skipDangerousModePermissionPrompt": True})
    os.makedirs(codex_home, exist_ok=True)
    with open(os.path.join(codex_home, "config.toml"), "w") as f:
        f.write(codex_config(args.port, trust))
    os.makedirs(os.path.join(home, ".gemini"), exist_ok=True)
    with open(os.path.join(home, ".gemini", "settings.json"), "w") as f:
        json.dump(gemini_settings(), f, indent=2)
    write_json(os.path.join(home, ".config", "opencode", "opencode.json"),
               opencode_config(args.port))
    write_json(os.path.join(home, ".qwen", "settings.json"), qwen_settings())
    write_json(os.path.join(home, ".copilot", "config.json"), copilot_config(trust))
    with open(os.path.join(home, ".aider.conf.yml"), "w") as f:
        f.write(aider_conf())
    write_json(os.path.join(home, ".aider.model.metadata.json"), aider_metadata())

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
        # opencode (its provider is in opencode.json)
        ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
        ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
        ("OPENCODE_DISABLE_SHARE", "1"),
        ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1"),
        # opencode 1.18 npm-installs @opencode-ai/plugin (64 MB) into every config directory
        # it starts with, in the background; in an empty home that is every start, about 10
        # CPU-seconds each (measured, docs/benchmarks.md). Offline, the install fails at once
        # and opencode goes on: the tests never reach the npm registry.
        ("npm_config_offline", "true"),
        # qwen (OpenAI auth); aider reads OPENAI_API_KEY too
        ("OPENAI_API_KEY", MOCK_KEY),
        ("OPENAI_BASE_URL", base + "/v1"),
        ("OPENAI_MODEL", CHAT_MODEL),
        # copilot: bring-your-own-key provider, offline mode, no GitHub login
        ("COPILOT_OFFLINE", "true"),
        ("COPILOT_AUTO_UPDATE", "false"),
        ("COPILOT_PROVIDER_BASE_URL", base + "/v1"),
        ("COPILOT_PROVIDER_API_KEY", MOCK_KEY),
        ("COPILOT_MODEL", CHAT_MODEL),
        ("COPILOT_PROVIDER_MAX_PROMPT_TOKENS", "128000"),
        ("COPILOT_PROVIDER_MAX_OUTPUT_TOKENS", "8192"),
        # aider (litellm's OpenAI provider)
        ("OPENAI_API_BASE", base + "/v1"),
        # Ollama clients (e.g. a local-model worker): the server speaks Ollama's API too
        ("OLLAMA_HOST", base),
        ("OLLAMA_API_BASE", base),  # litellm (aider --model ollama_chat/mock-model)
    ]
    for k, v in env:
        print(f"{k}={v}")


if __name__ == "__main__":
    main()
