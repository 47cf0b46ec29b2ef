"""Applies plain SQL migrations to a service's own schema, each once, in order.

Migration files are ``NNN_name.sql``. The shared messaging tables (``shared/sql``) come first,
then the service's own ``sql/`` folder; each file runs in its own transaction with the
schema as search path, and is recorded with a checksum so an edited, already applied
migration is refused rather than silently skipped. An advisory lock lets several replicas
start at once.

Written by hand: the libraries on offer either want SQLAlchemy (alembic) or one global
schema (yoyo, asyncpg-trek); this is 80 lines of plain asyncpg.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

SHARED_SQL = Path(__file__).parent / "sql"
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migration (
    migration  text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
SELECT_APPLIED = "SELECT migration, checksum FROM schema_migration"
SCHEMA_EXISTS = "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)"
RECORD_APPLIED = "INSERT INTO schema_migration (migration, checksum) VALUES ($1, $2)"


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    key: str  # "shared/001_messaging" or "service/001_init"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(folder: Path, namespace: str) -> list[Migration]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        if not _NAME.match(path.name):
            raise MigrationError(f"{path}: migration files are named NNN_name.sql")
        found.append(Migration(f"{namespace}/{path.stem}", path.read_text()))
    return found


async def apply_migrations(dsn: str, schema: str, service_sql: Path) -> list[str]:
    """Brings ``schema`` up to date; returns the keys of the migrations it applied."""
    migrations = discover(SHARED_SQL, "shared") + discover(service_sql, "service")
    conn = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        quoted = _quote_identifier(schema)
        # Deployed, the schema exists already, made by deploy/postgres/roles.sql for the
        # owner role that migrates; that role may not create schemas (CREATE SCHEMA checks
        # the right even when the schema exists), so it is created only where missing.
        if not await conn.fetchval(SCHEMA_EXISTS, schema):
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        await conn.execute(f"SET search_path TO {quoted}")
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"migrate:{schema}")
        try:
            await conn.execute(CREATE_LEDGER)
            applied = {r["migration"]: r["checksum"] for r in await conn.fetch(SELECT_APPLIED)}
            for migration in migrations:
                if migration.key in applied:
                    if applied[migration.key] != migration.checksum:
                        raise MigrationError(
                            f"{schema}: {migration.key} was changed after it was applied; "
                            "add a new migration instead"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(RECORD_APPLIED, migration.key, migration.checksum)
                applied_now.append(migration.key)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"migrate:{schema}")
    finally:
        await conn.close()
    return applied_now


def _quote_identifier(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise MigrationError(f"not a valid schema name: {name!r}")
    return f'"{name}"'
