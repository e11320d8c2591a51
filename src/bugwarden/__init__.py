"""bugwarden: governed MCP access to error trackers.

    from bugwarden import Settings, build_server
    server = build_server(Settings.from_env(os.environ))

`build_server` is imported lazily, so `import bugwarden` (and `bugwarden --help`) stays fast.
"""

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .app import build_server
    from .config import Settings

__all__ = ["Settings", "__version__", "build_server"]


def __getattr__(name: str) -> Any:
    if name == "build_server":
        from .app import build_server

        return build_server
    if name == "Settings":
        from .config import Settings

        return Settings
    raise AttributeError(f"module 'bugwarden' has no attribute {name!r}")
