"""`make run` (`manage.py serve`) as a new user sees it: the one address it prints is the app's,
printed last with the demo login; the offline upstream's own uvicorn banner is not shown."""

import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 240  # a fresh database is migrated first (an upper bound, slow on a busy machine)


def _output_until_ready(process: subprocess.Popen) -> list[str]:
    """The lines `serve` printed up to and including its rule after "Press Ctrl-C".

    A thread reads the lines: `select` on the pipe cannot see lines already in the text
    reader's buffer (the announcement arrives as one write of many lines)."""
    lines: list[str] = []
    received: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            received.put(line.rstrip("\n"))
        received.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = received.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        lines.append(line)
        if len(lines) >= 2 and lines[-2] == "Press Ctrl-C to stop.":
            return lines
    raise AssertionError("serve never said it was ready:\n" + "\n".join(lines))


def test_serve_prints_the_apps_address_and_login_last_and_no_upstream_banner():
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY", "DEMO_PASSWORD")}
    env.update(CHATAPP_VAR_DIR=tempfile.mkdtemp(prefix="chatapp-launcher-"),
               PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--migrate", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = _output_until_ready(process)
        # The printed address is the app's (its liveness probe answers there).
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as page:
            assert page.status == 200
    finally:
        process.terminate()
        process.wait(timeout=30)

    printed = "\n".join(lines)
    assert "Uvicorn running" not in printed and "Application startup complete" not in printed
    assert re.findall(r"http://\S+", printed) == [f"http://127.0.0.1:{port}/"]
    opened = lines.index(f"  Open   http://127.0.0.1:{port}/")
    assert re.fullmatch(r"  Log in as 'demo' with the password \S+  \(shown once\)",
                        lines[opened + 1])
    assert lines[opened + 2:] == ["", "Press Ctrl-C to stop.", "─" * 72]
    assert "manage.py createsuperuser" in printed  # how to reach /admin/costs/
    assert "OFFLINE DEMO UPSTREAM" in printed


def test_serve_itself_never_imports_the_sdk_so_daphne_starts_sooner():
    """The launcher only prepares the database and starts the processes; importing the
    anthropic SDK there (seconds of CPU, through the system checks' views or the billing
    modules) delayed daphne's start on every `make run`. Its children have their own imports:
    only the launcher runs with -X importtime."""
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY", "DEMO_PASSWORD")}
    env.update(CHATAPP_VAR_DIR=tempfile.mkdtemp(prefix="chatapp-launcher-"),
               PYTHONUNBUFFERED="1")
    with tempfile.TemporaryFile(mode="w+") as imports:
        process = subprocess.Popen(
            [sys.executable, "-X", "importtime", "manage.py", "serve", "--migrate",
             "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=imports, text=True)
        try:
            _output_until_ready(process)
        finally:
            process.terminate()
            process.wait(timeout=30)
        imports.seek(0)
        imported = [line.rsplit("|", 1)[-1].strip() for line in imports
                    if line.startswith("import time:")]
    assert "chatapp.runtime.launcher" in imported  # the launcher's imports were recorded
    assert not [name for name in imported if name.split(".")[0] == "anthropic"]
