"""Dispatch's domain metrics, for the deliveries dashboards."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES_REQUESTED = Counter(
    "bin_dispatch_deliveries_requested_total",
    "Deliveries handed to gateways, by channel and priority.",
    ["channel", "priority"],
)
RECEIPTS_APPLIED = Counter(
    "bin_dispatch_receipts_total",
    "Gateway receipts received, by channel and outcome.",
    ["channel", "outcome"],
)
BILLABLE_MESSAGES = Counter(
    "bin_dispatch_billable_messages_total",
    "SMS and voice messages handed to gateways (what municipalities pay for), retries included.",
    ["channel"],
)
RETRIES_SCHEDULED = Counter(
    "bin_dispatch_retries_total", "Temporarily failed deliveries scheduled again.", ["channel"]
)
FALLBACKS = Counter(
    "bin_dispatch_fallbacks_total",
    "Deliveries moved to the next channel after a permanent failure, by the failed channel.",
    ["channel"],
)
DELIVERIES_FAILED = Counter(
    "bin_dispatch_deliveries_failed_total",
    "Deliveries no channel could make: dead-lettered.",
    ["channel"],
)
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60)
FIRST_BATCH_SECONDS = Histogram(
    "bin_dispatch_first_batch_seconds",
    "From the start of a fan-out to its first batch confirmed at the gateway queue.",
    ["priority"],
    buckets=_LATENCY_BUCKETS,
)
FANOUT_SECONDS = Histogram(
    "bin_dispatch_fanout_seconds",
    "From the start of a fan-out to its last batch handed to the gateways.",
    ["priority"],
    buckets=_LATENCY_BUCKETS,
)
# The month's bill so far, per municipality, as the cost report computes it from the delivery
# rows (every replica reports the same database totals: dashboards take the max).
MONTH_COST_EUR = Gauge(
    "bin_dispatch_month_cost_eur",
    "SMS and voice cost of the current month so far, per municipality.",
    ["municipality"],
)
MONTH_MESSAGES = Gauge(
    "bin_dispatch_month_messages",
    "Billed SMS and voice messages of the current month so far, per municipality.",
    ["municipality", "channel"],
)
