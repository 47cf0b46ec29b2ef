"""``make bench`` (connectors): the connectors service as a process of its own, fed
``delivery.requested.v1`` batches of 1,000 SMS straight on its gateway queue (what dispatch
publishes), its receipts read back from the queue dispatch consumes. Four cases:

* ``smpp_throttled``: SMPP to the SMSC simulator holding a capacity (4 binds, 1,000/s in
  all, ESME_RTHROTTLED above it) and the provider's ``rate_per_second`` set to the same, so
  the connector's own token bucket (in PostgreSQL) is what keeps it at the SMSC's capacity;
* ``kannel``: the same SMSC behind a real Kannel 1.4.5 (bearerbox and smsbox, SMPP to the
  simulator), reports back through Kannel's dlr-url on the connector's HTTP port;
* ``smpp_ceiling``: SMPP to an SMSC without a limit and no ``rate_per_second``: the
  connector's own maximum;
* ``push``: urgent Web Push (VAPID, RFC 8291 encryption) to the npm push service
  ``web-push-testing`` on loopback (tests/peers/webpush.py), which checks each token and
  decrypts each payload: ``BENCH_CONNECTOR_PUSH`` deliveries (default 5,000) spread over
  ``BENCH_PUSH_SUBSCRIPTIONS`` subscriptions (200). Counted at the push service: the
  deliveries it decrypted (their ids are in the payload), and copies of one delivery.

Per run: the achieved rate at the SMSC (submits it accepted, over the time from its first
to its last, read from its /stats polled every 0.1 s), that rate over the configured
capacity, the time from the first publish to the last receipt, CPU seconds of the
connector process per 1,000 SMS (user + system, /proc), throttling (answered by the SMSC,
and seen by the connector) and duplicates at the SMSC (must be 0). Each case runs
``BENCH_REPEATS`` times on one connector process; before each run the connectors' tables
are emptied, given an earlier alert's 100,000 finished deliveries (as the ledger holds
them in production) and vacuumed (see :meth:`Bench.settle`). Medians and every run go to
bench/results/connectors.json.

A run fails when receipts stop coming for 60 s or the connector process exits: it is
recorded in the case's ``errors``, and the next run gets a new connector process and
purged queues. A run with a duplicate at the SMSC, a number that never reached it or a
delivery not delivered is kept with its ``problems``. Either way the JSON is written
(after each case) and the benchmark exits non-zero. Every process it started is stopped.

``BENCH_CONNECTOR_SMS`` (default 100,000), ``BENCH_CONNECTOR_KANNEL_SMS`` (20,000),
``BENCH_REPEATS`` (3), ``BENCH_CONNECTOR_CASES`` (all:
``smpp_throttled,kannel,smpp_ceiling,push``),
``BENCH_KANNEL_CONCURRENCY`` (400, the Kannel provider's ``concurrency``),
``BENCH_CONNECTOR_HISTORY`` (100,000 finished deliveries in the ledger; 0: empty).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import orjson
from aio_pika.abc import AbstractIncomingMessage
from prometheus_client.parser import text_string_to_metric_families

from bench.harness import (
    AMQP_URL,
    ROOT,
    SERVERS,
    BenchSystem,
    bench_system,
    cpu_seconds,
    free_port,
    say,
    write_results,
)
from services.connectors.domain.kannel_reports import mo_url
from services.connectors.vapid_keys import generate as generate_vapid
from shared import topology as topo
from shared.events import Channel, DeliveryRequested, DeliveryRequestedData, DeliveryWork, Language
from shared.events.common import Priority
from shared.messaging.publisher import Publisher
from tests.peers.kannel import KannelGateway, SmppLink
from tests.peers.smsc import SmscSimulator
from tests.peers.webpush import PushService, browser_subscription

RESULTS = ROOT / "bench" / "results" / "connectors.json"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SMS = int(os.environ.get("BENCH_CONNECTOR_SMS", "100000"))
KANNEL_SMS = int(os.environ.get("BENCH_CONNECTOR_KANNEL_SMS", "20000"))
PUSH = int(os.environ.get("BENCH_CONNECTOR_PUSH", "5000"))
PUSH_SUBSCRIPTIONS = int(os.environ.get("BENCH_PUSH_SUBSCRIPTIONS", "200"))
# Requests to the push service in flight per replica (the provider's concurrency).
PUSH_CONCURRENCY = 100
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
CASES = tuple(
    os.environ.get("BENCH_CONNECTOR_CASES", "smpp_throttled,kannel,smpp_ceiling,push").split(",")
)
BATCH = 1000
# The SMSC's capacity in the throttled cases: 4 binds of 250 a second.
BINDS = 4
CAPACITY = 1000.0
WINDOW = 50
CONCURRENCY = 400
# sendsms requests in flight: smsbox takes 512 (max-pending-requests).
KANNEL_CONCURRENCY = int(os.environ.get("BENCH_KANNEL_CONCURRENCY", str(CONCURRENCY)))
DLR_DELAY = 0.05
# No receipt for this long: the run has failed.
STALL_SECONDS = 60.0
POLL_SECONDS = 0.1
KANNEL_POLL_SECONDS = 0.5
# One GSM 03.38 part.
TEXT = "BIN Leuven: verdachte wagen in de Abdijstraat, grijze bestelwagen. Bel 101 bij waarneming."
SYSTEM_ID, PASSWORD = "bin", "secret"
# Kannel's SMPP link: as many binds and the same capacity as the connector's own SMPP
# (throughput is per bind, "instances"), the window of the connector's binds.
KANNEL_LINK = {"instances": BINDS, "throughput": int(CAPACITY / BINDS), "max-pending-submits": 50}
# Debian's Kannel logs every message at level 1 (info): warnings only, as smsbox in the
# zone configuration (docs/connectors-kannel.md).
KANNEL_LOG_LEVEL = 2
CONNECTOR_TABLES = ("submission", "provider_message", "early_report", "outbox", "inbox")
EARLY_REPORTS = "SELECT count(*) FROM early_report"
# Finished deliveries of an earlier alert in the ledger at the start of every run, as the
# 30 days of retention keep them in production. 0: every run starts on an empty ledger,
# the worst case (see settle()).
HISTORY = int(os.environ.get("BENCH_CONNECTOR_HISTORY", "100000"))
SEED_SUBMISSIONS = """
INSERT INTO submission (delivery_id, channel, priority, source_id, state, provider, parts,
                        outcome, submits, address_key, claimed_at, accepted_at, finished_at)
