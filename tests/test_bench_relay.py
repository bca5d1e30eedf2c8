"""The relay benchmark's own machinery (benchmarks/relay*.py, benchmarks/write_log.py): its
options, the arithmetic that turns stamps into latencies, the write counter, and a report that
replaces only its own section. The benchmark itself is a command (`make bench`), not a test."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from benchmarks import write_log
from benchmarks.relay import added_latencies, parse_args, percentile
from benchmarks.relay_clients import Reply, frame_bytes
from benchmarks.relay_report import render, replace_section, sustained


def test_defaults_are_a_bounded_run_of_both_servers():
    options = parse_args([])
    assert options.servers == ["daphne", "uvicorn"] and not options.redis
    assert options.levels == [25, 50, 100, 200] and options.churn <= 1000


def test_options_are_parsed_and_nonsense_refused():
    options = parse_args(["--redis", "--servers", "uvicorn", "--levels", "5,500", "--tokens", "9"])
    assert options.redis and options.servers == ["uvicorn"]
    assert options.levels == [5, 500] and options.tokens == 9
    for bad in (["--servers", "gunicorn"], ["--levels", "0"], ["--tokens", "0"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_each_written_delta_waits_until_its_last_character_arrives():
    reply = Reply("q", arrivals=[(10.050, 5), (10.120, 12)])
    stamps = [{"prompt": "q", "received": 9.0, "writes": [[10.000, 3], [10.030, 5], [10.100, 12]]},
              {"prompt": "someone else's", "received": 9.0, "writes": [[1.0, 1]]}]
    latencies = added_latencies([reply], stamps)
    assert [round(x * 1000) for x in latencies] == [50, 20, 20]


def test_percentiles_and_the_sustained_level():
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 99) == 99
    levels = [{"streams": 50, "complete": 50, "p99_ms": 40.0},
              {"streams": 200, "complete": 200, "p99_ms": 75.0},
              {"streams": 500, "complete": 499, "p99_ms": 60.0}]
    assert sustained(levels, 80) == 200  # a level that lost a reply does not count


def test_frame_sizes_follow_rfc_6455():
    assert (frame_bytes(125), frame_bytes(126), frame_bytes(70000)) == (127, 130, 70010)


@pytest.mark.django_db(transaction=True)
def test_the_write_counter_counts_statements_and_committed_transactions(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATAPP_BENCH_WRITE_LOG", str(tmp_path))
    connection.ensure_connection()
    write_log.install(None, connection)
    try:
        users = get_user_model()
        with transaction.atomic():
            first = users.objects.create_user("one")
            users.objects.create_user("two")
        users.objects.filter(pk=first.pk).update(first_name="Ann")  # autocommit: its own
        list(users.objects.all())  # reads are not writes
        with pytest.raises(RuntimeError), transaction.atomic():
            users.objects.create_user("three")
            raise RuntimeError  # rolled back: written, never committed
    finally:
        connection.execute_wrappers.remove(write_log.observe)
    counts = write_log.read_counts(tmp_path)
    assert counts["COMMIT"] == 2
    assert counts["statements"] == 4
    assert counts["INSERT auth_user"] == 3 and counts["UPDATE auth_user"] == 1


def _level(streams: int) -> dict:
    return {"streams": streams, "complete": streams, "deltas": 10, "p50_ms": 20.0,
            "p99_ms": 45.0, "ttft_p50_ms": 600.0, "app_cpu_per_1k": 0.2,
            "upstream_cpu_per_1k": 0.1, "client_cpu_per_1k": 0.1, "wire_per_char": 3.0,
            "delta_bytes_per_char": 2.5, "delta_wire_per_char": 2.5,
            "frame_overhead_bytes": 900.0, "wire_overhead_bytes": 950.0, "frames_per_reply": 40,
            "compressed": False,
            "transactions_per_reply": 4.0, "statements_per_reply": 6.0, "allowed_writes": 5,
            "active_rss_kib": 60.0, "reply_seconds": 4.0}


def test_the_report_replaces_only_its_own_section(tmp_path):
    options = parse_args(["--levels", "5,10", "--servers", "daphne"])
    result = {"server": "daphne", "levels": [_level(5), _level(10)],
              "ttft": {"app_ms": 610.0, "sdk_ms": 600.0, "ratio": 610 / 600, "pairs": 3,
                       "before_upstream_ms": 8.0, "first_relay_ms": 2.0},
              "idle": {"sockets": 100, "rss_per_socket_kib": 20.0, "cpu_percent": 0.1,
                       "seconds": 2.0},
              "churn": {"cycles": 50, "before_mib": 100.0, "after_mib": 100.5,
                        "per_second": 80.0}}
    machine = {"load_before": ["1.0", "1.0", "1.0"], "load_after": ["2.0", "1.0", "1.0"],
               "cpus": 2, "python": "3.11", "minutes": 0.5}
    section = render([result], options, machine)
    assert "| TTFT app ÷ SDK direct (≤ 1.05) | 1.017 (610 / 600 ms) ✅ |" in section
    assert "load average 1.0 1.0 1.0 before" in section
    assert "| 10 | 10 | 20.0 ms | 45.0 ms |" in section
    # Bytes on the wire are judged as TCP carried them: here uncompressed, 2.5 × the text.
    assert "| wire bytes of the deltas ÷ text (≤ 1.5) + per-reply constant | 2.50 + 950 B " \
        "(uncompressed) ❌ |" in section

    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Someone else's\n\nkept\n")
    replace_section(doc, "embedded", section)
    replace_section(doc, "redis", "redis numbers")
    replace_section(doc, "embedded", "newer numbers")
    text = doc.read_text()
    assert "kept" in text and "redis numbers" in text and "newer numbers" in text
    assert "TTFT app" not in text and text.count("relay-benchmark:embedded:start") == 1
