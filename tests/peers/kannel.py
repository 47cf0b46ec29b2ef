"""A real Kannel gateway for tests: Debian's ``bearerbox`` and ``smsbox`` 1.4.5, started with
their own configuration, ports, logs and store in a temporary folder (never the package's
init script, whose boxes take port 13000).

The SMSC link is one of two kinds:

- :class:`FakeSmscLink`: bearerbox listens (``smsc = fake``) and Kannel's test client
  ``/usr/lib/kannel/test/fakesmsc`` connects to it, printing each SMS part it gets as
  ``Got message N: <sender receiver text|ucs-2|udh ... data ...>``; run without messages on
  its command line it reads MO lines (``sender receiver text words``) from its stdin. The
  fake SMSC reports every message delivered (DLR 8, then 1), at once.
- :class:`SmppLink`: ``smsc = smpp`` bound to an SMSC (a simulator) at a host and port.

Usage::

    async with KannelGateway(mo_url=...) as kannel:
        ...  # sendsms at kannel.sendsms_url with kannel.username / kannel.password
        await kannel.wait_received(50)
        await kannel.send_mo("+32470123456", "STOP")
"""

from __future__ import annotations

import asyncio
import atexit
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import unquote_to_bytes

import httpx

from services.connectors.domain.sms_encoding import MAX_PARTS
from tests.ports import free_port

BEARERBOX = "bearerbox"
SMSBOX = "smsbox"
FAKESMSC = Path("/usr/lib/kannel/test/fakesmsc")
# fakesmsc reads its stdin with fgets into 256 bytes: a longer line would become two MOs.
MAX_MO_LINE = 250
STOP_TIMEOUT = 5.0

ConfValue = str | int | bool
# What bearerbox's access log keeps of each SMS: event, link, Kannel's id, the SMSC's id,
# DLR mask, length. No %p/%P (numbers) nor %a/%b (text).
ACCESS_LOG_FORMAT = "%l [SMSC:%i] [ID:%I] [FID:%F] [DLR:%d] [LEN:%L]"


@dataclass(frozen=True)
class FakeSmscLink:
    smsc_id: str = "fake"


@dataclass(frozen=True)
class SmppLink:
    host: str
    port: int
    system_id: str
    password: str
    transceiver_mode: bool = True
    smsc_id: str = "operator"
    system_type: str = ""
    # How the SMSC writes message ids in submit_sm_resp and in receipts (Kannel's
    # msg-id-type: 0x00 both decimal ... 0x03 both hex); None: the same string in both.
    msg_id_type: int | None = None
    # Further settings of the smsc group, as in kannel.conf (throughput, window...).
    options: Mapping[str, ConfValue] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedPart:
    """One SMS part as fakesmsc printed it."""

    sender: str
    receiver: str
    kind: str  # "text", "ucs-2", "data" or "udh"
    udh: bytes
    data: bytes

    @property
    def concatenation(self) -> tuple[int, int, int] | None:
        """(reference, parts, this part's number) from the user data header, if any."""
        udh = self.udh[1:]
        while len(udh) >= 2:
            element, size = udh[0], udh[1]
            value = udh[2 : 2 + size]
            if element == 0x00 and size == 3:
                return value[0], value[1], value[2]
            if element == 0x08 and size == 4:
                return (value[0] << 8) | value[1], value[2], value[3]
            udh = udh[2 + size :]
        return None


@dataclass(frozen=True)
class ReceivedSms:
    """A whole message: its parts joined in order."""

    sender: str
    receiver: str
    parts: int
    data: bytes

    @property
    def text(self) -> str:
        # Kannel keeps GSM texts as UTF-8 (no NUL in them) and UCS-2 ones as UTF-16BE,
        # where any Latin character has a NUL byte; the printed line does not say which.
        if b"\x00" in self.data:
            return self.data.decode("utf-16-be", errors="replace")
        return self.data.decode("utf-8", errors="replace")


