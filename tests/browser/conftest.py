"""A real server for browser tests: daphne in its own process, on its own database,
talking to the offline upstream, driven by Debian's Chromium through Playwright."""

import os
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PASSWORD = "browser-test-password"
STAFF_USERNAME = "staff"  # a superuser for the admin's pages, with the same password
MEMBER_USERNAME = "colleague"  # a second plain user (a project shared with them), same password


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("daphne did not start")


def _database_url(tmp: Path):
    """SQLite in the embedded pass; a database of its own on the PostgreSQL server otherwise."""
    engine = django_settings.DATABASES["default"]["ENGINE"]
    if not engine.endswith("postgresql"):
        return f"sqlite:///{tmp / 'browser.sqlite3'}", None
    import psycopg

    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    name = f"chatapp_browser_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


@dataclass
class LiveApp:
    url: str
    username: str
    password: str
    upstream: object

    def login(self, page) -> None:
        page.goto(f"{self.url}/accounts/login/")
        page.get_by_label("Username").fill(self.username)
        page.get_by_label("Password").fill(self.password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{self.url}/")


@pytest.fixture(scope="session")
def live_server_process(offline_upstream):
    tmp = Path(tempfile.mkdtemp(prefix="chatapp-browser-"))
    database_url, drop_database = _database_url(tmp)
    port = _free_port()
    env = {
        **os.environ,
        "CHATAPP_VAR_DIR": str(tmp),
        "DATABASE_URL": database_url,
        "OFFLINE_UPSTREAM_URL": offline_upstream.base_url,
        "ANTHROPIC_API_KEY": "",
        "ANTHROPIC_MAX_RETRIES": "0",
        "DEMO_PASSWORD": PASSWORD,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CHATAPP_CHECKPOINT_SECONDS": "0.5",
        # Card numbers are redacted (tests/browser/test_content_flags.py); the whole suite
        # sends more messages a minute than a person would.
        "CHATAPP_CONTENT_ACTIONS": "card_number=redact",
        "CHATAPP_MESSAGE_RATE_LIMIT": "0",
        # The batch poller (started beside daphne, as `make run` does) looks often.
        "CHATAPP_BATCH_POLL_SECONDS": "0.2",
        "CHATAPP_BATCH_POLL_MAX_SECONDS": "0.5",
        "CHATAPP_BATCH_IDLE_SECONDS": "0.2",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run([*manage, *command, "--verbosity", "0"], env=env, cwd=ROOT, check=True)
    create_user = (
        "from chatapp.runtime.launcher import ensure_demo_user; ensure_demo_user(); "
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_superuser({STAFF_USERNAME!r}, password={PASSWORD!r}); "
        f"get_user_model().objects.create_user({MEMBER_USERNAME!r}, password={PASSWORD!r})"
    )
    subprocess.run([*manage, "shell", "-c", create_user], env=env, cwd=ROOT, check=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "chatapp.runtime.server", "-b", "127.0.0.1", "-p", str(port),
         "config.asgi:application"],
        env=env, cwd=ROOT,
    )
    poller = subprocess.Popen([*manage, "poll_batches"], env=env, cwd=ROOT)
    try:
        _wait_for_port(port, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in (server, poller):
            process.terminate()
        for process in (server, poller):
            process.wait(timeout=20)
        if drop_database:
            drop_database()


@pytest.fixture
def live_app(live_server_process, upstream):
    return LiveApp(live_server_process, "demo", PASSWORD, upstream)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_app):
    """A fresh browser context, logged in as the demo user."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    live_app.login(page)
    yield page
    context.close()
