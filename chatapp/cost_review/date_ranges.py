"""The date range the cost review is asked about: whole UTC days, both ends included, parsed
from the page's ``YYYY-MM-DD`` parameters with refusals in plain words.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone


class InvalidRange(ValueError):
    """The dates asked for make no range; the message says why in plain words."""


@dataclass(frozen=True)
class DateRange:
    """Whole days, both ends included, in UTC (the zone months and budgets are counted in)."""

    start: date
    end: date

    @classmethod
    def this_month(cls, today: date | None = None) -> "DateRange":
        today = today or timezone.localdate()
        return cls(today.replace(day=1), today)

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> "DateRange":
        """From ``YYYY-MM-DD`` strings; a missing end is today, a missing start the 1st."""
        default = cls.this_month()
        first = _parse_day(start, "start") if start else None
        last = _parse_day(end, "end") if end else default.end
        first = first or last.replace(day=1)
        if first > last:
            raise InvalidRange("The start date is after the end date.")
        if (last - first).days > 3660:
            raise InvalidRange("Pick a range of at most ten years.")
        return cls(first, last)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=timezone.get_current_timezone())

    @property
    def until(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return self.since + timedelta(days=(self.end - self.start).days + 1)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def months(self) -> int:
        """Calendar months the range touches: what a monthly budget is multiplied by."""
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def as_query(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def _parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRange(f"The {name} date must look like 2026-11-30.") from None

