"""The audit log as CSV, row by row (a year of entries is many): one line per entry, oldest
first. Times are UTC in ISO 8601; cells a spreadsheet would run as a formula (a failed
sign-in's name is whatever was typed) are quoted with an apostrophe, as the batch results'."""

import json
from collections.abc import Iterable, Iterator
from datetime import UTC

from django.core.serializers.json import DjangoJSONEncoder

from chatapp import csv_files
from chatapp.csv_files import spreadsheet_safe
from chatapp.models import AuditEntry

CSV_COLUMNS = [
    "time_utc", "action", "description", "user", "user_id", "address", "object_type",
    "object_id", "object", "detail",
]
def _row(entry: AuditEntry) -> list[str]:
    detail = json.dumps(entry.detail, cls=DjangoJSONEncoder, ensure_ascii=False,
                        sort_keys=True) if entry.detail else ""
    return [
        entry.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        entry.action,
        entry.action_label,
        spreadsheet_safe(entry.actor_name),
        str(entry.actor_id or ""),
        entry.address or "",
        entry.target_type,
        entry.target_id,
        spreadsheet_safe(entry.target_repr),
        spreadsheet_safe(detail),
    ]


def csv_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    return csv_files.lines(CSV_COLUMNS, map(_row, entries))
