"""Named points in a handler where a test can make the process die, to prove what a crash
exactly there leaves behind.

Armed through ``BIN_CRASH_POINTS`` (comma-separated names) in a service process: reaching
an armed point ends the process at once (``os._exit``: no cleanup, no acknowledgement, as
SIGKILL would). Armed in-process with :func:`arm`, the point raises :class:`CrashPoint`
instead, so an integration test sees the handler stop there. Unarmed points cost a set
lookup. Production never sets the variable.
"""

from __future__ import annotations

import os

CRASH_EXIT_CODE = 70


class CrashPoint(BaseException):
    """Raised at an armed point (in-process arming): the handler stops here, as if killed.

    A BaseException, so no ``except Exception`` on the way out swallows it."""


_from_environment = frozenset(
    name.strip() for name in os.environ.get("BIN_CRASH_POINTS", "").split(",") if name.strip()
)
_armed_in_process: set[str] = set()


def arm(name: str) -> None:
    _armed_in_process.add(name)


def disarm(name: str) -> None:
    _armed_in_process.discard(name)


def reached(name: str) -> None:
    if name in _from_environment:
        os._exit(CRASH_EXIT_CODE)
    if name in _armed_in_process:
        raise CrashPoint(name)
