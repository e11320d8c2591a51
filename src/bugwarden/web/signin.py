"""The sign-in page (`Name`, `Password`, `Sign in`) and sign-out.

Attempts are limited per name and per address (in the store, so the limit holds across replicas); every
failed or refused attempt is audited with the name tried and the address, never the password.
"""

from __future__ import annotations

import math

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..guard.audit import AuditError
from .events import audit_event
from .site import (
    check_csrf,
    client_address,
    current_person,
    rate_key,
    redirect,
    render,
    safe_next,
    sign_in,
    sign_out,
    web_of,
)

WRONG = "Wrong name or password."


async def signin_page(request: Request) -> Response:
    person = await current_person(request)
    next_path = safe_next(request.query_params.get("next"), "")
    if person is not None:
        if next_path:
            return redirect(request, next_path)
        return render(request, "signed_in.html")
    return render(request, "signin.html", next=next_path, name="", message="")


async def signin_submit(request: Request) -> Response:
    web = web_of(request)
    form = await check_csrf(request)
    name = str(form.get("name") or "")[:64].strip()
    password = str(form.get("password") or "")
    next_path = safe_next(str(form.get("next") or ""), "")
    address = client_address(request)
    details = {"name": name, "address": address}

    now = web.clock()
    wait = max(
        await anyio.to_thread.run_sync(web.signin_budget_address.take, f"signin-address:{rate_key(address)}", now, 0.0),
        await anyio.to_thread.run_sync(web.signin_budget_name.take, f"signin-name:{name.lower()}", now, 0.0),
    )
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        await audit_event(
            web.audit,
            "sign_in",
            person=name,
            decision="denied",
            reason="too many sign-in attempts",
            outcome="rate_limited",
            details=details,
        )
        response: Response = render(
            request,
            "signin.html",
            status=429,
            next=next_path,
            name=name,
            message=f"Too many sign-in attempts. Try again in {seconds} seconds.",
        )
        response.headers["Retry-After"] = str(seconds)
        return response

    person = await anyio.to_thread.run_sync(web.people.authenticate, name, password)
    if person is None:
        await audit_event(
            web.audit,
            "sign_in",
            person=name,
            decision="denied",
            reason="wrong name or password",
            outcome="denied",
            details=details,
        )
        return render(request, "signin.html", status=401, next=next_path, name=name, message=WRONG)
    try:
        await audit_event(
            web.audit,
            "sign_in",
            person=person.name,
            decision="allowed",
            reason="password",
            outcome="ok",
            details=details,
        )
    except AuditError:
        return render(
            request,
            "message.html",
            status=503,
            heading="Try again shortly",
            message="bugwarden cannot record sign-ins right now, so it signs no one in.",
        )
    response = redirect(request, next_path or "/signin")
    await sign_in(request, response, person)
    return response


async def signout_submit(request: Request) -> Response:
    await check_csrf(request)
    web = web_of(request)
    person = await current_person(request)
    response = redirect(request, "/signin")
    await sign_out(request, response)
    if person is not None:
        await audit_event(
            web.audit,
            "sign_out",
            person=person.name,
            decision="allowed",
            reason="sign out",
            outcome="ok",
            details={"address": client_address(request)},
        )
    return response


def routes() -> list[Route]:
    return [
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin_submit, methods=["POST"]),
        Route("/signout", signout_submit, methods=["POST"]),
    ]
