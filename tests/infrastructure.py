"""Finds the RabbitMQ and PostgreSQL the tests run against, and isolates each run.

Order, as DESIGN.md asks: ``BIN_TEST_AMQP_URL`` / ``BIN_TEST_DATABASE_URL`` if set; else
containers through testcontainers when a Docker engine answers; else the local defaults;
else a failure that says what to start. Never a silent skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own: callable also where the thread's event loop
    is busy (Playwright's sync API keeps one running for the browser tests' whole session)."""
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

HOW_TO_START = (
    "Start them (RabbitMQ: `rabbitmq-server -detached`; PostgreSQL: "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`), "
    "or point BIN_TEST_AMQP_URL and BIN_TEST_DATABASE_URL at running ones."
)


class InfrastructureMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Infrastructure:
    amqp_url: str
    database_url: str  # an admin connection, used to create the run's own database
    origin: str


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
    except Exception:  # noqa: BLE001
        return False
    return True


@contextlib.contextmanager
def infrastructure() -> Iterator[Infrastructure]:
    amqp_url = os.environ.get("BIN_TEST_AMQP_URL")
    database_url = os.environ.get("BIN_TEST_DATABASE_URL")
    if amqp_url and database_url:
        yield Infrastructure(amqp_url, database_url, "environment")
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer
        from testcontainers.rabbitmq import RabbitMqContainer

        with (
            RabbitMqContainer("rabbitmq:3.13.7-management") as rabbit,
            PostgresContainer("postgres:15.10-bookworm", driver=None) as postgres,
        ):
            host = rabbit.get_container_host_ip()
            port = rabbit.get_exposed_port(5672)
            yield Infrastructure(
                amqp_url or f"amqp://guest:guest@{host}:{port}/",
                database_url or postgres.get_connection_url(),
                "testcontainers",
            )
        return
    amqp_url = amqp_url or LOCAL_AMQP_URL
    database_url = database_url or LOCAL_DATABASE_URL
    missing = [
        name
        for name, url, port in (("RabbitMQ", amqp_url, 5672), ("PostgreSQL", database_url, 5432))
        if not _answers(url, port)
    ]
    if missing:
        raise InfrastructureMissing(
            f"{' and '.join(missing)} not answering at "
            f"{amqp_url if 'RabbitMQ' in missing else ''} "
            f"{database_url if 'PostgreSQL' in missing else ''}. {HOW_TO_START}"
        )
    yield Infrastructure(amqp_url, database_url, "local")


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@contextlib.contextmanager
def isolated_database(admin_url: str) -> Iterator[str]:
    """A database of this run's own, dropped afterwards."""
    name = f"bin_test_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_sync(run(f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(admin_url, name)
    finally:
        run_sync(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def new_prefix() -> str:
    """An exchange and queue name prefix of this run's own."""
    return f"t{uuid.uuid4().hex[:10]}"
