"""Counts the database writes of a server process from outside the app, for the relay benchmark.

Installed only by `benchmarks.settings` (never by the app's own settings): every connection gets
an execute wrapper that appends one line per write statement and one per committed write
transaction to `$CHATAPP_BENCH_WRITE_LOG/writes-<pid>.log`. Statements and values are not
logged, only the verb and the table. The ORM runs in worker threads, so the file write never
happens on the event loop.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_TABLE = re.compile(r'(?:INTO|UPDATE|FROM)\s+"?([\w.]+)"?', re.IGNORECASE)
_lock = threading.Lock()


def log_path(directory: str | Path, pid: int) -> Path:
    return Path(directory) / f"writes-{pid}.log"


def _append(line: str) -> None:
    with _lock, open(log_path(os.environ["CHATAPP_BENCH_WRITE_LOG"], os.getpid()), "a") as f:
        f.write(line + "\n")


def _committed() -> None:
    _append("COMMIT")


def observe(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    if verb in WRITE_VERBS:
        table = _TABLE.search(sql)
        _append(f"{verb} {table.group(1) if table else '?'}")
        connection = context["connection"]
        if not connection.in_atomic_block:
            _append("COMMIT")  # autocommit: the statement is its own transaction
        elif not any(entry[1] is _committed for entry in connection.run_on_commit):
            connection.on_commit(_committed)  # once per transaction, however many writes
    return execute(sql, params, many, context)


def install(sender: Any, connection: Any, **kwargs: Any) -> None:
    if observe not in connection.execute_wrappers:
        connection.execute_wrappers.append(observe)


class WriteLogConfig(AppConfig):
    name = "benchmarks.write_log"
    label = "bench_write_log"

    def ready(self) -> None:
        connection_created.connect(install)


def read_counts(directory: str | Path) -> dict[str, int]:
    """Totals over every process's log: "COMMIT" (write transactions), "statements", and one
    count per "VERB table"."""
    counts: dict[str, int] = {"COMMIT": 0, "statements": 0}
    for path in Path(directory).glob("writes-*.log"):
        for line in path.read_text().splitlines():
            counts[line] = counts.get(line, 0) + 1
            if line != "COMMIT":
                counts["statements"] += 1
    return counts
