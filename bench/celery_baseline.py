"""The comparison point: the same fan-out the way a Python team would write it without this
system, one Celery task per recipient on the same RabbitMQ.

The task only builds the gateway request and returns: it writes no delivery row and records
no receipt, so the baseline is, if anything, flattered.
"""

from __future__ import annotations

import os

from celery import Celery

app = Celery(
    "bench_baseline", broker=os.environ.get("BENCH_CELERY_BROKER", "amqp://guest:guest@127.0.0.1//")
)
app.conf.task_default_queue = os.environ.get("BENCH_CELERY_QUEUE", "bench-celery")
app.conf.task_ignore_result = True
app.conf.worker_hijack_root_logger = False


@app.task(name="deliver")  # type: ignore[untyped-decorator]
def deliver(delivery_id: str, address: str, channel: str, text: str) -> dict[str, str]:
    return {"id": delivery_id, "to": address, "channel": channel, "text": text}


def publish_fanout(database_url: str) -> int:
    """The producer: read the recipients, one task each, as such a team would."""
    import asyncio

    import asyncpg

    async def recipients() -> list[tuple[str, str]]:
        conn = await asyncpg.connect(database_url, server_settings={"search_path": "dispatch"})
        try:
            rows = await conn.fetch(
                "SELECT member_id::text, coalesce(phones[1], email) AS address FROM recipient"
            )
        finally:
            await conn.close()
        return [(r["member_id"], r["address"]) for r in rows]

    work = asyncio.run(recipients())
    for member_id, address in work:
        deliver.delay(member_id, address, "sms", "Verdachte wagen gezien")
    return len(work)


if __name__ == "__main__":
    publish_fanout(os.environ["BENCH_DATABASE_URL"])
