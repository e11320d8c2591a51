"""Webhooks into bugwarden: BugSnag's data forwarding, received, checked, stored as signals, and announced to
MCP clients that subscribed to a project's signals resource."""
