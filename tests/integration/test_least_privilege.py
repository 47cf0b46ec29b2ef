"""Least privilege, proven on the real servers: the broker users and permissions of the
rendered Kubernetes manifests (and compose's users.sh, which grants the same) and the
database roles of deploy/postgres/roles.sql, made on the local RabbitMQ and PostgreSQL in a
vhost and a database of the test's own, then tried: each may do what its service does and
nothing more."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aio_pika
import aiormq
import asyncpg
import pytest

from shared import topology as topo
from shared.events import Visibility
from shared.migrations import apply_migrations
from shared.settings import database_schema
from tests.deployment import (
    DATABASE_SERVICES,
    ROOT,
    DatabaseRoles,
    LocalBroker,
    Permissions,
    admin_in,
    amqp_url_in,
    broker_admin,
    database_roles,
    kubernetes_permissions,
    render_overlay,
    run_users_sh,
)
from tests.infrastructure import Infrastructure

# The Kubernetes User of each broker user the tests log in as.
USERS = ("registry", "intake", "dispatch", "digest", "connectors", "gateway", "subscriber")
PASSWORD = "test-only-broker-password"


@dataclass(frozen=True)
class Deployed:
    amqp_url: str  # the tests' own broker user, in the test's vhost
    vhost: str
    user_prefix: str
    roles: DatabaseRoles

    def user_url(self, user: str) -> str:
        return amqp_url_in(self.amqp_url, self.vhost, f"{self.user_prefix}{user}", PASSWORD)


@pytest.fixture(scope="module")
def permissions() -> dict[str, Permissions]:
    rendered = kubernetes_permissions(render_overlay("zone"))
    assert rendered == kubernetes_permissions(render_overlay("regional"))
    assert set(rendered) == {f"bin-{user}" for user in USERS}
    return rendered


@pytest.fixture(scope="module")
def deployed(infra: Infrastructure, permissions: dict[str, Permissions]) -> Iterator[Deployed]:
    broker = LocalBroker()
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    with (
        broker.vhost(broker_admin(infra.amqp_url)) as vhost,
        broker.users(vhost, {f"{prefix}{u}": (PASSWORD, permissions[f"bin-{u}"]) for u in USERS}),
        database_roles(infra.database_url) as roles,
    ):
        yield Deployed(admin_in(infra.amqp_url, vhost), vhost, prefix, roles)


@pytest.fixture(scope="module")
async def migrated(deployed: Deployed) -> Deployed:
    """Every service's schema migrated by the owner role, as the migration Job does."""
    for service in DATABASE_SERVICES:
        await apply_migrations(
            deployed.roles.url("migrate"),
            database_schema(service),
            ROOT / "services" / service / "sql",
        )
    return deployed


@pytest.fixture(scope="module")
async def topology(deployed: Deployed) -> AsyncIterator[topo.Topology]:
    """The platform's exchanges and queues in the test's vhost, as the services declare them."""
    topology = topo.Topology(queue_type="classic")
    connection = await aio_pika.connect_robust(deployed.amqp_url)
    try:
        await topo.declare(await connection.channel(), topology, topo.ALL_QUEUES)
        yield topology
    finally:
        await connection.close()


# ── the database ────────────────────────────────────────────────────────────────────────


async def _as(deployed: Deployed, service: str) -> asyncpg.Connection:
    return await asyncpg.connect(deployed.roles.url(service))


async def test_each_service_role_uses_its_own_schema_and_no_other(migrated: Deployed) -> None:
    for service in DATABASE_SERVICES:
        conn = await _as(migrated, service)
        try:
            own = database_schema(service)
            assert await conn.fetchval(f"SELECT count(*) FROM {own}.schema_migration") > 0
            for other in DATABASE_SERVICES:
                if other == service:
                    continue
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.fetch(f"SELECT * FROM {database_schema(other)}.schema_migration")
            # No DDL either: the owner role migrates, the service only reads and writes rows.
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"CREATE TABLE {own}.intruder (id int)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE SCHEMA intruder")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE TABLE public.intruder (id int)")
        finally:
            await conn.close()