class KannelGateway:
    def __init__(
        self,
        *,
        link: FakeSmscLink | SmppLink | None = None,
        mo_url: str | None = None,
        username: str = "bin",
        password: str | None = None,
        unified_prefix: str | None = None,
        wait_for_smsc: bool = True,
        log_level: int = 1,
        start_timeout: float = 20.0,
        keep_folder: bool = False,
    ) -> None:
        self.link = link if link is not None else FakeSmscLink()
        self.mo_url = mo_url
        self.username = username
        self.password = password if password is not None else secrets.token_urlsafe(12)
        self.unified_prefix = unified_prefix
        self.wait_for_smsc = wait_for_smsc
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.keep_folder = keep_folder
        self.admin_password = secrets.token_urlsafe(12)
        self.ports = {
            "admin": free_port(),
            "smsbox": free_port(),
            "sendsms": free_port(),
            "fake": free_port(),
        }
        # Made by start(), removed by stop() unless keep_folder: config, logs, store and
        # fakesmsc's output.
        self.folder = Path(tempfile.gettempdir()) / "kannel-not-started"
        self._made: Path | None = None
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._outputs: list[IO[bytes]] = []
        self._mo_sent = 0
        # One MO line in fakesmsc's stdin at a time (see send_mo).
        self._mo_lock = asyncio.Lock()

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sendsms']}/cgi-bin/sendsms"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['admin']}"

    @property
    def conf(self) -> Path:
        return self.folder / "kannel.conf"

    @property
    def smsc_id(self) -> str:
        return self.link.smsc_id

    def provider(
        self, callback_base_url: str, name: str = "kannel", **extra: Any
    ) -> dict[str, Any]:
        """The connector's provider settings for this gateway (``KannelConfig`` fields)."""
        return {
            "name": name,
            "kind": "kannel",
            "sendsms_url": self.sendsms_url,
            "username": self.username,
            "password": self.password,
            "sender": "BIN",
            "callback_base_url": callback_base_url,
            "smsc_id": self.smsc_id,
            **extra,
        }

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self.folder = self._made = Path(tempfile.mkdtemp(prefix="kannel-"))
        self.conf.write_text(self.config_text())
        atexit.register(self._kill_all)
        try:
            self._spawn(BEARERBOX, [BEARERBOX, "-v", "2", str(self.conf)])
            self._wait("bearerbox's admin port", lambda: self.status() is not None)
            if isinstance(self.link, FakeSmscLink):
                # Interactive mode (no messages given): MO lines come from its stdin.
                command = [str(FAKESMSC), "-H", "127.0.0.1", "-r", str(self.ports["fake"])]
                self._spawn("fakesmsc", [*command, "-i", "0"], stdin=True)
            if self.wait_for_smsc:
                self._wait("the SMSC link", self.smsc_online)
            self._spawn(SMSBOX, [SMSBOX, "-v", "2", str(self.conf)])
            self._wait("smsbox", self._smsbox_ready)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stops every process it started (killed after a few seconds), removes its folder."""
        for process in self._processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self._processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdin is not None:
                process.stdin.close()
        self._processes.clear()
        for output in self._outputs:
            output.close()
        self._outputs.clear()
        atexit.unregister(self._kill_all)
        if self._made is not None and not self.keep_folder:
            shutil.rmtree(self._made, ignore_errors=True)
            self._made = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        # In a thread: the test's own HTTP server may have to answer smsbox meanwhile.
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- configuration -----------------------------------------------------------------

    def config_text(self) -> str:
        groups: list[dict[str, ConfValue]] = [
            {
                "group": "core",
                "admin-port": self.ports["admin"],
                "admin-interface": "127.0.0.1",
                "admin-password": self.admin_password,
                "admin-allow-ip": "127.0.0.1",
                "smsbox-port": self.ports["smsbox"],
                "smsbox-interface": "127.0.0.1",
                "box-allow-ip": "127.0.0.1",
                "log-file": str(self.folder / "bearerbox.log"),
                "log-level": self.log_level,
                "access-log": str(self.folder / "access.log"),
                # Kannel's default line has the numbers and the text: ids and lengths only.
                "access-log-format": ACCESS_LOG_FORMAT,
                "store-type": "file",
                "store-location": str(self.folder / "store"),
                "dlr-storage": "internal",
                "sms-combine-concatenated-mo": True,
                # Refused for a while (throttled, queue full): again after a second, six
                # times at most, then a DLR 16 "NACK/Retries Exceeded".
                "sms-resend-freq": 1,
                "sms-resend-retry": 6,
            },
            self._smsc_group(),
            {
                "group": "smsbox",
                "bearerbox-host": "127.0.0.1",
                "bearerbox-port": self.ports["smsbox"],
                "sendsms-port": self.ports["sendsms"],
                "sendsms-interface": "127.0.0.1",
                "log-file": str(self.folder / "smsbox.log"),
                "log-level": self.log_level,
                "mo-recode": True,
                "http-request-retry": 3,
                "http-queue-delay": 1,
                "http-timeout": 30,
            },
            {
                "group": "sendsms-user",
                "username": self.username,
                "password": self.password,
                "max-messages": MAX_PARTS,
                "concatenation": True,
            },
            self._service_group(),
        ]
        return "\n".join(_group(values) for values in groups)

    def _smsc_group(self) -> dict[str, ConfValue]:
        link = self.link
        if isinstance(link, FakeSmscLink):
            group: dict[str, ConfValue] = {
                "group": "smsc",
                "smsc": "fake",
                "smsc-id": link.smsc_id,
                "port": self.ports["fake"],
                "our-host": "127.0.0.1",
                "connect-allow-ip": "127.0.0.1",
            }
        else:
            group = {
                "group": "smsc",
                "smsc": "smpp",
                "smsc-id": link.smsc_id,
                "host": link.host,
                "port": link.port,
                "transceiver-mode": link.transceiver_mode,
                "smsc-username": link.system_id,
                "smsc-password": link.password,
                "system-type": link.system_type,
                "interface-version": 34,
                "enquire-link-interval": 30,
                "reconnect-delay": 1,
            }
            if not link.transceiver_mode:
                group["receive-port"] = link.port
            if link.msg_id_type is not None:
                group["msg-id-type"] = link.msg_id_type
            group.update(link.options)
        # Only messages naming this link (the provider's smsc_id) go over it.
        group["allowed-smsc-id"] = link.smsc_id
        if self.unified_prefix is not None:
            group["unified-prefix"] = self.unified_prefix
        return group

    def _service_group(self) -> dict[str, ConfValue]:
        group: dict[str, ConfValue] = {
            "group": "sms-service",
            "keyword": "default",
            # Any number of words matches (no %s arguments in the URL to count).
            "catch-all": True,
            # Nothing goes back to the member, not even smsbox's own error texts.
            "max-messages": 0,
            "omit-empty": True,
        }
        if self.mo_url is not None:
            group["get-url"] = self.mo_url
        else:
            group["text"] = "not answered"
        return group

    # -- state -------------------------------------------------------------------------

    def status(self) -> ET.Element | None:
        try:
            response = httpx.get(
                f"{self.admin_url}/status.xml",
                params={"password": self.admin_password},
                timeout=2,
            )
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return ET.fromstring(response.content)  # noqa: S314 - our own bearerbox's status

    def smsc_online(self) -> bool:
        status = self.status()
        if status is None:
            return False
        for smsc in status.iter("smsc"):
            if smsc.findtext("id") == self.smsc_id:
                return (smsc.findtext("status") or "").startswith("online")
        return False

    def admin(self, command: str, **params: str) -> str:
        """A bearerbox admin command: ``stop-smsc`` / ``start-smsc`` (``smsc=<id>``),
        ``suspend``, ``resume``..."""
        response = httpx.get(
            f"{self.admin_url}/{command}",
            params={"password": self.admin_password, **params},
            timeout=5,
        )
        return response.text

    def _smsbox_ready(self) -> bool:
        status = self.status()
        if status is None or not any(b.findtext("type") == "smsbox" for b in status.iter("box")):
            return False
        try:
            httpx.get(self.sendsms_url, timeout=2)
        except httpx.HTTPError:
            return False
        return True

    # -- the fake SMSC -----------------------------------------------------------------

    def received_parts(self) -> list[ReceivedPart]:
        """Every SMS part fakesmsc printed, in order (a text with a line break in it shows
        as two: fakesmsc reads lines)."""
        parts = []
        for line in self._fakesmsc_output().splitlines():
            found = _GOT.search(line)
            if found is not None:
                part = _part(found["line"])
                if part is not None:
                    parts.append(part)
        return parts

    def received(self) -> list[ReceivedSms]:
        """The messages fakesmsc got, concatenated parts joined (once all are in)."""
        whole: list[ReceivedSms] = []
        pending: dict[tuple[str, str, int, int], dict[int, bytes]] = {}
        for part in self.received_parts():
            concat = part.concatenation
            if concat is None:
                whole.append(ReceivedSms(part.sender, part.receiver, 1, part.data))
                continue
            reference, total, number = concat
            key = (part.sender, part.receiver, reference, total)
            pending.setdefault(key, {})[number] = part.data
            if len(pending[key]) == total:
                data = b"".join(chunk for _, chunk in sorted(pending.pop(key).items()))
                whole.append(ReceivedSms(part.sender, part.receiver, total, data))
        return whole

    async def wait_received(self, count: int, timeout: float = 20.0) -> list[ReceivedSms]:
        """Until fakesmsc has ``count`` whole messages; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(received := self.received()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"fakesmsc got {len(received)} messages, not {count}")
            await asyncio.sleep(0.1)
        return received

    async def send_mo(
        self, sender: str, text: str, receiver: str = "1234", timeout: float = 10.0
    ) -> None:
        """A member's message, from the fake SMSC to Kannel; returns once fakesmsc sent it."""
        process = self._processes.get("fakesmsc")
        if process is None or process.stdin is None:
            raise RuntimeError("MO messages come from fakesmsc: use the SMSC simulator's")
        if any(c.isspace() for c in sender + receiver) or "\n" in text or "\r" in text:
            raise ValueError("fakesmsc takes one line: no spaces in numbers, no line breaks")
        line = f"{sender} {receiver} text {text}\n".encode()
        if len(line) > MAX_MO_LINE:
            raise ValueError(f"fakesmsc reads lines up to {MAX_MO_LINE} bytes")
        async with self._mo_lock:
            self._mo_sent += 1
            process.stdin.write(line)
            process.stdin.flush()
            deadline = time.monotonic() + timeout
            nudged = time.monotonic()
            while self._fakesmsc_sent() < self._mo_sent:
                if time.monotonic() > deadline:
                    raise AssertionError("fakesmsc did not send the MO message")
                if time.monotonic() - nudged > 1.5:
                    # fakesmsc polls its stdin with select() but reads it through stdio: a
                    # line already in stdio's buffer waits for the fd to be readable again.
                    # An empty line wakes it and is skipped.
                    process.stdin.write(b"\n")
                    process.stdin.flush()
                    nudged = time.monotonic()
                await asyncio.sleep(0.05)

    def _fakesmsc_sent(self) -> int:
        counts = [int(n) for n in _SENT.findall(self._fakesmsc_output())]
        return max(counts, default=0)

    def _fakesmsc_output(self) -> bytes:
        path = self.folder / "fakesmsc.out"
        if isinstance(self.link, SmppLink):
            raise RuntimeError("an SMPP link has no fakesmsc: ask the SMSC simulator")
        return path.read_bytes() if path.exists() else b""

    # -- processes ---------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str], stdin: bool = False) -> None:
        output = (self.folder / f"{name}.out").open("wb")
        self._outputs.append(output)
        self._processes[name] = subprocess.Popen(
            command,
            cwd=self.folder,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not ready():
            for name, process in self._processes.items():
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited ({process.returncode}) waiting for {what}:\n"
                        + self.log_tail(name)
                    )
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {what} after {self.start_timeout}s:\n" + self.logs())
            time.sleep(0.1)

    def log_tail(self, name: str, lines: int = 30) -> str:
        """The end of a process's output (``bearerbox``, ``smsbox``, ``fakesmsc``) or log
        file (``bearerbox.log``, ``smsbox.log``)."""
        path = self.folder / (name if name.endswith(".log") else f"{name}.out")
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def logs(self) -> str:
        names = [*self._processes, "bearerbox.log", "smsbox.log", "access.log"]
        return "\n".join(f"--- {name}\n{self.log_tail(name)}" for name in names)

    def _kill_all(self) -> None:
        for process in self._processes.values():
            if process.poll() is None:
                process.kill()


