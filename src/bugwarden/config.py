"""Settings, read once from an environ mapping plus CLI flags; the only place that reads the environment.

    settings = Settings.from_env(os.environ)                       # what `bugwarden serve` does
    settings = Settings.from_env({}, bugsnag_api_url="http://…")   # tests inject everything

Errors name the variable and the bad value. Credentials are `Secret`s whose repr is masked.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import BugwardenError


class ConfigError(BugwardenError, ValueError):
    """A setting is missing or malformed; the message names the variable and what to do."""


class Secret:
    """A credential that never prints: `repr()` and `str()` are masked; call `.reveal()` at the point of use."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-request timeouts in seconds, and the overall deadline of one tool call."""

    connect: float = 5.0
    read: float = 20.0
    call_deadline: float = 45.0


@dataclass(frozen=True, slots=True)
class Retries:
    """Retry policy: attempts after the first, jittered backoff. A 429's Retry-After is honoured when it fits the
    call's deadline, and otherwise ends the call at once with the time to retry."""

    attempts: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0


@dataclass(frozen=True, slots=True)
class Caching:
    """How long answers are reused, in seconds: `ttl` for stable resources (organizations, projects, event
    fields, collaborators), `fresh` for everything else read (lists, errors, events), so that agents asking
    the same question at once cost the shared upstream quota one request. Writes through bugwarden drop what
    they change. A stable answer is kept `stale_for` seconds past its `ttl`, served only when the upstream
    cannot answer (rate limit, timeout, 5xx), and said so in a log message."""

    ttl: float = 300.0
    fresh: float = 15.0
    stale_for: float = 600.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what an upstream may send: the largest response body accepted, after decompression."""

    max_response_bytes: int = 8 * 1024 * 1024


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_LIMITS = Limits()
DEFAULT_RETRIES = Retries()
DEFAULT_CACHING = Caching()
DEFAULT_BUGSNAG_API_URL = "https://api.bugsnag.com"
DEFAULT_BUGPORT_API_URL = "https://api.bugport.dev/v1"
TOOLSETS = ("core", "insights", "admin", "destructive")
DEFAULT_TOOLSETS = ("core",)
CONFIRM_POLICIES = ("approval", "code")


def default_home(environ: Mapping[str, str]) -> Path:
    """The platform's user state directory for bugwarden."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "bugwarden"
    if os.name == "nt":
        base = environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "bugwarden"
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "bugwarden"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything bugwarden needs to run, validated. Build with `Settings.from_env`."""

    bugsnag_token: Secret | None = None
    bugsnag_user_email: str | None = None
    """On-premise BugSnag: a user's email, with `bugsnag_password`, instead of a personal auth token."""
    bugsnag_password: Secret | None = None
    bugsnag_api_url: str = DEFAULT_BUGSNAG_API_URL
    bugsnag_project_id: str | None = None
    bugport_token: Secret | None = None
    bugport_api_url: str = DEFAULT_BUGPORT_API_URL
    home: Path = field(default_factory=lambda: default_home(os.environ))
    agent_token: Secret | None = None
    state_key: Secret | None = None
    """Shared by replicas with separate stores, so that each honours the others' cursors and confirmations."""
    database_url: Secret | None = None
    """`postgresql://…`: keep every piece of state in PostgreSQL instead of SQLite files under `home`."""
    toolsets: tuple[str, ...] = DEFAULT_TOOLSETS
    allowed_hosts: tuple[str, ...] = ()
    """HTTP: extra accepted Host header values (BUGWARDEN_ALLOWED_HOSTS, comma-separated; --allowed-host)."""
    allowed_origins: tuple[str, ...] = ()
    public_url: str | None = None
    """HTTP: the URL clients use, when behind a proxy."""
    confirm: str | None = None
    """BUGWARDEN_CONFIRM: for destructive calls from clients that cannot ask their user, `approval` (a person
    approves) or `code` (the model may confirm alone). Unset: `approval` over HTTP, `code` over stdio."""
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    retries: Retries = DEFAULT_RETRIES
    caching: Caching = DEFAULT_CACHING
    limits: Limits = DEFAULT_LIMITS

    @property
    def bugsnag_auth(self) -> str | None:
        """How bugwarden signs in to BugSnag: 'token' (a personal auth token), 'password' (a user's email and
        password over HTTP Basic, as on-premise installs allow), or None (BugSnag is not configured)."""
        if self.bugsnag_token:
            return "token"
        if self.bugsnag_user_email and self.bugsnag_password:
            return "password"
        return None

    @property
    def backends(self) -> tuple[str, ...]:
        """Names of the configured backends, BugSnag first."""
        names = []
        if self.bugsnag_auth:
            names.append("bugsnag")
        if self.bugport_token:
            names.append("bugport")
        return tuple(names)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Read `BUGSNAG_*`, `BUGPORT_*` and `BUGWARDEN_*` from `environ`; keyword overrides win (CLI flags)."""
        values: dict[str, Any] = {}
        if token := environ.get("BUGSNAG_AUTH_TOKEN", "").strip():
            values["bugsnag_token"] = Secret(token)
        if email := environ.get("BUGSNAG_USER_EMAIL", "").strip():
            values["bugsnag_user_email"] = email
        if password := environ.get("BUGSNAG_PASSWORD", ""):
            values["bugsnag_password"] = Secret(password)
        elif path := environ.get("BUGSNAG_PASSWORD_FILE", "").strip():
            values["bugsnag_password"] = Secret(_read_secret_file("BUGSNAG_PASSWORD_FILE", path))
        if url := environ.get("BUGSNAG_API_URL", "").strip():
            values["bugsnag_api_url"] = url
        if pid := environ.get("BUGSNAG_PROJECT_ID", "").strip():
            values["bugsnag_project_id"] = pid
        if token := environ.get("BUGPORT_TOKEN", "").strip():
            values["bugport_token"] = Secret(token)
        if url := environ.get("BUGPORT_API_URL", "").strip():
            values["bugport_api_url"] = url
        if token := environ.get("BUGWARDEN_TOKEN", "").strip():
            values["agent_token"] = Secret(token)
        if key := environ.get("BUGWARDEN_STATE_KEY", "").strip():
            values["state_key"] = Secret(key)
        if url := environ.get("BUGWARDEN_DATABASE_URL", "").strip():
            values["database_url"] = Secret(url)
        for key, name in (
            ("allowed_hosts", "BUGWARDEN_ALLOWED_HOSTS"),
            ("allowed_origins", "BUGWARDEN_ALLOWED_ORIGINS"),
        ):
            if items := [v.strip() for v in environ.get(name, "").split(",") if v.strip()]:
                values[key] = tuple(items)
        if url := environ.get("BUGWARDEN_PUBLIC_URL", "").strip():
            values["public_url"] = url
        if policy := environ.get("BUGWARDEN_CONFIRM", "").strip():
            values["confirm"] = policy
        if sets := environ.get("BUGWARDEN_TOOLSETS", "").strip():
            values["toolsets"] = sets
        ttl = environ.get("BUGWARDEN_CACHE_TTL", "").strip()
        fresh = environ.get("BUGWARDEN_CACHE_FRESH", "").strip()
        if ttl or fresh:
            values["caching"] = Caching(
                ttl=_parse_float("BUGWARDEN_CACHE_TTL", ttl) if ttl else DEFAULT_CACHING.ttl,
                fresh=_parse_float("BUGWARDEN_CACHE_FRESH", fresh) if fresh else DEFAULT_CACHING.fresh,
            )
        home = environ.get("BUGWARDEN_HOME", "").strip()
        values["home"] = Path(home).expanduser() if home else default_home(environ)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls._validated(**values)

    @classmethod
    def _validated(cls, **values: Any) -> Settings:
        for key in ("bugsnag_token", "bugsnag_password", "bugport_token", "agent_token", "state_key", "database_url"):
            if isinstance(values.get(key), str):
                values[key] = Secret(values[key])
        if bool(values.get("bugsnag_user_email")) != bool(values.get("bugsnag_password")):
            raise ConfigError(
                "Config 'BUGSNAG_USER_EMAIL' and 'BUGSNAG_PASSWORD' (or 'BUGSNAG_PASSWORD_FILE') go together: an "
                "on-premise BugSnag user signs in with both; set the missing one, or use BUGSNAG_AUTH_TOKEN instead."
            )
        if values.get("bugsnag_token") and values.get("bugsnag_user_email"):
            raise ConfigError(
                "Config 'BUGSNAG_AUTH_TOKEN' and 'BUGSNAG_USER_EMAIL' are both set: choose one way to sign in to "
                "BugSnag (a personal auth token, or an on-premise user's email and password)."
            )
        state_key = values.get("state_key")
        if state_key is not None and len(state_key.reveal()) < 32:
            raise ConfigError(
                "Config 'BUGWARDEN_STATE_KEY' is too short: use at least 32 random characters, the same on every "
                'replica (for example the output of `python -c "import secrets; print(secrets.token_hex(32))"`).'
            )
        if "bugsnag_api_url" in values:
            values["bugsnag_api_url"] = _check_url("BUGSNAG_API_URL", values["bugsnag_api_url"])
        if "bugport_api_url" in values:
            url = _check_url("BUGPORT_API_URL", values["bugport_api_url"])
            if not url.endswith("/v1"):
                raise ConfigError(
                    f"Config 'BUGPORT_API_URL' has value {url!r}. It must end in '/v1' "
                    f"(for example {DEFAULT_BUGPORT_API_URL}); a missing /v1 is the usual cause of 404s."
                )
            values["bugport_api_url"] = url
        database_url = values.get("database_url")
        if database_url is not None and not database_url.reveal().startswith(("postgresql://", "postgres://")):
            raise ConfigError(
                "Config 'BUGWARDEN_DATABASE_URL' must be a PostgreSQL URL (postgresql://user@host:5432/db); "
                "leave it unset to keep state in SQLite files under BUGWARDEN_HOME."
            )
        if "toolsets" in values:
            values["toolsets"] = parse_toolsets(values["toolsets"])
        if values.get("confirm") is not None and values["confirm"] not in CONFIRM_POLICIES:
            raise ConfigError(
                f"Config 'BUGWARDEN_CONFIRM' has value {values['confirm']!r}. Choose 'approval' (a person approves "
                "changes from clients that cannot ask their user) or 'code' (the model may confirm them alone)."
            )
        if values.get("public_url"):
            values["public_url"] = _check_url("BUGWARDEN_PUBLIC_URL", values["public_url"])
        if isinstance(values.get("home"), str):
            values["home"] = Path(values["home"]).expanduser()
        return cls(**values)

    def confirm_policy(self, transport: str) -> str:
        """The confirm policy in force: BUGWARDEN_CONFIRM, else `approval` over HTTP and `code` over stdio."""
        return self.confirm or ("approval" if transport == "http" else "code")

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` applied and validated."""
        current = {name: getattr(self, name) for name in self.__dataclass_fields__}
        current.update(changes)
        return type(self)._validated(**current)


