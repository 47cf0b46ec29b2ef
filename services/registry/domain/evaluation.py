"""The yearly evaluation report as the meeting reads it: the composed figures, the one table
both the CSV and the printable page show (so they cannot disagree), and the geometry of the
page's bar charts. Pure: the parts come from the registry, intake and dispatch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.evaluation import ActivityFigures, DeliveryFigures, MemberGrowth

MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


class BinLine(BaseModel):
    bin_id: uuid.UUID
    name: str
    municipality: str
    status: str
    members: MemberGrowth
    activity: ActivityFigures
    deliveries: DeliveryFigures


class EvaluationReport(BaseModel):
    scope: Literal["bin", "zone"]
    year: int
    generated_at: datetime
    police_zone: str
    bin_id: uuid.UUID | None = None
    bin_name: str | None = None
    municipality: str | None = None
    price_eur: dict[str, float]
    members: MemberGrowth
    activity: ActivityFigures
    deliveries: DeliveryFigures
    # A zone's BINs, each with its own figures.
    bins: list[BinLine] = Field(default_factory=list)


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def figures_table(
    members: MemberGrowth, activity: ActivityFigures, deliveries: DeliveryFigures
) -> list[tuple[str, str, str]]:
    """(section, figure, value) rows, values as shown."""
    rows = [
        ("members", "at start of year", _number(members.at_start)),
        ("members", "joined", _number(members.joined)),
        ("members", "left", _number(members.left)),
        ("members", "at end of year", _number(members.at_end)),
        ("activations", "activations", _number(activity.activations)),
        ("activations", "follow-ups", _number(activity.follow_ups)),
        ("activations", "cancelled", _number(activity.cancelled)),
        ("activations", "replies from members", _number(activity.replies)),
        ("feedback", "on time", _number(activity.feedback.on_time)),
        ("feedback", "late", _number(activity.feedback.late)),
        ("feedback", "missing", _number(activity.feedback.missing)),
        ("feedback", "not yet due", _number(activity.feedback.open)),
        ("reach", "members targeted by alerts", _number(deliveries.targeted)),
        ("reach", "members reached", _number(deliveries.delivered)),
        ("reach", "reach", _percent(deliveries.reach)),
        ("timing", "alerts measured", _number(deliveries.timings.activations)),
        ("timing", "first delivery, median", _number(deliveries.timings.first_median_s, " s")),
        ("timing", "first delivery, p90", _number(deliveries.timings.first_p90_s, " s")),
        ("timing", "last delivery, median", _number(deliveries.timings.last_median_s, " s")),
        ("timing", "last delivery, p90", _number(deliveries.timings.last_p90_s, " s")),
    ]
    for channel, line in deliveries.channels.items():
        rows += [
            (f"messages: {channel}", "messages", _number(line.deliveries)),
            (f"messages: {channel}", "delivered", _number(line.delivered)),
            (f"messages: {channel}", "failed", _number(line.failed)),
            (f"messages: {channel}", "handed to the gateway", _number(line.billable)),
        ]
    rows += [
        ("costs", "SMS billed", _number(deliveries.sms)),
        ("costs", "voice messages billed", _number(deliveries.voice)),
        ("costs", "cost (EUR)", f"{deliveries.cost_eur:.2f}"),
    ]
    return rows


def report_table(report: EvaluationReport) -> list[tuple[str, str, str, str]]:
    """The whole report as (scope, section, figure, value): the total first, then, for a
    zone, each BIN's figures under its name."""
    total = report.bin_name or f"police zone {report.police_zone}"
    rows = [
        (total, *row) for row in figures_table(report.members, report.activity, report.deliveries)
    ]
    for line in report.bins:
        rows += [
            (line.name, *row) for row in figures_table(line.members, line.activity, line.deliveries)
        ]
    return rows


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    baseline: float
    bars: list[Bar]


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    width: int = 480,
    height: int = 160,
) -> BarChart:
    """Bars scaled to the largest value, with room under them for labels and above them for
    the values."""
    top, bottom, gap = 16.0, 20.0, 4.0
    slot = width / max(len(values), 1)
    largest = max(values, default=0) or 1
    baseline = height - bottom
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar_height = (baseline - top) * value / largest
        bars.append(
            Bar(label, value, i * slot + gap / 2, baseline - bar_height, slot - gap, bar_height)
        )
    return BarChart(title, width, height, baseline, bars)


def charts(report: EvaluationReport) -> list[BarChart]:
    """What the meeting would rather look at than read."""
    found = [
        bar_chart("Activations per month", MONTHS, report.activity.activations_by_month),
        bar_chart(
            "Members",
            ("at start", "joined", "left", "at end"),
            (
                report.members.at_start,
                report.members.joined,
                report.members.left,
                report.members.at_end,
            ),
        ),
    ]
    channels = report.deliveries.channels
    if channels:
        found.append(
            bar_chart(
                "Messages per channel",
                list(channels),
                [line.deliveries for line in channels.values()],
            )
        )
        monthly = [
            sum(months[i] for months in report.deliveries.messages_by_month.values())
            for i in range(12)
        ]
        found.append(bar_chart("Messages per month", MONTHS, monthly))
    if report.bins:
        found.append(
            bar_chart(
                "Activations per BIN",
                [line.name for line in report.bins],
                [line.activity.activations for line in report.bins],
            )
        )
    return found
