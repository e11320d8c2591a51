"""What the checkpoint hands a tool: the `Call` (call.py), its `Target` (target.py), its `Principal` and the
`Consent` it was given. Tools import these, never the guard that builds them."""
