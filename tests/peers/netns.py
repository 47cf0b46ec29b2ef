"""Network namespaces for test nodes, so that a test can cut the links between them.

Every node gets a namespace of its own with one veth pair: ``eth0`` inside, the other end on
a bridge in the root namespace, which holds the subnet's first address. The processes of the
test (services, checks) stay in the root namespace and reach every node across the bridge,
the way clients reach a cluster across their own network; nodes reach each other across the
same bridge. :meth:`NodeNetwork.cut` drops, with iptables inside one node's namespace, every
packet between it and the other nodes and nothing else: the nodes are partitioned, while
clients still reach each side (a real partition seldom cuts the clients off from the
minority too; what RabbitMQ's ``pause_minority`` then does for them is the point of a test).
The kernel here has no netem, hence DROP rather than loss or delay.

Names carry the run's token so that parallel runs never share one; everything is removed by
:meth:`NodeNetwork.remove`, at exit too.

Usage::

    with NodeNetwork(3) as net:
        net.addresses          # ["10.203.17.11", ...]
        net.run(0, "epmd")     # argv run inside node 0's namespace
        net.cut(0)             # node 0 partitioned from 1 and 2
        net.heal(0)
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import random
import secrets
import subprocess
from collections.abc import Sequence
from types import TracebackType
from typing import Self

IP_TIMEOUT = 20.0


class NetworkError(RuntimeError):
    pass


def _sh(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, timeout=IP_TIMEOUT, check=False)
    if done.returncode != 0:
        raise NetworkError(f"{' '.join(argv)}: {done.stderr.decode().strip()}")
    return done.stdout.decode()


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.0.0.0/8 that no route of this machine overlaps."""
    taken = [
        ipaddress.ip_network(line.split()[0], strict=False)
        for line in _sh("ip", "-4", "route", "show", "table", "all").splitlines()
        if line and line.split()[0][0].isdigit()
    ]
    for _ in range(100):
        subnet = ipaddress.IPv4Network(
            f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24"
        )
        if not any(subnet.overlaps(route) for route in taken if route.prefixlen > 0):
            return subnet
    raise NetworkError("no free 10.x.y.0/24 subnet")


class NodeNetwork:
    def __init__(self, size: int) -> None:
        run = secrets.token_hex(2)
        self.subnet = _free_subnet()
        hosts = list(self.subnet.hosts())
        self.gateway = str(hosts[0])  # the root namespace's side: where clients come from
        self.addresses = [str(hosts[10 + n]) for n in range(size)]
        self.namespaces = [f"bin-{run}-{n}" for n in range(size)]
        # Interface names are at most 15 characters.
        self.bridge = f"binbr{run}"
        self._veths = [f"binv{run}{n}" for n in range(size)]
        self._created = False

    def create(self) -> None:
        atexit.register(self.remove)
        self._created = True
        prefix = self.subnet.prefixlen
        _sh("ip", "link", "add", self.bridge, "type", "bridge")
        _sh("ip", "addr", "add", f"{self.gateway}/{prefix}", "dev", self.bridge)
        _sh("ip", "link", "set", self.bridge, "up")
        for namespace, veth, address in zip(
            self.namespaces, self._veths, self.addresses, strict=True
        ):
            _sh("ip", "netns", "add", namespace)
            _sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns",
                namespace)  # fmt: skip
            _sh("ip", "link", "set", veth, "master", self.bridge, "up")
            inside = ("ip", "netns", "exec", namespace)
            _sh(*inside, "ip", "link", "set", "lo", "up")
            _sh(*inside, "ip", "addr", "add", f"{address}/{prefix}", "dev", "eth0")
            _sh(*inside, "ip", "link", "set", "eth0", "up")

    def command(self, node: int, argv: Sequence[str]) -> list[str]:
        """``argv`` to run inside node ``node``'s namespace."""
        return ["ip", "netns", "exec", self.namespaces[node], *argv]

    def cut(self, node: int) -> None:
        """Drops every packet between ``node`` and the other nodes, both ways; the clients'
        path (the bridge's own address) stays open."""
        iptables = self.command(node, ["iptables", "-w", "5"])
        for n, other in enumerate(self.addresses):
            if n != node:
                _sh(*iptables, "-A", "INPUT", "-s", other, "-j", "DROP")
                _sh(*iptables, "-A", "OUTPUT", "-d", other, "-j", "DROP")

    def heal(self, node: int) -> None:
        for chain in ("INPUT", "OUTPUT"):
            _sh(*self.command(node, ["iptables", "-w", "5", "-F", chain]))

    def remove(self) -> None:
        """Every namespace (its veth goes with it) and the bridge, whatever was made."""
        if not self._created:
            return
        for namespace in self.namespaces:
            with contextlib.suppress(NetworkError):
                _sh("ip", "netns", "del", namespace)
        with contextlib.suppress(NetworkError):
            _sh("ip", "link", "del", self.bridge)
        self._created = False
        atexit.unregister(self.remove)

    def __enter__(self) -> Self:
        try:
            self.create()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()
