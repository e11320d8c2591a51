"""`bugwarden serve|demo|sandbox|token|audit|db|doctor`: parse, build settings, build the server, run.

Logs go to stderr; in stdio mode stdout carries only JSON-RPC. Every failure the user can fix ends in one
line on stderr saying what is wrong and what to do, and a non-zero exit: never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__, cli_approvals
from .config import ConfigError, Settings

log = logging.getLogger("bugwarden")


class UsageError(Exception):
    """A command cannot run as asked; the message says what to do instead."""


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


# -- argument types ------------------------------------------------------------------------------------


def port(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port: use 0 to 65535 (0 picks a free one)")
    return int(value)


def url_path(value: str) -> str:
    if not value.startswith("/") or any(c in value for c in "?#% ") or "//" in value:
        raise argparse.ArgumentTypeError(f"{value!r} is not a URL path: use one like /mcp")
    return value.rstrip("/") or "/"


def rate(value: str) -> int | None:
    """A positive number of calls a minute, or `off`."""
    if value.lower() == "off":
        return None
    if not value.isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: use a positive number of calls a minute, or 'off'")
    return int(value)


def positive(value: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: use a positive whole number")
    return int(value)


def count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r}: use a whole number, 0 or more")
    return int(value)


def since(value: str) -> str:
    """An ISO time with a zone (or Z), as the audit log stores times: UTC, milliseconds."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time: use ISO 8601 with a zone, like 2026-11-01T00:00:00Z or 2026-11-01T01:00+01:00"
        ) from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no time zone: add Z (UTC) or an offset like +01:00")
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the parser ------------------------------------------------------------------------------------------


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


