"""The RabbitMQ topology, declared in one place.

Exchanges (all durable, named ``{prefix}.{kind}``):

* ``events``  (topic)  public domain events, no personal data: outside systems may bind here.
* ``private`` (topic)  events that carry personal data, for our own services only.
* ``gateway`` (topic)  work for delivery gateways and their receipts (addresses inside).
* ``dead-letter`` (direct)  where a work queue's dead letters go, routed by queue name.

Every consuming queue is a durable quorum queue ``{prefix}.{name}`` with siblings named by
one function each (as Dramatiq does):

* ``{queue}.retry.{n}``  delay queues: a message waits there ``retry_delays[n]`` seconds,
  then the broker dead-letters it back to the work queue through the default exchange;
* ``{queue}.dead``  the dead-letter queue an operator inspects and replays from.

The attempt count travels in the message header ``x-bin-attempt``, never in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aio_pika.abc import AbstractChannel, ExchangeType

from shared.events.visibility import Visibility

ATTEMPT_HEADER = "x-bin-attempt"
DEAD_LETTER_REASON_HEADER = "x-bin-dead-letter-reason"
DEAD_LETTER_QUEUE_HEADER = "x-bin-original-queue"


@dataclass(frozen=True)
class QueueSpec:
    """A consuming queue and what it is bound to: (exchange visibility, routing key) pairs."""

    name: str
    bindings: tuple[tuple[Visibility, str], ...]


@dataclass(frozen=True)
class Topology:
    prefix: str = "bin"
    # Exponential backoff for a handler's transient failures; after the last, dead-letter.
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    # A message that crashes its consumer this many times is dead-lettered by the broker
    # itself, so a poison message can never loop a queue.
    delivery_limit: int = 10
    # Quorum queues in production. Test runs use classic durable queues: each run creates
    # and deletes its own queues, and that churn is a workload quorum queues are not built
    # for (it has wedged RabbitMQ 3.10 here; rabbitmq-server issue 13828 describes the kind).
    queue_type: str = "quorum"

    def exchange_name(self, visibility: Visibility) -> str:
        return f"{self.prefix}.{_EXCHANGE_KIND[visibility]}"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.dead-letter"

    def queue_name(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def retry_queue_name(self, name: str, level: int) -> str:
        return f"{self.queue_name(name)}.retry.{level}"

    def dead_letter_queue_name(self, name: str) -> str:
        return f"{self.queue_name(name)}.dead"

    def work_queue_arguments(self, name: str) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "x-queue-type": self.queue_type,
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": self.queue_name(name),
        }
        if self.queue_type == "quorum":
            arguments["x-delivery-limit"] = self.delivery_limit
        return arguments

    def retry_queue_arguments(self, name: str, level: int) -> dict[str, Any]:
        return {
            "x-queue-type": self.queue_type,
            "x-message-ttl": int(self.retry_delays[level] * 1000),
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.queue_name(name),
        }


_EXCHANGE_KIND = {
    Visibility.PUBLIC: "events",
    Visibility.PRIVATE: "private",
    Visibility.GATEWAY: "gateway",
}


def gateway_routing_key(channel: str, priority: str) -> str:
    return f"delivery.requested.v1.{channel}.{priority}"


def gateway_queue(channel: str, priority: str) -> QueueSpec:
    return QueueSpec(
        name=f"gateway.{channel}.{priority}",
        bindings=((Visibility.GATEWAY, gateway_routing_key(channel, priority)),),
    )


# Every consuming queue of the system. A service declares the ones it consumes or feeds.
DISPATCH_REGISTRY = QueueSpec(
    name="dispatch.registry",
    bindings=(
        (Visibility.PUBLIC, "bin.registered.v1"),
        (Visibility.PRIVATE, "member.registered.v1"),
        (Visibility.PRIVATE, "member.changed.v1"),
        (Visibility.PUBLIC, "member.left.v1"),
        (Visibility.PUBLIC, "member.erased.v1"),
    ),
)
DISPATCH_ALERTS = QueueSpec(
    name="dispatch.alerts",
    bindings=((Visibility.PUBLIC, "alert.issued.v1"), (Visibility.PUBLIC, "alert.cancelled.v1")),
)
# Notices and digests on their own queue: a large digest never delays an urgent alert.
DISPATCH_BULK = QueueSpec(
    name="dispatch.bulk",
    bindings=(
        (Visibility.PUBLIC, "notice.published.v1"),
        (Visibility.PUBLIC, "digest.compiled.v1"),
    ),
)
# Deliveries back from their retry delay (dispatch publishes into the delay queues itself).
DISPATCH_REDELIVERIES = QueueSpec(name="dispatch.redeliveries", bindings=())
# Slices of a large fan-out, consumed by every dispatch replica (BIN_FANOUT_SLICES > 1);
# dispatch publishes into them itself. Urgent and bulk apart, as for the fan-outs themselves.
# Declared only where slicing is on: not in ALL_QUEUES.
DISPATCH_SLICES_URGENT = QueueSpec(name="dispatch.slices.urgent", bindings=())
DISPATCH_SLICES_BULK = QueueSpec(name="dispatch.slices.bulk", bindings=())
DISPATCH_SLICE_QUEUES = (DISPATCH_SLICES_URGENT, DISPATCH_SLICES_BULK)
DISPATCH_RECEIPTS = QueueSpec(
    name="dispatch.receipts", bindings=((Visibility.GATEWAY, "delivery.receipted.v1"),)
)
INTAKE_REGISTRY = QueueSpec(
    name="intake.registry",
    bindings=(
        (Visibility.PUBLIC, "bin.registered.v1"),
        (Visibility.PUBLIC, "bin.status_changed.v1"),
        (Visibility.PUBLIC, "bin.area_changed.v1"),
    ),
)
INTAKE_REPLIES = QueueSpec(
    name="intake.replies", bindings=((Visibility.PRIVATE, "member.replied.v1"),)
)
REGISTRY_MEMBER_REPLIES = QueueSpec(
    name="registry.member-replies",
    bindings=((Visibility.PRIVATE, "member.sms_opt_out_changed.v1"),),
)
# Push subscriptions a push service said are gone: the registry forgets them.
REGISTRY_PUSH_SUBSCRIPTIONS = QueueSpec(
    name="registry.push-subscriptions",
    bindings=((Visibility.GATEWAY, "push.subscription_expired.v1"),),
)
DIGEST_REGISTRY = QueueSpec(
    name="digest.registry",
    bindings=(
        (Visibility.PUBLIC, "bin.registered.v1"),
        (Visibility.PUBLIC, "bin.status_changed.v1"),
    ),
)
DIGEST_NEWS = QueueSpec(
    name="digest.news", bindings=((Visibility.PUBLIC, "police_news.published.v1"),)
)
CHANNELS = ("sms", "voice", "email", "push")
PRIORITIES = ("urgent", "bulk")
GATEWAY_QUEUES = tuple(gateway_queue(c, p) for c in CHANNELS for p in PRIORITIES)

ALL_QUEUES: tuple[QueueSpec, ...] = (
    DISPATCH_REGISTRY,
    DISPATCH_ALERTS,
    DISPATCH_BULK,
    DISPATCH_RECEIPTS,
    DISPATCH_REDELIVERIES,
    DIGEST_NEWS,
    DIGEST_REGISTRY,
    INTAKE_REGISTRY,
    INTAKE_REPLIES,
    REGISTRY_MEMBER_REPLIES,
    REGISTRY_PUSH_SUBSCRIPTIONS,
    *GATEWAY_QUEUES,
)


async def declare(
    channel: AbstractChannel,
    topology: Topology,
    queues: tuple[QueueSpec, ...],
    *,
    passive: bool = False,
) -> None:
    """Declares the exchanges, the given queues with their siblings, and their bindings.

    Idempotent: every service calls it at start for what it consumes or produces into,
    so no message is published into a queue that does not exist yet. ``passive``: only
    checks that the exchanges and queues exist (the broker closes the channel if one does
    not), for a user without the right to declare, such as an external gateway's.
    """
    if passive:
        await _check_declared(channel, topology, queues)
        return
    exchanges = {}
    for visibility in Visibility:
        exchanges[visibility] = await channel.declare_exchange(
            topology.exchange_name(visibility), ExchangeType.TOPIC, durable=True
        )
    dead_letter = await channel.declare_exchange(
        topology.dead_letter_exchange, ExchangeType.DIRECT, durable=True
    )
    for spec in queues:
        work_name = topology.queue_name(spec.name)
        work = await channel.declare_queue(
            work_name, durable=True, arguments=topology.work_queue_arguments(spec.name)
        )
        for visibility, routing_key in spec.bindings:
            await work.bind(exchanges[visibility], routing_key)
        for level in range(len(topology.retry_delays)):
            await channel.declare_queue(
                topology.retry_queue_name(spec.name, level),
                durable=True,
                arguments=topology.retry_queue_arguments(spec.name, level),
            )
        dead = await channel.declare_queue(
            topology.dead_letter_queue_name(spec.name),
            durable=True,
            arguments={"x-queue-type": topology.queue_type},
        )
        await dead.bind(dead_letter, work_name)


async def _check_declared(
    channel: AbstractChannel, topology: Topology, queues: tuple[QueueSpec, ...]
) -> None:
    for visibility in {visibility for spec in queues for visibility, _ in spec.bindings}:
        await channel.declare_exchange(
            topology.exchange_name(visibility), ExchangeType.TOPIC, passive=True
        )
    for spec in queues:
        await channel.declare_queue(topology.queue_name(spec.name), passive=True)


async def delete(
    channel: AbstractChannel, topology: Topology, queues: tuple[QueueSpec, ...]
) -> None:
    """Removes what :func:`declare` made; for tearing down isolated test runs."""
    for spec in queues:
        names = [
            topology.queue_name(spec.name),
            topology.dead_letter_queue_name(spec.name),
            *(topology.retry_queue_name(spec.name, n) for n in range(len(topology.retry_delays))),
        ]
        for name in names:
            await channel.queue_delete(name)
    for visibility in Visibility:
        await channel.exchange_delete(topology.exchange_name(visibility))
    await channel.exchange_delete(topology.dead_letter_exchange)


__all__ = [
    "ALL_QUEUES",
    "ATTEMPT_HEADER",
    "DEAD_LETTER_QUEUE_HEADER",
    "DEAD_LETTER_REASON_HEADER",
    "QueueSpec",
    "Topology",
    "declare",
    "delete",
    "gateway_queue",
    "gateway_routing_key",
]
