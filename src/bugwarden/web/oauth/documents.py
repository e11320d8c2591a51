"""Client ID Metadata Documents: a client whose id is an https URL describes itself in the JSON document there.

Fetching it is a request to an address an attacker chose, so: https only; the host must resolve to public
addresses only (checked at connect time, on the address actually used, so DNS cannot swap in a private one
after the check) unless the operator allows that host; no redirects; at most 64 KiB within 5 seconds; and
the answer is cached in the store for an hour (every replica shares it). The document must name itself as
`client_id` and pass the same redirect policy as registration.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore2
import httpx2

from .policy import MAX_REDIRECTS, public_address, redirect_problem

MAX_BYTES = 64 * 1024
TIMEOUT = 5.0
CACHE_FOR = 3600.0

Fetch = Callable[[str], Awaitable[bytes]]


class DocumentError(Exception):
    """The metadata document could not be used; the message says why (for the operator's log and the error)."""


class FailedFetches:
    """Metadata URLs that could not be used, each until a time when it may be fetched again (per process): no
    fetch storm for a URL that does not work. At most `keep` are remembered; past that the one least recently
    failed or asked for is forgotten first, so a flood of new URLs never wipes out what is known."""

    def __init__(self, keep: int = 1000) -> None:
        self.keep = keep
        self._until: OrderedDict[str, float] = OrderedDict()

    def blocked(self, url: str, now: float) -> bool:
        """Whether `url` failed recently (asking counts as a use: it stays remembered longer)."""
        until = self._until.get(url)
        if until is None:
            return False
        if until <= now:
            del self._until[url]
            return False
        self._until.move_to_end(url)
        return True

    def add(self, url: str, until: float) -> None:
        self._until[url] = until
        self._until.move_to_end(url)
        while len(self._until) > self.keep:
            self._until.popitem(last=False)


class _CheckedBackend(httpcore2.AsyncNetworkBackend):
    """Connects only to public addresses (or to hosts the operator allowed), resolving the name itself."""

    def __init__(self, allowed_hosts: frozenset[str]) -> None:
        self._inner = httpcore2.AnyIOBackend()
        self._allowed = allowed_hosts

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in infos]
        if not addresses:
            raise httpcore2.ConnectError(f"{host} does not resolve")
        if host.lower() not in self._allowed and not all(public_address(a) for a in addresses):
            raise httpcore2.ConnectError(f"{host} resolves to a private or local address")
        return await self._inner.connect_tcp(
            addresses[0], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def network_fetch(allowed_hosts: Iterable[str] = ()) -> Fetch:
    """A fetcher for metadata documents over the network, with the limits above."""
    allowed = frozenset(h.lower() for h in allowed_hosts)

    async def fetch(url: str) -> bytes:
        transport = httpx2.AsyncHTTPTransport()
        transport._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(), network_backend=_CheckedBackend(allowed), max_connections=1
        )
        try:
            async with httpx2.AsyncClient(transport=transport, timeout=TIMEOUT, follow_redirects=False) as http:
                with anyio.fail_after(TIMEOUT):
                    async with http.stream("GET", url, headers={"Accept": "application/json"}) as response:
                        if response.status_code != 200:
                            raise DocumentError(f"{url} answered HTTP {response.status_code}")
                        body = b""
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) > MAX_BYTES:
                                raise DocumentError(f"{url} is larger than {MAX_BYTES} bytes")
                        return body
        except TimeoutError:
            raise DocumentError(f"{url} did not answer within {TIMEOUT:g}s") from None
        except httpx2.HTTPError as exc:
            raise DocumentError(f"{url} could not be fetched: {exc}") from None

    return fetch


def check_url(url: str, allowed_hosts: Iterable[str] = ()) -> None:
    """Refuse metadata URLs that are not https or that name a private or loopback address literally."""
    if any(ord(c) < 0x21 or 0x7F <= ord(c) <= 0x9F for c in url):
        raise DocumentError("a client id URL must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.path in ("", "/"):
        raise DocumentError("a client id URL must be https with a path")
    if parts.username or parts.password or parts.fragment or len(url) > 2000:
        raise DocumentError("a client id URL must not carry credentials or a fragment")
    host = parts.hostname.lower()
    if host in {h.lower() for h in allowed_hosts}:
        return
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise DocumentError(f"{host} is a local name")
    literal = host.strip("[]")
    is_literal = ":" in literal or literal.replace(".", "").isdigit()
    if is_literal and not public_address(literal):
        raise DocumentError(f"{host} is a private or local address")


def parse_document(url: str, body: bytes) -> dict[str, Any]:
    """The client record a metadata document describes (raises DocumentError)."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise DocumentError(f"{url} is not JSON") from None
    if not isinstance(doc, dict):
        raise DocumentError(f"{url} is not a JSON object")
    if doc.get("client_id") != url:
        raise DocumentError(f"{url} names another client_id")
    redirects = doc.get("redirect_uris")
    if not isinstance(redirects, list) or not redirects or len(redirects) > MAX_REDIRECTS:
        raise DocumentError(f"{url} must list 1 to {MAX_REDIRECTS} redirect_uris")
    for uri in redirects:
        problem = redirect_problem(uri) if isinstance(uri, str) else "is not a string"
        if problem:
            raise DocumentError(f"{url}: a redirect address {problem}")
    method = doc.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise DocumentError(f"{url}: a metadata-document client authenticates with 'none' (PKCE), not {method!r}")
    name = doc.get("client_name")
    return {
        "client_id": url,
        "redirect_uris": redirects,
        "client_name": name[:100] if isinstance(name, str) else None,
        "client_uri": doc.get("client_uri") if isinstance(doc.get("client_uri"), str) else None,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    }
