"""A TCP proxy on loopback that can add latency and cut every connection it carries: a
broker connection failing the way networks fail, without touching the broker itself.

With ``stall_channels`` it carries AMQP connections that open and stay alive (every frame on
channel 0: the handshake, heartbeats) while nothing on any channel is ever answered: a node
that accepts clients and then serves none of their requests, which heartbeats never notice
(a node busy or stuck in its own recovery, a wedged broker)."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field

FRAME_HEADER = 7  # type (1), channel (2), payload size (4); then the payload and 0xCE


@dataclass
class FaultProxy:
    target_host: str
    target_port: int
    latency: float = 0.0
    stall_channels: bool = False
    _server: asyncio.Server | None = None
    _pipes: set[asyncio.StreamWriter] = field(default_factory=set)
    cuts: int = 0
    accepted: int = 0  # connections taken

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Resets every connection at once (the peers see ECONNRESET or EOF)."""
        self.cuts += 1
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        self.accepted += 1
        try:
            upstream_reader, upstream = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            client.transport.abort()
            return
        self._pipes |= {client, upstream}
        answers = (
            self._channel_zero_only(upstream_reader, client)
            if self.stall_channels
            else self._pipe(upstream_reader, client)
        )
        await asyncio.gather(self._pipe(client_reader, upstream), answers)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, RuntimeError):
            while chunk := await reader.read(65536):
                if self.latency:
                    await asyncio.sleep(self.latency)
                writer.write(chunk)
                await writer.drain()
        self._pipes.discard(writer)
        writer.transport.abort()

    async def _channel_zero_only(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """The broker's frames to the client, but only those of channel 0."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, RuntimeError):
            while True:
                header = await reader.readexactly(FRAME_HEADER)
                _, channel, size = struct.unpack(">BHI", header)
                rest = await reader.readexactly(size + 1)
                if channel == 0:
                    writer.write(header + rest)
                    await writer.drain()
        self._pipes.discard(writer)
        writer.transport.abort()
