"""The one exception hierarchy for upstream failures (a branch of `bugwarden.errors.BugwardenError`).

    BackendError                      base: carries backend, method, path, status, agent message
    ├── InvalidArgument               we refused the caller's input before any request
    ├── QuotaUnavailable              the shared quota ledger could not be read: nothing was sent
    ├── UpstreamError                 a response came back with a failing status
    │   ├── Unauthorized              401: the upstream credential is missing or wrong
    │   ├── AccountRestricted         BugSnag codes 30000/31000/32000: billing or seats
    │   ├── Forbidden                 403: role too low (40000) or scope/project restriction
    │   ├── NotFound                  404: unknown, or not visible to this credential
    │   ├── InvalidRequest            400/409/422: the API rejected the request
    │   │   └── ResultsCapped         422 code 60000: sorted results capped
    │   ├── RateLimited               429, with `retry_after` seconds
    │   ├── NotImplementedUpstream    501: route "not wired up yet" (BugPort)
    │   ├── UpstreamServerError       5xx
    │   ├── MalformedResponse         2xx whose body is not what the API promises
    │   ├── UnexpectedStatus          a status the API does not document here (a redirect, a 2xx a write never
    │   │                             sends): never taken for success
    │   └── ResponseTooLarge          a body past the size bugwarden accepts
    └── TransportError                no response came back
        ├── UpstreamTimeout
        ├── UpstreamUnreachable
        └── AnswerCutShort            an answer began and its body broke off

`agent_message` is built only from our own templates and the IDs the caller passed. Where words from
outside help (a 400's reason as the upstream said it, a value the caller sent that is not an id), they
travel as a fact, `quote` (labelled by `quote_source`), never inside the message: `render.failures`
shows them, sanitised, inside an `<untrusted-data>` fence. Backends build no fences and sanitise
nothing. `path` never contains credentials or query strings. Each class names its audit `outcome` and its kind
in `words` (for log lines); nothing reads a class's name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar, Self

import httpx

from ..errors import BugwardenError

QUOTE_LIMIT = 2000
"""The most of a quote an error keeps (render shows less)."""


class BackendError(BugwardenError):
    """Base of every adapter failure; `str()` is the agent-facing message."""

    outcome = "BackendError"
    words: ClassVar[str] = "failed"
    """The failure's kind in our own words, for log lines and notices ("rate limited")."""
    retryable = False

    def __init__(
        self,
        agent_message: str,
        *,
        backend: str = "",
        method: str = "",
        path: str = "",
        status: int | None = None,
        code: int | None = None,
        quote: str | None = None,
        quote_source: str = "upstream.error",
    ) -> None:
        super().__init__(agent_message)
        self.agent_message = agent_message
        self.quote = quote[:QUOTE_LIMIT] if quote else None
        self.quote_source = quote_source
        self.backend = backend
        self.method = method
        self.path = path
        self.status = status
        self.code = code

    def quoting(self, quote: str, source: str) -> Self:
        """This error, with `quote` (outside words, shown only fenced) under the label `source`."""
        self.quote, self.quote_source = quote[:QUOTE_LIMIT], source
        return self

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.agent_message!r}, backend={self.backend!r}, "
            f"method={self.method!r}, path={self.path!r}, status={self.status!r})"
        )


class InvalidArgument(BackendError):
    """The caller's input was refused before any request was made (a hostile ID, a bad filter)."""

    outcome = "invalid_argument"


class QuotaUnavailable(BackendError):
    """The shared quota ledger (in the state store) could not be consulted, so nothing was sent."""

    outcome = "QuotaUnavailable"


class UpstreamError(BackendError):
    """A response came back with a failing status."""

    outcome = "UpstreamError"


class Unauthorized(UpstreamError):
    """401: the configured upstream credential is missing, wrong or revoked."""

    outcome = "Unauthorized"
    words = "credential rejected"


class AccountRestricted(UpstreamError):
    """BugSnag codes 30000/31000/32000: API access restricted by billing, trial or seats."""

    outcome = "AccountRestricted"


class Forbidden(UpstreamError):
    """403: the credential is valid but its role, scope or project limits do not allow this."""

    outcome = "Forbidden"
    words = "forbidden"


class NotFound(UpstreamError):
    """404: the resource does not exist or the credential cannot see it (the API does not say which)."""

    outcome = "NotFound"
    words = "not found"


class InvalidRequest(UpstreamError):
    """400/409/422: the API rejected the request's parameters or body."""

    outcome = "InvalidRequest"


class ResultsCapped(InvalidRequest):
    """422 with code 60000: the sorted result set is too large to return completely."""

    outcome = "ResultsCapped"


class RateLimited(UpstreamError):
    """429: the upstream rate limit is exhausted; `retry_after` is the wait in seconds."""

    outcome = "RateLimited"
    words = "rate limited"
    retryable = True

    def __init__(self, agent_message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(agent_message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class NotImplementedUpstream(UpstreamError):
    """501: the upstream route exists in the docs but is not wired up yet."""

    outcome = "NotImplementedUpstream"
    words = "route not implemented"


class UpstreamServerError(UpstreamError):
    """5xx: the upstream service failed."""

    outcome = "UpstreamServerError"
    words = "server error"
    retryable = True


class MalformedResponse(UpstreamError):
    """A success status whose body is not the JSON shape the API documents."""

    outcome = "MalformedResponse"
    words = "unreadable answer"


class UnexpectedStatus(UpstreamError):
    """A status the API does not document for this request (a redirect, an odd 2xx for a write): the request is
    taken to have failed, never to have succeeded. Redirects are never followed."""

    outcome = "UnexpectedStatus"


class ResponseTooLarge(UpstreamError):
    """The upstream sent more than `Limits.max_response_bytes` (after decompression): refused, not read."""

    outcome = "ResponseTooLarge"
    words = "answer too large"


class TransportError(BackendError):
    """No response came back."""

    outcome = "TransportError"

    retryable = True


class UpstreamTimeout(TransportError):
    """The upstream did not answer within the timeout."""

    outcome = "UpstreamTimeout"
    words = "timed out"


class UpstreamUnreachable(TransportError):
    """The connection to the upstream could not be made or broke."""

    outcome = "UpstreamUnreachable"
    words = "unreachable"


class AnswerCutShort(TransportError):
    """The upstream began answering (status and headers came) but the body broke off before its end."""

    outcome = "AnswerCutShort"


def failure_words(exc: BackendError) -> str:
    """A failure in our own words for a log line: its kind and status, never the upstream's text."""
    return f"{exc.words} (HTTP {exc.status})" if exc.status else exc.words


@contextlib.contextmanager
def map_transport_errors(backend: str, method: str, path: str) -> Iterator[None]:
    """Translate every httpx exception raised inside the block into our TransportError branch.
    `backend` is the upstream's label ('BugSnag')."""
    where: dict[str, Any] = {"backend": backend, "method": method, "path": path}
    try:
        yield
    except httpx.TimeoutException as exc:
        raise UpstreamTimeout(f"{backend} did not answer in time; try again shortly", **where) from exc
    except (httpx.NetworkError, httpx.ProtocolError, httpx.ProxyError) as exc:
        raise UpstreamUnreachable(f"could not reach {backend}: check the API URL and the network", **where) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects, httpx.DecodingError) as exc:
        raise UpstreamUnreachable(f"could not talk to {backend}: {type(exc).__name__}", **where) from exc
    except httpx.StreamError as exc:
        raise UpstreamUnreachable(f"the response from {backend} was cut short", **where) from exc
