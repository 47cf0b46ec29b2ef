"""Connecting to a RabbitMQ cluster: several nodes in one ``BIN_AMQP_URL``.

The syntax is libpq's, the one ``BIN_DATABASE_URL`` already takes for a primary and its
standby: one URL whose host part lists the nodes, comma-separated, e.g.
``amqp://bin:secret@rabbit-1:5672,rabbit-2:5672,rabbit-3:5672/bin?heartbeat=10``. Credentials,
virtual host and query are shared by all nodes. A URL naming one node is used as it is.

aio-pika connects to one address only (mosquito/aio-pika#141) and its robust connection
retries that address forever, so a client whose node died would wait for that node, not
for the cluster. :class:`NodeRotatingConnection` keeps the robust connection (its channels,
consumers and declarations are restored the same way) and changes only where each attempt
goes: every node in turn, starting from the one that last answered, moving on to the next
when its node closes the connection.

aio-pika restores a connection's channels, declarations and consumers with no timeout: a
node that accepts the connection but never answers on a channel (busy or stuck recovering,
wedged) would hold every publish and consumer of the process for good, heartbeats notwithstanding
(they travel on channel 0 and keep coming). A restore that takes longer than
``restore_timeout`` (RESTORE_TIMEOUT) drops that connection and the attempt goes on to the
next node.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import aio_pika
from aio_pika import RobustConnection
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, AMQPConnectionError
from faststream.rabbit import RabbitBroker
from yarl import URL

from shared.logging import get_logger

log = get_logger(__name__)


def amqp_nodes(url: str) -> list[str]:
    """One URL per node named in ``url``, in the order given."""
    parts = _URL.fullmatch(url)
    if parts is None:
        return [url]
    nodes = [host.strip() for host in parts["hosts"].split(",") if host.strip()]
    if len(nodes) <= 1:
        return [url]
    return [f"{parts['scheme']}{parts['userinfo']}{host}{parts['tail']}" for host in nodes]


# scheme, then user:password@ (the password percent-encoded, so its last @ ends it), then the
# host list up to the path or query.
_URL = re.compile(r"(?P<scheme>[a-z]+://)(?P<userinfo>[^/?]*@|)(?P<hosts>[^/?@]*)(?P<tail>.*)")


# Restoring a service's channels (a few dozen declarations and consumers) takes well under a
# second on a healthy node; 30 s leaves room for a loaded one electing quorum queue leaders.
RESTORE_TIMEOUT = 30.0


class NodeRotatingConnection(RobustConnection):
    """A robust connection whose every (re)connection attempt tries each node once."""

    nodes: tuple[URL, ...] = ()
    restore_timeout: float = RESTORE_TIMEOUT

    def __init__(self, url: URL, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any):
        super().__init__(url, loop=loop, **kwargs)
        self._connected_to = 0  # the node of the last connection made
        self._first = 0  # where the next attempt starts

    # The robust connection calls this private method for each attempt (aio-pika 10.x; a
    # unit test fails if it is renamed): the one place where an attempt picks its address.
    async def _RobustConnection__connect_transport(self) -> None:  # noqa: N802
        nodes = self.nodes or (self.url,)
        first = self._first
        failure: BaseException | None = None
        for step in range(len(nodes)):
            index = (first + step) % len(nodes)
            self.url = nodes[index]
            try:
                await super()._RobustConnection__connect_transport()  # type: ignore[misc]
            except CONNECTION_EXCEPTIONS as error:
                failure = error
                log.warning("rabbitmq node did not answer", node=str(self), error=repr(error))
                continue
            self._connected_to = self._first = index
            return
        assert failure is not None
        raise failure

    async def _on_connected(self) -> None:
        try:
            async with asyncio.timeout(self.restore_timeout):
                await super()._on_connected()
        except TimeoutError:
            error = AMQPConnectionError(
                f"channels not restored within {self.restore_timeout} s on {self}"
            )
            log.warning("rabbitmq node connected but did not serve", node=str(self))
            if self.transport is not None:
                # The underlay's close waits for the close callbacks (ours included) to have
                # run, so none of them lands after the next node's connection is made.
                with contextlib.suppress(Exception):
                    await self.transport.close(error)
            self.connected.clear()
            # A connection error: the attempt goes on to the next node.
            raise error from None

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        # The node closed or lost the connection (shutting down, killed, cut off): the next
        # attempt starts with the node after it instead of waiting on this one first.
        if not self._close_called:
            self._first = self._connected_to + 1
        await super()._on_connection_close(closing)


def rotating_connection_class(
    url: str, restore_timeout: float = RESTORE_TIMEOUT
) -> type[RobustConnection]:
    """The robust connection class for ``url``: aio-pika's own for one node."""
    nodes = amqp_nodes(url)
    if len(nodes) == 1:
        return RobustConnection
    return type(
        "ClusterConnection",
        (NodeRotatingConnection,),
        {"nodes": tuple(URL(n) for n in nodes), "restore_timeout": restore_timeout},
    )


def cluster_broker(url: str, **kwargs: Any) -> RabbitBroker:
    """A FastStream broker connecting to the nodes of ``url``, the first that answers."""
    nodes = amqp_nodes(url)
    broker = RabbitBroker(nodes[0], **kwargs)
    if len(nodes) > 1:
        # FastStream hands these to aio_pika.connect_robust (faststream 0.7: no argument of
        # its own for the class); the first node failing must not fail the start.
        broker._connection_kwargs["connection_class"] = rotating_connection_class(url)
    return broker


async def connect_robust(
    url: str, restore_timeout: float = RESTORE_TIMEOUT, **kwargs: Any
) -> AbstractRobustConnection:
    """``aio_pika.connect_robust`` to the nodes of ``url``, the first that answers."""
    connection: AbstractRobustConnection = await aio_pika.connect_robust(
        amqp_nodes(url)[0],
        connection_class=rotating_connection_class(url, restore_timeout),
        **kwargs,
    )
    return connection
