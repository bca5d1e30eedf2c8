"""`make test-image`: the container image and compose.yaml, for real, under podman.

Builds the image from Containerfile (on base images scripts/container/base-images.sh made from
Debian's packages when no registry can be reached), starts compose.yaml's stack under a project
name of its own, and uses it as a user would: logs in over HTTP, uploads a file, gets a streamed
reply over the WebSocket from the offline upstream, restarts the whole stack and finds the
upload again. Everything it made (containers, network, volumes) is removed at the end, pass or
fail. The images stay, so that a second run only rebuilds what changed; an app image a new
build supersedes is removed; scripts/container/remove-images.sh removes them all.

Not collected by pytest (no test_ prefix): it needs root and podman, and takes minutes.
Exit status 0 pass, 1 fail.
"""

import http.cookiejar
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "chatapp-imagetest"
IMAGE = "localhost/chatapp:imagetest"
PYTHON_IMAGE = "docker.io/library/python:3.11-slim-bookworm"
USERNAME, PASSWORD = "imagetest", "image-test-" + secrets.token_urlsafe(8)
TIMEOUT = 20
UPLOAD = ("notes.txt", f"The container keeps this file: {uuid.uuid4()}\n".encode())


def log(message: str) -> None:
    print(f"[test-image {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(*args: str, check: bool = True, quiet: bool = False, **kwargs: Any):
    """A command in the project's directory; its output shown unless quiet."""
    output = subprocess.PIPE if quiet else None
    result = subprocess.run(list(args), cwd=ROOT, stdout=output, stderr=output, text=True,
                            **kwargs)
    if check and result.returncode:
        raise AssertionError(f"{' '.join(args)} exited with {result.returncode}"
                             + (f":\n{result.stdout}{result.stderr}" if quiet else ""))
    return result


def compose(*args: str, **kwargs: Any):
    return run("podman-compose", "-p", PROJECT, "-f", "compose.yaml", *args, **kwargs)


def container(service: str) -> str:
    return f"{PROJECT}_{service}_1"  # podman-compose's naming


def wait_until(what: str, ready: Callable[[], bool], timeout: float = 120) -> None:
    """Poll a condition that has no event to wait on (a server coming up)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.5)


def image_exists(name: str) -> bool:
    return run("podman", "image", "exists", name, check=False, quiet=True).returncode == 0


def image_id(name: str) -> str | None:
    found = run("podman", "image", "inspect", "--format", "{{.Id}}", name, check=False, quiet=True)
    return found.stdout.strip() if found.returncode == 0 else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """HTTP with a cookie jar and CSRF, and the conversation WebSocket: what the page does."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.http = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def _cookie(self, name: str) -> str:
        return next(c.value for c in self.cookies if c.name == name)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with self.http.open(self.base + path, timeout=TIMEOUT) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def post(self, path: str, body: bytes, content_type: str) -> Any:
        request = urllib.request.Request(self.base + path, data=body, method="POST", headers={
            "Content-Type": content_type, "X-CSRFToken": self._cookie("csrftoken"),
            "Referer": self.base + "/"})
        with self.http.open(request, timeout=TIMEOUT) as response:
            return json.loads(response.read())

    def login(self) -> None:
        status, page = self.get("/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        form = urllib.parse.urlencode(
            {"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(self.base + "/accounts/login/", data=form,
                                         headers={"Referer": self.base + "/"})
        self.http.open(request, timeout=TIMEOUT).close()
        assert any(c.name == "sessionid" for c in self.cookies), "login did not give a session"
        status, page = self.get("/")
        assert status == 200 and USERNAME.encode() in page, "the chat page after login"

    def upload(self, conversation: int, name: str, data: bytes) -> dict[str, Any]:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n").encode()
        body += data + f"\r\n--{boundary}--\r\n".encode()
        return self.post(f"/api/conversations/{conversation}/attachments/", body,
                         f"multipart/form-data; boundary={boundary}")

    def streamed_reply(self, conversation: int, text: str) -> tuple[str, dict[str, Any]]:
        """Send a message; the reply as rebuilt from its deltas, and its completion frame."""
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        url = self.base.replace("http://", "ws://") + f"/ws/conversations/{conversation}/"
        with connect(url, additional_headers={"Cookie": cookies, "Origin": self.base},
                     open_timeout=TIMEOUT) as ws:
            receive = lambda: json.loads(ws.recv(timeout=60))  # noqa: E731
            while receive()["type"] != "ready":
                pass
            ws.send(json.dumps({"type": "user_message", "text": text}))
            streamed, deltas = "", 0
            while True:
                frame = receive()
                assert frame["type"] != "error", frame
                if frame["type"] == "delta":
                    streamed, deltas = streamed + frame["text"], deltas + 1
                elif frame["type"] == "message_completed" and deltas:
                    return streamed, {**frame, "deltas": deltas}


def use_runc() -> None:
    """Settings for every podman call of this run. runc: Debian 12's crun refuses these
    machines' hybrid cgroups ("cgroups in hybrid mode not supported"). Limits: podman's
    defaults (a million files and processes) cannot be set without CAP_SYS_RESOURCE, which
    root in these sandboxes lacks, so modest ones below the host's."""
    files = min(16384, resource.getrlimit(resource.RLIMIT_NOFILE)[1] // 2)
    conf = Path(tempfile.gettempdir()) / "chatapp-imagetest-containers.conf"
    conf.write_text(f'[containers]\ndefault_ulimits = ["nofile={files}:{files}", '
                    '"nproc=4096:4096"]\n[engine]\nruntime = "runc"\n')
    os.environ["CONTAINERS_CONF"] = str(conf)


def prerequisites() -> str | None:
    missing = [tool for tool in ("podman", "podman-compose", "mmdebstrap", "runc")
               if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed"
    if os.geteuid() != 0:
        return "not root (the base images and rootful podman need it)"
    use_runc()
    probe = run("podman", "run", "--rm", "--network", "none", PYTHON_IMAGE, "true",
                check=False, quiet=True) if image_exists(PYTHON_IMAGE) else run(
        "podman", "info", check=False, quiet=True)
    if probe.returncode:
        return f"podman cannot run here: {probe.stderr.strip()[-300:]}"
    return None


def build() -> subprocess.Popen:
    """The app image; the base images the stack needs beyond it are made alongside, in the
    process returned (wait for it before starting the stack)."""
    started = time.monotonic()
    base_images = ["bash", "scripts/container/base-images.sh"]
    node_image = run(*base_images, "--node-image", quiet=True).stdout.strip()
    services = subprocess.Popen([*base_images, "postgres", "redis"], cwd=ROOT,
                                start_new_session=True)
    try:
        run(*base_images, "python", "node")
        log(f"base images for the build ready in {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        before = image_id(IMAGE)
        # Docker format: OCI images have no HEALTHCHECK. Host network: the build's pip and npm.
        # Node: the host's, as base-images.sh explains.
        run("podman", "build", "--quiet", "--format", "docker", "--network", "host",
            "--build-arg", f"NODE_IMAGE={node_image}", "-f", "Containerfile", "-t", IMAGE, ".",
            quiet=True)
        log(f"image built in {time.monotonic() - started:.0f} s")
    except BaseException:
        os.killpg(services.pid, signal.SIGTERM)  # mmdebstrap removes its work on SIGTERM
        services.wait()
        raise
    if before and before != image_id(IMAGE):
        # The previous run's image, now untagged: removed with the layers only it used. The
        # current one and the build's cached layers stay (they make the next run quick).
        run("podman", "rmi", before, check=False, quiet=True)
    return services


def wait_for(services: subprocess.Popen) -> None:
    started = time.monotonic()
    if services.wait():
        raise AssertionError(f"base-images.sh postgres redis exited with {services.returncode}")
    log(f"base images for the stack ready ({time.monotonic() - started:.0f} s more)")


def start_stack() -> None:
    """In the order a podman-compose user follows (it ignores depends_on conditions)."""
    compose("up", "-d", "db", "redis", quiet=True)
    wait_until("PostgreSQL ready", lambda: run(
        "podman", "exec", container("db"), "pg_isready", "-h", "127.0.0.1", "-U", "chatapp",
        check=False, quiet=True).returncode == 0)
    compose("run", "--rm", "migrate", quiet=True)
    compose("up", "-d", quiet=True)


def wait_ready(base: str) -> None:
    def answers(path: str) -> bool:
        try:
            with urllib.request.urlopen(base + path, timeout=5) as response:
                return response.status == 200
        except (OSError, urllib.error.HTTPError):
            return False
    wait_until("GET /healthz", lambda: answers("/healthz"), timeout=180)
    # Database migrated, Redis reached, and the poller container's heartbeat seen.
    wait_until("GET /readyz", lambda: answers("/readyz"), timeout=120)


def check_image_facts() -> None:
    uid = run("podman", "exec", container("app"), "id", "-u", quiet=True).stdout.strip()
    assert uid != "0", "the app runs as root"
    run("podman", "healthcheck", "run", container("app"), quiet=True)  # the image's HEALTHCHECK
    log(f"app runs as uid {uid}; the image's HEALTHCHECK passes")


def strings(value: Any) -> list[str]:
    """Every string in a JSON document (where the API puts a message's text may change)."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in strings(item)]


def scenario(base: str) -> None:
    browser = Browser(base)
    browser.login()
    conversation = browser.post("/api/conversations/", b"{}", "application/json")["id"]
    attachment = browser.upload(conversation, *UPLOAD)
    streamed, done = browser.streamed_reply(conversation, "Say hello from the container")
    assert done["status"] == "complete" and streamed.strip(), done
    log(f"logged in, uploaded, reply streamed in {done['deltas']} deltas")

    compose("down", quiet=True)  # containers go, volumes stay
    start_stack()
    wait_ready(base)
    again = Browser(base)
    again.login()
    status, data = again.get(
        f"/api/conversations/{conversation}/attachments/{attachment['id']}/file/")
    assert (status, data) == (200, UPLOAD[1]), f"upload after restart: {status} {data[:80]!r}"
    status, detail = again.get(f"/api/conversations/{conversation}/")
    assert status == 200 and streamed in strings(json.loads(detail)), "reply after restart"
    log("after a restart of the stack the upload and the reply are still there")


def teardown(env_file: Path | None = None) -> None:
    label = f"label=io.podman.compose.project={PROJECT}"
    # Containers with their anonymous volumes (redis's /data) first: podman-compose's
    # `down -v` removes only the named ones.
    ids = run("podman", "ps", "-aq", "--filter", label, check=False, quiet=True).stdout.split()
    if ids:
        run("podman", "rm", "-f", "-v", *ids, check=False, quiet=True)
    compose("down", "-v", check=False, quiet=True)
    for kind in ("container", "volume", "network"):
        listing = ("ps", "-a") if kind == "container" else (kind, "ls")
        left = run("podman", *listing, "-q", "--filter", label,
                   check=False, quiet=True).stdout.split()
        if left:
            run("podman", kind, "rm", "-f", *left, check=False, quiet=True)
    run("podman", "network", "rm", "-f", f"{PROJECT}_default", check=False, quiet=True)
    if env_file:
        env_file.unlink(missing_ok=True)


def main() -> int:
    reason = prerequisites()
    if reason:
        print(f"test-image NOT RUN: {reason}", file=sys.stderr)
        return 2
    started = time.monotonic()
    port = free_port()
    env_file = Path(tempfile.mkstemp(prefix="chatapp-imagetest-", suffix=".env")[1])
    env_file.write_text("\n".join([
        "SECRET_KEY=" + secrets.token_urlsafe(50),
        "ANTHROPIC_API_KEY=",
        "ALLOWED_HOSTS=localhost,127.0.0.1",
        f"DJANGO_SUPERUSER_USERNAME={USERNAME}",
        f"DJANGO_SUPERUSER_PASSWORD={PASSWORD}",
        "DJANGO_SUPERUSER_EMAIL=imagetest@example.com",
    ]) + "\n")
    os.environ.update({
        "CHATAPP_ENV_FILE": str(env_file), "CHATAPP_IMAGE": IMAGE, "CHATAPP_PORT": str(port),
        "CHATAPP_BIND": "127.0.0.1", "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
    })
    base = f"http://127.0.0.1:{port}"
    teardown()  # whatever an interrupted earlier run left
    try:
        wait_for(build())
        start_stack()
        compose("run", "--rm", "migrate", "python", "manage.py", "createsuperuser",
                "--noinput", quiet=True)
        wait_ready(base)
        check_image_facts()
        scenario(base)
    except Exception:
        log("FAILED; the app's last log lines:")
        run("podman", "logs", "--tail", "40", container("app"), check=False)
        raise
    finally:
        teardown(env_file)
        log(f"torn down; {time.monotonic() - started:.0f} s in all")
    log("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
