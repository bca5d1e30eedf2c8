"""A batch job's results as downloads: CSV for spreadsheets, JSON Lines for scripts.

Both are produced row by row (a job may hold thousands of documents) from the stored items.
"""

import csv
import io
import json
from collections.abc import Iterator

from chatapp.billing.money import csv_usd
from chatapp.conversations.presenters import batch_item_json
from chatapp.models import BatchJob

CSV_COLUMNS = [
    "document_id", "document", "status", "answer", "stop_reason", "input_tokens",
    "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens",
    "cost_usd", "error",
]
# A cell starting with one of these is read as a formula by spreadsheet programs: an answer
# that quotes a document could otherwise run something on the reader's machine.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _items(job: BatchJob):
    return job.items.order_by("id").iterator(chunk_size=500)


def csv_lines(job: BatchJob) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(row: list) -> str:
        writer.writerow(row)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(CSV_COLUMNS)
    for item in _items(job):
        row = batch_item_json(item)
        usage = row["usage"]
        error = row["error"]["message"] if row["error"] else ""
        yield line([
            row["document_id"] or "", spreadsheet_safe(item.document_name), row["status"],
            spreadsheet_safe(row["text"]), row["stop_reason"], usage["input_tokens"],
            usage["output_tokens"], usage["cache_write_5m_tokens"],
            usage["cache_write_1h_tokens"], usage["cache_read_tokens"], csv_usd(item.cost_usd),
            spreadsheet_safe(error),
        ])


def jsonl_lines(job: BatchJob) -> Iterator[str]:
    """One JSON object per document: the item as the API shows it, with its content blocks."""
    for item in _items(job):
        row = {**batch_item_json(item), "content": item.content}
        yield json.dumps(row, ensure_ascii=False) + "\n"
