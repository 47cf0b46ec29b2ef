"""The report's one table (CSV and page alike) and its bar charts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.registry.domain.evaluation import (
    BinLine,
    EvaluationReport,
    bar_chart,
    charts,
    report_table,
)
from shared.evaluation import ActivityFigures, ChannelFigures, DeliveryFigures, MemberGrowth

GROWTH = MemberGrowth(at_start=10, joined=3, left=1, at_end=12)


def _report(**fields: object) -> EvaluationReport:
    values: dict[str, object] = {
        "scope": "bin",
        "year": 2026,
        "generated_at": datetime(2026, 12, 1, tzinfo=UTC),
        "police_zone": "Leuven",
        "bin_name": "Kessel-Lo",
        "price_eur": {"sms": 0.06, "voice": 0.12},
        "members": GROWTH,
        "activity": ActivityFigures(activations=2),
        "deliveries": DeliveryFigures(
            targeted=8,
            delivered=6,
            reach=0.75,
            channels={"sms": ChannelFigures(deliveries=5, delivered=4, failed=1, billable=6)},
            sms=6,
            cost_eur=0.36,
        ),
    }
    values.update(fields)
    return EvaluationReport.model_validate(values)


def test_the_table_shows_every_figure_once_formatted() -> None:
    rows = {(section, figure): value for _, section, figure, value in report_table(_report())}
    assert rows[("members", "at end of year")] == "12"
    assert rows[("reach", "reach")] == "75.0%"
    assert rows[("timing", "first delivery, median")] == "n/a"
    assert rows[("messages: sms", "handed to the gateway")] == "6"
    assert rows[("costs", "cost (EUR)")] == "0.36"


def test_a_zone_table_has_its_total_then_each_bin() -> None:
    line = BinLine(
        bin_id=uuid.uuid4(),
        name="Heverlee",
        municipality="Leuven",
        status="active",
        members=GROWTH,
        activity=ActivityFigures(activations=1),
        deliveries=DeliveryFigures(),
    )
    report = _report(scope="zone", bin_name=None, bins=[line])
    scopes = [scope for scope, *_ in report_table(report)]
    assert scopes[0] == "police zone Leuven" and scopes[-1] == "Heverlee"
    assert [c.title for c in charts(report)][-1] == "Activations per BIN"


def test_bars_scale_to_the_largest_value_within_the_chart() -> None:
    chart = bar_chart("x", ["a", "b", "c"], [0, 5, 10], width=300, height=120)
    assert [b.height for b in chart.bars] == [0, 42.0, 84.0]
    assert all(b.y + b.height == chart.baseline for b in chart.bars)
    assert chart.bars[-1].x + chart.bars[-1].width <= 300
    assert bar_chart("empty", [], []).bars == []
    assert {b.height for b in bar_chart("zeros", ["a"], [0]).bars} == {0}
