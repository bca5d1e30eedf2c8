"""Site-wide protections (docs/security.md): security headers and the CSP, no inline code in
pages, CSRF on every view, login throttling, and the API key kept out of the logs (out of
pages: tests/test_settings.py)."""

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.factories import PASSWORD, make_user
from tests.servers import PASSWORD as PASSWORD_FOR_SERVERS
from tests.servers import Servers

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return make_user("member")


@pytest.fixture
def member_client(member):
    client = Client()
    client.force_login(member)
    return client


# --- Headers ---------------------------------------------------------------------------------


def csp_of(response) -> dict[str, str]:
    directives = (part.strip() for part in response["Content-Security-Policy"].split(";"))
    return dict(d.split(" ", 1) for d in directives if d)


@pytest.mark.parametrize("url", ["/", "/api/models/", "/accounts/login/"])
def test_every_answer_carries_the_security_headers(url, member_client):
    response = member_client.get(url)
    csp = csp_of(response)
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert csp["default-src"] == "'self'" and csp["base-uri"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


class _InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, styles and event handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and "src" not in attributes and attributes.get("type") != (
            "application/json"
        ):
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> block")
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")


@pytest.mark.parametrize("url", ["/", "/accounts/login/"])
def test_pages_have_no_inline_scripts_styles_or_handlers(url, member_client):
    client = member_client if url == "/" else Client()
    parser = _InlineCode()
    parser.feed(client.get(url).content.decode())
    assert parser.found == []


# --- CSRF --------------------------------------------------------------------------------------


def _views(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            yield str(pattern.pattern), pattern.callback


def test_no_view_is_exempt_from_the_csrf_check():
    exempt = [route for route, view in _views(get_resolver().url_patterns)
              if getattr(view, "csrf_exempt", False)]
    assert exempt == []


def test_a_post_without_the_token_gets_a_plain_words_json_error(member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post("/api/conversations/", "{}", content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"error": "CSRF check failed: reload the page and try again."}


# --- Login throttling ----------------------------------------------------------------------------


def log_in(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_repeated_failed_logins_pause_logging_in_with_a_clear_message(settings, member):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(2):
        assert log_in(client, "member", "wrong").status_code == 200  # the form, with its error
    locked = log_in(client, "member", "wrong")
    assert locked.status_code == 429
    assert b"Too many attempts" in locked.content and b"paused for 15 minutes" in locked.content
    # Even the right password is refused while paused, and nobody gets logged in.
    assert log_in(client, "member", PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_pause_is_per_account_and_a_success_clears_the_count(settings, member):
    settings.AXES_FAILURE_LIMIT = 3
    make_user("colleague")
    client = Client()
    for _ in range(2):
        log_in(client, "member", "wrong")
    assert log_in(client, "member", PASSWORD).status_code == 302  # in: the count starts over
    for _ in range(2):
        log_in(Client(), "member", "wrong")
    assert log_in(Client(), "member", PASSWORD).status_code == 302
    for _ in range(3):
        log_in(Client(), "colleague", "wrong")
    assert log_in(Client(), "member", PASSWORD).status_code == 302  # the colleague's pause only


# --- The API key ---------------------------------------------------------------------------------

SECRET_KEY_VALUE = "sk-ant-api03-test-secret-value-0123456789"

# A reply at full debug logging (SDK, httpx, Django), then a careless log line quoting the key.
_LOGGING_RUN = f"""
import asyncio, logging
from django.conf import settings
from chatapp.claude import messages
from chatapp.claude.prompt import Turn, build_request, user_content
request = build_request(model="claude-haiku-4-5", turns=[Turn("user", user_content("hi"))],
                        max_tokens=50, system_prompt="")
print(asyncio.run(messages.complete(request)).text[:10])
logging.getLogger("chatapp").error("careless: key=%s", settings.ANTHROPIC_API_KEY)
try:
    raise RuntimeError("{SECRET_KEY_VALUE}")
except RuntimeError:
    logging.getLogger("chatapp").exception("failed")
"""


def test_the_api_key_never_reaches_the_logs_even_at_debug_level(upstream, tmp_path):
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": SECRET_KEY_VALUE,
        "ANTHROPIC_BASE_URL": upstream.base_url,
        "ANTHROPIC_LOG": "debug",
        "LOG_LEVEL": "DEBUG",
        "CHATAPP_VAR_DIR": str(tmp_path),
    }
    run = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", _LOGGING_RUN],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "You asked" in run.stdout  # the reply really went through the SDK
    assert "HTTP Request: POST" in run.stderr  # and the debug logs were on
    assert SECRET_KEY_VALUE not in run.stdout + run.stderr
    assert "careless: key=[redacted API key]" in run.stderr


# --- Real server processes: addresses behind proxies, origins and frames on the wire ------------


class ProxyHeaderServers(Servers):
    """Servers started the way docs/operations.md starts them behind a proxy."""

    def _spawn(self, port: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "chatapp.runtime.server", "-b", "127.0.0.1", "-p", str(port),
             "--proxy-headers", "config.asgi:application"],
            env=self.env, cwd=ROOT, stderr=subprocess.DEVNULL,
        )


@pytest.fixture(scope="module")
def direct_server(offline_upstream):
    """One process reached directly (no proxy in front) and no CHATAPP_TRUSTED_PROXIES."""
    servers = ProxyHeaderServers(offline_upstream, CHATAPP_LOGIN_FAILURE_LIMIT="3")
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def server_behind_proxy(offline_upstream):
    """One process whose connections come from a trusted proxy on 127.0.0.1."""
    servers = ProxyHeaderServers(
        offline_upstream, CHATAPP_LOGIN_FAILURE_LIMIT="3", CHATAPP_TRUSTED_PROXIES="127.0.0.1"
    )
    yield servers
    servers.stop()


def login_attempts(base_url: str):
    """A browser-like login form poster: ``attempt(password, forwarded_for) → status``."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), _NoRedirects()
    )
    page = opener.open(f"{base_url}/accounts/login/", timeout=20).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    def attempt(password: str, forwarded_for: str | None = None) -> int:
        form = urllib.parse.urlencode(
            {"username": "demo", "password": password, "csrfmiddlewaretoken": token}
        ).encode()
        headers = {"Referer": base_url}
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        request = urllib.request.Request(f"{base_url}/accounts/login/", data=form,
                                         headers=headers)
        try:
            return opener.open(request, timeout=20).status
        except urllib.error.HTTPError as error:
            return error.code

    return attempt


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a successful login's 302 is the answer itself


def test_rotating_x_forwarded_for_does_not_dodge_the_login_lockout(direct_server):
    attempt = login_attempts(direct_server.url())
    statuses = [attempt("wrong", f"203.0.113.{n}") for n in range(1, 6)]
    assert statuses[:2] == [200, 200]  # the form again, with its error
    assert set(statuses[2:]) == {429}  # paused: every address was the connection's own
    assert attempt(PASSWORD_FOR_SERVERS, "198.51.100.1") == 429


def test_behind_a_trusted_proxy_the_lockout_counts_the_forwarded_address(server_behind_proxy):
    attempt = login_attempts(server_behind_proxy.url())
    assert [attempt("wrong", "203.0.113.5") for _ in range(3)] == [200, 200, 429]
    # A client cannot shed its address by writing one of its own in front of it.
    assert attempt("wrong", "198.51.100.1, 203.0.113.5") == 429
    # Someone else behind the same proxy logs in.
    assert attempt(PASSWORD_FOR_SERVERS, "203.0.113.6") == 302


@pytest.mark.parametrize("origin", [
    "http://127.0.0.1:9999", "https://127.0.0.1", "http://localhost:4444", "http://localhost",
    "null",
])
def test_the_real_server_refuses_a_handshake_from_another_origin(direct_server, origin):
    conversation = direct_server.new_conversation()
    cookies = "; ".join(f"{c.name}={c.value}" for c in direct_server.cookies)
    url = f"ws://127.0.0.1:{direct_server.ports[0]}/ws/conversations/{conversation}/"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers={"Cookie": cookies, "Origin": origin}, open_timeout=20)
    assert refused.value.response.status_code == 403
    _, frames = direct_server.socket(conversation)  # its own origin still gets in
    assert frames[-1]["type"] == "ready"


def test_a_frame_over_1_mb_closes_the_socket_with_message_too_big(direct_server):
    ws, _ = direct_server.socket(direct_server.new_conversation())
    ws.send(json.dumps({"type": "user_message", "text": "x" * (1536 * 1024)}))
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=20)
    assert closed.value.rcvd is not None, "dropped without a close frame (1006)"
    assert closed.value.rcvd.code == 1009  # RFC 6455: message too big
