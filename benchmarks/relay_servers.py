"""The processes the relay benchmark drives from outside: the offline upstream, a migrated
database, and the app under daphne or uvicorn (one process, or two on PostgreSQL + Redis).
What they cost is read from /proc: CPU seconds (utime + stime) and resident memory."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "relay-benchmark-password"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
SETUP = (
    "from django.core.management import call_command; call_command('migrate', verbosity=0); "
    "from chatapp.runtime.launcher import ensure_demo_user; ensure_demo_user()"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}")
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered on port {port}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_upstream(
    tokens_per_second: float, first_token_seconds: float, event_ms: str = "70-200"
) -> tuple[str, subprocess.Popen]:
    """The offline upstream in a process of its own, stamping every text delta it writes."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "chatapp.offline_upstream", "--port", str(port),
         "--tokens-per-second", str(tokens_per_second),
         "--first-token-seconds", str(first_token_seconds), "--event-ms", event_ms,
         "--stamps", "--log-level", "warning"],
        cwd=ROOT,
    )
    wait_for_port(port, process)
    return f"http://127.0.0.1:{port}", process


@dataclass
class Database:
    """A fresh migrated database with the demo user: a SQLite file, or a PostgreSQL database
    created next to `postgres_url`'s (and dropped afterwards)."""

    tmp: Path
    postgres_url: str = ""
    url: str = field(init=False)

    def __post_init__(self) -> None:
        if self.postgres_url:
            self._base = self.postgres_url.rsplit("/", 1)[0]
            self._name = f"chatapp_bench_{uuid.uuid4().hex[:8]}"
            self._admin(f'CREATE DATABASE "{self._name}"')
            self.url = f"{self._base}/{self._name}"
        else:
            self.url = f"sqlite:///{self.tmp / 'bench.sqlite3'}"

    def migrate(self, env: dict[str, str]) -> None:
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c", SETUP],
                       env={**env, "DATABASE_URL": self.url}, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self._base}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def drop(self) -> None:
        if self.postgres_url:
            self._admin(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')


def server_command(kind: str, port: int) -> list[str]:
    # Neither logs each connection: the benchmark measures the relay, not the access log.
    if kind == "daphne":
        # daphne as `make run` starts it: with permessage-deflate (chatapp/runtime/server.py).
        return [sys.executable, "-m", "chatapp.runtime.server", "-b", "127.0.0.1", "-p", str(port),
                "-v", "0", "config.asgi:application"]
    # Django's ASGI handler has no lifespan support; uvicorn picks its websockets implementation.
    return [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--lifespan", "off", "--log-level", "warning",
            "--no-access-log"]


class AppServers:
    """`count` processes of the app under `kind` (daphne or uvicorn) on one database."""

    def __init__(self, kind: str, upstream_url: str, *, count: int = 1, postgres_url: str = "",
                 redis_url: str = "", settings: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.tmp = Path(tempfile.mkdtemp(prefix="chatapp-bench-"))
        self.write_log = self.tmp / "writes"
        self.write_log.mkdir()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
            "CHATAPP_BENCH_WRITE_LOG": str(self.write_log),
            "CHATAPP_VAR_DIR": str(self.tmp),
            "OFFLINE_UPSTREAM_URL": upstream_url,
            "ANTHROPIC_API_KEY": "",
            "DEMO_PASSWORD": PASSWORD,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECRET_KEY": "relay-benchmark-" + uuid.uuid4().hex,
            "CHATAPP_PLAIN_STATIC": "true",
            # One user opens hundreds of replies a minute here; the per-user limit would refuse.
            "CHATAPP_MESSAGE_RATE_LIMIT": "0",
            "LOG_LEVEL": "WARNING",
            **(settings or {}),
        }
        self.env.pop("REDIS_URL", None)
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.database = Database(self.tmp, postgres_url)
        self.env["DATABASE_URL"] = self.database.url
        self.database.migrate(self.env)
        self.ports = [free_port() for _ in range(count)]
        self.processes = [
            subprocess.Popen(server_command(kind, port), env=self.env, cwd=ROOT)
            for port in self.ports
        ]
        for port, process in zip(self.ports, self.processes, strict=True):
            wait_for_port(port, process)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def url(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def rss(self) -> int:
        return sum(rss_bytes(pid) for pid in self.pids)

    def stop(self) -> None:
        for process in self.processes:
            stop(process)
        self.database.drop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def app_servers_for(kind: str, upstream_url: str, options: argparse.Namespace) -> AppServers:
    """The app's server processes as the benchmark's options ask: one on the embedded setup, two
    on PostgreSQL + Redis (`--redis`), with the relay's coalescing and checkpoint settings."""
    return AppServers(
        kind, upstream_url, count=2 if options.redis else 1,
        postgres_url=options.postgres_url if options.redis else "",
        redis_url=options.redis_url if options.redis else "",
        settings={"CHATAPP_COALESCE_MS": str(options.coalesce_ms),
                  "CHATAPP_CHECKPOINT_SECONDS": str(options.checkpoint_seconds)},
    )
