"""A batch job's results as downloads: CSV for spreadsheets, JSON Lines for scripts.

Both are produced row by row (a job may hold thousands of documents) from the stored items.
"""

import json
from collections.abc import Iterator

from chatapp import csv_files
from chatapp.billing.money import csv_usd
from chatapp.conversations.presenters import batch_item_json
from chatapp.csv_files import spreadsheet_safe
from chatapp.models import BatchItem, BatchJob

CSV_COLUMNS = [
    "document_id", "document", "status", "answer", "stop_reason", "input_tokens",
    "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens",
    "cost_usd", "error",
]
def _items(job: BatchJob):
    return job.items.order_by("id").iterator(chunk_size=500)


def _row(item: BatchItem) -> list:
    """An item's cells; its texts quoted where a spreadsheet would run them (an answer that
    quotes a document could otherwise run something on the reader's machine)."""
    row = batch_item_json(item)
    usage = row["usage"]
    error = row["error"]["message"] if row["error"] else ""
    return [
        row["document_id"] or "", spreadsheet_safe(item.document_name), row["status"],
        spreadsheet_safe(row["text"]), row["stop_reason"], usage["input_tokens"],
        usage["output_tokens"], usage["cache_write_5m_tokens"],
        usage["cache_write_1h_tokens"], usage["cache_read_tokens"], csv_usd(item.cost_usd),
        spreadsheet_safe(error),
    ]


def csv_lines(job: BatchJob) -> Iterator[str]:
    return csv_files.lines(CSV_COLUMNS, map(_row, _items(job)))


def jsonl_lines(job: BatchJob) -> Iterator[str]:
    """One JSON object per document: the item as the API shows it, with its content blocks."""
    for item in _items(job):
        row = {**batch_item_json(item), "content": item.content}
        yield json.dumps(row, ensure_ascii=False) + "\n"
