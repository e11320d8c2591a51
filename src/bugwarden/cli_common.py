"""What every command module shares: the one usage error and the argument types they all parse with."""

from __future__ import annotations

import argparse


class UsageError(Exception):
    """A command cannot run as asked; the message says what to do instead."""


def count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r}: use a whole number, 0 or more")
    return int(value)
