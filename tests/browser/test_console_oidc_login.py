"""An operator logs in to intake's console through the zone's OIDC provider (the fake one in
tests/oidc_provider.py) in a real browser: the button on the login form, the approval on the
provider's page, and the console's reports page. The provider is on ``localhost`` and the services
on ``127.0.0.1``, two sites, as a zone's provider and the platform are in production: the
session cookie (SameSite=Strict) must still reach the first page after the cross-site
return."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.e2e.system import RunningSystem
from tests.oidc_provider import FakeProvider, running_provider


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with running_provider(host="localhost", ask_approval=True) as served:
        yield served


class OidcSystem(RunningSystem):
    """The system with intake trusting the provider: its console offers the provider's login
    and its API verifies the provider's tokens (and no longer the development secret)."""

    provider: FakeProvider

    def env(self, service: str) -> dict[str, str]:
        env = super().env(service)
        if service == "intake":
            env |= {
                "BIN_AUTH_ISSUER": self.provider.issuer,
                "BIN_AUTH_JWKS_URL": self.provider.jwks_url,
                "BIN_CONSOLE_OIDC_ISSUER": self.provider.issuer,
                "BIN_CONSOLE_OIDC_CLIENT_ID": self.provider.client_id,
            }
        return env


@pytest.fixture(scope="module")
def oidc_system(
    provider: FakeProvider,
    amqp_url: str,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OidcSystem]:
    running = OidcSystem(amqp_url, database_url, Path(tmp_path_factory.mktemp("logs")))
    running.provider = provider
    running.migrate()
    try:
        running.start()
        yield running
    finally:
        running.stop()
        running.delete_topology()


def test_an_operator_logs_in_with_the_zones_account(
    page: Page, oidc_system: OidcSystem, provider: FakeProvider
) -> None:
    intake = oidc_system.url("intake")
    page.goto(f"{intake}/console/reports?status=open")
    page.wait_for_url("**/console/login**")
    button = page.get_by_role("link", name="Aanmelden met het account van uw zone")
    expect(button).to_be_visible()
    expect(page.get_by_label("Toegangstoken")).to_be_visible()  # the token form stays
    screenshot(page, "console-login")

    button.click()
    page.get_by_role("button", name="Approve").click()  # on the provider's own page
    page.wait_for_url(f"{intake}/console/reports?status=open")
    expect(page.get_by_role("heading", name="Binnenkomende meldingen")).to_be_visible()
    expect(page.get_by_role("link", name="Meldingen")).to_be_visible()  # the navigation
    expect(page.get_by_role("button", name="Afmelden")).to_be_visible()

    # The session is the provider's access token, verified by intake's API like any call.
    cookies = {c["name"]: c for c in page.context.cookies(intake)}
    assert cookies["bin_console"]["httpOnly"]
    assert cookies["bin_console"]["sameSite"] == "Strict"
    assert cookies["bin_console"]["value"] in provider.issued
    assert "bin_console_oidc" not in cookies
    log = oidc_system.log("intake")
    for token in provider.issued:
        assert token not in log