class _Parser(argparse.ArgumentParser):
    """Usage mistakes in one line (argparse would print the whole usage first), with where to find help."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _sub(parent: Any, name: str, help: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = parent.add_parser(name, help=help, description=help, formatter_class=_Help)
    return parser


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bugwarden", description="Governed MCP access to error trackers.", formatter_class=_Help)
    p.add_argument("--version", action="version", version=f"bugwarden {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = _sub(sub, "serve", "serve MCP against the configured trackers (stdio by default)")
    _transport_args(serve)
    _database_arg(serve)

    demo = _sub(sub, "demo", "start the sandbox APIs on loopback and serve MCP against them, with throw-away state")
    _transport_args(demo)
    demo.add_argument(
        "--bundle", choices=["read", "triage", "admin"], default="triage", help="what the demo agent may do"
    )
    demo.add_argument(
        "--rate-limit", type=count, default=30, help="sandbox requests a minute per upstream token (0: no limit)"
    )
    demo.add_argument(
        "--no-bugport",
        dest="bugport",
        action="store_false",
        help="serve only the BugSnag sandbox (default: BugSnag and BugPort)",
    )
    demo.add_argument(
        "--trust-loopback",
        action="store_true",
        help="HTTP: also accept requests without a token, from loopback only, as the demo agent "
        "(for clients that send no header, such as the MCP conformance suite)",
    )

    sandbox = _sub(sub, "sandbox", "run only the simulated APIs and print their base URLs")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sandbox.add_argument("--port", type=port, default=0, help="port (0 picks a free one)")
    sandbox.add_argument(
        "--rate-limit", type=count, default=30, help="requests a minute per upstream token (0: no limit)"
    )

    token = _sub(sub, "token", "create, list or revoke agent tokens")
    tsub = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = _sub(tsub, "create", "issue a token; prints its secret once, as the last line")
    create.add_argument("--name", required=True, help="who or what the token is for")
    create.add_argument(
        "--scopes", required=True, help="scopes and/or bundles, e.g. read, triage, admin or errors:read,projects:read"
    )
    create.add_argument("--project", action="append", default=[], help="limit to this project id (repeatable)")
    create.add_argument("--expires-in", help="lifetime like 30d, 12h, 45m or 2w (at most 3650d); default: never")
    _database_arg(create)
    _database_arg(_sub(tsub, "list", "list tokens with their state (active, expired, revoked); never secrets"))
    revoke = _sub(tsub, "revoke", "revoke a token; takes effect at its next request or call")
    revoke.add_argument("id", help="the token id (tok_…) from `token list`")
    _database_arg(revoke)

    _database_arg(_sub(sub, "doctor", "check configuration, state, the agent token and each backend"))

    audit = _sub(sub, "audit", "read and verify the audit log")
    asub = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    tail = _sub(asub, "tail", "show the latest records")
    tail.add_argument("-n", type=count, default=20, help="how many records")
    _database_arg(tail)
    export = _sub(asub, "export", "write records as JSON lines to stdout")
    export.add_argument("--format", choices=["jsonl"], default="jsonl", help="output format")
    export.add_argument("--since", type=since, help="only records at or after this time (ISO 8601 with a zone)")
    _database_arg(export)
    verify = _sub(asub, "verify", "recompute the hash chain; exits 1 naming the first bad record")
    verify.add_argument(
        "--against",
        metavar="EXPORT.jsonl",
        help="an earlier `audit export` kept elsewhere: also prove the live log still holds it unchanged",
    )
    _database_arg(verify)

    cli_approvals.add_parser(sub, _sub, _database_arg)

    db = _sub(sub, "db", "manage the PostgreSQL schema (BUGWARDEN_DATABASE_URL)")
    dsub = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    _database_arg(_sub(dsub, "migrate", "apply the schema migrations this bugwarden needs"))
    _database_arg(_sub(dsub, "status", "show each schema component's version"))
    return p


def _database_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--database-url",
        help="PostgreSQL URL for all state (default: BUGWARDEN_DATABASE_URL, or SQLite files under BUGWARDEN_HOME)",
    )


def _transport_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="how clients connect")
    p.add_argument("--host", default="127.0.0.1", help="HTTP: address to listen on")
    p.add_argument("--port", type=port, default=8000, help="HTTP: port (0 picks a free one)")
    p.add_argument("--path", type=url_path, default="/mcp", help="HTTP: path of the MCP endpoint")
    p.add_argument("--allowed-host", action="append", default=[], help="HTTP: accepted Host header (repeatable)")
    p.add_argument("--allowed-origin", action="append", default=[], help="HTTP: accepted Origin (repeatable)")
    p.add_argument("--stateless", action="store_true", help="HTTP: no server-side sessions (for replicas)")
    p.add_argument("--http-rate-limit", type=rate, default=120, help="HTTP: tool calls a minute per token, or 'off'")
    p.add_argument("--max-sessions-per-token", type=positive, default=16, help="HTTP: open sessions per token")
    p.add_argument(
        "--session-idle-timeout", type=positive, default=300, help="HTTP: seconds before an idle session is closed"
    )
    p.add_argument(
        "--toolsets",
        help="comma-separated: core, insights, admin, destructive, or all (default: core, or BUGWARDEN_TOOLSETS)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")


def _http_options(args: argparse.Namespace, settings: Settings) -> Any:
    from .http_app import HttpOptions

    return HttpOptions(
        host=args.host,
        port=args.port,
        path=args.path,
        allowed_hosts=tuple(args.allowed_host) + settings.allowed_hosts,
        allowed_origins=tuple(args.allowed_origin) + settings.allowed_origins,
        stateless=args.stateless,
        rate_limit=args.http_rate_limit,
        max_sessions_per_token=args.max_sessions_per_token,
        session_idle_timeout=float(args.session_idle_timeout),
        public_url=settings.public_url,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(getattr(args, "verbose", False))
    handler = {
        "serve": _serve,
        "demo": _demo,
        "sandbox": _sandbox,
        "token": _token,
        "audit": _audit,
        "db": _db,
        "doctor": _doctor,
        "approvals": cli_approvals.run,
    }[args.command]
    from .store import StoreError

    try:
        settings = Settings.from_env(
            os.environ, toolsets=getattr(args, "toolsets", None), database_url=getattr(args, "database_url", None)
        )
        if getattr(args, "transport", None) == "http":
            _http_options(args, settings).security()
        return handler(args, settings)
    except (ConfigError, StoreError, UsageError) as exc:
        print(f"bugwarden: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `bugwarden audit export | head`: the reader left, which is fine
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket; accepted connections inherit TCP_NODELAY (without it, Nagle's algorithm and delayed
    ACKs add about 40 ms to every small response)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == 98:
            raise UsageError(f"port {port} on {host} is already in use: stop what uses it, or pick --port") from None
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror}): check --host and --port") from None
    return sock


def _uvicorn(app: Any, **config: Any) -> Any:
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **config))


def _run_http(
    settings: Settings, args: argparse.Namespace, sock: socket.socket | None = None, extra: Any = None, **build_kw: Any
) -> int:
    """Serve Streamable HTTP until SIGINT/SIGTERM; in-flight calls get 30 s to finish."""
    import anyio
    import uvicorn

    from .http_app import bounded_h11, build_http

    sock = sock or _listen(args.host, args.port)
    options = dataclasses.replace(_http_options(args, settings), port=sock.getsockname()[1])
    server_obj, app = build_http(settings, options, **build_kw)
    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=30,
        lifespan="on",
        http=bounded_h11(options.header_timeout),
    )
    server = uvicorn.Server(config)
    print(f"mcp: {options.base_url}{options.path}", flush=True)

    async def run() -> None:
        async with anyio.create_task_group() as tg:
            if extra is not None:
                tg.start_soon(extra)
            await server.serve(sockets=[sock])
            tg.cancel_scope.cancel()

    # uvicorn re-raises the SIGTERM it caught once it has shut down gracefully, which would kill the process
    # before cleanups (the demo's throw-away state) run; by then there is nothing left to do but return.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        anyio.run(run)
    finally:
        signal.signal(signal.SIGTERM, previous)
        server_obj.close()
    return 0


# -- commands --------------------------------------------------------------------------------------------


def _check_agent_token(settings: Settings) -> None:
    """Refuse to start with a BUGWARDEN_TOKEN that is already unusable (it is checked again on every call)."""
    from .guard.tokens import TokenError, TokenStore
    from .store import Store

    if not settings.agent_token:
        return
    store = Store.open(settings)
    try:
        TokenStore(store.tokens).verify(settings.agent_token.reveal(), transport="stdio")
    except TokenError as exc:
        raise UsageError(f"BUGWARDEN_TOKEN refused: {exc}") from None
    finally:
        store.close()


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from .app import build_server

    if not settings.backends:
        raise UsageError(
            "no tracker configured: set BUGSNAG_AUTH_TOKEN or BUGPORT_TOKEN (or try the sandbox: `bugwarden demo`)"
        )
    if args.transport == "http":
        return _run_http(settings, args)
    _check_agent_token(settings)
    server = build_server(settings)
    try:
        server.run("stdio")
    finally:
        server.close()
    return 0


def _sandbox(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from .sandbox import BUGPORT_MOUNT, create_sandbox
    from .sandbox.bugport_seed import RW_TOKEN
    from .sandbox.bugsnag_seed import ADMIN_TOKEN

    sock = _listen(args.host, args.port)
    base = f"http://{args.host}:{sock.getsockname()[1]}"
    server = _uvicorn(create_sandbox(rate_limit=args.rate_limit))
    print(f"bugsnag: {base}", flush=True)
    print(f"bugport: {base}{BUGPORT_MOUNT}/v1", flush=True)
    print(f"# BUGSNAG_API_URL={base} BUGSNAG_AUTH_TOKEN={ADMIN_TOKEN}", file=sys.stderr)
    print(f"# BUGPORT_API_URL={base}{BUGPORT_MOUNT}/v1 BUGPORT_TOKEN={RW_TOKEN}", file=sys.stderr)
    anyio.run(lambda: server.serve(sockets=[sock]))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    """The sandbox APIs on loopback and MCP against them, with throw-away state: the demo never reads or writes
    the real token store or audit log, and BUGWARDEN_TOKEN, BUGWARDEN_HOME and BUGWARDEN_DATABASE_URL do not
    apply to it."""
    import shutil
    import tempfile

    import anyio

    from .app import build_server
    from .config import DEFAULT_TOOLSETS
    from .guard.principal import local_principal
    from .sandbox import BUGPORT_MOUNT, create_sandbox
    from .sandbox.bugport_seed import RW_TOKEN
    from .sandbox.bugsnag_seed import ADMIN_TOKEN

    if args.trust_loopback and args.transport != "http":
        raise UsageError("--trust-loopback applies to --transport http only")
    sock = _listen("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sandbox = _uvicorn(create_sandbox(rate_limit=args.rate_limit))
    home = Path(tempfile.mkdtemp(prefix="bugwarden-demo-"))
    demo_settings = Settings.from_env(
        {},
        bugsnag_token=ADMIN_TOKEN,
        bugsnag_api_url=url,
        bugport_token=RW_TOKEN if args.bugport else None,
        bugport_api_url=f"{url}{BUGPORT_MOUNT}/v1",
        home=str(home),
        toolsets=settings.toolsets if args.toolsets else DEFAULT_TOOLSETS,
    )
    log.info("demo: sandbox APIs at %s; throw-away state in %s (deleted on exit)", url, home)
    try:
        principal = local_principal(args.bundle, args.transport)
        if args.transport == "http":
            from .guard.tokens import TokenStore
            from .store import Store

            store = Store.open(demo_settings)
            _, secret = TokenStore(store.tokens).create("demo", args.bundle, expires_in="1d")
            store.close()
            print(f"demo token ({args.bundle} bundle, expires in a day): {secret}", flush=True)
            trusted = principal if args.trust_loopback else None
            return _run_http(
                demo_settings, args, extra=lambda: sandbox.serve(sockets=[sock]), loopback_principal=trusted
            )
        server = build_server(demo_settings, principal=principal)
        log.info("demo: serving MCP on stdio as %s", principal.name)

        def stop(signum: int, frame: Any) -> None:
            # A host stopping the demo. stdin is read in a worker thread that nothing can interrupt, so leave at
            # once; all there is to clean up is the throw-away state.
            shutil.rmtree(home, ignore_errors=True)
            os._exit(0)

        signal.signal(signal.SIGTERM, stop)

        async def run() -> None:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: sandbox.serve(sockets=[sock]))
                await server.run_stdio_async()
                sandbox.should_exit = True

        anyio.run(run)
        server.close()
        return 0
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from . import doctor

    ok, lines = anyio.run(doctor.run, settings)
    print("\n".join(lines))
    print("all checks passed" if ok else "some checks failed: see the fix lines above")
    return 0 if ok else 1


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from .guard.scopes import ScopeError
    from .guard.tokens import TokenError, TokenStore
    from .store import Store

    state = Store.open(settings)
    store = TokenStore(state.tokens)
    try:
        if args.action == "create":
            info, secret = store.create(args.name, args.scopes, args.project, args.expires_in)
            print(
                f"created {info.id} ({info.name}): scopes {','.join(sorted(info.scopes)) or '(none)'}"
                f"{'; projects ' + ','.join(sorted(info.projects)) if info.projects else ''}"
                f"{'; expires ' + info.expires_at if info.expires_at else ''}"
            )
            print("the secret is shown once; store it now:")
            print(secret)
        elif args.action == "list":
            tokens = store.list()
            if not tokens:
                print("no tokens yet: create one with `bugwarden token create --name NAME --scopes read`")
            for t in tokens:
                print(
                    f"{t.id}\t{t.name}\t{t.state()}\t{','.join(sorted(t.scopes)) or '-'}\t"
                    f"{','.join(sorted(t.projects)) or 'all projects'}\texpires {t.expires_at or 'never'}\t"
                    f"last used {t.last_used_at or 'never'}"
                )
        else:
            info, changed = store.revoke(args.id)
            print(f"revoked {info.id} ({info.name})" if changed else f"{info.id} ({info.name}) was already revoked")
        return 0
    except (ScopeError, TokenError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    finally:
        state.close()


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from .guard.audit import AuditLog
    from .store import Store

    path = Path(settings.home) / "audit.sqlite3"
    if settings.database_url is None and not path.exists():
        print(
            f"bugwarden: no audit log at {path} yet (nothing has been served with this BUGWARDEN_HOME)", file=sys.stderr
        )
        return 1 if args.action == "verify" else 0
    store = Store.open(settings)
    audit = AuditLog.for_store(store, settings.state_key.reveal() if settings.state_key else None)
    try:
        if args.action == "verify":
            ok, message = audit.verify(against=_export_records(args.against) if args.against else None)
            print(message, file=sys.stdout if ok else sys.stderr)
            return 0 if ok else 1
        if args.action == "export":
            for record in audit.records(args.since):
                print(json.dumps(record, sort_keys=True))
            sys.stdout.flush()
            return 0
        records = audit.last(args.n)
        for r in records:
            targets = " ".join(f"{k}={v}" for k, v in r.get("targets", {}).items())
            who, tool = str(r.get("principal_name", ""))[:20], str(r.get("tool", ""))[:22]
            print(
                f"{r['seq']:>6} {r['ts']} {who:<20} {tool:<22} {r.get('decision', ''):<7} "
                f"{r.get('phase', ''):<6} {r.get('outcome') or '':<16} {targets}"
            )
        return 0
    finally:
        store.close()


def _export_records(path: str) -> Iterator[dict[str, Any]]:
    """The records of an `audit export` file, one JSON object a line (UsageError when it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except ValueError:
                        raise UsageError(f"{path} line {number} is not JSON: pass a file from `audit export`") from None
                    yield record if isinstance(record, dict) else {}
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from .store import Store
    from .store.schema import Schema

    if settings.database_url is None:
        raise UsageError(
            "no database configured: set BUGWARDEN_DATABASE_URL or pass --database-url (SQLite files under "
            "BUGWARDEN_HOME are migrated automatically)"
        )
    from .store.postgres import PostgresDatabase

    db = PostgresDatabase(settings.database_url.reveal())
    try:
        schema = Schema(db, Store.COMPONENTS)
        if args.action == "migrate":
            applied = schema.migrate()
            print("applied: " + ", ".join(applied) if applied else "the schema is current")
        for status in schema.status():
            print(
                f"{status.component}: version {status.current} of {status.latest}"
                + ("" if status.ok else " (run `bugwarden db migrate`)")
            )
        return 0
    finally:
        db.close()
