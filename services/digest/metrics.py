"""The digest's metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DIGESTS_COMPILED = Counter("bin_digests_compiled_total", "Digests compiled and handed to dispatch.")
ITEMS_PER_DIGEST = Histogram(
    "bin_digest_items", "News items per digest.", buckets=(0, 1, 2, 3, 5, 8, 13, 20, 50)
)
LATENESS_SECONDS = Histogram(
    "bin_digest_lateness_seconds",
    "From a day's scheduled digest time to its digests compiled.",
    buckets=(1, 5, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
)
