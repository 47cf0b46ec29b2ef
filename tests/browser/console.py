"""Steps every browser test takes: logging in to a console with a token."""

from __future__ import annotations

from playwright.sync_api import Page


def log_in(page: Page, base_url: str, token: str, next_path: str = "/console") -> None:
    """Through the login form, as a person would (a wrong token stays on the form)."""
    page.goto(f"{base_url}{next_path}")
    page.wait_for_url("**/console/login**")
    page.get_by_label("Toegangstoken").fill(token)
    page.get_by_role("button", name="Aanmelden").click()
    page.wait_for_url(f"{base_url}{next_path.split('?')[0]}**")
