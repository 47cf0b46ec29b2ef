"""Three RabbitMQ 3.10 nodes clustered on this machine, for the cluster fault tests.

The Clustering Guide's "cluster on a single machine": each node has its own node name, AMQP
and distribution ports, data and log folders under a temporary folder, and all share one
cookie in a HOME of their own; they register with an epmd of their own (its own port), so
the machine's node (rabbit@localhost on 5672) and its epmd are never touched. The packaged
``/usr/sbin`` wrappers would switch to the rabbitmq user and read ``/etc/rabbitmq``: the
scripts under ``/usr/lib/rabbitmq/bin`` run as they are, each with its own env file, and
every ``rabbitmqctl`` call names its node with ``-n``.

Usage::

    with RabbitCluster(tmp_path) as cluster:
        cluster.url  # amqp://guest:guest@127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/
        cluster.kill(cluster.leader("bin-x.gateway.sms.urgent"))
        cluster.start_node(node)
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

from tests.ports import HOST, free_port

SCRIPTS = Path("/usr/lib/rabbitmq/bin")
CONFIG = """\
cluster_partition_handling = pause_minority
log.file.level = info
log.console = false
"""
START_TIMEOUT = 90.0
CTL_TIMEOUT = 60.0


class ClusterError(RuntimeError):
    pass


@dataclass
class RabbitNode:
    name: str  # the Erlang node name, e.g. "bin-1a2b-1@localhost"
    port: int
    dist_port: int
    base: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid_file(self) -> Path:
        return self.base / "node.pid"


class RabbitCluster:
    def __init__(self, root: Path, size: int = 3) -> None:
        self.root = root / "rabbitmq"
        self.home = self.root / "home"
        self.epmd_port = free_port()
        run = secrets.token_hex(2)
        self.nodes = [
            RabbitNode(f"bin-{run}-{n}@localhost", free_port(), free_port(), self.root / str(n))
            for n in range(1, size + 1)
        ]
        self._cookie = secrets.token_hex(16)
        self._epmd: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        hosts = ",".join(f"{HOST}:{node.port}" for node in self.nodes)
        return f"amqp://guest:guest@{hosts}/"

    def node_url(self, node: RabbitNode) -> str:
        return f"amqp://guest:guest@{HOST}:{node.port}/"

    def env(self, node: RabbitNode | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "HOME": str(self.home),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": HOST,
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
        }
        if node is not None:
            env |= {
                "RABBITMQ_NODENAME": node.name,
                "RABBITMQ_NODE_IP_ADDRESS": HOST,
                "RABBITMQ_NODE_PORT": str(node.port),
                "RABBITMQ_DIST_PORT": str(node.dist_port),
                "RABBITMQ_MNESIA_BASE": str(node.base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(node.base / "log"),
                "RABBITMQ_PID_FILE": str(node.pid_file),
                "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
                # No management plugin (nor any other): nothing listens but AMQP and dist.
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
                    "-kernel inet_dist_use_interface {127,0,0,1}"
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
        (self.root / "rabbitmq.conf").write_text(CONFIG)
        (self.root / "enabled_plugins").write_text("[].\n")
        atexit.register(self.stop)
        self._start_epmd()
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
                [str(SCRIPTS / "rabbitmq-server")],
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
        self._stop_epmd()
        atexit.unregister(self.stop)

    def _start_epmd(self) -> None:
        # Started here, in the foreground, rather than left to the first node (which would
        # start a daemon nobody owns): stop() then ends it by its pid, whatever nodes it lists.
        self._epmd = subprocess.Popen(
            ["epmd", "-address", HOST, "-port", str(self.epmd_port)],
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            names = subprocess.run(
                ["epmd", "-names"], env=self.env(), capture_output=True, timeout=10, check=False
            )
            if names.returncode == 0:
                return
            time.sleep(0.1)
        raise ClusterError(f"epmd did not start on port {self.epmd_port}")

    def _stop_epmd(self) -> None:
        if self._epmd is not None and self._epmd.poll() is None:
            self._epmd.kill()
            self._epmd.wait(10)
        self._epmd = None

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
            [str(SCRIPTS / "rabbitmqctl"), "-n", node.name, *args],
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

    def log(self, node: RabbitNode) -> str:
        path = node.base / "stdout.log"
        return path.read_text(errors="replace") if path.exists() else ""
