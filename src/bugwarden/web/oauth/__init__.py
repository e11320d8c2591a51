"""The OAuth 2.1 authorization server (on the SDK's `mcp.server.auth`): grants are tokens a person gives an
agent on the consent page, checked by the same checkpoint as static `bw_` tokens."""
