"""Free loopback ports for what the tests start (services, peers)."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive loopback ports free for both TCP and UDP just now
    (a SIP user agent takes several: SIP, SIP over TLS, control, RTP)."""
    for _ in range(200):
        first = free_port()
        if first + count > 65535:
            continue
        if all(_free(port, kind) for port in range(first, first + count)
               for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM)):  # fmt: skip
            return first
    raise RuntimeError(f"no {count} consecutive free loopback ports")


def _free(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True