async def test_the_registrys_role_cannot_read_dispatchs_deliveries(migrated: Deployed) -> None:
    conn = await _as(migrated, "registry")
    try:
        for table in ("delivery", "recipient", "membership"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT * FROM dispatch.{table}")
    finally:
        await conn.close()


async def test_the_audit_trigger_holds_against_intakes_own_role(migrated: Deployed) -> None:
    conn = await _as(migrated, "intake")
    try:
        await conn.execute(
            "INSERT INTO intake.audit_log (actor, action, subject_kind) "
            "VALUES ('op-1', 'alert.issued', 'alert')"
        )
        for change in (
            "UPDATE intake.audit_log SET actor = 'someone else'",
            "DELETE FROM intake.audit_log",
        ):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute(change)
        # Not the table's owner: it can neither empty it nor take the trigger away.
        for escape in (
            "TRUNCATE intake.audit_log",
            "ALTER TABLE intake.audit_log DISABLE TRIGGER audit_log_append_only",
            "DROP TRIGGER audit_log_append_only ON intake.audit_log",
            "DROP TABLE intake.audit_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(escape)
        assert await conn.fetchval("SELECT count(*) FROM intake.audit_log") == 1
    finally:
        await conn.close()


# ── the broker ──────────────────────────────────────────────────────────────────────────


# Who may read each work queue: the service it is named after; the gateway queues' the
# gateways (any channel) and the connectors (SMS and e-mail). And whoever declares a queue:
# RabbitMQ asks for read on a queue declared with a dead-letter exchange, so dispatch may
# read the gateway queues it declares and the connectors the receipts queue.
def _readers(queue: str) -> set[str]:
    owner, kind = queue.split(".")[:2]
    if owner != "gateway":
        return {owner, "connectors"} if queue == "dispatch.receipts" else {owner}
    return (
        {"gateway", "dispatch", "connectors"}
        if kind in ("sms", "email")
        else {"gateway", "dispatch"}
    )


async def _ignore(message: aio_pika.abc.AbstractIncomingMessage) -> None:
    """A consumer that is cancelled before it gets anything."""


async def _refused(url: str, action: str, *args: str) -> bool:
    """Whether the broker refuses ``action`` to the user of ``url`` (it closes the channel
    with ACCESS_REFUSED); any other failure is the test's own and raises."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        try:
            match action:
                case "consume":
                    queue = await channel.get_queue(args[0], ensure=False)
                    tag = await queue.consume(_ignore)
                    await queue.cancel(tag)
                case "bind":
                    queue = await channel.declare_queue(args[0], passive=True)
                    await queue.bind(args[1], routing_key="#")
                    await queue.unbind(args[1], routing_key="#")
                case "declare":
                    await channel.declare_queue(args[0], durable=True, auto_delete=True)
                case "publish":
                    exchange = await channel.get_exchange(args[0], ensure=False)
                    await exchange.publish(aio_pika.Message(b"{}"), routing_key="probe.v1")
        except aiormq.exceptions.ChannelAccessRefused:
            return True
        return False
    finally:
        await connection.close()


async def test_each_user_reads_only_the_queues_its_service_needs(
    deployed: Deployed, topology: topo.Topology
) -> None:
    for user in ("registry", "intake", "dispatch", "digest", "connectors", "gateway"):
        for spec in topo.ALL_QUEUES:
            name = topology.queue_name(spec.name)
            allowed = user in _readers(spec.name)
            refused = await _refused(deployed.user_url(user), "consume", name)
            assert refused is not allowed, f"{user} consuming {name}: refused={refused}"


async def test_the_gateway_user_cannot_read_the_private_exchange(
    deployed: Deployed, topology: topo.Topology
) -> None:
    gateway = deployed.user_url("gateway")
    private = topology.exchange_name(Visibility.PRIVATE)
    # Nothing from bin.private reaches it: not the queues fed by it, not a binding of its own.
    fed_by_private = [
        topology.queue_name(s.name)
        for s in topo.ALL_QUEUES
        if any(visibility is Visibility.PRIVATE for visibility, _ in s.bindings)
    ]
    assert fed_by_private
    for queue in fed_by_private:
        assert await _refused(gateway, "consume", queue), queue
    work = topology.queue_name(topo.gateway_queue("sms", "urgent").name)
    assert await _refused(gateway, "bind", work, private)
    assert await _refused(gateway, "declare", "bin.gateway.sms.urgent.mine")
    # What a gateway does is allowed: take its work, answer receipts on bin.gateway.
    assert not await _refused(gateway, "consume", work)
    assert not await _refused(gateway, "publish", topology.exchange_name(Visibility.GATEWAY))
    assert await _refused(gateway, "publish", topology.exchange_name(Visibility.PUBLIC))


async def test_a_public_subscriber_reads_public_events_only(
    deployed: Deployed, topology: topo.Topology
) -> None:
    subscriber = deployed.user_url("subscriber")
    own = f"subscriber.city-{uuid.uuid4().hex[:6]}"
    assert not await _refused(subscriber, "declare", own)
    assert not await _refused(subscriber, "bind", own, topology.exchange_name(Visibility.PUBLIC))
    for visibility in (Visibility.GATEWAY, Visibility.PRIVATE):
        assert await _refused(subscriber, "bind", own, topology.exchange_name(visibility))
    for spec in topo.GATEWAY_QUEUES:
        assert await _refused(subscriber, "consume", topology.queue_name(spec.name))
    assert await _refused(subscriber, "declare", "bin.events.mine")


def test_compose_users_get_the_permissions_of_the_kubernetes_manifests(
    deployed: Deployed, permissions: dict[str, Permissions]
) -> None:
    """users.sh, run as compose runs it (in another vhost, users of another prefix), grants
    each user exactly what the Kubernetes Permission grants."""
    broker = LocalBroker()
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    passwords = {f"BIN_{u.upper()}_PASSWORD": PASSWORD for u in USERS}
    with broker.vhost(broker_admin(deployed.amqp_url)) as vhost:
        try:
            run_users_sh(vhost, prefix, passwords)
            granted = {
                user.removeprefix(prefix): p
                for user, p in broker.permissions(vhost).items()
                if user.startswith(prefix)
            }
        finally:
            for user in USERS:
                subprocess.run(
                    [broker.command, "-q", "delete_user", f"{prefix}{user}"],
                    capture_output=True,
                    check=False,
                    timeout=60,
                )
    assert granted == {name.removeprefix("bin-"): p for name, p in permissions.items()}
