"""The audit log as CSV, row by row (a year of entries is many): one line per entry, oldest
first. Times are UTC in ISO 8601; cells a spreadsheet would run as a formula (a failed
sign-in's name is whatever was typed) are quoted with an apostrophe, as the batch results'."""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC

from django.core.serializers.json import DjangoJSONEncoder

from chatapp.models import AuditEntry

CSV_COLUMNS = [
    "time_utc", "action", "description", "user", "user_id", "address", "object_type",
    "object_id", "object", "detail",
]
# A cell starting with one of these is read as a formula by spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _row(entry: AuditEntry) -> list[str]:
    detail = json.dumps(entry.detail, cls=DjangoJSONEncoder, ensure_ascii=False,
                        sort_keys=True) if entry.detail else ""
    return [
        entry.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        entry.action,
        entry.action_label,
        _safe(entry.actor_name),
        str(entry.actor_id or ""),
        entry.address or "",
        entry.target_type,
        entry.target_id,
        _safe(entry.target_repr),
        _safe(detail),
    ]


def csv_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(row: list[str]) -> str:
        writer.writerow(row)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(CSV_COLUMNS)
    for entry in entries:
        yield line(_row(entry))
