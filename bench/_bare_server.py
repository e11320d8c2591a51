"""Baseline for the benchmarks: a bare MCPServer with one trivial tool (stdio by default, `http PORT` for HTTP)."""

import sys

from mcp.server.mcpserver import MCPServer

mcp = MCPServer("bare")


@mcp.tool()
def ping(text: str = "") -> str:
    """Echo."""
    return text or "pong"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        mcp.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        mcp.run()
