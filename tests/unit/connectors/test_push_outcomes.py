"""Web Push, pure: the push service's status as our outcome, the payload within one record,
the allowed push services, and VAPID tokens reused per push service."""

from __future__ import annotations

import json

import pytest
from py_vapid import Vapid02

from services.connectors.adapters.webpush import TOKEN_LIFETIME, VapidTokens, WebPushConfig
from services.connectors.domain.push_outcomes import (
    DEFAULT_PUSH_HOSTS,
    MAX_PAYLOAD,
    classify_status,
    host_allowed,
    payload,
)
from services.connectors.ports import SubmitStatus
from services.connectors.vapid_keys import generate

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("code", "status", "gone"),
    [
        (201, SubmitStatus.DELIVERED, False),
        (404, SubmitStatus.PERMANENT_FAILURE, True),
        (410, SubmitStatus.PERMANENT_FAILURE, True),
        (429, SubmitStatus.TEMPORARY_FAILURE, False),
        (500, SubmitStatus.TEMPORARY_FAILURE, False),
        (503, SubmitStatus.TEMPORARY_FAILURE, False),
        (401, SubmitStatus.TEMPORARY_FAILURE, False),
        (400, SubmitStatus.PERMANENT_FAILURE, False),
        (403, SubmitStatus.PERMANENT_FAILURE, False),
        (413, SubmitStatus.PERMANENT_FAILURE, False),
    ],
)
def test_push_service_statuses(code: int, status: SubmitStatus, gone: bool) -> None:
    answer = classify_status(code)
    assert (answer.status, answer.gone) == (status, gone)
    assert answer.detail.startswith(str(code))


def test_only_the_push_services_and_their_subdomains_are_allowed() -> None:
    assert host_allowed("fcm.googleapis.com", DEFAULT_PUSH_HOSTS)
    assert host_allowed("wns2-db5p.notify.windows.com", DEFAULT_PUSH_HOSTS)
    assert host_allowed("WEB.PUSH.APPLE.COM.", DEFAULT_PUSH_HOSTS)
    assert not host_allowed("evilfcm.googleapis.com.example.net", DEFAULT_PUSH_HOSTS)
    assert not host_allowed("notfcm.googleapis.com", DEFAULT_PUSH_HOSTS)
    assert not host_allowed("10.0.0.5", DEFAULT_PUSH_HOSTS)
    assert not host_allowed(None, DEFAULT_PUSH_HOSTS)


def test_a_short_text_goes_whole() -> None:
    body = json.loads(payload("d1", "urgent", "nl", "BIN-melding", "Inbraak"))
    assert body == {"delivery_id": "d1", "priority": "urgent", "lang": "nl",
                    "title": "BIN-melding", "body": "Inbraak"}  # fmt: skip


@pytest.mark.parametrize("unit", ["a", "é", '"', "\n", "🚨"])
def test_a_long_text_is_cut_to_one_record_with_an_ellipsis(unit: str) -> None:
    encoded = payload("d1", "urgent", "fr", "Alerte BIN", unit * 5000)
    assert len(encoded) <= MAX_PAYLOAD
    body = json.loads(encoded)
    assert body["body"].endswith("…")
    assert set(body["body"][:-1]) == {unit}
    # Not cut much more than needed.
    assert len(encoded) > MAX_PAYLOAD - 200


def test_a_vapid_token_is_reused_per_push_service_until_shortly_before_it_expires() -> None:
    private, public = generate()
    config = WebPushConfig(name="webpush", vapid_private_key=private,
                           vapid_subject="mailto:bin@politie.example.be")  # fmt: skip
    vapid = Vapid02.from_string(private)
    tokens = VapidTokens(vapid, config.vapid_subject)
    first = tokens.authorization("https://fcm.googleapis.com", now=1_000_000)
    assert first.startswith("vapid t=") and first.endswith(f",k={public}")
    assert tokens.authorization("https://fcm.googleapis.com", now=1_000_100) == first
    assert tokens.authorization("https://updates.push.services.mozilla.com", now=1_000_100) != first
    renewed = tokens.authorization(
        "https://fcm.googleapis.com", now=1_000_000 + TOKEN_LIFETIME - 60
    )
    assert renewed != first


def test_a_provider_needs_exactly_one_vapid_key() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        WebPushConfig(name="webpush", vapid_subject="mailto:bin@politie.example.be")
