"""Real daphne processes for tests that need whole servers: several processes on one site,
SIGTERM, a process killed mid-reply. Each set of servers gets a database of its own (a SQLite
file, or a fresh database on the PostgreSQL server in the services pass) and talks to the
offline upstream; a test drives it over HTTP and WebSocket like a browser would."""

import atexit
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "process-test-password"
TIMEOUT = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres() -> bool:
    return django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


# Migrating takes seconds: it is done once, into a template every Database copies.
_TEMPLATE: dict[str, Any] = {}
SETUP = (
    "from django.core.management import call_command; call_command('migrate', verbosity=0); "
    "from chatapp.runtime.launcher import ensure_demo_user; ensure_demo_user()"
)


class Database:
    """A migrated database with the demo user, readable from the test without Django."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        if _postgres():
            self._base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
            self._name = f"chatapp_proc_{uuid.uuid4().hex[:8]}"
            self.url = f"{self._base}/{self._name}"
            self._admin(f'CREATE DATABASE "{self._name}" TEMPLATE "{self._template(env)}"')
        else:
            self._path = tmp / "servers.sqlite3"
            self.url = f"sqlite:///{self._path}"
            shutil.copyfile(self._template(env), self._path)

    def _template(self, env: dict[str, str]) -> str:
        if "name" not in _TEMPLATE:
            if _postgres():
                name = f"chatapp_proc_template_{uuid.uuid4().hex[:8]}"
                self._admin(f'CREATE DATABASE "{name}"')
                url = f"{self._base}/{name}"
            else:
                name = str(Path(tempfile.mkdtemp(prefix="chatapp-template-")) / "db.sqlite3")
                url = f"sqlite:///{name}"
            manage = [sys.executable, str(ROOT / "manage.py"), "shell", "-c", SETUP]
            subprocess.run(manage, env={**env, "DATABASE_URL": url}, cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)
            _TEMPLATE["name"] = name
            if _postgres():
                atexit.register(self._admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return _TEMPLATE["name"]

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self._base}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def row(self, sql: str, *params: Any) -> tuple | None:
        if _postgres():
            import psycopg

            with psycopg.connect(self.url) as conn:
                return conn.execute(sql.replace("?", "%s"), params).fetchone()
        with sqlite3.connect(self._path) as conn:
            return conn.execute(sql, params).fetchone()

    def message(self, message_id: int) -> dict[str, Any]:
        status, content, error_code, output = self.row(
            "SELECT status, content, error_code, output_tokens FROM chatapp_message WHERE id = ?",
            message_id,
        )
        content = json.loads(content) if isinstance(content, str) else content
        text = "".join(b.get("text", "") for b in content if b.get("type") == "text")
        return {"status": status, "text": text, "error_code": error_code, "output_tokens": output}

    def drop(self) -> None:
        if _postgres():
            self._admin(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')


class Servers:
    """``count`` daphne processes on one database (and, in the services pass, one Redis)."""

    def __init__(self, upstream, count: int = 1, **env: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="chatapp-servers-"))
        self.env = {
            **os.environ,
            "CHATAPP_VAR_DIR": str(self.tmp),
            "OFFLINE_UPSTREAM_URL": upstream.base_url,
            "ANTHROPIC_API_KEY": "",
            "ANTHROPIC_MAX_RETRIES": "0",
            "DEMO_PASSWORD": PASSWORD,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECRET_KEY": "servers-test-" + uuid.uuid4().hex,
            "CHATAPP_PLAIN_STATIC": "true",
            "CHATAPP_CHECKPOINT_SECONDS": "0.3",
            "CHATAPP_HEARTBEAT_SECONDS": "0.5",
            **env,
        }
        self.database = Database(self.tmp, self.env)
        self.env["DATABASE_URL"] = self.database.url
        self.ports = [free_port() for _ in range(count)]
        self.processes = [self.spawn(port) for port in self.ports]
        for port, process in zip(self.ports, self.processes, strict=True):
            _wait_for(port, process)
        self._sockets = ExitStack()
        self.cookies = http.cookiejar.CookieJar()
        self.http = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self._login()

    def spawn(self, port: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "chatapp.runtime.server", "-b", "127.0.0.1", "-p", str(port),
             "config.asgi:application"],
            env=self.env, cwd=ROOT, stderr=subprocess.DEVNULL,
        )

    def url(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.cookies if c.name == name)

    def _login(self) -> None:
        page = self.http.open(f"{self.url()}/accounts/login/", timeout=TIMEOUT).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode(
            {"username": "demo", "password": PASSWORD, "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(
            f"{self.url()}/accounts/login/", data=form, headers={"Referer": self.url()}
        )
        self.http.open(request, timeout=TIMEOUT)
        assert self.cookie("sessionid")

    def post(self, path: str, body: dict[str, Any], timeout: float = TIMEOUT) -> Any:
        """POST JSON to process 0 as the logged-in user (with the CSRF token); the JSON answer."""
        request = urllib.request.Request(
            f"{self.url()}{path}", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "X-CSRFToken": self.cookie("csrftoken"),
                     "Referer": self.url()},
        )
        return json.loads(self.http.open(request, timeout=timeout).read())

    def new_conversation(self) -> int:
        return self.post("/api/conversations/", {})["id"]

    def socket(self, conversation_id: int, index: int = 0):
        """A WebSocket to process ``index``, already past its ``ready`` frame (returned too)."""
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        ws = self._sockets.enter_context(connect(
            f"ws://127.0.0.1:{self.ports[index]}/ws/conversations/{conversation_id}/",
            additional_headers={"Cookie": cookies, "Origin": self.url(index)},
            open_timeout=TIMEOUT,
        ))
        frames = []
        while not frames or frames[-1]["type"] != "ready":
            frames.append(receive(ws))
        return ws, frames

    def signal(self, index: int, signum: int) -> None:
        self.processes[index].send_signal(signum)

    def stop(self) -> None:
        with suppress(Exception):
            self._sockets.close()
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.database.drop()


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}")
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError("daphne did not start")


def receive(ws) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=TIMEOUT))


def frames_until(ws, frame_type: str, message_id: int | None = None) -> list[dict[str, Any]]:
    """Every frame up to and including the first of ``frame_type`` (for ``message_id``)."""
    frames = []
    while True:
        frame = receive(ws)
        frames.append(frame)
        if frame["type"] == frame_type and message_id in (None, frame.get("message_id")):
            return frames


def send(ws, **frame: Any) -> None:
    ws.send(json.dumps(frame))
