"""`bugwarden serve|demo|sandbox|token|audit|db|doctor|connect`: parse, build settings, build the server, run.

Logs go to stderr; in stdio mode stdout carries only JSON-RPC. Every failure the user can fix ends in one
line on stderr saying what is wrong and what to do, and a non-zero exit: never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import cli_approvals, cli_tokens, hooks_cli
from .cli_common import UsageError, count
from .config import DEFAULT_TOOLSETS, TOOLSETS, ConfigError, HttpSettings, Settings
from .version import __version__

log = logging.getLogger("bugwarden")


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


def http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.username or parts.password:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL: use one like http://127.0.0.1:8000/mcp")
    return value


def toolsets(value: str) -> tuple[str, ...]:
    """`core,insights` or `all`, checked here so that a mistake names the flag, not BUGWARDEN_TOOLSETS."""
    from .config import parse_toolsets

    try:
        return parse_toolsets(value)
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: choose from {', '.join(TOOLSETS)} (comma-separated) or 'all'"
        ) from None


def database_url(value: str) -> str:
    """A PostgreSQL URL; the value is not echoed in the error (it may carry a password)."""
    if not value.strip().startswith(("postgresql://", "postgres://")):
        raise argparse.ArgumentTypeError(
            "not a PostgreSQL URL: use postgresql://user@host:5432/db, or leave it out to keep state in SQLite "
            "files under BUGWARDEN_HOME"
        )
    return value.strip()


# -- the parser ------------------------------------------------------------------------------------------


class _Help(argparse.RawDescriptionHelpFormatter):
    """Help that shows each option's real default, generated from the parser: only where there is one to show
    (not for switches, repeatable options starting empty, or options whose help already says what applies)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or not action.option_strings
            or action.nargs == 0  # switches: --stateless, --no-bugport, --verbose
            or default in (None, [], argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default: %(default)s)"


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
    _transport_args(demo, toolsets_from_env=False)
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
        help="serve only the BugSnag sandbox (without it: BugSnag and BugPort)",
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
    sandbox.add_argument(
        "--hook",
        action="append",
        default=[],
        metavar="URL",
        help="fire BugSnag's webhook deliveries at this URL when an error is raised (repeatable)",
    )

    token = _sub(sub, "token", "create, list or revoke agent tokens")
    tsub = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = _sub(tsub, "create", "issue a token; prints its secret once, as the last line")
    create.add_argument("--name", required=True, help="who or what the token is for")
    create.add_argument(
        "--scopes", required=True, help="scopes and/or bundles, e.g. read, triage, admin or errors:read,projects:read"
    )
    create.add_argument("--project", action="append", default=[], help="limit to this project id (repeatable)")
    cli_tokens.add_create_args(create)
    create.add_argument("--expires-in", help="lifetime like 30d, 12h, 45m or 2w (at most 3650d); default: never")
    _database_arg(create)
    listing = _sub(tsub, "list", "list tokens with their state (active, expired, revoked); never secrets")
    listing.add_argument("--json", action="store_true", help="print a JSON array (for scripts) instead of a table")
    _database_arg(listing)
    revoke = _sub(tsub, "revoke", "revoke a token; takes effect at its next request or call")
    revoke.add_argument("id", help="the token id (tok_…) from `token list`")
    _database_arg(revoke)

    _database_arg(_sub(sub, "doctor", "check configuration, state, the agent token and each backend"))

    cli_approvals.add_parser(sub, _sub, _database_arg)

    from . import cli_audit

    cli_audit.add_parsers(_sub(sub, "audit", "read, filter and verify the audit log"), _sub, _database_arg)

    from .connect import NAMES as CLIENTS

    connect = _sub(sub, "connect", "write a client's configuration for bugwarden (or print it), merged and backed up")
    connect.add_argument("client", choices=CLIENTS, metavar="CLIENT", help=f"one of: {', '.join(CLIENTS)}")
    connect.add_argument("--url", type=http_url, help="connect over Streamable HTTP to this MCP endpoint (else stdio)")
    where = connect.add_mutually_exclusive_group()
    where.add_argument("--file", type=Path, help="write this file instead of the client's own")
    where.add_argument("--print", dest="print_only", action="store_true", help="print the configuration, write nothing")
    connect.add_argument("--demo", action="store_true", help="stdio: launch `bugwarden demo` (sandbox, no account)")
    connect.add_argument(
        "--oauth", action="store_true", help="HTTP: no bearer header; the client signs in through the server's OAuth"
    )

    from . import cli_users

    cli_users.register(sub, _sub, _database_arg)

    db = _sub(sub, "db", "show or apply the state schema (SQLite files under BUGWARDEN_HOME, or PostgreSQL)")
    dsub = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    _database_arg(_sub(dsub, "migrate", "apply the schema migrations this bugwarden needs"))
    _database_arg(_sub(dsub, "status", "show each schema component's version"))
    hooks_cli.add_parser(sub, _sub, _database_arg)
    return p


