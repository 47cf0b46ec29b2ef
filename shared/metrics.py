"""Prometheus metrics shared by every service; each service adds its own domain metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_CONSUMED = Counter(
    "bin_messages_consumed_total",
    "Messages taken from a queue, by outcome (ok, retried, dead_lettered, duplicate).",
    ["queue", "outcome"],
)
MESSAGE_HANDLING_SECONDS = Histogram(
    "bin_message_handling_seconds",
    "Time from a message's arrival to its acknowledgement.",
    ["queue"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DEAD_LETTERS = Counter(
    "bin_dead_letters_total", "Messages moved to a dead-letter queue.", ["queue"]
)
DUPLICATES_SKIPPED = Counter(
    "bin_inbox_duplicates_total", "Redelivered events skipped by the inbox.", ["consumer"]
)
OUTBOX_PUBLISHED = Counter(
    "bin_outbox_published_total", "Events relayed from the outbox to the broker.", ["exchange"]
)
OUTBOX_PENDING = Gauge(
    "bin_outbox_pending", "Events in the outbox waiting to be relayed, at the last look."
)
OUTBOX_RELAY_ERRORS = Counter(
    "bin_outbox_relay_errors_total", "Outbox relay rounds that failed and will be retried."
)
READY = Gauge(
    "bin_ready",
    "1 when the service's dependency is reachable, by check (broker, database), at the last "
    "scrape or readiness probe.",
    ["check"],
)
