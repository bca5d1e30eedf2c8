"""CSV as every download here writes it: lines streamed one row at a time, and text cells that
a spreadsheet would run as a formula quoted. Imports nothing of ours, so every layer may use it
(the money in a cell is ``billing/money.csv_usd``)."""

import csv
from collections.abc import Iterable, Iterator
from typing import Any

# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """Text as a cell that a spreadsheet shows and never evaluates."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


class _Echo:
    """csv.writer writes to this and gets the line back, for a streamed response."""

    def write(self, value: str) -> str:
        return value


def lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The header's line, then one line per row, each as soon as it is asked for."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)
