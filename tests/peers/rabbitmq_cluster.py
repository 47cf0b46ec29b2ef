"""Three RabbitMQ 3.10 nodes clustered on this machine, for the cluster fault tests.

The Clustering Guide's "cluster on a single machine": each node has its own node name, AMQP
and distribution ports, data and log folders under a temporary folder, and all share one
cookie in a HOME of their own; they register with an epmd of their own (its own port), so
the machine's node (rabbit@localhost on 5672) and its epmd are never touched. The packaged
``/usr/sbin`` wrappers would switch to the rabbitmq user and read ``/etc/rabbitmq``: the
scripts under ``/usr/lib/rabbitmq/bin`` run as they are, each with its own env file, and
every ``rabbitmqctl`` call names its node with ``-n``.

With ``namespaced=True`` each node runs in a network namespace of its own
(tests/peers/netns.py) so that a test can partition it from the others: it listens on its
namespace's address (AMQP on 5672, distribution pinned to 25672 through
``inet_dist_listen_min/max``), with an epmd of its own in the namespace, node names resolved
by an Erlang hosts file (``ERL_INETRC``), and every ``rabbitmqctl`` run inside the node's
namespace. Distribution ticks come every ``net_ticktime`` = 8 s (not 60) so that a node cut
off notices within about 10 s and pauses (``pause_minority``).

Usage::

    with RabbitCluster(tmp_path) as cluster:
        cluster.url  # amqp://guest:guest@127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/
        cluster.kill(cluster.leader("bin-x.gateway.sms.urgent"))
        cluster.start_node(node)
        cluster.cut(node); cluster.heal(node)  # namespaced only
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.peers.netns import NodeNetwork
from tests.ports import HOST, free_port

SCRIPTS = Path("/usr/lib/rabbitmq/bin")
CONFIG = """\
cluster_partition_handling = pause_minority
log.file.level = info
log.console = false
"""
# Namespaced nodes see their clients come from the bridge's address, not loopback: guest may
# log in from there (the subnet exists only on this machine, for the test's lifetime).
NAMESPACED_CONFIG = "loopback_users = none\n"
# A partitioned node notices within net_ticktime * (1 + 1/4) (the kernel's tick rule), then
# pauses; production keeps the default 60 s.
NAMESPACED_TICKTIME = 8
START_TIMEOUT = 90.0
CTL_TIMEOUT = 60.0


def _erlang_address(address: str) -> str:
    return "{" + address.replace(".", ",") + "}"


def _inetrc(nodes: list[RabbitNode]) -> str:
    """Erlang's own hosts table: every node's host name to its namespace's address, looked
    up before the system resolver (the machine's /etc/hosts is left alone)."""
    hosts = "".join(
        f'{{host, {_erlang_address(node.host)}, ["{node.name.split("@")[1]}"]}}.\n'
        for node in nodes
    )
    return hosts + "{lookup, [file, native]}.\n"


class ClusterError(RuntimeError):
    pass


@dataclass
class RabbitNode:
    name: str  # the Erlang node name, e.g. "bin-1a2b-1@localhost"
    port: int
    dist_port: int
    base: Path
    host: str = HOST  # the address it listens on (its namespace's when namespaced)
    index: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid_file(self) -> Path:
        return self.base / "node.pid"


class RabbitCluster:
    def __init__(self, root: Path, size: int = 3, *, namespaced: bool = False) -> None:
        self.root = root / "rabbitmq"
        self.home = self.root / "home"
        run = secrets.token_hex(2)
        self.net = NodeNetwork(size) if namespaced else None
        if self.net is None:
            self.epmd_port = free_port()
            self.nodes = [
                RabbitNode(f"bin-{run}-{n}@localhost", free_port(), free_port(), self.root / str(n))
                for n in range(1, size + 1)
            ]
        else:
            # Each node alone in its namespace: the standard ports, its own address, and a
            # host name of its own that ERL_INETRC resolves to that address.
            self.epmd_port = 4369
            self.nodes = [
                RabbitNode(
                    f"bin-{run}-{n}@{namespace}", 5672, 25672, self.root / str(n), address, n
                )
                for n, (namespace, address) in enumerate(
                    zip(self.net.namespaces, self.net.addresses, strict=True)
                )
            ]
        self._cookie = secrets.token_hex(16)
        self._epmds: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        hosts = ",".join(f"{node.host}:{node.port}" for node in self.nodes)
        return f"amqp://guest:guest@{hosts}/"

    def node_url(self, node: RabbitNode) -> str:
        return f"amqp://guest:guest@{node.host}:{node.port}/"

    def env(self, node: RabbitNode | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "HOME": str(self.home),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
        }
        if self.net is None:
            env["ERL_EPMD_ADDRESS"] = HOST
        else:
            env["ERL_INETRC"] = str(self.root / "inetrc")
        if node is not None:
            env |= {
                "RABBITMQ_NODENAME": node.name,
                "RABBITMQ_NODE_IP_ADDRESS": node.host,
                "RABBITMQ_NODE_PORT": str(node.port),
                "RABBITMQ_DIST_PORT": str(node.dist_port),
                "RABBITMQ_MNESIA_BASE": str(node.base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(node.base / "log"),
                "RABBITMQ_PID_FILE": str(node.pid_file),
                "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
                # No management plugin (nor any other): nothing listens but AMQP and dist.
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
                # RABBITMQ_DIST_PORT pins inet_dist_listen_min and _max to dist_port.
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
                    f"-kernel inet_dist_use_interface {_erlang_address(node.host)}"
                ),
            }
        return env

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.home.mkdir(parents=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(self._cookie)
        cookie.chmod(0o400)
        (self.root / "rabbitmq-env.conf").write_text("")
        config = CONFIG if self.net is None else CONFIG + NAMESPACED_CONFIG
        (self.root / "rabbitmq.conf").write_text(config)
        (self.root / "enabled_plugins").write_text("[].\n")
        atexit.register(self.stop)
        if self.net is not None:
            self.net.create()
            (self.root / "inetrc").write_text(_inetrc(self.nodes))
            (self.root / "advanced.config").write_text(
                f"[{{kernel, [{{net_ticktime, {NAMESPACED_TICKTIME}}}]}}].\n"
            )
        self._start_epmds()
        for node in self.nodes:
            self.start_node(node, wait=False)
        for node in self.nodes:
            self.await_startup(node)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
        running = self.running_nodes(first)
        if sorted(running) != sorted(n.name for n in self.nodes):
            raise ClusterError(f"cluster formed with {running}, not all of {self.nodes}")

    def start_node(self, node: RabbitNode, *, wait: bool = True) -> None:
        for folder in ("mnesia", "log"):
            (node.base / folder).mkdir(parents=True, exist_ok=True)
        with (node.base / "stdout.log").open("ab") as out:
            node.process = subprocess.Popen(
                self._in_namespace(node, [str(SCRIPTS / "rabbitmq-server")]),
                env=self.env(node),
                # Erlang writes its crash dumps (MnesiaCore.*) where it runs: in the node's
                # folder, not the checkout.
                cwd=node.base,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed whole at the end
            )
        if wait:
            self.await_startup(node)

    def await_startup(self, node: RabbitNode) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if node.process is not None and node.process.poll() is not None:
                raise ClusterError(f"{node.name} exited: {self.log(node)[-3000:]}")
            try:
                self.ctl(node, "await_startup", "--timeout", "10", timeout=20)
                return
            except ClusterError:
                time.sleep(0.5)
        raise ClusterError(f"{node.name} not up within {START_TIMEOUT}s: {self.log(node)[-3000:]}")

    def kill(self, node: RabbitNode) -> None:
        """SIGKILL to the node's Erlang VM: no goodbye to clients nor to the other nodes."""
        pid = int(node.pid_file.read_text().strip())
        os.kill(pid, signal.SIGKILL)
        if node.process is not None:
            node.process.wait(30)
        node.pid_file.unlink(missing_ok=True)

    def stop_node(self, node: RabbitNode) -> None:
        """A clean stop, as in a rolling restart (clients are told the connection closes)."""
        self.ctl(node, "stop")
        if node.process is not None:
            node.process.wait(60)

    def stop(self) -> None:
        """Every node and the epmd of the cluster, whatever state they are in."""
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.process.pid, signal.SIGKILL)
                node.process.wait(30)
            if node.pid_file.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(node.pid_file.read_text().strip()), signal.SIGKILL)
        self._stop_epmds()
        if self.net is not None:
            self.net.remove()  # after the processes: a namespace lives while they do
        atexit.unregister(self.stop)

    def cut(self, node: RabbitNode) -> None:
        """Partitions ``node`` from the other nodes (namespaced clusters only)."""
        assert self.net is not None, "a partition needs RabbitCluster(namespaced=True)"
        self.net.cut(node.index)

    def heal(self, node: RabbitNode) -> None:
        assert self.net is not None, "a partition needs RabbitCluster(namespaced=True)"
        self.net.heal(node.index)

    def _in_namespace(self, node: RabbitNode | None, argv: list[str]) -> list[str]:
        if self.net is None or node is None:
            return argv
        return self.net.command(node.index, argv)

    def _start_epmds(self) -> None:
        # Started here, in the foreground, rather than left to the first node (which would
        # start a daemon nobody owns): stop() then ends them by their pids, whatever nodes
        # they list. One for the cluster on loopback, or one in each node's namespace.
        where: list[RabbitNode | None] = [None] if self.net is None else list(self.nodes)
        address = ["-address", HOST] if self.net is None else []
        for node in where:
            self._epmds.append(
                subprocess.Popen(
                    self._in_namespace(node, ["epmd", *address, "-port", str(self.epmd_port)]),
                    env=self.env(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            deadline = time.monotonic() + 10
            while True:
                names = subprocess.run(
                    self._in_namespace(node, ["epmd", "-names"]),
                    env=self.env(),
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
                if names.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise ClusterError(f"epmd did not start on port {self.epmd_port}")
                time.sleep(0.1)

    def _stop_epmds(self) -> None:
        for epmd in self._epmds:
            if epmd.poll() is None:
                epmd.kill()
                epmd.wait(10)
        self._epmds = []

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The folder (logs, data) stays for a look after a failure; pytest's temporary
        # folders are pruned on their own.
        self.stop()

    # -- asking the nodes ------------------------------------------------------------------

    def ctl(self, node: RabbitNode, *args: str, timeout: float = CTL_TIMEOUT) -> str:
        done = subprocess.run(
            self._in_namespace(node, [str(SCRIPTS / "rabbitmqctl"), "-n", node.name, *args]),
            env=self.env(node),
            cwd=node.base,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise ClusterError(f"rabbitmqctl {' '.join(args)}: {done.stderr.decode()[-2000:]}")
        return done.stdout.decode()

    def running_nodes(self, node: RabbitNode) -> list[str]:
        status = json.loads(self.ctl(node, "cluster_status", "--formatter", "json"))
        running: list[str] = status["running_nodes"]
        return running

    def alive(self) -> list[RabbitNode]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def leader(self, queue: str) -> RabbitNode:
        """The node leading quorum queue ``queue``, as a node that is up sees it."""
        rows = json.loads(
            self.ctl(self.alive()[0], "list_queues", "name", "leader", "--formatter", "json")
        )
        leaders = {row["name"]: row["leader"] for row in rows}
        if queue not in leaders:
            raise ClusterError(f"no queue {queue} among {sorted(leaders)}")
        return next(n for n in self.nodes if n.name == leaders[queue])

    def queue_types(self, prefix: str) -> dict[str, str]:
        """The type (quorum, classic) of every queue whose name starts with ``prefix``."""
        rows = json.loads(
            self.ctl(self.alive()[0], "list_queues", "name", "type", "--formatter", "json")
        )
        return {row["name"]: row["type"] for row in rows if row["name"].startswith(prefix)}

    def log(self, node: RabbitNode) -> str:
        path = node.base / "stdout.log"
        return path.read_text(errors="replace") if path.exists() else ""
