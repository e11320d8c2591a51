"""`bugwarden serve|demo|sandbox|token|audit|doctor`: parse, build settings, build the server, run.

Logs go to stderr; in stdio mode stdout carries only JSON-RPC.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .config import ConfigError, Settings

log = logging.getLogger("bugwarden")


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bugwarden", description="Governed MCP access to error trackers.")
    p.add_argument("--version", action="version", version=f"bugwarden {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve MCP against the configured trackers (stdio by default)")
    _transport_args(serve)

    demo = sub.add_parser("demo", help="start the sandbox APIs on loopback and serve MCP against them")
    _transport_args(demo)
    demo.add_argument(
        "--bundle",
        choices=["read", "triage", "admin"],
        default="triage",
        help="what the demo agent may do (default: triage)",
    )
    demo.add_argument("--rate-limit", type=int, default=30, help="sandbox requests per minute per token")
    demo.add_argument(
        "--no-bugport",
        dest="bugport",
        action="store_false",
        help="serve only the BugSnag sandbox (default: BugSnag and BugPort)",
    )

    sandbox = sub.add_parser("sandbox", help="run only the simulated APIs and print their base URLs")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=0, help="0 picks a free port")
    sandbox.add_argument("--rate-limit", type=int, default=30)

    token = sub.add_parser("token", help="create, list or revoke agent tokens")
    tsub = token.add_subparsers(dest="action", required=True)
    create = tsub.add_parser("create")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", required=True, help="scopes and/or bundles, e.g. read or errors:read,projects:read")
    create.add_argument("--project", action="append", default=[], help="limit to this project (repeatable)")
    create.add_argument("--expires-in", help="e.g. 30d, 12h")
    tsub.add_parser("list")
    revoke = tsub.add_parser("revoke")
    revoke.add_argument("id")

    sub.add_parser("doctor", help="check configuration, state, the agent token and each backend")

    audit = sub.add_parser("audit", help="read and verify the audit log")
    asub = audit.add_subparsers(dest="action", required=True)
    tail = asub.add_parser("tail")
    tail.add_argument("-n", type=int, default=20)
    export = asub.add_parser("export")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("--since", help="ISO time, e.g. 2026-11-01T00:00:00Z")
    asub.add_parser("verify")
    return p


def _transport_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP: address to listen on")
    p.add_argument("--port", type=int, default=8000, help="HTTP: port (0 picks a free one)")
    p.add_argument("--path", default="/mcp", help="HTTP: path of the MCP endpoint")
    p.add_argument("--allowed-host", action="append", default=[], help="HTTP: accepted Host header (repeatable)")
    p.add_argument("--allowed-origin", action="append", default=[], help="HTTP: accepted Origin (repeatable)")
    p.add_argument("--stateless", action="store_true", help="HTTP: no server-side sessions (for replicas)")
    p.add_argument("--http-rate-limit", type=int, default=120, help="HTTP: requests per minute per token")
    p.add_argument("--toolsets", help="comma-separated: core, insights, admin, destructive, or all")
    p.add_argument("-v", "--verbose", action="store_true")


def _http_options(args: argparse.Namespace) -> Any:
    from .http_app import HttpOptions

    env_hosts = [h for h in os.environ.get("BUGWARDEN_ALLOWED_HOSTS", "").split(",") if h.strip()]
    env_origins = [o for o in os.environ.get("BUGWARDEN_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    return HttpOptions(
        host=args.host,
        port=args.port,
        path=args.path,
        allowed_hosts=tuple(args.allowed_host + env_hosts),
        allowed_origins=tuple(args.allowed_origin + env_origins),
        stateless=args.stateless,
        rate_limit=args.http_rate_limit,
        public_url=os.environ.get("BUGWARDEN_PUBLIC_URL") or None,
    )


def _run_http(
    settings: Settings, args: argparse.Namespace, sock: socket.socket | None = None, extra: Any = None, **build_kw: Any
) -> int:
    """Serve Streamable HTTP until SIGINT/SIGTERM; in-flight calls get 30 s to finish."""
    import anyio
    import uvicorn

    from .http_app import build_http

    sock = sock or _listen(args.host, args.port)
    options = dataclasses.replace(_http_options(args), port=sock.getsockname()[1])
    _, app = build_http(settings, options, **build_kw)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=30, lifespan="on")
    server = uvicorn.Server(config)
    print(f"mcp: {options.base_url}{options.path}", flush=True)

    async def run() -> None:
        async with anyio.create_task_group() as tg:
            if extra is not None:
                tg.start_soon(extra)
            await server.serve(sockets=[sock])
            tg.cancel_scope.cancel()

    anyio.run(run)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(getattr(args, "verbose", False))
    try:
        settings = Settings.from_env(os.environ, toolsets=getattr(args, "toolsets", None))
        if getattr(args, "transport", None) == "http":
            _http_options(args).security()
    except ConfigError as exc:
        print(f"bugwarden: {exc}", file=sys.stderr)
        return 2
    handler = {
        "serve": _serve,
        "demo": _demo,
        "sandbox": _sandbox,
        "token": _token,
        "audit": _audit,
        "doctor": _doctor,
    }[args.command]
    try:
        return handler(args, settings)
    except KeyboardInterrupt:
        return 130


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
        raise SystemExit(f"bugwarden: BUGWARDEN_TOKEN refused: {exc}") from None
    finally:
        store.close()


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from .app import build_server

    if not settings.backends:
        print(
            "bugwarden: no tracker configured. Set BUGSNAG_AUTH_TOKEN (or run `bugwarden demo` to try the sandbox).",
            file=sys.stderr,
        )
        return 2
    if args.transport == "http":
        try:
            return _run_http(settings, args)
        except ConfigError as exc:
            print(f"bugwarden: {exc}", file=sys.stderr)
            return 2
    _check_agent_token(settings)
    server = build_server(settings)
    server.run("stdio")
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket; accepted connections inherit TCP_NODELAY (without it, Nagle's algorithm and delayed
    ACKs add about 40 ms to every small response)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _uvicorn(app: Any) -> Any:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    return uvicorn.Server(config)


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
        if args.transport == "http":
            from .guard.tokens import TokenStore
            from .store import Store

            store = Store.open(demo_settings)
            _, secret = TokenStore(store.tokens).create("demo", args.bundle, expires_in="1d")
            store.close()
            print(f"demo token ({args.bundle} bundle, expires in a day): {secret}", flush=True)
            return _run_http(demo_settings, args, extra=lambda: sandbox.serve(sockets=[sock]))
        principal = local_principal(args.bundle)
        server = build_server(demo_settings, principal=principal)
        log.info("demo: serving MCP on stdio as %s", principal.name)

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

    state_store = Store.open(settings)
    store = TokenStore(state_store.tokens)
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
            for t in store.list():
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
        print(f"bugwarden: {exc}", file=sys.stderr)
        return 2
    finally:
        state_store.close()


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from .guard.audit import AuditLog
    from .store import Store

    path = Path(settings.home) / "audit.sqlite3"
    if settings.database_url is None and not path.exists():
        print(f"bugwarden: no audit log at {path}", file=sys.stderr)
        return 1 if args.action == "verify" else 0
    store = Store.open(settings)
    audit = AuditLog(store.audit)
    try:
        if args.action == "verify":
            ok, message = audit.verify()
            print(message, file=sys.stdout if ok else sys.stderr)
            return 0 if ok else 1
        if args.action == "export":
            for record in audit.records(args.since):
                print(json.dumps(record, sort_keys=True))
            return 0
        records = list(audit.records())[-args.n :]
        for r in records:
            targets = " ".join(f"{k}={v}" for k, v in r.get("targets", {}).items())
            print(
                f"{r['seq']:>6} {r['ts']} {r['principal_name']:<20} {r['tool']:<20} {r['decision']:<7} "
                f"{r['phase']:<6} {r.get('outcome') or '':<16} {targets}"
            )
        return 0
    finally:
        store.close()
