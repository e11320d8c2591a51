"""The SDK's `OAuthAuthorizationServerProvider`, backed by the store: the SDK's handlers parse and check the
protocol (PKCE S256, redirect match, code expiry and client binding, client authentication); this decides.

- /authorize: `resource` must name this server; the request waits (10 minutes) for the person's answer on
  the consent page, which issues the code.
- codes: single-use (a second exchange revokes the grant the first one made), 2 minutes, bound to client,
  redirect address and PKCE challenge.
- access tokens live an hour (or until the grant ends); refresh tokens rotate at every use, and presenting a
  spent one revokes the whole grant.
- revocation (RFC 7009) of either token revokes the grant.
- metadata documents are fetched at most `METADATA_FETCHES_PER_MINUTE` times a minute per client address
  (whichever endpoint asks: /authorize, /token, /revoke, the consent page), so that nobody can make this server
  send requests to URLs of their choosing at will; a request handler works on `provider.at(address)`.
- registered clients' secrets are kept as `sha256:` digests (`secret_digest`), never in plain text.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import anyio.to_thread
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyHttpUrl

from ...guard.audit import AuditError, AuditLog
from ...guard.scopes import BUNDLES, SCOPES
from ...render.text import visible
from ...store.buckets import CallBudgets
from ...store.oauth import OAuthRepository, Reused
from ..events import audit_event
from ..site import rate_key
from .documents import CACHE_FOR, DocumentError, FailedFetches, Fetch, check_url, parse_document
from .policy import MAX_REDIRECTS, is_metadata_url, redirect_problem

log = logging.getLogger("bugwarden.oauth")
REQUEST_LIFETIME = 600.0
CODE_LIFETIME = 120.0
ACCESS_LIFETIME = 3600.0
FAILED_FOR = 60.0
METADATA_FETCHES_PER_MINUTE = 10
DIGEST_PREFIX = "sha256:"
ALL_SCOPES = " ".join([*SCOPES, *BUNDLES])


class GrantCode(AuthorizationCode):
    """An authorization code with what the person chose on the consent page."""

    person: str
    projects: list[str]
    grant_expires_at: float
    client_name: str


class GrantRefresh(RefreshToken):
    grant_id: str


class GrantAccess(AccessToken):
    grant_id: str


@dataclass
class Provider:
    """Decisions of the authorization server at `issuer` for the MCP endpoint `resource`."""

    repo: OAuthRepository
    audit: AuditLog
    issuer: str
    resource: str
    fetch: Fetch
    clock: Callable[[], float]
    metadata_hosts: tuple[str, ...] = ()
    fetch_budget: CallBudgets | None = None
    """Metadata-document fetches a minute per client address (None: unlimited, for tests of other rules)."""
    address: str = ""
    """The client address of the request this provider works for (see `at`)."""
    failed: FailedFetches = field(default_factory=FailedFetches)
    """Metadata URLs that could not be used lately (shared by every `at` view)."""

    def at(self, address: str) -> Provider:
        """This provider working for a request from `address` (what its metadata-document fetches count against)."""
        return replace(self, address=address)

    @property
    def issuer_id(self) -> str:
        """The issuer exactly as the server metadata spells it (the `iss` of authorization responses, RFC 9207)."""
        return str(AnyHttpUrl(self.issuer))

    # -- clients ---------------------------------------------------------------------------------------------

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        if len(client_id) > 2000:
            return None
        stored = await anyio.to_thread.run_sync(self.repo.client, client_id)
        now = self.clock()
        if stored is not None and stored[1] == "registered":
            info = stored[0]
            if _plain_secret(info):  # stored before secrets were kept as digests: keep it as one from now on
                info = {**info, "client_secret": secret_digest(info["client_secret"])}
                await anyio.to_thread.run_sync(self.repo.save_client, client_id, info, "registered", stored[2])
            return _client(info)
        if stored is not None and now - stored[2] < CACHE_FOR:
            return _client(stored[0])
        if not is_metadata_url(client_id) or self.failed.blocked(client_id, now):
            return None
        try:
            check_url(client_id, self.metadata_hosts)
            if not await self._may_fetch(now):
                log.warning("client metadata document not fetched: too many fetches for %s this minute", self.address)
                return None
            info = parse_document(client_id, await self.fetch(client_id))
        except DocumentError as exc:
            log.warning("client metadata document refused: %s", exc)
            self.failed.add(client_id, now + FAILED_FOR)
            return None
        await anyio.to_thread.run_sync(self.repo.save_client, client_id, info, "metadata", now)
        return _client(info)

    async def _may_fetch(self, now: float) -> bool:
        if self.fetch_budget is None:
            return True
        key = f"metadata-fetch:{rate_key(self.address or 'unknown')}"
        return await anyio.to_thread.run_sync(self.fetch_budget.take, key, now, 0.0) <= 0

    async def client_kind(self, client_id: str) -> str:
        stored = await anyio.to_thread.run_sync(self.repo.client, client_id)
        return stored[1] if stored else "metadata"

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        uris = [str(u) for u in client_info.redirect_uris or []]
        if not uris or len(uris) > MAX_REDIRECTS:
            raise RegistrationError("invalid_redirect_uri", f"register 1 to {MAX_REDIRECTS} redirect_uris")
        for uri in uris:
            if problem := redirect_problem(uri):
                raise RegistrationError(
                    "invalid_redirect_uri", f"{uri[:200]} {problem}: use https, or http on a loopback address"
                )
        if client_info.client_name and len(client_info.client_name) > 100:
            client_info.client_name = client_info.client_name[:100]
        info = client_info.model_dump(mode="json", exclude_none=True)
        if info.get("client_secret"):  # the SDK answers the registration with the secret; we keep its digest
            info["client_secret"] = secret_digest(info["client_secret"])
        await anyio.to_thread.run_sync(self.repo.save_client, client_info.client_id, info, "registered", self.clock())

    # -- authorization ----------------------------------------------------------------------------------------

    def names_this_server(self, resource: str | None) -> bool:
        """`resource` absent (this server is the only one we issue for) or naming this MCP endpoint."""
        if resource is None:
            return True
        base = self.issuer.rstrip("/")
        return resource.rstrip("/") in (self.resource.rstrip("/"), base)

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        if not self.names_this_server(params.resource):
            raise AuthorizeError("invalid_target", f"resource must be this server: {self.resource}")
        pending = {
            "state": params.state,
            "scopes": params.scopes or [],
            "code_challenge": params.code_challenge,
            "redirect_uri": str(params.redirect_uri),
            "redirect_uri_provided_explicitly": params.redirect_uri_provided_explicitly,
            "resource": params.resource,
        }
        request_id = await anyio.to_thread.run_sync(
            self.repo.open_request, client.client_id, pending, self.clock(), REQUEST_LIFETIME
        )
        return f"{self.issuer.rstrip('/')}/consent?request={request_id}"

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> GrantCode | None:
        found = await anyio.to_thread.run_sync(self.repo.code, authorization_code)
        if found is None:
            return None
        client_id, data, expires_at, used = found
        if expires_at <= self.clock():
            return None
        if used:
            grant_id = await anyio.to_thread.run_sync(self.repo.revoke_for_code, authorization_code, self.clock())
            await self._audit_reuse("authorization code", data["person"], client_id, grant_id)
            return None
        return GrantCode(code=authorization_code, client_id=client_id, expires_at=expires_at, **data)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: GrantCode
    ) -> OAuthToken:
        now = self.clock()
        if not self.names_this_server(authorization_code.resource):
            raise TokenError("invalid_target", f"resource must be this server: {self.resource}")
        try:
            issued = await anyio.to_thread.run_sync(
                lambda: self.repo.issue(
                    authorization_code.code,
                    person=authorization_code.person,
                    client_id=client.client_id,
                    client_name=authorization_code.client_name,
                    scopes=frozenset(authorization_code.scopes),
                    projects=frozenset(authorization_code.projects),
                    expires_at=authorization_code.grant_expires_at,
                    access_lifetime=ACCESS_LIFETIME,
                    now=now,
                )
            )
        except Reused:
            raise TokenError("invalid_grant", "authorization code already used") from None
        grant = issued.grant
        await self._audit(
            "grant.issued",
            grant.person,
            grant.client_id,
            "the person allowed it on the consent page",
            {
                "grant": grant.id,
                "client_name": grant.client_name,
                "scopes": sorted(grant.scopes),
                "projects": sorted(grant.projects),
                "expires_at": grant.expires_at,
            },
        )
        return self._token(issued.access_token, issued.refresh_token, grant.scopes, grant.expires_at, now)

    # -- refresh and revocation ----------------------------------------------------------------------------------

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> GrantRefresh | None:
        try:
            grant = await anyio.to_thread.run_sync(self.repo.grant_of_refresh, refresh_token, self.clock())
        except Reused as reused:
            await self._audit_reuse("refresh token", None, client.client_id, reused.grant_id)
            return None
        if grant is None or grant.revoked or grant.expires_at <= self.clock():
            return None
        return GrantRefresh(
            token=refresh_token,
            client_id=grant.client_id,
            scopes=sorted(grant.scopes),
            expires_at=int(grant.expires_at),
            resource=self.resource,
            subject=grant.person,
            grant_id=grant.id,
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: GrantRefresh, scopes: list[str]
    ) -> OAuthToken:
        now = self.clock()
        try:
            issued = await anyio.to_thread.run_sync(self.repo.rotate, refresh_token.token, ACCESS_LIFETIME, now)
        except Reused as reused:
            await self._audit_reuse("refresh token", None, client.client_id, reused.grant_id)
            raise TokenError("invalid_grant", "refresh token already used: the grant is revoked") from None
        grant = issued.grant
        await self._audit(
            "grant.refreshed", grant.person, grant.client_id, "refresh token rotated", {"grant": grant.id}
        )
        return self._token(issued.access_token, issued.refresh_token, grant.scopes, grant.expires_at, now)

    async def load_access_token(self, token: str) -> GrantAccess | None:
        grant = await anyio.to_thread.run_sync(self.repo.grant_of_access, token)
        if grant is None or grant.revoked:
            return None
        return GrantAccess(
            token=token,
            client_id=grant.client_id,
            scopes=sorted(grant.scopes),
            subject=grant.person,
            grant_id=grant.id,
        )

    async def revoke_token(self, token: GrantAccess | GrantRefresh) -> None:
        changed = await anyio.to_thread.run_sync(self.repo.revoke, token.grant_id, self.clock())
        if changed:
            await self._audit(
                "grant.revoked",
                token.subject or "",
                token.client_id,
                "the client revoked it (RFC 7009)",
                {"grant": token.grant_id},
            )

    async def exchange_identity_assertion(self, client: OAuthClientInformationFull, params: Any) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "this server does not accept identity assertions")

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _token(self, access: str, refresh: str, scopes: frozenset[str], ends: float, now: float) -> OAuthToken:
        return OAuthToken(
            access_token=access,
            token_type="Bearer",  # noqa: S106 - the token type's name, not a secret
            expires_in=max(1, int(min(ACCESS_LIFETIME, ends - now))),
            scope=" ".join(sorted(scopes)),
            refresh_token=refresh,
        )

    async def _audit(self, action: str, person: str, client_id: str, reason: str, details: dict[str, Any]) -> None:
        try:
            await audit_event(
                self.audit,
                action,
                person=person,
                decision="allowed",
                reason=reason,
                outcome="ok",
                client=client_id,
                details=details,
            )
        except AuditError:
            log.error("could not audit %s for %s", action, details.get("grant"))

    async def _audit_reuse(self, what: str, person: str | None, client_id: str, grant_id: str | None) -> None:
        grant = await anyio.to_thread.run_sync(self.repo.grant, grant_id) if grant_id else None
        try:
            await audit_event(
                self.audit,
                "grant.revoked",
                person=person or (grant.person if grant else ""),
                decision="denied",
                reason=f"a spent {what} was presented again: the whole grant is revoked",
                outcome="reused",
                client=client_id,
                details={"grant": grant_id},
            )
        except AuditError:
            log.error("could not audit the reuse of a %s (grant %s)", what, grant_id)


def secret_digest(secret: str) -> str:
    """What is stored of a registered client's secret. The SDK makes secrets of 256 random bits, so a fast hash
    is enough: nobody can guess one from its digest."""
    return DIGEST_PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(presented: str, stored: str) -> bool:
    """Whether a presented client secret is the one whose digest is stored (`get_client` turns a secret stored
    in plain text before digests into its digest, so a plain stored value matches nothing)."""
    return stored.startswith(DIGEST_PREFIX) and hmac.compare_digest(secret_digest(presented).encode(), stored.encode())


def _plain_secret(info: dict[str, Any]) -> bool:
    secret = info.get("client_secret")
    return isinstance(secret, str) and bool(secret) and not secret.startswith(DIGEST_PREFIX)


def _client(info: dict[str, Any]) -> OAuthClientInformationFull:
    """The client as the SDK checks it; any of our scope and bundle names may be asked for (the person decides).
    Its self-chosen name has every invisible, control or bidi code point shown as [U+XXXX]: the consent page,
    the grant and the console show it, and it must not hide or reorder what is written around it."""
    name = info.get("client_name")
    shown = {"client_name": visible(name)} if isinstance(name, str) else {}
    return OAuthClientInformationFull.model_validate({**info, **shown, "scope": ALL_SCOPES})