SELECT gen_random_uuid(), 'sms', 'urgent', $1, 'final', $2, 1, 'delivered', 1,
       substring(decode(md5(random()::text), 'hex') for 16),
       now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
FROM generate_series(1, $3)
"""
SEED_MESSAGES = """
INSERT INTO provider_message (provider, message_id, delivery_id, outcome)
SELECT $2, 'history-' || delivery_id, delivery_id, 'delivered' FROM submission
WHERE source_id = $1
"""


@dataclass(frozen=True)
class Case:
    name: str
    sms: int
    smsc_rate: float | None  # None: the SMSC takes all it gets
    capacity: float | None  # what the achieved rate is compared with
    kannel: bool = False
    channel: Channel = Channel.SMS

    @property
    def provider(self) -> str:
        if self.channel is Channel.PUSH:
            return "push"
        return "kannel" if self.kannel else "smsc-a"


CASE_BY_NAME = {
    "smpp_throttled": Case("smpp_throttled", SMS, CAPACITY, CAPACITY),
    "kannel": Case("kannel", KANNEL_SMS, CAPACITY, CAPACITY, kannel=True),
    "smpp_ceiling": Case("smpp_ceiling", SMS, None, None),
    "push": Case("push", PUSH, None, None, channel=Channel.PUSH),
}


def smpp_provider(smsc: SmscSimulator, rate: float | None) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "name": "smsc-a",  # Case.provider
        "kind": "smpp",
        "host": "127.0.0.1",
        "port": smsc.smpp_port,
        "system_id": SYSTEM_ID,
        "password": PASSWORD,
        "binds": BINDS,
        "window": WINDOW,
        "concurrency": CONCURRENCY,
    }
    if rate is not None:
        provider["rate_per_second"] = rate
    return provider


def kannel_provider(kannel: KannelGateway, callback_base_url: str) -> dict[str, Any]:
    return kannel.provider(
        callback_base_url, concurrency=KANNEL_CONCURRENCY, rate_per_second=CAPACITY
    )


# -- receipts -----------------------------------------------------------------------------


@dataclass
class Receipts:
    """Final receipts of the current run's deliveries, read off the receipts queue."""

    expected: set[uuid.UUID] = field(default_factory=set)
    outcomes: dict[uuid.UUID, str] = field(default_factory=dict)
    copies: int = 0  # a second receipt for a delivery
    stray: int = 0  # receipts for deliveries not in this run
    first_at: float | None = None
    last_at: float | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, ids: list[uuid.UUID]) -> None:
        self.expected = set(ids)
        self.outcomes = {}
        self.copies = self.stray = 0
        self.first_at = self.last_at = None

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        now = time.time()
        for receipt in orjson.loads(message.body)["data"]["receipts"]:
            delivery_id = uuid.UUID(receipt["delivery_id"])
            if delivery_id not in self.expected:
                self.stray += 1
                continue
            if delivery_id in self.outcomes:
                self.copies += 1
            self.outcomes[delivery_id] = receipt["outcome"]
            if self.first_at is None:
                self.first_at = now
            self.last_at = now
        self.changed.set()

    @property
    def complete(self) -> bool:
        return len(self.outcomes) >= len(self.expected)

    def by_outcome(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts


class RunFailed(RuntimeError):
    pass


# -- what is polled while a run goes --------------------------------------------------------


@dataclass
class Samples:
    """(time, count) as the SMSC (or Kannel) reported it, polled."""

    points: list[tuple[float, int]] = field(default_factory=list)

    def first_and_last(self) -> tuple[float, float, int] | None:
        """When the first and the last submit arrived, each the midpoint between the polls
        around it (so within half a poll interval), and the count at the end."""
        if not self.points:
            return None
        total = self.points[-1][1]
        if total == 0:
            return None
        first = last = None
        previous = (self.points[0][0] - POLL_SECONDS, 0)
        for point in self.points:
            if first is None and point[1] > 0:
                first = (previous[0] + point[0]) / 2
            if last is None and point[1] >= total:
                last = (previous[0] + point[0]) / 2
            previous = point
        assert first is not None
        assert last is not None
        return first, last, total

    def crossing(self, count: float) -> float | None:
        """When the count passed ``count``, interpolated between two polls."""
        previous: tuple[float, int] | None = None
        for point in self.points:
            if point[1] >= count:
                if previous is None or point[1] == previous[1]:
                    return point[0]
                share = (count - previous[1]) / (point[1] - previous[1])
                return previous[0] + share * (point[0] - previous[0])
            previous = point
        return None


async def poll(
    read: Callable[[], Any], samples: Samples, interval: float, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        at = time.time()
        with suppress(httpx.HTTPError, ET.ParseError):  # one missed poll; the next will do
            samples.points.append((at, await read()))
        await asyncio.sleep(max(0.0, interval - (time.time() - at)))


async def kannel_status(client: httpx.AsyncClient, kannel: KannelGateway) -> ET.Element:
    response = await client.get(
        f"{kannel.admin_url}/status.xml", params={"password": kannel.admin_password}
    )
    response.raise_for_status()
    return ET.fromstring(response.content)  # noqa: S314 - our own bearerbox's status


def kannel_sent(status: ET.Element) -> int:
    return int(status.findtext("sms/sent/total") or 0)


async def connector_counters(client: httpx.AsyncClient, port: int) -> dict[str, float]:
    """The connector's throttling and in-doubt counters, summed over their labels."""
    text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    wanted = {
        "bin_connector_throttled_total": "throttled",
        "bin_connector_in_doubt_total": "in_doubt",
        "bin_connector_provider_unavailable_total": "unavailable",
    }
    found = dict.fromkeys(wanted.values(), 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                found[wanted[sample.name]] += sample.value
    return found


def server_pids(database: str) -> dict[str, float]:
    """CPU seconds so far of each PostgreSQL and RabbitMQ process, keyed ``"<pid>:<server>"``:
    a backend that ends between two readings must not count as negative time, as a plain
    sum over the processes alive would (bench.harness.server_cpu_seconds). PostgreSQL
    backends of other databases (another session's tests on this machine) are left out;
    its background processes and RabbitMQ are shared and counted whole."""
    found: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        for server, name in SERVERS.items():
            if comm != name:
                continue
            words = title.split()
            # A client backend's title: "postgres: 15/main: <user> <database> <client> ...".
            client = len(words) >= 5 and ("(" in words[4] or words[4] == "[local]")
            if server == "postgres" and client and words[3] != database:
                continue
            found[f"{entry.name}:{server}"] = cpu_seconds(int(entry.name))
    return found


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy so far (/proc/stat), interrupts
    included: the kernel charges those to whichever process they interrupted, or not."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds used between two :meth:`Bench.cpu` readings, the servers' processes
    summed per server (a process that started in between counts whole; one that ended,
    not at all: its last seconds are lost, a small error against a negative one)."""
    used: dict[str, float] = {}
    for key, seconds in after.items():
        name = key.split(":", 1)[1] if ":" in key else key
        used[name] = used.get(name, 0.0) + seconds - before.get(key, 0.0)
    return used


def child_pids(*names: str) -> list[int]:
    """This process's children whose command is one of ``names`` (Kannel's boxes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if comm in names and ppid == os.getpid():
            found.append(int(entry.name))
    return found


# -- the bench ------------------------------------------------------------------------------


@dataclass
class Bench:
    system: BenchSystem
    conn: asyncpg.Connection
    publisher: Publisher
    receipts: Receipts
    runs_so_far: int = 0
    # The running connector's process name (its log: bench/results/logs/<name>.log).
    name: str = "connectors"

    @property
    def database(self) -> str:
        return self.system.database_url.rsplit("/", 1)[1]

    @property
    def connector(self) -> Any:
        return self.system.processes.running[self.name][0]

    @property
    def log(self) -> Path:
        return self.system.processes.logs / f"{self.name}.log"

    def log_warnings(self) -> dict[str, int]:
        """The connector's warnings and errors so far, by level and event (JSON logs)."""
        counts: dict[str, int] = {}
        with suppress(OSError):
            for line in self.log.read_text(errors="replace").splitlines():
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    key = "unparsed: " + line[:120]
                else:
                    key = f"{entry.get('level', '?')}: {entry.get('event', '?')}"
                counts[key] = counts.get(key, 0) + 1
        return counts

    async def settle(self, provider: str) -> None:
        """Every run starts on the same ledger: emptied, given an earlier alert's finished
        deliveries (``HISTORY``), vacuumed and analysed, the provider's token bucket too
        (a single row updated thousands of times a run); autovacuum then does not start on
        the last run's rows in the middle of this one.

        Not an empty ledger: the connector's pooled sessions keep the plans PostgreSQL
        made for their prepared statements while the tables were empty (hash joins and
        sequential scans of ``provider_message`` and ``submission``) until an autoanalyze
        replaces them; measured with ``BENCH_CONNECTOR_HISTORY=0``, one statement
        recording reports then took 5 to 8 s by the end of a 100,000-SMS run, and a sweep
        ran into its 60 s statement timeout, leaving receipts unmatched."""
        for attempt in range(10):
            try:
                async with self.conn.transaction():
                    # Waiting behind the connector's sweeper, not deadlocking with it.
                    await self.conn.execute("SET LOCAL lock_timeout = '2s'")
                    await self.conn.execute(f"TRUNCATE {', '.join(CONNECTOR_TABLES)}")
                    if HISTORY:
                        earlier = uuid.uuid4()
                        await self.conn.execute(SEED_SUBMISSIONS, earlier, provider, HISTORY)
                        await self.conn.execute(SEED_MESSAGES, earlier, provider)
                break
            except (asyncpg.DeadlockDetectedError, asyncpg.LockNotAvailableError):
                if attempt == 9:
                    raise
                await asyncio.sleep(0.5)
        await self.conn.execute(f"VACUUM ANALYZE {', '.join(CONNECTOR_TABLES)}, provider_rate")

    def batches(
        self, count: int, channel: Channel = Channel.SMS, addresses: list[str] | None = None
    ) -> tuple[list[uuid.UUID], list[tuple[DeliveryRequested, bytes]]]:
        """``count`` deliveries in batches of 1,000, serialised before the clock starts: to
        distinct numbers (never used by an earlier run either), or to ``addresses`` in turn."""
        self.runs_so_far += 1
        run = self.runs_so_far
        source_id = uuid.uuid4()
        ids = [uuid.uuid4() for _ in range(count)]
        events = []
        for start in range(0, count, BATCH):
            event = DeliveryRequested.create(
                source="dispatch",
                data=DeliveryRequestedData(
                    batch_id=uuid.uuid4(),
                    channel=channel,
                    priority=Priority.URGENT,
                    source_id=source_id,
                    deliveries=[
                        DeliveryWork(
                            delivery_id=ids[n],
                            address=(
                                addresses[n % len(addresses)]
                                if addresses
                                else f"+324{run:03d}{n:07d}"
                            ),
                            language=Language.NL,
                            text=TEXT,
                        )
                        for n in range(start, min(count, start + BATCH))
                    ],
                ),
            )
            events.append((event, event.to_json()))
        return ids, events

    async def wait_for_receipts(
        self, started: float, peer_state: Callable[[], Awaitable[str]]
    ) -> None:
        receipts = self.receipts
        while not receipts.complete:
            receipts.changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(receipts.changed.wait(), timeout=1.0)
            if self.connector.poll() is not None:
                raise RunFailed(
                    f"the connector exited ({self.connector.returncode}); see {self.log}"
                )
            quiet_since = receipts.last_at or started
            if not receipts.complete and time.time() - quiet_since > STALL_SECONDS:
                raise RunFailed(
                    f"no receipt for {STALL_SECONDS:.0f} s: {len(receipts.outcomes)} of "
                    f"{len(receipts.expected)} in; {await peer_state()}; "
                    f"ledger: {await self.ledger()}; "
                    f"early reports kept: {await self.conn.fetchval(EARLY_REPORTS)}; "
                    f"connector log: {self.log_warnings()}"
                )

    async def ledger(self) -> dict[str, int]:
        rows = await self.conn.fetch(
            "SELECT state || ':' || coalesce(outcome, '-') AS s, count(*) AS n FROM submission "
            "WHERE claimed_at > now() - interval '1 hour' GROUP BY 1 ORDER BY 1"  # not HISTORY
        )
        return {r["s"]: r["n"] for r in rows}

    async def one_run(
        self, case: Case, smsc: SmscSimulator, kannel: KannelGateway | None, port: int
    ) -> dict[str, Any]:
        await self.settle(case.provider)
        await smsc.areset()
        ids, events = self.batches(case.sms)
        self.receipts.expect(ids)
        async with httpx.AsyncClient(timeout=10) as client:
            counters_before = await connector_counters(client, port)
            kannel_before = kannel_sent(await kannel_status(client, kannel)) if kannel else 0
            kannel_pids = child_pids("bearerbox", "smsbox") if kannel else []
            cpu_before = self.cpu(smsc, kannel_pids)
            stop = asyncio.Event()
            at_smsc, at_kannel = Samples(), Samples()

            async def smsc_submits() -> int:
                # Through this client: SmscSimulator.astats opens a client (and an SSL
                # context) a call, a quarter of a core at ten polls a second.
                response = await client.get(f"{smsc.http_url}/stats")
                response.raise_for_status()
                count: int = response.json()["submits"]
                return count

            async def kannel_submits() -> int:
                assert kannel is not None
                return kannel_sent(await kannel_status(client, kannel)) - kannel_before

            pollers = [asyncio.create_task(poll(smsc_submits, at_smsc, POLL_SECONDS, stop))]
            if kannel is not None:
                pollers.append(
                    asyncio.create_task(poll(kannel_submits, at_kannel, KANNEL_POLL_SECONDS, stop))
                )
            try:
                started = time.time()
                routing_key = topo.gateway_routing_key("sms", "urgent")
                await asyncio.gather(
                    *(self.publisher.publish(e, routing_key, body) for e, body in events)
                )
                published = time.time()

                async def smsc_state() -> str:
                    stats = await smsc.astats()
                    return (
                        f"SMSC: submits {stats['submits']}, throttled {stats['throttled']}, "
                        f"dlrs_sent {stats['dlrs_sent']}, dlrs_pending {stats['dlrs_pending']}"
                    )

                await self.wait_for_receipts(started, smsc_state)
                # The last poll after the last submit: the SMSC's count is final by now.
                await asyncio.sleep(2 * POLL_SECONDS)
            finally:
                stop.set()
                await asyncio.gather(*pollers)
            cpu_after = self.cpu(smsc, kannel_pids)
            counters_after = await connector_counters(client, port)
            kannel_figures = await self.kannel_figures(client, kannel, at_kannel)
        stats = await smsc.astats()
        ledger = await self.ledger()
        assert self.receipts.last_at is not None
        window = at_smsc.first_and_last()
        if window is None:
            raise RunFailed(f"no submit reached the SMSC; ledger: {ledger}")
        first, last, submits = window
        rate = submits / (last - first)
        tenth, ninth = at_smsc.crossing(0.1 * submits), at_smsc.crossing(0.9 * submits)
        steady = 0.8 * submits / (ninth - tenth) if tenth and ninth and ninth > tenth else rate
        thousands = case.sms / 1000
        run: dict[str, Any] = {
            "sms": case.sms,
            "achieved_rate": round(rate, 1),
            "steady_rate_10_to_90": round(steady, 1),
            "first_publish_to_last_receipt_seconds": round(self.receipts.last_at - started, 3),
            "first_publish_to_first_submit_seconds": round(first - started, 3),
            "first_to_last_submit_seconds": round(last - first, 3),
            "publish_seconds": round(published - started, 3),
            "last_submit_to_last_receipt_seconds": round(self.receipts.last_at - last, 3),
            "connector_cpu_seconds_per_1000": round(
                (cpu_after["connector"] - cpu_before["connector"]) / thousands, 4
            ),
            "connector_cpu_share_of_one_core": round(
                (cpu_after["connector"] - cpu_before["connector"])
                / (self.receipts.last_at - started),
                3,
            ),
            "smsc_throttled": stats["throttled"],
            "connector_throttled": int(counters_after["throttled"] - counters_before["throttled"]),
            "smsc_submits": stats["submits"],
            "smsc_received": stats["received"],
            "smsc_destinations": stats["destinations"],
            "smsc_duplicates": stats["duplicates"],
            "in_doubt": int(counters_after["in_doubt"] - counters_before["in_doubt"]),
            "receipt_copies": self.receipts.copies,
            "stray_receipts": self.receipts.stray,
            "delivered": self.receipts.by_outcome().get("delivered", 0),
        }
        if case.capacity is not None:
            run["achieved_over_capacity"] = round(rate / case.capacity, 4)
            run["steady_over_capacity"] = round(steady / case.capacity, 4)
        used = cpu_used(cpu_before, cpu_after)
        # What else kept this machine's cores busy meanwhile: kernel threads, and another
        # session's tests when there are any; much above a few percent makes the run suspect.
        machine = used.pop("machine")
        # The machine's counters are sampled at each tick, the processes' kept exactly: the
        # difference is a few percent of the machine either way, more only when other
        # processes were busy.
        used["other"] = machine - sum(used.values())
        for name, seconds in used.items():
            if name != "connector":
                run[f"cpu_{name}_seconds"] = round(seconds, 2)
        run["cpu_other_share_of_machine"] = round(
            used["other"] / ((os.cpu_count() or 1) * (self.receipts.last_at - started)), 3
        )
        run.update(kannel_figures)
        # Not medians: what a run must show to count at all.
        run["outcomes"] = self.receipts.by_outcome()
        run["ledger"] = ledger
        run["connector_log"] = self.log_warnings()
        problems = []
        if stats["duplicates"]:
            problems.append(f"{stats['duplicates']} duplicates at the SMSC")
        if stats["destinations"] != case.sms:
            problems.append(f"{stats['destinations']} of {case.sms} numbers reached the SMSC")
        if run["delivered"] != case.sms:
            problems.append(f"{run['delivered']} of {case.sms} delivered: {run['outcomes']}")
        if problems:
            run["problems"] = problems
        return run

    def cpu(self, smsc: SmscSimulator, kannel_pids: list[int]) -> dict[str, float]:
        """CPU seconds so far of the connector, the SMSC, Kannel's boxes, this process, every
        PostgreSQL and RabbitMQ process by pid (see :func:`cpu_used`), and the machine."""
        assert smsc.pid is not None
        used: dict[str, float] = {
            "connector": cpu_seconds(self.connector.pid),
            "smsc": cpu_seconds(smsc.pid),
            "bench": cpu_seconds(os.getpid()),
            "machine": machine_busy_seconds(),
            **server_pids(self.database),
        }
        if kannel_pids:
            used["kannel"] = sum(cpu_seconds(pid) for pid in kannel_pids)
        return used

    async def kannel_figures(
        self, client: httpx.AsyncClient, kannel: KannelGateway | None, samples: Samples
    ) -> dict[str, Any]:
        if kannel is None:
            return {}
        status = await kannel_status(client, kannel)
        window = samples.first_and_last()
        figures: dict[str, Any] = {
            # bearerbox's own load figures at the end: messages a second over the last
            # minute, 5 minutes, and since it started.
            "kannel_outbound_load": status.findtext("sms/outbound"),
            "kannel_dlr_received": int(status.findtext("dlr/received/total") or 0),
        }
        if window is not None:
            first, last, sent = window
            figures["kannel_sent"] = sent
            figures["kannel_rate"] = round(sent / (last - first), 1) if last > first else None
        return figures


@asynccontextmanager
async def receipts_consumer(prefix: str, receipts: Receipts) -> AsyncIterator[None]:
    connection = await aio_pika.connect_robust(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=200)
        queue = await channel.get_queue(
            topo.Topology(prefix=prefix).queue_name(topo.DISPATCH_RECEIPTS.name)
        )
        tag = await queue.consume(receipts.on_message, no_ack=True)
        try:
            yield
        finally:
            await queue.cancel(tag)
    finally:
        await connection.close()


async def purge_work(prefix: str, work: Channel = Channel.SMS) -> None:
    """What a failed run left on the queues, so the next case does not start on it."""
    topology = topo.Topology(prefix=prefix)
    connection = await aio_pika.connect_robust(AMQP_URL)
    try:
        channel = await connection.channel()
        for spec in (*(topo.gateway_queue(work.value, p) for p in topo.PRIORITIES),
                     topo.DISPATCH_RECEIPTS):  # fmt: skip
            queue = await channel.get_queue(topology.queue_name(spec.name))
            await queue.purge()
    finally:
        await connection.close()


async def pushes_received(
    client: httpx.AsyncClient, push: PushService, subscriptions: list[dict[str, Any]],
    ids: set[str],
) -> tuple[int, int]:  # fmt: skip
    """(deliveries of this run the push service decrypted, copies beyond the first), read
    from every subscription's messages: the delivery id is in each payload."""
    seen: dict[str, int] = {}
    for subscription in subscriptions:
        answer = await client.post(
            f"{push.url}/get-notifications", json={"clientHash": subscription["clientHash"]}
        )
        answer.raise_for_status()
        for message in answer.json()["data"]["messages"]:
            delivery_id = orjson.loads(message)["delivery_id"]
            if delivery_id in ids:
                seen[delivery_id] = seen.get(delivery_id, 0) + 1
    return len(seen), sum(seen.values()) - len(seen)


async def one_push_run(
    bench: Bench, case: Case, push: PushService, subscriptions: list[dict[str, Any]]
) -> dict[str, Any]:
    await bench.settle(case.provider)
    addresses = [browser_subscription(s) for s in subscriptions]
    ids, events = bench.batches(case.sms, Channel.PUSH, addresses)
    bench.receipts.expect(ids)
    assert push.pid is not None
    pids = {"push_service": push.pid}

    def cpu() -> dict[str, float]:
        return {
            "connector": cpu_seconds(bench.connector.pid),
            **{name: cpu_seconds(pid) for name, pid in pids.items()},
            "bench": cpu_seconds(os.getpid()),
            "machine": machine_busy_seconds(),
            **server_pids(bench.database),
        }

    async def push_state() -> str:
        return f"push service log: {push.log()[-300:]!r}"

    cpu_before = cpu()
    started = time.time()
    routing_key = topo.gateway_routing_key("push", "urgent")
    await asyncio.gather(*(bench.publisher.publish(e, routing_key, body) for e, body in events))
    await bench.wait_for_receipts(started, push_state)
    assert bench.receipts.last_at is not None
    elapsed = bench.receipts.last_at - started
    cpu_after = cpu()
    async with httpx.AsyncClient(timeout=30) as client:
        received, copies = await pushes_received(client, push, subscriptions, {str(i) for i in ids})
    used = cpu_used(cpu_before, cpu_after)
    machine = used.pop("machine")
    thousands = case.sms / 1000
    run: dict[str, Any] = {
        "deliveries": case.sms,
        "deliveries_per_second": round(case.sms / elapsed, 1),
        "first_publish_to_last_receipt_seconds": round(elapsed, 3),
        "connector_cpu_seconds_per_1000": round(used["connector"] / thousands, 4),
        "connector_cpu_share_of_one_core": round(used["connector"] / elapsed, 3),
        "push_service_cpu_seconds_per_1000": round(used["push_service"] / thousands, 4),
        "received_at_push_service": received,
        "duplicates_at_push_service": copies,
        "receipt_copies": bench.receipts.copies,
        "delivered": bench.receipts.by_outcome().get("delivered", 0),
        "cpu_other_share_of_machine": round(
            (machine - sum(used.values())) / ((os.cpu_count() or 1) * elapsed), 3
        ),
        "outcomes": bench.receipts.by_outcome(),
        "ledger": await bench.ledger(),
        "connector_log": bench.log_warnings(),
    }
    problems = []
    if copies:
        problems.append(f"{copies} copies at the push service")
    if received != case.sms:
        problems.append(f"{received} of {case.sms} deliveries reached the push service")
    if run["delivered"] != case.sms:
        problems.append(f"{run['delivered']} of {case.sms} delivered: {run['outcomes']}")
    if problems:
        run["problems"] = problems
    return run


async def run_push_case(system: BenchSystem, bench: Bench, case: Case) -> dict[str, Any]:
    say(f"{case.name}: {case.sms} pushes to {PUSH_SUBSCRIPTIONS} subscriptions, {REPEATS} run(s)")
    private, public = generate_vapid()
    provider = {
        "name": case.provider,
        "kind": "webpush",
        "channel": "push",
        "vapid_private_key": private,
        "vapid_subject": "mailto:bench@bin.example.be",
        "allowed_endpoint_hosts": ["127.0.0.1"],
        "concurrency": PUSH_CONCURRENCY,
    }
    result: dict[str, Any] = {
        "deliveries": case.sms,
        "subscriptions": PUSH_SUBSCRIPTIONS,
        "provider": {k: v for k, v in provider.items() if k != "vapid_private_key"},
        "runs": [],
    }
    port = free_port()
    processes = system.processes
    with PushService() as push:
        subscriptions = [push.subscribe(public) for _ in range(PUSH_SUBSCRIPTIONS)]
        bench.name = f"connectors-{case.name}"
        processes.start(
            bench.name,
            [sys.executable, "-m", "services.connectors"],
            port,
            BIN_CONNECTOR_PROVIDERS=json.dumps([provider]),
        )
        try:
            await processes.ready(bench.name)
            async with receipts_consumer(system.prefix, bench.receipts):
                for n in range(REPEATS):
                    try:
                        run = await one_push_run(bench, case, push, subscriptions)
                    except Exception as failed:  # noqa: BLE001 - recorded, the next run goes on
                        result.setdefault("errors", []).append(f"run {n + 1}: {failed!r}")
                        say(f"  run {n + 1} FAILED: {failed!r}; see {bench.log}")
                        await purge_work(system.prefix, Channel.PUSH)
                        continue
                    result["runs"].append(run)
                    say(f"  run {n + 1}: {summary(run)}")
                    for problem in run.get("problems", []):
                        say(f"    PROBLEM: {problem}")
        finally:
            processes.stop(bench.name)
    result["median"] = medians(result["runs"])
    return result


async def run_case(system: BenchSystem, bench: Bench, case: Case) -> dict[str, Any]:
    if case.channel is Channel.PUSH:
        return await run_push_case(system, bench, case)
    say(f"{case.name}: {case.sms} SMS, {REPEATS} run(s)")
    result: dict[str, Any] = {
        "sms": case.sms,
        "smsc": {"rate": case.smsc_rate, "dlr_delay": DLR_DELAY},
        "runs": [],
    }
    port = free_port()
    callback_base_url = f"http://127.0.0.1:{port}"
    async with AsyncExitStack() as stack:
        smsc = stack.enter_context(SmscSimulator(rate=case.smsc_rate, dlr_delay=DLR_DELAY))
        kannel: KannelGateway | None = None
        if case.kannel:
            kannel = KannelGateway(
                link=SmppLink(
                    "127.0.0.1", smsc.smpp_port, SYSTEM_ID, PASSWORD, options=KANNEL_LINK
                ),
                mo_url=mo_url(callback_base_url, "kannel"),
                log_level=KANNEL_LOG_LEVEL,
            )
            await stack.enter_async_context(kannel)
            provider = kannel_provider(kannel, callback_base_url)
            result["kannel_link"] = KANNEL_LINK
        else:
            provider = smpp_provider(smsc, case.smsc_rate)
        result["provider"] = {k: v for k, v in provider.items() if k not in ("password", "port")}
        processes = system.processes
        started: list[str] = []

        async def start_connector() -> None:
            # A log of its own for each connector process (a failed run's is kept).
            bench.name = f"connectors-{case.name}" + (f"-{len(started)}" if started else "")
            processes.start(
                bench.name,
                [sys.executable, "-m", "services.connectors"],
                port,
                BIN_CONNECTOR_PROVIDERS=json.dumps([provider]),
            )
            started.append(bench.name)
            await processes.ready(bench.name)

        def stop_connectors() -> None:
            for name in started:
                if name in processes.running:
                    processes.stop(name)

        stack.callback(stop_connectors)
        await start_connector()
        # The receipts queue is the connector's to declare: consumed once it runs.
        await stack.enter_async_context(receipts_consumer(system.prefix, bench.receipts))
        for n in range(REPEATS):
            try:
                run = await bench.one_run(case, smsc, kannel, port)
            except Exception as failed:  # noqa: BLE001 - recorded, and the next run goes on
                result.setdefault("errors", []).append(f"run {n + 1}: {failed!r}")
                say(f"  run {n + 1} FAILED: {failed!r}; see {bench.log}")
                # What the failed run left (a backlog in the connector, work and receipts on
                # the queues) must not reach the next one: a new connector, queues purged.
                processes.stop(bench.name)
                await purge_work(system.prefix)
                await start_connector()
                continue
            result["runs"].append(run)
            say(f"  run {n + 1}: {summary(run)}")
            for problem in run.get("problems", []):
                say(f"    PROBLEM: {problem}")
    result["median"] = medians(result["runs"])
    return result


def summary(run: dict[str, Any]) -> str:
    shown = (
        "achieved_rate", "achieved_over_capacity", "first_publish_to_last_receipt_seconds",
        "connector_cpu_seconds_per_1000", "smsc_throttled", "connector_throttled",
        "smsc_duplicates", "kannel_rate", "deliveries_per_second",
        "push_service_cpu_seconds_per_1000", "duplicates_at_push_service",
    )  # fmt: skip
    return ", ".join(f"{key} {run[key]}" for key in shown if key in run)


def medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    """The median of every number the runs have in common."""
    if not runs:
        return {}
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    return {
        key: round(statistics.median(r[key] for r in runs), 4)
        for key in keys
        if all(isinstance(r.get(key), int | float) for r in runs)
    }


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version()}


async def main() -> int:
    unknown = set(CASES) - set(CASE_BY_NAME)
    if unknown:
        raise SystemExit(f"BENCH_CONNECTOR_CASES: no case {', '.join(sorted(unknown))}")
    results: dict[str, Any] = {
        "inputs": {
            "sms": SMS,
            "kannel_sms": KANNEL_SMS,
            "batch": BATCH,
            "repeats": REPEATS,
            "binds": BINDS,
            "window": WINDOW,
            "concurrency": CONCURRENCY,
            "kannel_concurrency": KANNEL_CONCURRENCY,
            "kannel_link": KANNEL_LINK,
            "capacity_per_second": CAPACITY,
            "smsc_dlr_delay_seconds": DLR_DELAY,
            "text_parts": 1,
            "ledger_history": HISTORY,
            "kannel_log_level": KANNEL_LOG_LEVEL,
            "push": PUSH,
            "push_subscriptions": PUSH_SUBSCRIPTIONS,
            "push_concurrency": PUSH_CONCURRENCY,
        },
        "machine": machine(),
        "cases": {},
    }
    async with bench_system() as system:
        system.migrate("connectors")
        conn = await asyncpg.connect(
            system.database_url, server_settings={"search_path": "connectors"}
        )
        publisher = Publisher(AMQP_URL, topo.Topology(prefix=system.prefix))
        receipts = Receipts()
        bench = Bench(system, conn, publisher, receipts)
        try:
            await publisher.connect()
            for name in CASES:
                results["cases"][name] = await run_case(system, bench, CASE_BY_NAME[name])
                # After each case: what is measured survives a later failure.
                write_results(RESULTS, results)
        finally:
            await publisher.close()
            await conn.close()
    write_results(RESULTS, results)
    say("")
    for name, case_result in results["cases"].items():
        say(f"{name} (median of {len(case_result['runs'])}): {summary(case_result['median'])}")
        for error in case_result.get("errors", []):
            say(f"  FAILED: {error[:500]}")
    say(f"written to {RESULTS}")
    failed = any(
        "errors" in r or any("problems" in run for run in r["runs"])
        for r in results["cases"].values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
