"""Fixtures of the fault tests: the machine's services (``replicas``), or a RabbitMQ node and
a PostgreSQL of the test's own (``own_replicas``), which a test may restart without touching
what everyone else on the machine uses; quorum queues on them, as in production."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.replicas import Replicas, migrate_dispatch, replicas
from tests.peers.postgres_standby import PostgresPair
from tests.peers.rabbitmq_cluster import RabbitCluster

__all__ = ["own_postgres", "own_rabbit", "own_replicas", "replicas"]


@pytest.fixture(scope="module")
def own_rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitCluster]:
    with RabbitCluster(tmp_path_factory.mktemp("rabbit"), size=1) as node:
        yield node


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresPair]:
    with PostgresPair(standby=False) as postgres:
        yield postgres


@pytest.fixture
async def own_replicas(
    own_rabbit: RabbitCluster, own_postgres: PostgresPair, tmp_path: Path
) -> AsyncIterator[Replicas]:
    running = Replicas(own_rabbit.url, own_postgres.url, tmp_path, env={"BIN_QUEUE_TYPE": "quorum"})
    await asyncio.to_thread(migrate_dispatch, own_postgres.url)
    try:
        yield running
    finally:
        running.stop_all()
        await running.delete_topology()
