"""The two URLs Kannel's smsbox calls on the connector, one pair per Kannel provider:

- ``GET /kannel/{provider}/dlr``: a delivery report, at the ``dlr-url`` each sendsms
  request carried (:func:`~services.connectors.domain.kannel_reports.dlr_url`);
- ``GET /kannel/{provider}/mo``: a member's message, at the ``get-url`` of the zone's
  ``sms-service`` (:func:`~services.connectors.domain.kannel_reports.mo_url`).

Both answer 200 only once the sink has recorded what came, so a failure (a 500) leaves it
to smsbox to call again (its ``http-request-retry``); a callback we cannot read gets a 400
with the reason. The MO answer is empty: whatever smsbox gets back it would send to the
member as a reply SMS, were the service's ``max-messages`` not 0.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from services.connectors.domain.kannel_reports import MalformedCallback, parse_dlr, parse_mo
from services.connectors.ports import ReportSink
from shared.logging import get_logger

log = get_logger(__name__)


def kannel_router(sink: ReportSink, provider_name: str) -> APIRouter:
    router = APIRouter(prefix=f"/kannel/{provider_name}", tags=["kannel"])

    @router.get("/dlr", response_class=PlainTextResponse)
    async def delivery_report(request: Request) -> Response:
        try:
            report = parse_dlr(_raw_query(request))
        except MalformedCallback as bad:
            return _refused("dlr", provider_name, bad)
        await sink.reports(provider_name, [report])
        log.debug(
            "kannel dlr",
            provider=provider_name,
            delivery_id=str(report.delivery_id),
            outcome=report.outcome,
        )
        return PlainTextResponse("")

    @router.get("/mo", response_class=PlainTextResponse)
    async def member_message(request: Request) -> Response:
        try:
            reply = parse_mo(_raw_query(request))
        except MalformedCallback as bad:
            return _refused("mo", provider_name, bad)
        await sink.replies(provider_name, [reply])
        log.debug("kannel mo", provider=provider_name)
        return PlainTextResponse("")

    return router


def _raw_query(request: Request) -> str:
    # The raw bytes, not Starlette's UTF-8 reading: an MO text may come in UTF-16BE.
    query: bytes = request.scope.get("query_string", b"")
    return query.decode("latin-1")


def _refused(kind: str, provider: str, bad: MalformedCallback) -> Response:
    log.warning("kannel callback refused", kind=kind, provider=provider, reason=str(bad))
    return PlainTextResponse(str(bad), status_code=400)
