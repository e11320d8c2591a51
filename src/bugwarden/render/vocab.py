"""The words an upstream may send that are shown outside a fence: statuses, severities, project types, sources.

An upstream's status, severity or type is shown bare (outside `<untrusted-data>`, and as a bare field of
structured content) only when it is a word of the vocabulary below, taken from the vendors' documents
(BugSnag's `ErrorStatus`, `SeverityOptions` and `ProjectType`; BugPort's contract). Any other value is
attacker-controlled text like the rest: bare, it reads `unrecognised`; as sent, it is shown only inside
a fence (`as_sent`) or under an `untrusted` key.
"""

from __future__ import annotations

STATUSES = frozenset(
    {"open", "in progress", "for_review", "fixed", "snoozed", "ignored"}  # BugSnag
    | {"in_progress", "resolved", "closed"}  # BugPort
)
SEVERITIES = frozenset({"info", "warning", "error"} | {"low", "medium", "high", "critical"})
PROJECT_TYPES = frozenset(
    """android angular asgi aspnet aspnet_core backbone bottle cocos2dx connect django dotnet dotnet_desktop
    dotnet_mvc electron ember eventmachine expo express flask flutter gin go go_net_http heroku ios java
    java_desktop js vega koa laravel lumen magento martini minidump ndk negroni nintendo_switch node osx
    other_desktop other_mobile other_tv php python rack rails react reactnative restify revel ruby silex sinatra
    spring symfony tornado tvos unity unrealengine vue watchos webapi wordpress wpf wsgi other""".split()  # noqa: SIM905
)
SOURCES = frozenset({"extension", "widget", "api", "mcp"})
"""Where a BugPort report came from."""
UNRECOGNISED = "unrecognised"


def known(value: str | None, words: frozenset[str]) -> str | None:
    """`value` if it is one of `words` (safe to show bare), else None."""
    return value if value in words else None


def word(value: str | None, words: frozenset[str]) -> str | None:
    """For text outside a fence: `value` if it is one of `words`; `unrecognised` for any other value; None
    when there is none."""
    if not value:
        return None
    return value if value in words else UNRECOGNISED


def as_sent(**values: tuple[str | None, frozenset[str]]) -> list[str]:
    """For inside a fence: `status as sent: …` for each value outside its vocabulary (callers clean them)."""
    return [f"{name} as sent: {value}" for name, (value, words) in values.items() if value and value not in words]


def stray(**values: tuple[str | None, frozenset[str]]) -> dict[str, str]:
    """For structured content's `untrusted` key: each value outside its vocabulary, by name."""
    return {name: value for name, (value, words) in values.items() if value and value not in words}
