"""Fixtures for the whole suite; the markers follow the folder a test lives in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infrastructure import (
    Infrastructure,
    InfrastructureMissing,
    infrastructure,
    isolated_database,
)

TESTS = Path(__file__).parent

# Test runs create and delete their queues (3,445 in tests/integration), on the machine's
# shared RabbitMQ: classic queues by default, since that churn of quorum queues once wedged
# it (see shared.topology.Topology.queue_type). Every test passes on quorum queues too
# (docs/guarantees.md, "Queue types in the tests", with the figures); the fault and cluster
# suites always run on quorum, on nodes of their own. Subprocesses inherit the setting.
# tests/integration/test_quorum_topology.py declares the production quorum topology once.
os.environ.setdefault("BIN_QUEUE_TYPE", "classic")
# The services the tests start (in this process or as subprocesses, which inherit it) run
# with the development secrets, which production refuses (shared.safeguards).
os.environ.setdefault("BIN_ENVIRONMENT", "development")
# Every test calls the services as a handful of principals from one address, and the rate
# buckets live in the shared database from one test to the next: the suite's services get
# limits no test reaches. The limits themselves are tested with their own, small ones
# (tests/integration/security/test_request_limits.py, intake/test_rate_limits.py).
os.environ.setdefault("BIN_RATE_LIMIT_PER_SECOND", "100000")
os.environ.setdefault("BIN_RATE_LIMIT_BURST", "1000000")
os.environ.setdefault("BIN_PREFERENCES_FAILED_LINKS_PER_SECOND", "100000")
os.environ.setdefault("BIN_PREFERENCES_FAILED_LINKS_BURST", "1000000")


def _kind(item: pytest.Item) -> str:
    return Path(str(item.fspath)).relative_to(TESTS).parts[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        kind = _kind(item)
        if kind in {"unit", "integration", "e2e", "faults", "browser"}:
            item.add_marker(getattr(pytest.mark, kind))
    # Playwright's sync API keeps an event loop running in the main thread while a browser
    # is open, and asyncio.run() (or pytest-asyncio's loop) refuses to start under it: the
    # browser tests go last, after every test that runs a loop of its own.
    items.sort(key=lambda item: _kind(item) == "browser")


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    try:
        with infrastructure() as found:
            yield found
    except InfrastructureMissing as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="session")
def amqp_url(infra: Infrastructure) -> str:
    return infra.amqp_url


@pytest.fixture(scope="session")
def database_url(infra: Infrastructure) -> Iterator[str]:
    """This run's own database; every service migrates its own schema into it."""
    with isolated_database(infra.database_url) as url:
        yield url
