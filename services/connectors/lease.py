"""A replica's lease: a PostgreSQL session lock that lives exactly as long as the replica's
link to the database, so another replica can tell at once whether the one that claimed a
delivery is still calling the provider or died doing it.

Killed, the replica's connection closes and PostgreSQL ends the session and its lock at
once; a vanished host's session ends by the keepalives within about a minute
(``shared.database.SESSION_KEEPALIVES``). A lost connection takes a new key: what was
claimed under the old key is then in doubt, as it would be for any dead replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import asyncpg

from services.connectors.ledger import LEASE_NAMESPACE
from shared.database import SESSION_KEEPALIVES
from shared.logging import get_logger

log = get_logger(__name__)

TAKE = "SELECT pg_try_advisory_lock($1::int, $2::int)"


class Lease:
    def __init__(self, dsn: str, check_every: float = 2.0) -> None:
        self.dsn = dsn
        self.check_every = check_every
        self.key = 0
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._held = asyncio.Event()

    async def start(self) -> None:
        await self._take()
        self._task = asyncio.create_task(self._keep(), name="connector lease")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    async def current(self) -> int:
        """The key to claim under; waits while the lease is being taken again."""
        await self._held.wait()
        return self.key

    async def _take(self) -> None:
        self._conn = await asyncpg.connect(
            self.dsn,
            server_settings={"application_name": "connectors-lease", **SESSION_KEEPALIVES},
        )
        while True:
            # A signed 32-bit key; pg_locks shows it as the objid (an oid).
            key = secrets.randbelow(2**31 - 2) + 1
            if await self._conn.fetchval(TAKE, LEASE_NAMESPACE, key):
                self.key = key
                self._held.set()
                log.info("lease taken", lease=key)
                return

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.check_every)
            try:
                assert self._conn is not None
                await self._conn.fetchval("SELECT 1", timeout=self.check_every * 2)
                continue
            except Exception as error:  # noqa: BLE001
                self._held.clear()
                log.warning("lease lost, taking a new one", lease=self.key, error=repr(error))
            with contextlib.suppress(Exception):
                assert self._conn is not None
                self._conn.terminate()
            while not self._held.is_set():
                try:
                    await self._take()
                except (OSError, asyncpg.PostgresError) as error:
                    log.warning("lease not taken yet", error=repr(error))
                    await asyncio.sleep(self.check_every)