_GOT = re.compile(rb"Got message \d+: <(?P<line>.*)>$")
_SENT = re.compile(rb"fakesmsc: sent message (\d+)")


def _part(line: bytes) -> ReceivedPart | None:
    fields = line.split(b" ", 3)
    if len(fields) < 4:
        return None
    sender, receiver, kind, rest = fields
    udh = b""
    if kind == b"udh":
        udh_field, _, data_field = rest.partition(b" data ")
        udh, data = _url_bytes(udh_field), _url_bytes(data_field)
    elif kind == b"text":
        data = rest
    else:
        data = _url_bytes(rest)
    return ReceivedPart(sender.decode(), receiver.decode(), kind.decode(), udh, data)


def _url_bytes(value: bytes) -> bytes:
    # Kannel's url-encoding writes a space as "+".
    return unquote_to_bytes(value.replace(b"+", b" "))


def _group(values: Mapping[str, ConfValue]) -> str:
    lines = [f"group = {values['group']}"]
    lines += [f"{name} = {_value(value)}" for name, value in values.items() if name != "group"]
    return "\n".join(lines) + "\n"


def _value(value: ConfValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if '"' in value or "\n" in value:
        raise ValueError("a kannel.conf value cannot hold a double quote or a line break")
    return f'"{value}"'
