"""Free loopback ports for what the tests start (services, peers).

Handed out below the kernel's ephemeral range (``net.ipv4.ip_local_port_range``, 32768-60999
by default), from which every outgoing connection takes its local port: a port found free
by binding to port 0 lies in that range, and under load a client socket (the suite makes
thousands) could take it before the service it was meant for binds it; seen as "address
already in use" at a service's start, and as a test talking to the wrong service. Each
process walks the range from a random start, so a port is not handed out twice by one
process, and two processes rarely meet.
"""

from __future__ import annotations

import itertools
import random
import socket

HOST = "127.0.0.1"
LOWEST, HIGHEST = 20_000, 32_000  # below the ephemeral range, above the well-known ports
_candidates = itertools.cycle(
    list(range(start := random.randrange(LOWEST, HIGHEST), HIGHEST)) + list(range(LOWEST, start))
)


def free_port() -> int:
    """A loopback port free for TCP and UDP just now."""
    return free_port_run(1)


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive loopback ports free for both TCP and UDP just now
    (a SIP user agent takes several: SIP, SIP over TLS, control, RTP)."""
    for _ in range(HIGHEST - LOWEST):
        first = next(_candidates)
        if first + count > HIGHEST:
            continue
        if all(_free(port, kind) for port in range(first, first + count)
               for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM)):  # fmt: skip
            # The run's other ports are not handed out again by this process.
            for _ in range(count - 1):
                next(_candidates)
            return first
    raise RuntimeError(f"no {count} consecutive free loopback ports")


def _free(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True
