"""A service started outside development with a development setting refuses to start and
says which setting to provide; nothing is connected to first (no broker, no database)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.system import ROOT

# What each service refuses when nothing is configured: the settings it uses.
REFUSED = {
    "registry": {"BIN_AUTH_SECRET", "BIN_LINK_SECRET", "BIN_CONSOLE_SECURE_COOKIE"},
    "intake": {"BIN_AUTH_SECRET", "BIN_CONSOLE_SECURE_COOKIE"},
    "dispatch": {"BIN_AUTH_SECRET", "BIN_LINK_SECRET"},
    "digest": {"BIN_AUTH_SECRET"},
    "connectors": {"BIN_AUTH_SECRET", "BIN_CONNECTOR_ADDRESS_SECRET"},
    "gateway_simulator": {"BIN_AUTH_SECRET"},
}
ALL = set().union(*REFUSED.values())


def _serve(service: str, **settings: str) -> subprocess.CompletedProcess[str]:
    # Nothing answers there: a service that got past the check would fail differently.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIN_")}
    env |= {
        "BIN_AMQP_URL": "amqp://nobody:nothing@127.0.0.1:9/",
        "BIN_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
        "BIN_HTTP_PORT": "0",
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("service", sorted(REFUSED))
def test_a_service_refuses_the_development_settings_and_names_them(service: str) -> None:
    result = _serve(service)
    assert result.returncode == 1, result.stderr
    assert "refuses to start with development settings" in result.stderr
    named = {v for v in ALL if f"  {v}: " in result.stderr}
    assert named == REFUSED[service], result.stderr


def test_the_console_cookie_set_false_explicitly_is_refused_too() -> None:
    result = _serve(
        "intake",
        BIN_AUTH_SECRET="an-own-secret-0123456789abcdef",
        BIN_CONSOLE_SECURE_COOKIE="false",
    )
    assert result.returncode == 1
    assert "  BIN_CONSOLE_SECURE_COOKIE: " in result.stderr
    assert "BIN_AUTH_SECRET" not in result.stderr


def test_in_development_the_same_settings_are_taken() -> None:
    result = _serve("digest", BIN_ENVIRONMENT="development")
    # Past the check: it then fails to reach the broker that is not there.
    assert "refuses to start" not in result.stderr
    assert result.returncode != 0
