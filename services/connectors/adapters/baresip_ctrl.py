"""A client of baresip's ``ctrl_tcp`` module: JSON messages in netstrings over TCP.

Facts from baresip 1.0.0 (``modules/ctrl_tcp``, ``src/event.c``), checked against the Debian
package: a command is ``{"command": "dial", "params": "sip:...", "token": "t1"}``; its answer
``{"response": true, "ok": true, "data": "...", "token": "t1"}``; events come unasked as
``{"event": true, "type": "CALL_ESTABLISHED", "class": "call", "id": "<call id>",
"peeruri": "...", "param": "..."}``. Types seen when calling: CALL_RINGING (a 180/183),
CALL_ESTABLISHED (200 OK), CALL_DTMF_START (``param`` the key), CALL_CLOSED (``param`` the
reason: ``"486 Busy Here"``, ``"end of file"`` when the audio file ran out, ...).

A netstring is ``<length>:<bytes>,``. The commands themselves (``dial``, ``hangup``,
``ausrc``, ``sndcode``) come from baresip's ``menu`` module, which must be loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


class ControlError(Exception):
    """The user agent refused a command, or the control link broke."""


@dataclass(frozen=True, slots=True)
class AgentEvent:
    type: str
    call_id: str | None
    param: str | None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


def split_netstrings(buffer: bytearray) -> list[bytes]:
    """Takes the complete netstrings off the front of ``buffer``; leaves a partial one."""
    out: list[bytes] = []
    while True:
        colon = buffer.find(b":")
        if colon < 0:
            if len(buffer) > 10:
                raise ControlError("not a netstring")
            return out
        try:
            length = int(buffer[:colon])
        except ValueError as bad:
            raise ControlError("not a netstring") from bad
        end = colon + 1 + length
        if len(buffer) < end + 1:
            return out
        if buffer[end : end + 1] != b",":
            raise ControlError("netstring without its comma")
        out.append(bytes(buffer[colon + 1 : end]))
        del buffer[: end + 1]


class BaresipControl:
    """One connection to one user agent's ctrl_tcp; commands answered in order, events
    handed to ``on_event`` as they come."""

    def __init__(self, host: str, port: int, on_event: Callable[[AgentEvent], None]) -> None:
        self.host = host
        self.port = port
        self.on_event = on_event
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._answers: dict[str, asyncio.Future[str]] = {}
        self._tokens = itertools.count(1)
        self.closed = asyncio.Event()

    async def connect(self, within: float = 10.0, exited: Awaitable[Any] | None = None) -> None:
        """Connects, trying again while the user agent starts; gives up at once when
        ``exited`` (the process's wait) completes: baresip gave up itself."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        gone = asyncio.ensure_future(exited) if exited is not None else None
        try:
            while True:
                try:
                    self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                    break
                except OSError:
                    if loop.time() > deadline or (gone is not None and gone.done()):
                        raise
                    await asyncio.sleep(0.05)
        finally:
            if gone is not None and not gone.done():
                gone.cancel()
        self.closed.clear()
        self._task = asyncio.create_task(self._read(), name=f"baresip ctrl {self.port}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        self.closed.set()

    async def command(self, command: str, params: str = "", within: float = 10.0) -> str:
        """Runs a command; returns its ``data``; raises :class:`ControlError` when refused."""
        if self._writer is None or self.closed.is_set():
            raise ControlError("not connected")
        token = f"t{next(self._tokens)}"
        answer = asyncio.get_running_loop().create_future()
        self._answers[token] = answer
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        try:
            self._writer.write(netstring(body))
            await self._writer.drain()
            async with asyncio.timeout(within):
                data: str = await answer
                return data
        except (OSError, TimeoutError) as broken:
            raise ControlError(f"{command}: {type(broken).__name__}") from broken
        finally:
            self._answers.pop(token, None)

    async def _read(self) -> None:
        assert self._reader is not None
        buffer = bytearray()
        try:
            while data := await self._reader.read(65536):
                buffer += data
                for payload in split_netstrings(buffer):
                    self._dispatch(json.loads(payload))
        except (OSError, ControlError, ValueError):
            pass
        finally:
            self.closed.set()
            for answer in self._answers.values():
                if not answer.done():
                    answer.set_exception(ControlError("control link closed"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("response"):
            answer = self._answers.get(str(message.get("token")))
            if answer is not None and not answer.done():
                if message.get("ok"):
                    answer.set_result(str(message.get("data", "")))
                else:
                    answer.set_exception(ControlError(str(message.get("data", ""))[:200]))
        elif message.get("event"):
            self.on_event(
                AgentEvent(
                    type=str(message.get("type")),
                    call_id=message.get("id"),
                    param=message.get("param"),
                    raw=message,
                )
            )
