"""Settings, read once from an environ mapping plus CLI flags; the only place that reads the environment.

    settings = Settings.from_env(os.environ)                       # what `bugwarden serve` does
    settings = Settings.from_env({}, bugsnag_api_url="http://…")   # tests inject everything

Errors name the variable and the bad value. Credentials are `Secret`s whose repr is masked.
"""

from __future__ import annotations

import ipaddress
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


# -- the HTTP transport ---------------------------------------------------------------------------------------

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_HOOK_RATE = 120
DEFAULT_KEEP_DAYS = 30
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class HookOptions:
    """The webhook receiver at /hooks/bugsnag/<secret> (hooks/receiver.py)."""

    rate: int = DEFAULT_HOOK_RATE
    """Deliveries a minute per hook (and per process); a minute's worth may arrive at once."""
    allow_from: tuple[Network, ...] = ()
    """Source networks deliveries may come from; empty: any."""
    keep_days: float = DEFAULT_KEEP_DAYS
    max_in_flight: int = 16
    body_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """How the HTTP transport is exposed: every option of `serve --transport http`, in one place.
    Hosts and origins are Host/Origin header patterns (`host:*` allowed). Build with `HttpSettings.of(settings,
    **flags)`, which adds what the environment says (BUGWARDEN_PUBLIC_URL, BUGWARDEN_ALLOWED_HOSTS, …)."""

    host: str = "127.0.0.1"
    port: int = 8000
    path: str = "/mcp"
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    stateless: bool = False
    rate_limit: int | None = 120
    """Tool calls and resource reads a minute per token (a minute's worth may come at once); None: no limit."""
    max_sessions_per_token: int = 16
    session_idle_timeout: float = 300.0
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    public_url: str | None = None
    oauth_registration: str = "open"
    """With a public URL: `open` lets clients register themselves (RFC 7591); `closed` serves only clients with
    a Client ID Metadata Document."""
    metadata_hosts: tuple[str, ...] = ()
    """Hosts whose client metadata documents may be fetched even though they resolve to private addresses."""
    hooks: HookOptions = field(default_factory=HookOptions)
    """The webhook receiver at /hooks/bugsnag/<secret> (hooks/receiver.py)."""
    trusted_proxy_header: str | None = None
    """Behind an SSO proxy: a header naming the signed-in person, believed only from `trusted_proxy_from`."""
    trusted_proxy_from: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: Settings, **flags: Any) -> HttpSettings:
        """The flags given, plus the hosts, origins and public URL that the environment names (validated)."""
        http = cls(
            **{
                **flags,
                "allowed_hosts": tuple(flags.get("allowed_hosts", ())) + settings.allowed_hosts,
                "allowed_origins": tuple(flags.get("allowed_origins", ())) + settings.allowed_origins,
                "public_url": settings.public_url,
            }
        )
        http.check()
        return http

    def check(self) -> None:
        """Raise ConfigError, naming the flag, for options that cannot serve safely together."""
        if not is_loopback(self.host) and not self.public_url and not self.allowed_hosts:
            raise ConfigError(
                f"serving on {self.host} needs --allowed-host (the Host name clients use, e.g. mcp.example.com:443); "
                "DNS-rebinding protection cannot be turned off"
            )
        if self.trusted_proxy_header and not self.trusted_proxy_from:
            raise ConfigError("--trusted-proxy-header needs --trusted-proxy-from (the proxy's address or network)")
        if self.trusted_proxy_header and not self.public_url:
            raise ConfigError("--trusted-proxy-header applies to the pages, which need --public-url")
        for cidr in self.trusted_proxy_from:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ConfigError(f"--trusted-proxy-from {cidr!r} is not an address or network (CIDR)") from None

    def accepted(self) -> tuple[list[str], list[str]]:
        """The Host and Origin header patterns requests must carry (DNS-rebinding protection)."""
        hosts, origins = list(self.allowed_hosts), list(self.allowed_origins)
        if self.public_url:  # the address clients use is, by definition, a Host and Origin they send
            public = urlsplit(self.public_url)
            hosts += [public.netloc, f"{public.hostname}:*"]
            origins.append(f"{public.scheme}://{public.netloc}")
        if is_loopback(self.host):
            hosts += ["127.0.0.1:*", "localhost:*", "[::1]:*"]
            origins += ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
        return hosts, origins

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
