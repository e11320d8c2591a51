"""bugwarden: governed MCP access to error trackers."""

__version__ = "0.1.0"

__all__ = ["__version__"]
