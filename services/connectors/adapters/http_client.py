"""The HTTP client of the adapters that send one request per message (Kannel's sendsms,
Web Push): aiohttp, which pywebpush depends on anyway.

Not httpx, which the services use elsewhere: for a request per member its connection pool
is the whole cost. Measured with ``make bench`` (case ``push``, 2,000 pushes, one run each,
side by side): 9.3 s of connector CPU per 1,000 pushes through httpx 0.28 / httpcore 1.0
(each request scanned every pooled connection's socket, and retried a failed ``sniffio``
import), 0.44 s through aiohttp 3.14.

The two ways a request fails are what the adapters must tell apart: :class:`Unreachable`,
nothing was sent (no connection); :class:`NoAnswer`, the request may have arrived.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp

# Nothing below warnings from the client, should it ever log requests: URLs and headers may
# name members (a push endpoint) or carry credentials.
logging.getLogger("aiohttp.client").setLevel(logging.WARNING)


class Unreachable(Exception):
    """No connection: the request certainly did not arrive."""


class NoAnswer(Exception):
    """Sent, or partly, and no complete answer: the peer may have the request."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str


def session(concurrency: int, timeout_seconds: float) -> aiohttp.ClientSession:
    """At most ``concurrency`` connections, each request bounded by ``timeout_seconds``."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=timeout_seconds),
    )


async def post(
    client: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes
) -> Answer:
    """One POST, its status and body; never follows a redirect (a provider answers, it does
    not send the connector elsewhere)."""
    try:
        async with client.post(url, headers=headers, data=body, allow_redirects=False) as response:
            return Answer(response.status, await response.text(errors="replace"))
    except aiohttp.ClientConnectorError as refused:  # before anything was sent
        raise Unreachable(type(refused).__name__) from None
    except (aiohttp.ClientError, TimeoutError) as broken:
        raise NoAnswer(type(broken).__name__) from None
