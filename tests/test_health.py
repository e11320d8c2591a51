"""The container health check follows the transport: HTTP probes /healthz on the port given, stdio has none."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from bugwarden.health import check, main, probe_url


@pytest.mark.parametrize(
    ("args", "url"),
    [
        (["/opt/bugwarden/bin/python", "/opt/bugwarden/bin/bugwarden", "serve"], None),
        (["bugwarden", "serve", "--transport", "stdio"], None),
        (["bugwarden", "demo"], None),
        (["bugwarden", "token", "list"], None),
        (["bugwarden", "serve", "--transport", "http"], "http://127.0.0.1:8000/healthz"),
        (
            ["bugwarden", "serve", "--transport=http", "--host", "0.0.0.0", "--port", "9100"],
            "http://127.0.0.1:9100/healthz",
        ),
        (["bugwarden", "demo", "--transport", "http", "--port=8123"], "http://127.0.0.1:8123/healthz"),
        (["bugwarden", "serve", "--transport", "http", "--host", "::"], "http://[::1]:8000/healthz"),
        (["bugwarden", "serve", "--transport", "http", "--port", "0"], None),
    ],
)
def test_what_is_probed(args: list[str], url: str | None) -> None:
    assert probe_url(args) == url


@pytest.fixture
def healthz() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_an_http_container_is_healthy_when_healthz_answers(healthz: int, tmp_path: Path) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(
        b"\0".join(
            [b"/opt/bugwarden/bin/bugwarden", b"serve", b"--transport", b"http", b"--port", str(healthz).encode()]
        )
    )
    assert main(cmdline) == 0
    healthy, why = check(["bugwarden", "serve", "--transport", "http", "--port", "1"], timeout=1)
    assert not healthy and why.startswith("http://127.0.0.1:1/healthz:")


def test_a_stdio_container_is_healthy_while_it_runs(tmp_path: Path, capsys) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"/opt/bugwarden/bin/bugwarden\0serve\0")
    assert main(cmdline) == 0 and "not serving HTTP" in capsys.readouterr().out
    assert main(tmp_path / "missing") == 1
