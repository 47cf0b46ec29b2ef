"""The member's preferences page, reached by the signed link in digests and notices: no
login beyond the link. Plain HTML forms (no script needed) posted back to the same URL; only
"alerts on this device" needs a script (static/push.js), as the Push API has no form."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.registry import push, repository
from services.registry.api.members import apply_change, erase
from services.registry.console.choices import ALL_CHANNELS, NoChannel, preferences_change, ticked
from services.registry.console.links import Link, LinkState, read_link, same_origin
from services.registry.console.setup import Pages, PagesDep
from services.registry.schemas import MemberUpdate
from shared.database import Connection
from shared.dependencies import Runtime
from shared.events import Language
from shared.logging import get_logger
from shared.push_subscription import MAX_ENDPOINT, InvalidSubscription, read_subscription
from shared.request_limits import failed_link
from shared.web.i18n import LANGUAGES

log = get_logger(__name__)
router = APIRouter(include_in_schema=False)
PREFIX = "/preferences"
# The links dispatch signs are about 120 characters; anything far longer is not one.
MAX_TOKEN = 300
STATIC = Path(__file__).parent / "static"
# A browser's PushSubscription JSON: the endpoint, two keys and a little syntax.
MAX_SUBSCRIPTION = MAX_ENDPOINT + 400


def _language(request: Request, member: Any | None) -> str | None:
    """The page switch (?lang=) first, then the member's own language; else the browser's."""
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return member["language"] if member is not None else None


async def _member(conn: Connection, member_id: uuid.UUID | None) -> Any | None:
    if member_id is None:
        return None
    row = await repository.get_member(conn, member_id)
    # Removed under the house rules is gone from the member's point of view too.
    return None if row is None or row["standing"] == "removed" else row


async def _link_problem(
    request: Request, pages: Pages, conn: Connection, link: Link, member: Any | None
) -> HTMLResponse:
    state = link.state if link.state is not LinkState.VALID else None
    problem, status, headers = (state.name.lower(), state.value, {}) if state else ("gone", 410, {})
    if state in (LinkState.MALFORMED, LinkState.TAMPERED):
        # Only a link we did not sign can be a guess; an expired one is a member's old mail.
        address = request.client.host if request.client else "?"
        limit = request.app.state.caller_limit
        wait = await failed_link(conn, address, pages.settings.failed_links, limit.max_callers)
        if wait > 0:
            problem, status = "too_many", 429
            headers = {"Retry-After": str(math.ceil(wait))}
    page = pages.members.render(
        request,
        "preferences_link.html",
        {"problem": problem},
        status_code=status,
        language=_language(request, member),
    )
    page.headers.update(headers)
    return page


async def _page(
    request: Request,
    pages: Pages,
    token: str,
    member: Any,
    *,
    saved: bool = False,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "token": token,
        "action": f"{PREFIX}/{token}",
        "member": member,
        "bin_name": member["bin_name"],
        "channels": ALL_CHANNELS,
        "ticked": ticked(member["channels"]),
        "languages_offered": [language.value for language in Language],
        "saved": saved,
        "error": error,
        "push_key": pages.settings.push_vapid_public_key,
        "push_subscribed": member.get("push_subscription") is not None,
        "push_scope": PREFIX + "/",
    }
    page = pages.members.render(
        request,
        "preferences.html",
        context,
        status_code=status_code,
        language=_language(request, member),
    )
    return _own_origin_only(page)


def _own_origin_only(response: HTMLResponse) -> HTMLResponse:
    """The link's token is in the page's URL, so no Referer may leave for another site; but
    "no-referrer" (the consoles' policy) also makes the browser post its forms with
    ``Origin: null``, which the origin check must refuse. "same-origin" does both."""
    response.headers["referrer-policy"] = "same-origin"
    return response


async def _with_bin_name(conn: Connection, member: Any) -> dict[str, Any]:
    bin_row = await repository.bin_row(conn, member["bin_id"])
    return {**dict(member), "bin_name": bin_row["name"] if bin_row else ""}


@router.get(PREFIX + "/sw.js", include_in_schema=False)
async def service_worker() -> FileResponse:
    """The members' service worker, served from /preferences/ so its scope covers the page."""
    return FileResponse(STATIC / "sw.js", media_type="text/javascript",
                        headers={"cache-control": "no-cache"})  # fmt: skip


@router.get(PREFIX + "/push.js", include_in_schema=False)
async def push_script() -> FileResponse:
    return FileResponse(STATIC / "push.js", media_type="text/javascript")


@router.get(PREFIX + "/{token}", response_class=HTMLResponse)
async def preferences_page(
    token: str, request: Request, runtime: Runtime, pages: PagesDep, saved: bool = False
) -> HTMLResponse:
    link = read_link(pages.settings.link_secret, token[:MAX_TOKEN])
    async with runtime.pool.acquire() as conn:
        member = await _member(conn, link.member_id)
        if link.state is not LinkState.VALID or member is None:
            return await _link_problem(request, pages, conn, link, member)
        member = await _with_bin_name(conn, member)
    return await _page(request, pages, token, member, saved=saved)


@router.post(PREFIX + "/{token}", response_class=HTMLResponse)
async def change_preferences(
    token: str,
    request: Request,
    runtime: Runtime,
    pages: PagesDep,
    action: Annotated[str, Form(max_length=10)] = "save",
    language: Annotated[str, Form(max_length=5)] = "",
    channels: Annotated[list[str], Form(max_length=10)] = [],  # noqa: B006 (FastAPI copies it)
    digest: Annotated[str | None, Form(max_length=10)] = None,
    confirm: Annotated[str | None, Form(max_length=10)] = None,
    subscription: Annotated[str, Form(max_length=MAX_SUBSCRIPTION)] = "",
    # RFC 8058: a mail client's one-click unsubscribe POSTs exactly this field to the link in
    # the e-mail's List-Unsubscribe header, with no cookie and no other field.
    one_click: Annotated[str | None, Form(alias="List-Unsubscribe", max_length=20)] = None,
) -> Response:
    if not same_origin(request.headers.get("origin"), request.url.scheme, request.url.netloc):
        reason = pages.members.catalogues.text(pages.members.language(request), "refused_origin")
        return pages.members.refuse(request, reason, None)
    link = read_link(pages.settings.link_secret, token[:MAX_TOKEN])
    async with runtime.pool.acquire() as conn, conn.transaction():
        member = await _member(conn, link.member_id)
        if link.state is not LinkState.VALID or member is None:
            return await _link_problem(request, pages, conn, link, member)
        member = await repository.get_member(conn, member["member_id"], for_update=True)
        if one_click == "One-Click":
            # What the e-mail was: the digest (notices follow the BIN's plan, not a list).
            await apply_change(conn, runtime, member, MemberUpdate(digest_subscribed=False))
            log.info("digest ended by one-click unsubscribe", member_id=str(link.member_id))
            return Response(status_code=200)
        if action == "leave":
            if confirm != "yes":
                shown = await _with_bin_name(conn, member)
                return await _page(request, pages, token, shown, error="leave_unconfirmed",
                                   status_code=422)  # fmt: skip
            await erase(conn, runtime, member["member_id"], "erasure_requested")
            log.info("member left through their preferences link", member_id=str(link.member_id))
            return pages.members.render(
                request, "preferences_left.html", language=_language(request, member)
            )
        if action in ("push", "push_off"):
            return await _change_push(request, pages, runtime, conn, token, member,
                                      subscription if action == "push" else None)  # fmt: skip
        try:
            change = preferences_change(language, channels, digest == "yes")
        except (NoChannel, ValidationError) as problem:
            shown = await _with_bin_name(conn, member)
            error = "no_channel" if isinstance(problem, NoChannel) else "invalid_choice"
            return await _page(request, pages, token, shown, error=error, status_code=422)
        await apply_change(conn, runtime, member, change)
    return RedirectResponse(f"{PREFIX}/{token}?saved=true", status_code=303)


async def _change_push(
    request: Request, pages: Pages, runtime: Runtime, conn: Connection, token: str,
    member: Any, raw: str | None,
) -> Response:  # fmt: skip
    """This device's subscription stored (``raw``, the browser's JSON) or, with None, removed."""
    try:
        subscription = read_subscription(raw) if raw is not None else None
    except InvalidSubscription:
        shown = await _with_bin_name(conn, member)
        return await _page(request, pages, token, shown, error="invalid_subscription",
                           status_code=422)  # fmt: skip
    await push.set_subscription(conn, runtime, member["member_id"], subscription)
    log.info("push subscription changed by the member", member_id=str(member["member_id"]),
             subscribed=subscription is not None)  # fmt: skip
    return RedirectResponse(f"{PREFIX}/{token}?saved=true", status_code=303)
