"""The subscription model the registry keeps and the connector sends to."""

from __future__ import annotations

import base64
import json

import pytest

from shared.push_subscription import InvalidSubscription, read_subscription

pytestmark = pytest.mark.unit

P256DH = base64.urlsafe_b64encode(b"\x04" + bytes(range(64))).decode().rstrip("=")
AUTH = base64.urlsafe_b64encode(bytes(16)).decode()  # with its padding, as some browsers give


def browser_json(endpoint: str = "https://fcm.googleapis.com/fcm/send/abc:def", **keys: str) -> str:
    return json.dumps({"endpoint": endpoint, "expirationTime": None,
                       "keys": {"p256dh": P256DH, "auth": AUTH, **keys}})  # fmt: skip


def test_the_browser_json_becomes_the_compact_address_dispatch_keeps() -> None:
    subscription = read_subscription(browser_json())
    assert json.loads(subscription.address()) == {
        "endpoint": "https://fcm.googleapis.com/fcm/send/abc:def",
        "keys": {"p256dh": P256DH, "auth": AUTH.rstrip("=")},
    }
    assert subscription.origin() == "https://fcm.googleapis.com"
    assert read_subscription(subscription.address()) == subscription
    assert "fcm" not in repr(subscription) and P256DH not in str(subscription)


@pytest.mark.parametrize(
    "raw",
    [
        browser_json("http://push.example.net/x"),  # not https
        browser_json("https://user:pw@fcm.googleapis.com/x"),
        browser_json("https://fcm.googleapis.com/" + "x" * 3000),
        browser_json(p256dh=base64.urlsafe_b64encode(b"\x02" + bytes(64)).decode()),
        browser_json(auth=base64.urlsafe_b64encode(bytes(8)).decode()),
        json.dumps({"endpoint": "https://fcm.googleapis.com/x"}),
        "not json",
    ],
)
def test_what_is_not_a_subscription_is_refused_without_its_values(raw: str) -> None:
    with pytest.raises(InvalidSubscription) as refused:
        read_subscription(raw)
    assert "fcm" not in str(refused.value) and "example" not in str(refused.value)


def test_http_is_taken_only_for_a_push_service_on_the_same_machine() -> None:
    assert read_subscription(browser_json("http://127.0.0.1:8090/notify/abc")).endpoint