def _database_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--database-url",
        type=database_url,
        help="PostgreSQL URL for all state (default: BUGWARDEN_DATABASE_URL, or SQLite files under BUGWARDEN_HOME)",
    )


def _transport_args(p: argparse.ArgumentParser, toolsets_from_env: bool = True) -> None:
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
        type=toolsets,
        help=f"comma-separated: {', '.join(TOOLSETS)}, or all (default: {','.join(DEFAULT_TOOLSETS)}"
        + (", or BUGWARDEN_TOOLSETS)" if toolsets_from_env else ")"),
    )
    p.add_argument(
        "--public-url",
        help="HTTP: the address clients and browsers use (behind a proxy, its https URL); turns on sign-in, "
        "OAuth and the console (default: BUGWARDEN_PUBLIC_URL)",
    )
    p.add_argument(
        "--oauth-registration",
        choices=["open", "closed"],
        default="open",
        help="HTTP with --public-url: whether clients may register themselves (RFC 7591); closed leaves clients "
        "with a Client ID Metadata Document",
    )
    p.add_argument(
        "--oauth-metadata-host",
        action="append",
        default=[],
        help="HTTP with --public-url: a host whose client metadata documents may be fetched although it resolves "
        "to a private address (repeatable)",
    )
    p.add_argument(
        "--trusted-proxy-header",
        help="HTTP with --public-url, behind an SSO proxy: a request header naming the signed-in person "
        "(e.g. X-Forwarded-User); needs --trusted-proxy-from",
    )
    p.add_argument(
        "--trusted-proxy-from",
        action="append",
        default=[],
        help="the proxy's address or network (CIDR) that --trusted-proxy-header is believed from (repeatable)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    hooks_cli.add_receiver_args(p)


def _http_options(args: argparse.Namespace, settings: Settings) -> HttpSettings:
    """The HTTP settings the flags and the environment give (raises ConfigError for ones that do not fit)."""
    return HttpSettings.of(
        settings,
        host=args.host,
        port=args.port,
        path=args.path,
        allowed_hosts=tuple(args.allowed_host),
        allowed_origins=tuple(args.allowed_origin),
        stateless=args.stateless,
        rate_limit=args.http_rate_limit,
        max_sessions_per_token=args.max_sessions_per_token,
        session_idle_timeout=float(args.session_idle_timeout),
        oauth_registration=args.oauth_registration,
        metadata_hosts=tuple(args.oauth_metadata_host),
        trusted_proxy_header=args.trusted_proxy_header,
        trusted_proxy_from=tuple(args.trusted_proxy_from),
        hooks=hooks_cli.receiver_options(args),
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
        "connect": _connect,
        "hooks": hooks_cli.run,
        "user": _user,
        "approvals": cli_approvals.run,
    }[args.command]
    from .store import StoreError

    try:
        settings = Settings.from_env(
            os.environ,
            toolsets=getattr(args, "toolsets", None),
            database_url=getattr(args, "database_url", None),
            public_url=getattr(args, "public_url", None),
        )
        if getattr(args, "transport", None) == "http":
            _http_options(args, settings)
        return handler(args, settings)
    except (ConfigError, StoreError, UsageError, hooks_cli.HooksUsageError) as exc:
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

    from .http_app import forwarded_options

    return uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **forwarded_options(), **config))


def _run_http(
    settings: Settings, args: argparse.Namespace, sock: socket.socket | None = None, extra: Any = None, **build_kw: Any
) -> int:
    """Serve Streamable HTTP until SIGINT/SIGTERM; in-flight calls get 30 s to finish."""
    import anyio
    import uvicorn

    from .http_app import bounded_h11, build_http, forwarded_options

    sock = sock or _listen(args.host, args.port)
    options = dataclasses.replace(_http_options(args, settings), port=sock.getsockname()[1])
    server_obj, app = build_http(settings, options, **build_kw)
    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=30,
        lifespan="on",
        http=bounded_h11(options.header_timeout),
        **forwarded_options(),
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


