from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.replicas import replicas
from tests.e2e.system import RunningSystem

__all__ = ["replicas"]  # dispatch replicas as processes, for the replica and slicing tests


@pytest.fixture(scope="module")
def system(
    amqp_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningSystem]:
    running = RunningSystem(amqp_url, database_url, Path(tmp_path_factory.mktemp("logs")))
    running.migrate()
    try:
        running.start()
        yield running
    finally:
        running.stop()
        running.delete_topology()
