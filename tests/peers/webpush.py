"""A real Web Push service for the tests: the npm package ``web-push-testing``.

It checks each message's VAPID token against the key the subscription was made with,
decrypts the RFC 8291 payload with the subscription's private key and keeps the plain text
for the test to read; it expires a subscription on request (then answers 410).
``scripts/npm-packages.sh`` installs it into ``.npm-peers/``; ``webpush_service.js`` beside
this file runs it on a free loopback port and also keeps each message's Urgency and TTL::

    with PushService() as push:
        subscription = push.subscribe(vapid_public_key)
        ...  # send to subscription["endpoint"]
        [text] = push.messages(subscription)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.peers.mail import PeerFailed, wait_for_port
from tests.ports import HOST, free_port

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / ".npm-peers" / "node_modules" / "web-push-testing"
SERVICE_JS = Path(__file__).with_name("webpush_service.js")
INSTALL = ROOT / "scripts" / "npm-packages.sh"


def ensure_installed() -> None:
    """Installs the npm peers when missing (the script does nothing when they are there)."""
    if not (PACKAGE / "src" / "server.js").exists():
        subprocess.run(["bash", str(INSTALL)], check=True, timeout=300)


class PushService:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="web-push-testing-", suffix=".log")  # noqa: SIM115

    def __enter__(self) -> PushService:
        ensure_installed()
        self._process = subprocess.Popen(
            ["node", str(SERVICE_JS), str(self.port), str(PACKAGE)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, 20)
        except PeerFailed:
            self.stop()
            raise PeerFailed(f"web-push-testing did not start: {self.log()}") from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=10)
        self._process = None
        self._log.close()

    @property
    def pid(self) -> int | None:
        """The push service's process (node), for the benchmark's CPU figures."""
        return self._process.pid if self._process is not None else None

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")[-2000:]

    def _post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(self.url + path, json=body or {}, timeout=10)

    def subscribe(self, application_server_key: str) -> dict[str, Any]:
        """What ``pushManager.subscribe`` gives a page (endpoint, keys) plus the
        ``clientHash`` the other calls name it by."""
        answer = self._post(
            "/subscribe",
            # The service wants the string "true", where a browser sends a boolean.
            {"userVisibleOnly": "true", "applicationServerKey": application_server_key},
        )
        if answer.status_code != 200:
            raise PeerFailed(f"subscribe refused: {answer.text}")
        subscription: dict[str, Any] = answer.json()["data"]
        return subscription

    def expire(self, subscription: dict[str, Any]) -> None:
        answer = self._post(f"/expire-subscription/{subscription['clientHash']}")
        if answer.status_code != 200:
            raise PeerFailed(f"expire refused: {answer.text}")

    def messages(self, subscription: dict[str, Any]) -> list[str]:
        """The decrypted payloads the subscription received, oldest first."""
        answer = self._post("/get-notifications", {"clientHash": subscription["clientHash"]})
        answer.raise_for_status()
        return list(answer.json()["data"]["messages"])

    def headers(self, subscription: dict[str, Any]) -> list[dict[str, Any]]:
        """Per message sent to it: urgency, ttl, topic and the status it answered."""
        answer = self._post("/get-headers", {"clientHash": subscription["clientHash"]})
        answer.raise_for_status()
        return list(answer.json()["data"]["messages"])

    def wait_for_messages(
        self, subscription: dict[str, Any], count: int = 1, timeout: float = 30
    ) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages(subscription)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


def browser_subscription(subscription: dict[str, Any]) -> str:
    """The subscription as a browser's ``JSON.stringify(subscription)`` gives it."""
    return json.dumps({"endpoint": subscription["endpoint"], "expirationTime": None,
                       "keys": subscription["keys"]})  # fmt: skip
