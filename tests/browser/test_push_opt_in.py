"""The members' "alerts on this device" in Debian's Chromium, as far as a browser gets
offline: the page offers it with the platform's VAPID key, the service worker registers,
and the browser's own subscribe() fails (its push service, FCM, is out of reach) with a
message to the member. Then the subscription comes from the test push service instead
(web-push-testing, standing in for FCM): the page posts it, the registry keeps it, and the
member can turn it off again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from services.connectors.vapid_keys import generate
from tests.browser.conftest import screenshot
from tests.browser.registry_story import Neighbourhood, link, member_record, set_up
from tests.e2e.system import RunningSystem
from tests.peers.webpush import PushService

pytestmark = pytest.mark.browser
_, VAPID_PUBLIC = generate()


@pytest.fixture(scope="module")
def system(
    amqp_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningSystem]:
    """The services as the other browser tests run them, the registry with a VAPID key."""
    logs = Path(tmp_path_factory.mktemp("push-logs"))
    running = RunningSystem(amqp_url, database_url, logs)
    running.service_env = {"registry": {"BIN_PUSH_VAPID_PUBLIC_KEY": VAPID_PUBLIC}}
    running.migrate()
    try:
        running.start()
        yield running
    finally:
        running.stop()
        running.delete_topology()


@pytest.fixture(scope="module")
def story(system: RunningSystem) -> Neighbourhood:
    return set_up(system.url("registry"))


@pytest.fixture(scope="module")
def push() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture
def member_page(browser: Browser, system: RunningSystem) -> Iterator[Page]:
    """A phone-sized page that may show notifications (what the member allows when asked)."""
    context = browser.new_context(
        locale="nl-BE", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    context.grant_permissions(["notifications"], origin=system.url("registry"))
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()


def worker_scope(page: Page) -> str | None:
    scope: str | None = page.evaluate(
        "navigator.serviceWorker.getRegistration().then(r => r && r.active ? r.scope : null)"
    )
    return scope


def test_the_page_registers_its_service_worker_and_says_when_the_browser_cannot_subscribe(
    member_page: Page, system: RunningSystem, story: Neighbourhood
) -> None:
    registry = system.url("registry")
    member_id = story.member_ids["An Peeters"]
    member_page.goto(f"{registry}/preferences/{link(member_id)}")
    section = member_page.locator("#push")
    expect(section.get_by_role("heading")).to_have_text("Waarschuwingen op dit toestel")
    expect(section).to_have_attribute("data-key", VAPID_PUBLIC)
    expect(section).to_have_attribute("data-worker-state", "registered")
    assert worker_scope(member_page) == f"{registry}/preferences/"

    member_page.get_by_role("button", name="Waarschuwingen op dit toestel").click()
    # Offline, Chromium's push service (FCM) cannot register the subscription.
    expect(member_page.locator("#push-status")).to_have_text(
        "Dit toestel kon niet aangemeld worden. Probeer later opnieuw."
    )
    expect(section).to_have_attribute("data-error", "AbortError")
    screenshot(member_page, "preferences-push-offline")
    assert member_record(registry, story.coordinator, member_id).json()["push_subscription"] is None


def test_a_subscription_from_the_push_service_is_posted_kept_and_removed_again(
    member_page: Page, system: RunningSystem, story: Neighbourhood, push: PushService
) -> None:
    registry = system.url("registry")
    member_id = story.member_ids["Luc Dubois"]
    subscription = push.subscribe(VAPID_PUBLIC)
    browser_json = {"endpoint": subscription["endpoint"], "expirationTime": None,
                    "keys": subscription["keys"]}  # fmt: skip
    # The one thing offline Chromium cannot do, subscribe at FCM, done by the test push
    # service.
    member_page.add_init_script(
        "PushManager.prototype.subscribe = function () {"
        f"  const json = {json.dumps(browser_json)};"
        "  return Promise.resolve({toJSON: () => json});"
        "};"
    )
    member_page.goto(f"{registry}/preferences/{link(member_id)}?lang=fr")
    expect(member_page.locator("#push")).to_have_attribute("data-worker-state", "registered")
    member_page.get_by_role("button", name="Alertes sur cet appareil").click()
    expect(member_page.locator("#push-on")).to_have_text("Cet appareil reçoit vos alertes.")
    screenshot(member_page, "preferences-push-on")

    record = member_record(registry, story.coordinator, member_id).json()
    assert record["push_subscription"] == {
        "endpoint": subscription["endpoint"],
        "keys": {k: v.rstrip("=") for k, v in subscription["keys"].items()},
    }
    member_page.goto(f"{registry}/preferences/{link(member_id)}?lang=fr")  # a fresh page
    member_page.get_by_role("button", name="Plus d\u2019alertes sur cet appareil").click()
    expect(member_page.get_by_role("status").first).to_contain_text("Enregistré")
    expect(member_page.locator("#push-on")).to_have_count(0)
    assert member_record(registry, story.coordinator, member_id).json()["push_subscription"] is None


def test_the_subscribe_call_carries_the_platform_key_and_user_visible_only(
    member_page: Page, system: RunningSystem, story: Neighbourhood
) -> None:
    """What the page asks of the browser: pushes the member sees, for the platform's key
    (a subscription made with another key would be refused by the push service)."""
    member_page.add_init_script(
        "PushManager.prototype.subscribe = function (options) {"
        "  window.subscribedWith = {userVisibleOnly: options.userVisibleOnly,"
        "    key: btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)))"
        "      .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '')};"
        "  return new Promise(() => {});"  # never answers: the page stays as it is
        "};"
    )
    member_page.goto(
        f"{system.url('registry')}/preferences/{link(story.member_ids['Marie Janssens'])}"
    )
    member_page.get_by_role("button", name="Waarschuwingen op dit toestel").click()
    member_page.wait_for_function("window.subscribedWith !== undefined")
    assert member_page.evaluate("window.subscribedWith") == {
        "userVisibleOnly": True,
        "key": VAPID_PUBLIC,
    }
    expect(member_page.locator("#push-status")).to_have_text("Een ogenblik…")
