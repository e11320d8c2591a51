"""`bugwarden doctor`: check configuration, state, the agent token, each backend and the clock; say exactly what
to fix. Every check a user needs to pass fails loudly: a state directory that cannot be created or written, no
tracker configured, an upstream that refuses its token, a clock far from the upstream's. `run` answers whether
all passed; the command exits 1 when not."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from .backends.bugsnag import BugsnagBackend
from .backends.errors import BackendError, NotFound
from .config import Settings
from .render.failures import failure
from .render.text import inline, plural


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    what: str
    fix: str = ""

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.what}" + (f"\n     fix: {self.fix}" if self.fix else "")


def database_checks(settings: Settings) -> list[Check]:
    """PostgreSQL: reachable, each schema component at the version this bugwarden needs, the audit chain intact."""
    from .guard.audit import AuditLog
    from .store import Store, StoreError
    from .store.keys import KeyRing
    from .store.postgres import PostgresDatabase, redacted
    from .store.schema import Schema

    assert settings.database_url is not None
    where = redacted(settings.database_url.reveal())
    unreachable = "check BUGWARDEN_DATABASE_URL and that PostgreSQL is running"
    try:
        db = PostgresDatabase(settings.database_url.reveal())
    except StoreError as exc:
        return [Check(False, f"database: {exc}", unreachable)]
    try:
        statuses = Schema(db, Store.COMPONENTS).status()
        out = [Check(True, f"database: PostgreSQL at {where}, reachable")]
        versions = ", ".join(f"{s.component} {s.current}/{s.latest}" for s in statuses)
        if any(s.current > s.latest for s in statuses):
            return [
                *out,
                Check(False, f"database schema is newer than this bugwarden ({versions})", "upgrade bugwarden"),
            ]
        if any(s.current < s.latest for s in statuses):
            return [*out, Check(False, f"database schema is behind ({versions})", "run `bugwarden db migrate`")]
        keys = KeyRing(db.view("state", durable=False), _state_key(settings))
        audit = AuditLog(db, head_key=lambda: keys.key("audit-head"))
        return [*out, Check(True, f"database schema current ({versions})"), _verdict(audit.verify())]
    except StoreError as exc:
        return [Check(False, f"database {where}: {exc}", unreachable)]
    finally:
        db.close()


def state_checks(settings: Settings) -> list[Check]:
    if settings.database_url is not None:
        return database_checks(settings)
    home = settings.home
    out = [Check(True, f"state directory: {home}")]
    if not home.exists():
        return [*out, _creatable(home)]
    if not home.is_dir():
        return [
            *out,
            Check(False, f"state directory {home} is not a directory", "point BUGWARDEN_HOME at a directory"),
        ]
    mode = stat.S_IMODE(home.stat().st_mode)
    out.append(
        Check(
            mode & 0o077 == 0,
            f"state directory permissions {oct(mode)}",
            "" if mode & 0o077 == 0 else f"chmod 700 {home}",
        )
    )
    if not os.access(home, os.W_OK):
        out.append(Check(False, "state directory is not writable", f"make {home} writable by this user"))
    from .store import SQLITE_FILES

    for name in SQLITE_FILES.values():
        path = home / name
        if path.exists():
            fmode = stat.S_IMODE(path.stat().st_mode)
            out.append(
                Check(
                    fmode & 0o077 == 0,
                    f"{name} permissions {oct(fmode)}",
                    "" if fmode & 0o077 == 0 else f"chmod 600 {path}",
                )
            )
    if (home / SQLITE_FILES["audit"]).exists():
        out.append(audit_check(settings))
    return out


def _creatable(home: Path) -> Check:
    """A missing state directory is fine if its nearest existing ancestor is a directory this user may write."""
    ancestor = home.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.is_dir() and os.access(ancestor, os.W_OK | os.X_OK):
        return Check(True, "state directory will be created on first use (owner-only permissions)")
    why = "is not a directory" if ancestor.exists() and not ancestor.is_dir() else "is not writable by this user"
    return Check(
        False,
        f"state directory {home} cannot be created: {ancestor} {why}",
        f"point BUGWARDEN_HOME at a directory this user may create, or create it: mkdir -p -m 700 {home}",
    )


def audit_check(settings: Settings) -> Check:
    from .guard.audit import AuditLog
    from .store import Store, StoreError

    try:
        store = Store.open(settings)
    except StoreError as exc:
        return Check(False, f"state store: {exc}", "fix the state store first (see the message)")
    try:
        return _verdict(AuditLog.for_store(store, _state_key(settings)).verify())
    finally:
        store.close()


def _state_key(settings: Settings) -> str | None:
    return settings.state_key.reveal() if settings.state_key else None


def _verdict(result: tuple[bool, str]) -> Check:
    ok, message = result
    return Check(
        ok,
        f"audit log: {message}",
        ""
        if ok
        else "investigate: the audit log was altered; keep a copy (bugwarden audit export) before anything else",
    )


def token_checks(settings: Settings) -> list[Check]:
    if not settings.agent_token:
        return [Check(True, "BUGWARDEN_TOKEN not set: stdio runs as the local principal with the read bundle")]
    from .guard.tokens import TokenError, TokenStore
    from .store import Store, StoreError

    try:
        store = Store.open(settings)
    except StoreError as exc:
        return [Check(False, f"state store: {exc}", "fix the state store first (see the message)")]
    try:
        principal = TokenStore(store.tokens).verify(settings.agent_token.reveal())
    except TokenError as exc:
        return [Check(False, f"BUGWARDEN_TOKEN: {exc}", "create a token with `bugwarden token create` and set it")]
    finally:
        store.close()
    limits = ", ".join(sorted(principal.projects)) or "all projects"
    return [
        Check(
            True,
            f"BUGWARDEN_TOKEN: {principal.name} ({principal.id}), scopes "
            f"{', '.join(sorted(principal.scopes)) or 'none'}; {limits}",
        )
    ]


async def bugport_checks(settings: Settings, **backend_kw: Any) -> list[Check]:
    from .backends.bugport import BugportBackend

    backend = BugportBackend(settings, **backend_kw)
    out = [Check(True, f"BugPort API URL: {settings.bugport_api_url}")]
    try:
        status, version = await backend.health()
        out.append(
            Check(
                status == "ok",
                f"BugPort health: {status}, API version {inline(version, 40) if version else 'unknown'}",
                "" if status == "ok" else "BugPort reports trouble: check its status page",
            )
        )
        bridge = await backend.bridge_info()
        out.append(
            Check(
                True,
                f"BugPort token works: workspace {bridge.workspace or '?'}, scopes "
                f"{', '.join(sorted(bridge.scopes)) or 'none'}, bridge tools "
                f"{', '.join(sorted(bridge.tools)) or 'none'}",
            )
        )
        out.append(Check(True, "  projects: " + ", ".join(f"{inline(p.name, 40)} ({p.id})" for p in bridge.projects)))
        if "bugs:write" not in bridge.scopes:
            out.append(Check(True, "  read-only BugPort token: resolve, update and comment are not offered"))
    except BackendError as exc:
        out.append(
            Check(
                False,
                f"BugPort: {failure(exc)}",
                "check BUGPORT_TOKEN (a scoped MCP token) and that BUGPORT_API_URL ends in /v1"
                if "401" in str(exc) or isinstance(exc, NotFound)
                else _fix_for(exc, BUGPORT),
            )
        )
    finally:
        await backend.aclose()
    return out


async def bugsnag_checks(settings: Settings, **backend_kw: Any) -> list[Check]:
    if not settings.bugsnag_auth:
        return []
    backend = BugsnagBackend(settings, **backend_kw)
    out = [Check(True, f"BugSnag API URL: {settings.bugsnag_api_url}")]
    out.append(
        Check(
            True,
            "BugSnag sign-in: a personal auth token (BUGSNAG_AUTH_TOKEN)"
            if settings.bugsnag_auth == "token"
            else "BugSnag sign-in: an on-premise user's email and password over HTTP Basic (BUGSNAG_USER_EMAIL, "
            "BUGSNAG_PASSWORD)",
        )
    )
    try:
        orgs = (await backend.list_organizations(limit=100)).items
        out.append(Check(True, f"BugSnag token works: {len(orgs)} organizations visible"))
        for org in orgs:
            page = await backend.list_org_projects(org.id, limit=100)
            names = ", ".join(f"{inline(p.name, 40)} ({p.id})" for p in page.items[:10])
            count = page.total if page.total is not None else len(page.items)
            out.append(Check(True, f"  {inline(org.name, 60)}: {plural(count, 'project')}: {names}"))
        limit, remaining = backend.http.rate_limit()
        if limit is not None and remaining is not None:
            low = remaining < 5
            out.append(
                Check(
                    not low,
                    f"rate limit headroom: {remaining} of {limit} requests this minute",
                    "wait a minute, or check which other tools share this token" if low else "",
                )
            )
        if settings.bugsnag_project_id:
            try:
                project = await backend.get_project(settings.bugsnag_project_id)
                out.append(Check(True, f"default project: {project.name} ({project.id})"))
            except BackendError as exc:
                out.append(Check(False, f"BUGSNAG_PROJECT_ID: {exc}", "set it to a project id listed above"))
    except BackendError as exc:
        out.append(Check(False, f"BugSnag: {failure(exc)}", _fix_for(exc, BUGSNAG)))
    finally:
        await backend.aclose()
    return out


@dataclass(frozen=True, slots=True)
class Upstream:
    """What a fix line names for one backend."""

    token: str
    url: str
    new_token: str
    example_url: str


BUGSNAG = Upstream(
    "BUGSNAG_AUTH_TOKEN",
    "BUGSNAG_API_URL",
    "create a new personal auth token in BugSnag (Settings > My account > Personal auth tokens)",
    "https://api.bugsnag.com",
)
BUGPORT = Upstream(
    "BUGPORT_TOKEN",
    "BUGPORT_API_URL",
    "create a new scoped MCP token in BugPort",
    "https://api.bugport.dev/v1",
)


def _fix_for(exc: BackendError, upstream: Upstream) -> str:
    from .backends import errors as e

    if isinstance(exc, e.Unauthorized):
        return f"{upstream.token} is wrong or revoked: {upstream.new_token} and set {upstream.token}"
    if isinstance(exc, e.Forbidden | e.AccountRestricted):
        return f"the account behind {upstream.token} may not use the API: check its role and plan, or use another"
    if isinstance(exc, e.TransportError):
        return f"check {upstream.url} and that this machine can reach it"
    if isinstance(exc, e.MalformedResponse | e.NotFound):
        return f"{upstream.url} does not look like the right API (expected e.g. {upstream.example_url})"
    return "see the message above"


CONFIRM_WORDS = {
    "approval": "a person approves (`bugwarden approvals approve ID`, or the console)",
    "code": "the model may confirm alone with the preview's code",
}


def confirm_checks(settings: Settings) -> list[Check]:
    """The confirm policy in force for destructive calls from clients that cannot ask their user."""
    source = "BUGWARDEN_CONFIRM" if settings.confirm else "default"
    return [
        Check(
            True,
            f"confirm policy ({source}): stdio {settings.confirm_policy('stdio')}, "
            f"http {settings.confirm_policy('http')}; where a client cannot ask its user, "
            + "; ".join(
                f"{name}: {CONFIRM_WORDS[name]}"
                for name in sorted({settings.confirm_policy("stdio"), settings.confirm_policy("http")})
            ),
        )
    ]


CLOCK_SKEW_LIMIT = 120.0
"""Seconds between this machine's clock and the upstream's beyond which doctor fails: token lifetimes, audit
times and `--since` all read this clock."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def clock_check(url: str, transport: Any = None, now: Callable[[], datetime] = _utcnow) -> Check:
    """Compare this machine's clock with the `Date` header of an unauthenticated request to the upstream."""
    try:
        async with httpx.AsyncClient(transport=transport, timeout=10) as client:
            response = await client.get(url)
        upstream = parsedate_to_datetime(response.headers["date"])
    except (httpx.HTTPError, KeyError, TypeError, ValueError):
        return Check(True, f"clock: not compared ({url} sent no usable Date header)")
    if upstream.tzinfo is None:
        upstream = upstream.replace(tzinfo=UTC)
    skew = (now() - upstream).total_seconds()
    if abs(skew) <= CLOCK_SKEW_LIMIT:
        return Check(True, f"clock: within {CLOCK_SKEW_LIMIT:.0f} s of {url}")
    direction = "ahead of" if skew > 0 else "behind"
    return Check(
        False,
        f"clock: this machine is {_duration(abs(skew))} {direction} {url}",
        "set the clock right (e.g. `timedatectl set-ntp true`): token expiry and audit times depend on it",
    )


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def backends_check(settings: Settings) -> Check:
    if settings.backends:
        return Check(True, f"configured backends: {', '.join(settings.backends)}")
    return Check(
        False,
        "configured backends: none",
        "set BUGSNAG_AUTH_TOKEN (a BugSnag personal auth token) and/or BUGPORT_TOKEN (a BugPort scoped MCP token); "
        "to try bugwarden without an account, run `bugwarden demo`",
    )


async def run(
    settings: Settings,
    bugport_transport: Any = None,
    now: Callable[[], datetime] = _utcnow,
    **backend_kw: Any,
) -> tuple[bool, list[str]]:
    """All checks; (every check passed, the report lines). `transport`/`bugport_transport` replace the network."""
    checks = [
        backends_check(settings),
        Check(True, f"toolsets: {', '.join(settings.toolsets)}"),
        *confirm_checks(settings),
    ]
    checks += state_checks(settings)
    checks += token_checks(settings)
    checks += await bugsnag_checks(settings, **backend_kw)
    if settings.bugport_token:
        checks += await bugport_checks(
            settings, **{k: v for k, v in backend_kw.items() if k != "transport"}, transport=bugport_transport
        )
    if settings.bugsnag_auth:
        checks.append(await clock_check(settings.bugsnag_api_url, backend_kw.get("transport"), now))
    elif settings.bugport_token:
        checks.append(await clock_check(settings.bugport_api_url, bugport_transport, now))
    return all(c.ok for c in checks), [c.line() for c in checks]
