"""The cost review's per-day chart, drawn on the server as SVG geometry.

A stacked bar per day, one segment per model. Pure layout: aggregated rows in, rectangles,
axis labels and a legend out; the template writes them as SVG elements (no script, no inline
style). Unpriced calls have no cost to draw; the legend counts them.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

WIDTH, HEIGHT = 760, 220
LEFT, BOTTOM, TOP = 64, 24, 10
# Distinguishable in light and dark themes, in this order of spend.
PALETTE = ("#2f6fde", "#e07b39", "#3aa675", "#c4463a", "#8b5cc7", "#b59a2c", "#3fa3b8", "#888")


@dataclass(frozen=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    color: str
    label: str  # the tooltip: day, model, cost


@dataclass(frozen=True)
class LegendEntry:
    model: str
    color: str
    cost: Decimal
    unpriced: int


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class DayLabel:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    plot_bottom: float
    segments: list[Segment]
    ticks: list[Tick]
    days: list[DayLabel]
    legend: list[LegendEntry]

    @property
    def empty(self) -> bool:
        return not self.segments


def _nice_ceiling(value: Decimal) -> Decimal:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return Decimal(1)
    power = Decimal(10) ** (value.adjusted())
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if value <= power * step:
            return power * step
    return power * 10


def _money(amount: Decimal) -> str:
    return f"${amount:,.2f}" if amount >= 1 or amount == 0 else f"${amount:.4f}".rstrip("0")


def build_chart(rows: Iterable[dict[str, Any]], days: list[date]) -> Chart:
    """Rows of ``day``, ``model``, ``cost`` (None when unpriced) and ``requests``."""
    by_day: dict[date, dict[str, Decimal]] = defaultdict(dict)
    per_model: dict[str, Decimal] = defaultdict(Decimal)
    unpriced: dict[str, int] = defaultdict(int)
    for row in rows:
        model = row["model"]
        if row["cost"] is None:
            unpriced[model] += row["requests"]
            continue
        by_day[row["day"]][model] = by_day[row["day"]].get(model, Decimal(0)) + row["cost"]
        per_model[model] += row["cost"]
    order = sorted(per_model, key=lambda m: (-per_model[m], m))
    order += sorted(set(unpriced) - set(per_model))
    colors = {model: PALETTE[min(i, len(PALETTE) - 1)] for i, model in enumerate(order)}
    top = _nice_ceiling(max((sum(day.values()) for day in by_day.values()), default=Decimal(0)))
    plot_height = HEIGHT - BOTTOM - TOP
    plot_bottom = HEIGHT - BOTTOM
    slot = (WIDTH - LEFT) / max(len(days), 1)
    segments = []
    for index, day in enumerate(days):
        y = float(plot_bottom)
        for model in order:
            cost = by_day.get(day, {}).get(model)
            if not cost:
                continue
            height = float(cost / top) * plot_height
            y -= height
            segments.append(Segment(
                x=LEFT + index * slot + slot * 0.1, y=y, width=slot * 0.8, height=height,
                color=colors[model], label=f"{day:%d %b} · {model} · {_money(cost)}",
            ))
    every = max(1, len(days) // 10)
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        plot_bottom=plot_bottom,
        segments=segments,
        ticks=[Tick(plot_bottom - plot_height * f, _money(top * Decimal(str(f))))
               for f in (0, 0.5, 1)],
        days=[DayLabel(LEFT + i * slot + slot / 2, f"{d:%d %b}")
              for i, d in enumerate(days) if i % every == 0],
        legend=[LegendEntry(m, colors[m], per_model.get(m, Decimal(0)), unpriced.get(m, 0))
                for m in order],
    )
