"""Refuses NUL characters in requests, for every service.

PostgreSQL's text cannot hold U+0000: a name or street with one in it passed validation and
then failed in the database with a 500 (schemathesis found it). Refused at the edge instead,
with a reason, wherever it hides: the path, the query string or the body (raw or as the JSON
escape ``\\u0000``).
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import problem

_NUL_IN_BODY = re.compile(rb"\x00|\\u0000", re.IGNORECASE)
_NUL_IN_URL = re.compile(rb"%00|\x00")
REASON = "the request holds a NUL character (U+0000), which no text field may contain"


class RefuseNulCharacters:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
        if _NUL_IN_URL.search(url):
            await problem(422, REASON)(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if _NUL_IN_BODY.search(body):
            await problem(422, REASON)(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
