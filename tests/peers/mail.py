"""Mail peers for the e-mail adapter's tests: a recipient SMTP server, and a private Postfix.

:class:`MailServer` runs aiosmtpd in a process of its own (``python -m tests.peers.mail``)
and keeps every message it takes, raw, with its envelope, in a folder the test reads back.
Recipients whose local part starts with ``reject_prefix`` get 550 5.1.1 at RCPT, those with
``tempfail_prefix`` 451 4.3.0; with ``tls=True`` it offers STARTTLS with a self-signed
certificate for 127.0.0.1 (``ca_file``)::

    with MailServer(tls=True) as server:
        ...  # send to 127.0.0.1:server.port
        [message] = server.messages()

:class:`PostfixRelay` is a Postfix instance of its own (``postfix -c DIR``: its own
main.cf, master.cf, queue and data folders, one smtpd on a free loopback port) that routes
each domain in ``routes`` to a host:port. Mail it accepted and the next hop then refuses
comes back from Postfix itself as a real DSN, to the envelope sender's route. It needs root
(``postfix -c`` is for the super-user); the machine's own Postfix is not touched.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import ipaddress
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.ports import free_port

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]
POSTFIX = "/usr/sbin/postfix"
META_FILES = Path("/etc/postfix")


class PeerFailed(RuntimeError):
    pass


def wait_for_port(port: int, timeout: float, host: str = HOST) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise PeerFailed(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


def write_self_signed_cert(folder: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A certificate for ``name`` and 127.0.0.1 that is its own CA: (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


# ── the recipient server ─────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Received:
    """One message the server took, with its SMTP envelope."""

    mail_from: str
    mail_options: list[str]
    rcpt_tos: list[str]
    tls: bool
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Recorder:
    """aiosmtpd handler of the server process: refuses by prefix, stores the rest."""

    def __init__(self, store: Path, reject_prefix: str | None, tempfail_prefix: str | None):
        self._store = store
        self._reject = reject_prefix
        self._tempfail = tempfail_prefix
        self._count = 0

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        local = address.rpartition("@")[0].lower()
        # The address in the reply's text, as Postfix writes it: the adapter must not keep it.
        if self._reject and local.startswith(self._reject):
            self._note_refusal(550)
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if self._tempfail and local.startswith(self._tempfail):
            self._note_refusal(451)
            return f"451 4.3.0 <{address}>: Temporary lookup failure"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self._count += 1
        stem = self._store / f"{self._count:06d}"
        meta = {
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
        }
        _write_atomically(stem.with_suffix(".json"), json.dumps(meta).encode())
        # The .eml last: a reader that sees it finds the envelope already there.
        _write_atomically(stem.with_suffix(".eml"), envelope.original_content or b"")
        return f"250 2.0.0 Ok: queued as M{self._count:06d}"

    def _note_refusal(self, code: int) -> None:
        with (self._store / "refusals.log").open("a") as log:
            log.write(f"{code}\n")


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.rename(path)


async def _serve(options: argparse.Namespace) -> None:
    store = Path(options.store)
    tls_context = None
    if options.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(options.tls_cert, options.tls_key)
    handler = _Recorder(store, options.reject_prefix, options.tempfail_prefix)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname="mx.peer.test",
            tls_context=tls_context,
            enable_SMTPUTF8=True,
            loop=loop,
        ),
        HOST,
        options.port,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


class MailServer:
    """The recipient SMTP server process, as a context manager; its store lives in a
    temporary folder removed on exit."""

    def __init__(
        self,
        *,
        reject_prefix: str | None = "unknown",
        tempfail_prefix: str | None = "tempfail",
        tls: bool = False,
        port: int = 0,
        startup_timeout: float = 15.0,
    ) -> None:
        """``port`` 0 takes a free one; a given port lets a test restart the server in place."""
        self.reject_prefix = reject_prefix
        self.tempfail_prefix = tempfail_prefix
        self.tls = tls
        self.startup_timeout = startup_timeout
        self.host = HOST
        self.port = port
        self.ca_file: Path | None = None
        self._folder: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def store(self) -> Path:
        assert self._folder is not None, "the server is not running"
        return self._folder / "store"

    def __enter__(self) -> MailServer:
        self._folder = Path(tempfile.mkdtemp(prefix="bin-mailserver-"))
        self.store.mkdir()
        command = [sys.executable, "-m", "tests.peers.mail", "serve", "--store", str(self.store)]
        command += ["--port", str(self.port)]
        if self.reject_prefix:
            command += ["--reject-prefix", self.reject_prefix]
        if self.tempfail_prefix:
            command += ["--tempfail-prefix", self.tempfail_prefix]
        if self.tls:
            cert, key = write_self_signed_cert(self._folder)
            self.ca_file = cert
            command += ["--tls-cert", str(cert), "--tls-key", str(key)]
        self._log = (self._folder / "server.log").open("wb")
        self._process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log
        )
        try:
            self.port = self._ready_port()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _ready_port(self) -> int:
        assert self._process is not None and self._process.stdout is not None
        readable, _, _ = select.select([self._process.stdout], [], [], self.startup_timeout)
        line = self._process.stdout.readline().decode() if readable else ""
        if not line.startswith("READY "):
            raise PeerFailed(f"the mail server did not start: {self.server_log()}")
        return int(line.split()[1])

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def server_log(self) -> str:
        if self._folder is None:
            return ""
        with contextlib.suppress(OSError):
            return (self._folder / "server.log").read_text(errors="replace")[-4000:]
        return ""

    # ── what it got ──────────────────────────────────────────────────────────────────────
    def received(self) -> list[Received]:
        found = []
        for raw_file in sorted(self.store.glob("*.eml")):
            meta: dict[str, Any] = json.loads(raw_file.with_suffix(".json").read_text())
            found.append(
                Received(
                    mail_from=meta["mail_from"],
                    mail_options=meta["mail_options"],
                    rcpt_tos=meta["rcpt_tos"],
                    tls=meta["tls"],
                    raw=raw_file.read_bytes(),
                )
            )
        return found

    def messages(self) -> list[EmailMessage]:
        return [received.message for received in self.received()]

    @property
    def count(self) -> int:
        return len(list(self.store.glob("*.eml")))

    def refusals(self) -> list[int]:
        """The reply codes of every RCPT it refused, in order."""
        refusals = self.store / "refusals.log"
        if not refusals.exists():
            return []
        return [int(line) for line in refusals.read_text().split()]

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while self.count < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.count} of {count} messages within {timeout}s")
            await asyncio.sleep(0.05)
        return self.received()


# ── the private Postfix ─────────────────────────────────────────────────────────────────

# Every daemon unchrooted (column 5 "n"): a chroot would need a copy of /etc and the libs
# inside the private queue folder.
MASTER_CF = """\
{host}:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
meta_directory = {conf}
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = {host}
inet_protocols = ipv4
myhostname = {hostname}
mydomain = bin.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
relay_domains =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
transport_maps = texthash:{conf}/transport
default_transport = error:5.3.0 not routed by this test relay
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_connect_timeout = 5s
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtputf8_enable = no
biff = no
# Retries within a second or two, a message given up after {lifetime}, delay notices
# (Action: delayed) after {delay_warning}: a DSN of any kind arrives within the test.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maximal_queue_lifetime = {lifetime}
bounce_queue_lifetime = {lifetime}
delay_warning_time = {delay_warning}
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
"""


class PostfixRelay:
    """A private Postfix on a free loopback port, as a context manager.

    ``routes`` maps a recipient domain to the (host, port) Postfix hands its mail to: the
    recipients' domain to a :class:`MailServer`, the VERP bounce domain to the adapter's
    bounce listener. Mail for any other domain bounces at once (5.3.0).
    """

    def __init__(
        self,
        routes: Mapping[str, tuple[str, int]],
        *,
        hostname: str = "relay.bin.test",
        queue_lifetime: str = "10s",
        delay_warning: str = "0h",
        startup_timeout: float = 20.0,
    ) -> None:
        self.routes = dict(routes)
        self.hostname = hostname
        self.queue_lifetime = queue_lifetime
        self.delay_warning = delay_warning
        self.startup_timeout = startup_timeout
        self.host = HOST
        self.port = 0
        self._folder: Path | None = None

    @property
    def conf(self) -> Path:
        assert self._folder is not None, "the relay is not running"
        return self._folder / "conf"

    def __enter__(self) -> PostfixRelay:
        if os.geteuid() != 0:
            raise PeerFailed("PostfixRelay runs `postfix -c DIR`, which only root may do")
        if not Path(POSTFIX).exists():
            raise PeerFailed("Postfix is not installed (Debian package `postfix`)")
        self._folder = Path(tempfile.mkdtemp(prefix="bin-postfix-"))
        try:
            self._configure()
            self._postfix("check")
            self._postfix("start")
            wait_for_port(self.port, self.startup_timeout)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _configure(self) -> None:
        assert self._folder is not None
        # Postfix's daemons run as `postfix` and open paths under the folder: mkdtemp's 0700
        # would lock them out.
        self._folder.chmod(0o755)
        conf, queue = self.conf, self._folder / "queue"
        conf.mkdir()
        queue.mkdir(mode=0o755)
        # meta_directory here, with copies of the package's files: `postfix check` then
        # creates and fixes only this instance's folders, never /etc/postfix's.
        for name in ("postfix-files", "dynamicmaps.cf"):
            shutil.copy(META_FILES / name, conf / name)
        for name in ("postfix-files.d", "dynamicmaps.cf.d"):
            (conf / name).mkdir()
        self.port = free_port()
        (conf / "master.cf").write_text(MASTER_CF.format(host=HOST, port=self.port))
        (conf / "main.cf").write_text(
            MAIN_CF.format(
                conf=conf,
                queue=queue,
                data=self._folder / "data",
                folder=self._folder,
                host=HOST,
                hostname=self.hostname,
                lifetime=self.queue_lifetime,
                delay_warning=self.delay_warning,
            )
        )
        (conf / "transport").write_text(
            "".join(
                f"{domain} smtp:[{host}]:{port}\n" for domain, (host, port) in self.routes.items()
            )
        )

    def _postfix(self, command: str, timeout: float = 30) -> None:
        done = subprocess.run(
            [POSTFIX, "-c", str(self.conf), command],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise PeerFailed(
                f"postfix {command} failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace')}\n{self.maillog()}"
            )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._folder is None:
            return
        master = self._master_pid()
        if master is not None:
            with contextlib.suppress(PeerFailed, subprocess.TimeoutExpired):
                self._postfix("stop", timeout=15)
            if not _gone(master, timeout=10):
                # What `postfix stop` itself does when the master lingers: its whole group.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(master, signal.SIGKILL)
                _gone(master, timeout=5)
        shutil.rmtree(self._folder, ignore_errors=True)
        self._folder = None

    def _master_pid(self) -> int | None:
        assert self._folder is not None
        with contextlib.suppress(OSError, ValueError):
            return int((self._folder / "queue" / "pid" / "master.pid").read_text().split()[0])
        return None

    def maillog(self) -> str:
        """Postfix's log of this instance (it names addresses: for test failures only)."""
        if self._folder is None:
            return ""
        with contextlib.suppress(OSError):
            return (self._folder / "maillog").read_text(errors="replace")
        return ""


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.peers.mail")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the recipient SMTP server")
    serve.add_argument("--store", required=True)
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--reject-prefix")
    serve.add_argument("--tempfail-prefix")
    serve.add_argument("--tls-cert")
    serve.add_argument("--tls-key")
    options = parser.parse_args()
    asyncio.run(_serve(options))


if __name__ == "__main__":
    main()