def parse_toolsets(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Parse `core,insights` (or a sequence); `all` means every toolset; unknown names are refused."""
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else [v.strip() for v in value]
    names = [n for n in names if n]
    if "all" in names:
        return TOOLSETS
    unknown = sorted(set(names) - set(TOOLSETS))
    if unknown or not names:
        raise ConfigError(
            f"Config 'BUGWARDEN_TOOLSETS' has value {','.join(names)!r}. "
            f"Choose from {', '.join(TOOLSETS)} (comma-separated) or 'all'."
        )
    return tuple(n for n in TOOLSETS if n in names)


def _check_url(name: str, value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"Config {name!r} has value {value!r}. Not an http(s) base URL.")
    if parts.username or parts.password:
        raise ConfigError(f"Config {name!r} must not carry credentials in the URL.")
    return value.strip().rstrip("/")


def _read_secret_file(name: str, path: str) -> str:
    """A credential kept in a file (a mounted secret): its first line, without the line ending."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config {name!r} names a file that cannot be read ({type(exc).__name__}).") from None
    value = text.splitlines()[0] if text.splitlines() else ""
    if not value:
        raise ConfigError(f"Config {name!r} names an empty file.")
    return value


def _parse_float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"Config {name!r} has value {value!r}. Not a valid number.") from None
    if number < 0:
        raise ConfigError(f"Config {name!r} has value {value!r}. Must not be negative.")
    return number
