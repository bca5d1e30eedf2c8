"""`make run`: the whole app in one command, stopped by one Ctrl-C.

Creates the demo user on first start, starts the offline upstream when no API key is set,
then daphne, and prints where to log in. Children are stopped together on Ctrl-C/SIGTERM.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth import get_user_model

DEMO_USERNAME = "demo"


def ensure_demo_user() -> str | None:
    """Create the demo user once. Returns the generated password, if one was generated."""
    users = get_user_model()
    if users.objects.filter(username=DEMO_USERNAME).exists():
        return None
    password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
    users.objects.create_user(DEMO_USERNAME, password=password)
    return None if os.environ.get("DEMO_PASSWORD") else password


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen) -> None:
    """Until something accepts connections on host:port (or the child died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited with {process.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"Nothing answered on {host}:{port} after {timeout:.0f} s")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _spawn(args: Sequence[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(list(args), env=env)


def run(host: str, port: int, upstream_port: int, *, migrate: bool = False) -> int:
    """Start everything, print where to log in once the app answers, wait for Ctrl-C.

    Ordered for a quick start (docs/operations.md, "Start-up"): the offline upstream needs
    nothing of ours and starts first, while this process migrates and tidies the database;
    daphne and the batch poller then start side by side, and the login is printed as soon as
    daphne's port answers."""
    env = dict(os.environ)
    children: list[subprocess.Popen] = []
    offline = not settings.ANTHROPIC_API_KEY
    # From the first child on, SIGTERM stops them too (the upstream starts before the rest).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if offline:
            # Its own "Uvicorn running on http://127.0.0.1:…" is not the address to open:
            # only its warnings and errors are shown.
            upstream = _spawn(
                [sys.executable, "-m", "chatapp.offline_upstream",
                 "--host", "127.0.0.1", "--port", str(upstream_port), "--log-level", "warning"],
                env,
            )
            children.append(upstream)
            env["OFFLINE_UPSTREAM_URL"] = f"http://127.0.0.1:{upstream_port}"
        password, orphans = _prepare_database(migrate)
        server = _spawn(
            # daphne, with WebSocket compression (chatapp/runtime/server.py).
            [sys.executable, "-m", "chatapp.runtime.server", "-b", host, "-p", str(port),
             "config.asgi:application"],
            env,
        )
        children.append(server)
        # Batch jobs are submitted, polled and collected by their own worker process.
        manage = str(settings.BASE_DIR / "manage.py")
        children.append(_spawn([sys.executable, manage, "poll_batches"], env))
        wait_for_port(host, port, 60, server)
        if offline:
            wait_for_port("127.0.0.1", upstream_port, 20, upstream)  # long up by now
        _announce(host, port, password, orphans, offline=offline)
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                # daphne first lets its replies finish (chatapp/replies/shutdown.py).
                child.wait(timeout=settings.CHATAPP_SHUTDOWN_GRACE_SECONDS + 10)
            except subprocess.TimeoutExpired:
                child.kill()


def _prepare_database(migrate: bool) -> tuple[str | None, int]:
    """Before daphne and the poller start: pending migrations, the demo user, replies an
    earlier run left streaming, and (with an API key) the model catalog. Returns the demo
    user's new password (if one was made) and how many replies were marked interrupted.

    Nothing here imports the anthropic SDK unless it has work for it (a catalog to sync, an
    orphan to bill): that import is seconds of CPU this process otherwise never needs."""
    from chatapp.operations import startup
    from chatapp.policies.replies import process_policy
    from chatapp.replies.recovery import mark_orphaned_replies

    if migrate:
        startup.migrate_if_needed()
    password = ensure_demo_user()
    orphans = mark_orphaned_replies(process_policy())
    if settings.ANTHROPIC_API_KEY:
        from chatapp.runtime.catalog_sync import sync_catalog

        print(sync_catalog(), flush=True)
    return password, orphans


RULE = "─" * 72


def announce_lines(
    host: str, port: int, password: str | None, orphans: int, *, offline: bool
) -> list[str]:
    """What `make run` prints once everything answers: notes first, then the address to open
    and the login, last, where a new user looks."""
    lines = ["", RULE]
    if offline:
        lines.append(
            "No ANTHROPIC_API_KEY is set: replies come from the OFFLINE DEMO UPSTREAM, a local\n"
            "stand-in for the Claude API. Set ANTHROPIC_API_KEY to talk to Claude."
        )
    if orphans:
        lines.append(f"{orphans} reply(ies) left streaming by an earlier run marked interrupted.")
    lines.append(
        "Staff pages (/admin/, the cost review /admin/costs/) need a staff account:\n"
        "  .venv/bin/python manage.py createsuperuser"
    )
    lines += ["", f"  Open   http://{_shown_host(host)}:{port}/",
              f"  Log in as '{DEMO_USERNAME}'" + (
                  f" with the password {password}  (shown once)" if password else
                  f"  (forgot the password? .venv/bin/python manage.py changepassword "
                  f"{DEMO_USERNAME})"),
              "", "Press Ctrl-C to stop.", RULE, ""]
    return lines


def _shown_host(host: str) -> str:
    """A host a browser can open: the wildcard addresses mean this machine."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _announce(host: str, port: int, password: str | None, orphans: int, *, offline: bool) -> None:
    print("\n".join(announce_lines(host, port, password, orphans, offline=offline)), flush=True)
