"""Take the README's screenshots in real Chromium: `make screenshots` → docs/screenshots/*.png.

Starts what `make run` starts (offline upstream, daphne) on a throwaway database, then drives
/usr/bin/chromium through Playwright as a person would: a chat with a code block, a
conversation about a document, one about a picture, and the cost review in the admin. Run
it again after changing the page and the pictures stay current.
"""

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "screenshot-password"
VIEWPORT = {"width": 1280, "height": 800}
DOCUMENT = """Lease agreement (summary)

The tenant pays 1,450 EUR rent on the first working day of each month.
Either party may end the lease with three months' notice, in writing.
Pets are allowed with the landlord's written consent.
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args[2]} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered on port {port}")


@contextmanager
def running_app():
    """(url, environment) of a fresh chatapp on the offline upstream; stopped afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="chatapp-screens-"))
    upstream_port, port = free_port(), free_port()
    env = {**os.environ, "CHATAPP_VAR_DIR": str(tmp),
           "DATABASE_URL": f"sqlite:///{tmp / 'screens.sqlite3'}",
           "OFFLINE_UPSTREAM_URL": f"http://127.0.0.1:{upstream_port}",
           "ANTHROPIC_API_KEY": "", "DEMO_PASSWORD": PASSWORD,
           "OFFLINE_UPSTREAM_TOKENS_PER_SECOND": "0"}
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run([*manage, *command, "--verbosity", "0"], env=env, cwd=ROOT, check=True)
    staff_demo = ("from chatapp.runtime.launcher import ensure_demo_user; ensure_demo_user(); "
                  "from django.contrib.auth import get_user_model; "
                  "get_user_model().objects.filter(username='demo')"
                  ".update(is_staff=True, is_superuser=True)")
    subprocess.run([*manage, "shell", "-c", staff_demo], env=env, cwd=ROOT, check=True)
    children = [
        subprocess.Popen([sys.executable, "-m", "chatapp.offline_upstream", "--port",
                          str(upstream_port), "--tokens-per-second", "0"], env=env, cwd=ROOT),
        subprocess.Popen([sys.executable, "-m", "chatapp.runtime.server", "-b", "127.0.0.1",
                          "-p", str(port), "config.asgi:application"], env=env, cwd=ROOT),
    ]
    try:
        wait_for(upstream_port, children[0])
        wait_for(port, children[1])
        yield f"http://127.0.0.1:{port}"
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)


def picture() -> bytes:
    """A small landscape drawn with Pillow: sky, sun, hills."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (960, 640), "#8ec5ff")
    draw = ImageDraw.Draw(image)
    draw.ellipse((680, 80, 820, 220), fill="#ffd24a")
    draw.polygon([(0, 640), (0, 420), (300, 300), (620, 460), (960, 340), (960, 640)],
                 fill="#3f8f4a")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def ask(page, text: str) -> None:
    from playwright.sync_api import expect

    box = page.get_by_role("textbox", name="Message Claude")
    box.fill(text)
    send = page.get_by_role("button", name="Send", exact=True)
    expect(send).to_be_enabled(timeout=30_000)
    box.press("Enter")
    footer = page.locator("#messages .msg-assistant").last.locator(".msg-footer")
    expect(footer).to_be_visible(timeout=60_000)


def new_chat(page, url: str) -> None:
    page.goto(f"{url}/")
    page.get_by_role("button", name="New chat", exact=True).click()
    page.wait_for_url(f"{url}/c/*/")


def attach(page, name: str, mime: str, data: bytes) -> None:
    from playwright.sync_api import expect

    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach files").click()
    chooser.value.set_files(files=[{"name": name, "mimeType": mime, "buffer": data}])
    expect(page.locator("#attachment-tray")).to_contain_text(name, timeout=30_000)


def shoot(page, name: str) -> None:
    page.mouse.move(0, 0)
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshots: {path.relative_to(ROOT)}")


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with running_app() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport=VIEWPORT, color_scheme="light").new_page()
        page.goto(f"{url}/accounts/login/")
        page.get_by_label("Username").fill("demo")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{url}/")

        new_chat(page, url)
        ask(page, "How do I read a file line by line in Python? [[tokens:120]]")
        shoot(page, "chat")

        new_chat(page, url)
        attach(page, "lease.txt", "text/plain", DOCUMENT.encode())
        ask(page, "How much notice do I need to give? [[tokens:80]]")
        shoot(page, "document")

        new_chat(page, url)
        attach(page, "landscape.png", "image/png", picture())
        ask(page, "What is in this picture? [[tokens:80]]")
        shoot(page, "vision")

        page.goto(f"{url}/admin/costs/")
        page.wait_for_load_state("networkidle")
        shoot(page, "cost-review")
        browser.close()


if __name__ == "__main__":
    main()
