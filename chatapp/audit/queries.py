"""Which audit entries: a range of whole UTC days, as the CSV download asks for it."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from chatapp.models import AuditEntry

LONGEST_RANGE_DAYS = 3660


class InvalidRange(ValueError):
    """The dates asked for make no range; the message says why in plain words."""


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRange(f"“{name}” must be a date like 2026-11-30.") from None


@dataclass(frozen=True)
class Days:
    """Whole days, both ends included, in UTC."""

    first: date
    last: date

    @classmethod
    def parse(cls, first: str | None, last: str | None) -> "Days":
        """From ``YYYY-MM-DD``; a missing end is today, a missing start the 1st of its month."""
        end = _day(last, "to") if last else timezone.now().date()
        start = _day(first, "from") if first else end.replace(day=1)
        if start > end:
            raise InvalidRange("“from” is after “to”.")
        if (end - start).days > LONGEST_RANGE_DAYS:
            raise InvalidRange("Pick a range of at most ten years.")
        return cls(start, end)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=UTC)


def entries_between(days: Days) -> QuerySet[AuditEntry]:
    """Oldest first, as a log is read."""
    return AuditEntry.objects.filter(
        created_at__gte=days.since, created_at__lt=days.until
    ).order_by("created_at", "id")
