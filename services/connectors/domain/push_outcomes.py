"""Web Push, pure: the push service's answer as our outcome, the notification's payload,
the push services the connector may call, and the request's TTL and urgency.

RFC 8030: the push service answers 201 Created when it has the message. There are no
delivery reports (push receipts are optional and rare), so 201 is the last word: delivered.
404 and 410 say the subscription is gone for good (the member unsubscribed or the browser
dropped it): a permanent failure, and the registry is told to forget it. 429 and 5xx are
the push service's own trouble: try again later. Other 4xx refuse this request (a payload
too large, a VAPID key the subscription was not made with): permanent, but the
subscription itself may still be good, so it is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from services.connectors.ports import SubmitStatus

GONE = frozenset({404, 410})
TOO_MANY = 429
# RFC 8291 section 4: one record of at most 4,096 bytes, 103 of them the header, the tag and
# the padding delimiter: what is left for the notification's JSON.
MAX_PAYLOAD = 3993
# RFC 8030 section 5.3: "high" may wake the device; alerts are worth it, digests are not.
URGENCY = {"urgent": "high", "bulk": "normal"}
# The push services of the browsers members use (FCM for Chrome/Edge/Android, Mozilla's
# autopush, Apple's, Windows'): a subscription naming any other host is refused, so a member's
# endpoint cannot make the connector call into the platform's own network.
DEFAULT_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "updates.push.services.mozilla.com",
    "push.services.mozilla.com",
    "push.apple.com",
    "notify.windows.com",
)


@dataclass(frozen=True, slots=True)
class PushAnswer:
    status: SubmitStatus
    detail: str
    # The push service says the subscription no longer exists: tell the registry.
    gone: bool = False


def classify_status(code: int) -> PushAnswer:
    if 200 <= code < 300:
        return PushAnswer(SubmitStatus.DELIVERED, f"{code} push service accepted")
    if code in GONE:
        return PushAnswer(SubmitStatus.PERMANENT_FAILURE, f"{code} subscription expired", True)
    if code == TOO_MANY or code >= 500:
        return PushAnswer(SubmitStatus.TEMPORARY_FAILURE, f"{code} push service busy")
    if code == 401:
        # Our VAPID token refused: our configuration, not the member's address. Retried, so a
        # fixed key still reaches them; the metric and the log show it meanwhile.
        return PushAnswer(SubmitStatus.TEMPORARY_FAILURE, "401 VAPID token refused")
    return PushAnswer(SubmitStatus.PERMANENT_FAILURE, f"{code} push service refused")


def host_allowed(host: str | None, allowed: tuple[str, ...]) -> bool:
    """The host is one of ``allowed`` or below one (``*.notify.windows.com``)."""
    if not host:
        return False
    host = host.lower().rstrip(".")
    return any(host == a or host.endswith("." + a) for a in allowed)


def ttl_seconds(priority: str, urgent_ttl: int, bulk_ttl: int) -> int:
    """How long the push service keeps it for a device that is offline: an alert is stale
    within hours, a notice can wait a day."""
    return urgent_ttl if priority == "urgent" else bulk_ttl


def payload(delivery_id: str, priority: str, language: str, title: str, text: str) -> bytes:
    """The notification as the service worker reads it (``push`` event, ``data.json()``).
    A text too long for one record is cut at a character boundary, with an ellipsis."""
    body: dict[str, str] = {
        "delivery_id": delivery_id,
        "priority": priority,
        "lang": language,
        "title": title,
        "body": text,
    }

    def encoded(with_body: str) -> bytes:
        return json.dumps({**body, "body": with_body}, ensure_ascii=False).encode()

    whole = encoded(text)
    if len(whole) <= MAX_PAYLOAD:
        return whole
    # The longest start of the text that fits with its ellipsis, found by bisection: JSON
    # escapes (quotes, newlines) make bytes per character uneven.
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(encoded(text[:middle] + "…")) <= MAX_PAYLOAD:
            low = middle
        else:
            high = middle - 1
    return encoded(text[:low] + "…")
