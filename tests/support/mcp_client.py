#!/usr/bin/env python3
"""A second MCP client for `vnx mcp`: the official Python SDK (`mcp` on PyPI).

    python mcp_client.py VNX_BIN [TOOL JSON_ARGS]...

Starts `VNX_BIN mcp` in the current directory over stdio, lists the tools and resources,
calls each TOOL with its JSON arguments, reads `vnx://ledger`, and prints one JSON object:
`{"server", "tools", "resources", "calls": [{"tool", "error", "structured", "text"}], "ledger"}`.
A call the server refuses is recorded with its error message, not raised.

`VNX_MCP_ARGS` adds arguments to `vnx mcp` (e.g. `--act`); the client names itself
`vnx-tests-python 1.0`. In a call's JSON, `$LAST_DISPATCH_ID` stands for the `dispatch_id`
of the newest answer that had one (a dispatch it started, say).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp.types import Implementation


async def main(vnx: str, calls: list[tuple[str, dict]]) -> dict:
    extra = os.environ.get("VNX_MCP_ARGS", "").split()
    params = StdioServerParameters(command=vnx, args=["mcp", *extra], env=dict(os.environ), cwd=os.getcwd())
    out: dict = {"calls": []}
    last = ""
    me = Implementation(name="vnx-tests-python", version="1.0")
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, client_info=me) as session:
            init = await session.initialize()
            out["server"] = init.server_info.name if hasattr(init, "server_info") else init.serverInfo.name
            tools = await session.list_tools()
            out["tools"] = sorted(t.name for t in tools.tools)
            resources = await session.list_resources()
            out["resources"] = [str(r.uri) for r in resources.resources]
            for tool, args in calls:
                entry: dict = {"tool": tool, "error": None, "structured": None, "text": None}
                args = json.loads(json.dumps(args).replace("$LAST_DISPATCH_ID", last))
                try:
                    r = await session.call_tool(tool, args)
                    entry["structured"] = getattr(r, "structured_content", None) or getattr(r, "structuredContent", None)
                    entry["text"] = "".join(getattr(c, "text", "") for c in r.content)
                    if getattr(r, "is_error", None) or getattr(r, "isError", None):
                        entry["error"] = entry["text"]
                    if isinstance(entry["structured"], dict) and entry["structured"].get("dispatch_id"):
                        last = entry["structured"]["dispatch_id"]
                except MCPError as e:
                    entry["error"] = str(e)
                out["calls"].append(entry)
            ledger = await session.read_resource("vnx://ledger")
            out["ledger"] = "".join(getattr(c, "text", "") for c in ledger.contents)
    return out


if __name__ == "__main__":
    argv = sys.argv[1:]
    pairs = [(argv[i], json.loads(argv[i + 1])) for i in range(1, len(argv) - 1, 2)]
    print(json.dumps(asyncio.run(main(argv[0], pairs))))
