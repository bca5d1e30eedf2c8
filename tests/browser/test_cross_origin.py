"""Cross-site WebSocket hijacking, tried for real: a page served from another port of the same
host, in the same Chromium as a logged-in user, opens the conversation socket.

Cookies do not care about ports: 127.0.0.1:<other> is the same site as the app, so Chromium
sends the user's session cookie with that page's handshake. Only the Origin check stands
between such a page and the user's conversations (docs/security.md).
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page

# The other page: opens the socket with whatever cookies the browser adds, and on success
# asks Claude something on the user's account, as an attacker would.
ATTACK_PAGE = """<!doctype html><title>innocent</title><script>
window.__result = null;
const ws = new WebSocket("%(socket)s");
const seen = [];
ws.onopen = () => seen.push("open");
ws.onmessage = (event) => {
  const frame = JSON.parse(event.data);
  seen.push(frame.type);
  if (frame.type === "ready") {
    ws.send(JSON.stringify({type: "user_message", text: "spend the victim's money"}));
  }
  if (frame.type === "message_created") window.__result = {seen, code: null};
};
ws.onclose = (event) => { window.__result = {seen, code: event.code}; };
</script>"""


@pytest.fixture
def other_origin():
    """An HTTP server on another port of 127.0.0.1 serving ATTACK_PAGE for a given socket."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()


def new_conversation(page: Page, app_url: str) -> int:
    page.goto(f"{app_url}/")
    return page.evaluate("""async () => {
      const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
      const response = await fetch("/api/conversations/", {method: "POST", body: "{}",
        headers: {"Content-Type": "application/json", "X-CSRFToken": token}});
      return (await response.json()).id;
    }""")


def test_a_page_on_another_port_of_the_same_host_cannot_use_the_users_socket(
    page: Page, live_app, other_origin
):
    origin, pages = other_origin
    conversation = new_conversation(page, live_app.url)
    socket_url = live_app.url.replace("http://", "ws://") + f"/ws/conversations/{conversation}/"
    pages["/attack.html"] = ATTACK_PAGE % {"socket": socket_url}

    page.goto(f"{origin}/attack.html")  # same browser, same cookies, another origin
    page.wait_for_function("() => window.__result !== null", timeout=15_000)
    result = page.evaluate("() => window.__result")
    # Refused at the handshake: the socket never opened, so nothing was read or sent.
    assert result["seen"] == [], result
    assert result["code"] == 1006  # what a browser reports for a refused handshake

    # Nothing was asked on the user's behalf.
    page.goto(f"{live_app.url}/")
    messages = page.evaluate(
        f"""async () => (await (await fetch("/api/conversations/{conversation}/")).json())
            .messages.length"""
    )
    assert messages == 0
