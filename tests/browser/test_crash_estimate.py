"""In the browser: a reply whose server process was killed mid-reply shows its cost as an
estimate ("≈ … (estimate)"), not "unpriced" (issue 24 item 7)."""

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.replies.test_crash_billing import kill_mid_reply_and_recover
from tests.servers import PASSWORD, ROOT, Servers

pytestmark = pytest.mark.browser


def test_a_killed_reply_shows_its_estimated_cost(browser, upstream):
    upstream.set_pace(150)
    servers = Servers(upstream)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        # The page's files, for the process started again after the kill to serve.
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput",
                        "--verbosity", "0"], env=servers.env, cwd=ROOT, check=True)
        chat, _, _ = kill_mid_reply_and_recover(servers)
        page = context.new_page()
        page.goto(f"{servers.url()}/accounts/login/")
        page.get_by_label("Username").fill("demo")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{servers.url()}/")
        page.goto(f"{servers.url()}/c/{chat}/")

        reply = page.locator("#messages .msg-assistant").last
        expect(reply).to_have_attribute("data-status", "interrupted")
        footer = reply.locator(".msg-usage")
        expect(footer).to_contain_text("≈$")
        expect(footer).to_contain_text("(estimate)")
        expect(footer).not_to_contain_text("unpriced")
    finally:
        context.close()
        servers.stop()