def _check_agent_token(settings: Settings, tokens: Any) -> None:
    """Refuse to start with a BUGWARDEN_TOKEN that is already unusable (it is checked again on every call)."""
    from .guard.tokens import TokenError

    if not settings.agent_token:
        return
    try:
        tokens.verify(settings.agent_token.reveal(), transport="stdio")
    except TokenError as exc:
        raise UsageError(f"BUGWARDEN_TOKEN refused: {exc}") from None


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from .app import build_server
    from .services import Services

    if not settings.backends:
        raise UsageError(
            "no tracker configured: set BUGSNAG_AUTH_TOKEN or BUGPORT_TOKEN (or try the sandbox: `bugwarden demo`)"
        )
    if args.transport == "http":
        return _run_http(settings, args)
    from .stdio import serve_stdio

    services = Services.from_settings(settings)
    try:
        _check_agent_token(settings, services.tokens)
    except UsageError:
        services.close()
        raise
    server = build_server(services)
    return serve_stdio(server, cleanup=server.close, serving="serving MCP on stdio")


def _sandbox(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from .sandbox import BUGPORT_MOUNT, create_sandbox
    from .sandbox.bugport_seed import RW_TOKEN
    from .sandbox.bugsnag_seed import ADMIN_TOKEN

    sock = _listen(args.host, args.port)
    base = f"http://{args.host}:{sock.getsockname()[1]}"
    app = create_sandbox(rate_limit=args.rate_limit)
    app.state.bugsnag.state.control.hooks = list(args.hook)
    server = _uvicorn(app)
    print(f"bugsnag: {base}", flush=True)
    print(f"bugport: {base}{BUGPORT_MOUNT}/v1", flush=True)
    print(f"# BUGSNAG_API_URL={base} BUGSNAG_AUTH_TOKEN={ADMIN_TOKEN}", file=sys.stderr)
    print(f"# BUGPORT_API_URL={base}{BUGPORT_MOUNT}/v1 BUGPORT_TOKEN={RW_TOKEN}", file=sys.stderr)
    print(f"# {hooks_cli.raise_hint(base)}", file=sys.stderr)
    anyio.run(lambda: server.serve(sockets=[sock]))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    """The sandbox APIs on loopback and MCP against them, with throw-away state: the demo never reads or writes
    the real token store or audit log, and BUGWARDEN_TOKEN, BUGWARDEN_HOME and BUGWARDEN_DATABASE_URL do not
    apply to it."""
    import shutil
    import tempfile

    from .app import build_server
    from .guard.principal import local_principal
    from .sandbox import BUGPORT_MOUNT, create_sandbox
    from .sandbox.bugport_seed import RW_TOKEN
    from .sandbox.bugsnag_seed import ADMIN_TOKEN
    from .stdio import serve_stdio, stop_at_once

    if args.trust_loopback and args.transport != "http":
        raise UsageError("--trust-loopback applies to --transport http only")
    sock = _listen("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sandbox_app = create_sandbox(rate_limit=args.rate_limit)
    sandbox = _uvicorn(sandbox_app)
    home = Path(tempfile.mkdtemp(prefix="bugwarden-demo-"))
    if args.transport == "stdio":
        stop_at_once(lambda: shutil.rmtree(home, ignore_errors=True))
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

            mcp_sock = _listen(args.host, args.port)
            mcp_url = f"http://{args.host}:{mcp_sock.getsockname()[1]}"
            store = Store.open(demo_settings)
            _, secret = TokenStore(store.tokens).create("demo", args.bundle, expires_in="1d")
            sandbox_app.state.bugsnag.state.control.hooks = [hooks_cli.demo_hook(store, mcp_url)]
            store.close()
            print(f"demo token ({args.bundle} bundle, expires in a day): {secret}", flush=True)
            print(f"demo signals: {hooks_cli.raise_hint(url, tail=False)}", file=sys.stderr, flush=True)
            trusted = principal if args.trust_loopback else None
            return _run_http(
                demo_settings,
                args,
                sock=mcp_sock,
                extra=lambda: sandbox.serve(sockets=[sock]),
                loopback_principal=trusted,
            )
        server = build_server(demo_settings, principal=principal)

        def cleanup() -> None:
            server.close()
            shutil.rmtree(home, ignore_errors=True)

        return serve_stdio(
            server,
            cleanup=cleanup,
            serving=f"demo: serving MCP on stdio as {principal.name}",
            beside=lambda: sandbox.serve(sockets=[sock]),
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _connect(args: argparse.Namespace, settings: Settings) -> int:
    from . import connect

    request = connect.Request(args.client, args.url, args.file, args.print_only, args.demo, args.oauth)
    try:
        return connect.run(
            request,
            os.environ,
            Path.cwd(),
            out=print,
            note=lambda line: print(line, file=sys.stderr),
        )
    except connect.ConnectError as exc:
        raise UsageError(str(exc)) from None


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from . import doctor

    ok, lines = anyio.run(doctor.run, settings)
    print("\n".join(lines))
    print("all checks passed" if ok else "some checks failed: see the fix lines above")
    return 0 if ok else 1


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from .guard.audit import AuditError
    from .guard.scopes import ScopeError
    from .guard.tokens import TokenError, TokenStore
    from .store import Store

    state = Store.open(settings)
    store = TokenStore(state.tokens)
    try:
        if args.action == "create":
            projects = cli_tokens.checked_projects(settings, args.project, args.skip_project_check)
            details = {"name": args.name, "scopes": args.scopes, "projects": projects, "expires_in": args.expires_in}
            with cli_tokens.audited(state, settings, "token.create", details) as done:
                info, secret = store.create(args.name, args.scopes, projects, args.expires_in)
                done(token_id=info.id)
            print(
                f"created {info.id} ({info.name}): scopes {','.join(sorted(info.scopes)) or '(none)'}"
                f"{'; projects ' + ','.join(sorted(info.projects)) if info.projects else ''}"
                f"{'; expires ' + info.expires_at if info.expires_at else ''}"
            )
            print("the secret is shown once; store it now:")
            print(secret)
        elif args.action == "list":
            from .render import tokens as columns
            from .render.table import table, to_json

            tokens = store.list()
            shown: list[Any] = [*columns.COLUMNS, *(columns.GRANT_COLUMNS if any(t.is_grant for t in tokens) else [])]
            shown += columns.PROJECT_COLUMNS if any(t.project_scopes for t in tokens) else []
            print(to_json(tokens, shown) if args.json else table(tokens, shown, empty=columns.EMPTY))
        else:
            with cli_tokens.audited(state, settings, "token.revoke", {"token_id": args.id[:60]}) as done:
                info, changed = store.revoke(args.id)
                done(token_id=info.id, name=info.name, already_revoked=not changed)
            if changed and info.is_grant:
                from .guard.audit import AuditLog
                from .web.events import audit_event_sync

                audit_event_sync(
                    AuditLog.for_store(state, settings.state_key.reveal() if settings.state_key else None),
                    "grant.revoked",
                    person=info.person or "",
                    decision="allowed",
                    reason="revoked with `bugwarden token revoke`",
                    outcome="ok",
                    client=info.client_id,
                    details={"grant": info.id},
                    transport="cli",
                )
            print(f"revoked {info.id} ({info.name})" if changed else f"{info.id} ({info.name}) was already revoked")
        return 0
    except (ScopeError, TokenError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    except AuditError:
        raise UsageError(
            "the audit log could not record this change, so it was not made: check the state store"
        ) from None
    finally:
        state.close()


def _user(args: argparse.Namespace, settings: Settings) -> int:
    from . import cli_users

    return cli_users.run(args, settings, UsageError)


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from . import cli_audit

    return cli_audit.run(args, settings)


def _db(args: argparse.Namespace, settings: Settings) -> int:
    """Schema versions of each component, and (`migrate`) the migrations applied; PostgreSQL or the SQLite files."""
    from .store import SQLITE_FILES, Store
    from .store.database import Database, SqliteDatabase
    from .store.schema import Schema

    databases: list[tuple[str, Database | None]] = []
    if settings.database_url is None:
        home = Path(settings.home)
        print(f"SQLite files in {home} (BUGWARDEN_HOME); each is created and migrated on first use")
        for component, name in SQLITE_FILES.items():
            path = home / name
            exists = path.exists() or args.action == "migrate"
            databases.append((component, SqliteDatabase(path, durable=True) if exists else None))
    else:
        from .store.postgres import PostgresDatabase, redacted

        print(f"PostgreSQL at {redacted(settings.database_url.reveal())}")
        shared = PostgresDatabase(settings.database_url.reveal())
        databases = [(component, shared) for component in Store.COMPONENTS]
    try:
        applied: list[str] = []
        statuses = []
        for component, db in databases:
            if db is None:
                print(f"{component}: no {SQLITE_FILES[component]} yet (created on first use)")
                continue
            schema = Schema(db, (component,), home=Path(settings.home) if db.dialect == "sqlite" else None)
            if args.action == "migrate":
                applied += schema.migrate()
            statuses += schema.status()
        if args.action == "migrate":
            print("applied: " + ", ".join(applied) if applied else "the schema is current")
        for status in statuses:
            print(
                f"{status.component}: version {status.current} of {status.latest}"
                + ("" if status.ok else " (run `bugwarden db migrate`)")
            )
        return 0
    finally:
        for db in {id(d): d for _, d in databases if d is not None}.values():
            db.close()
