"""The admin cost review as staff use it: open it, see who spent what, download the CSV."""

import csv
import io
import re

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, STAFF_USERNAME

pytestmark = pytest.mark.browser


@pytest.fixture
def staff_page(browser, live_app):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_app.url}/admin/login/?next=/")
    page.get_by_label("Username").fill(STAFF_USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_app.url}/")
    yield page
    context.close()
    assert not errors, f"script errors in the page: {errors}"


def ask(page: Page, question: str) -> None:
    box = page.get_by_role("textbox", name="Message Claude")
    box.fill(question)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    box.press("Enter")
    expect(page.locator("#messages .msg-assistant[data-status=complete]")).to_have_count(1)


def test_staff_see_each_users_spend_and_download_it(staff_page: Page, live_app):
    ask(staff_page, "What does a question cost?")

    staff_page.goto(f"{live_app.url}/admin/")
    staff_page.get_by_role("link", name="Cost review").click()
    expect(staff_page.get_by_role("heading", name="Cost review")).to_be_visible()
    row = staff_page.locator("#cost-users tbody tr", has_text=STAFF_USERNAME)
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(0)).not_to_have_text("0")  # requests: the reply and its title
    expect(staff_page.locator('[data-total="cost"]')).to_have_text(re.compile(r"^\$\d"))
    # The question went to the default model (the server runs with the same settings).
    expect(staff_page.locator("#cost-models")).to_contain_text(settings.CHATAPP_DEFAULT_MODEL)
    expect(staff_page.locator("#cost-chart rect").first).to_be_attached()
    expect(staff_page.locator("#cost-strategies")).to_contain_text("Without prompt caching")

    with staff_page.expect_download() as download:
        staff_page.locator("#cost-csv").click()
    path = download.value.path()
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0] == ["user", "requests", "input_tokens", "output_tokens",
                       "cache_write_tokens", "cache_read_tokens", "cost_usd",
                       "cache_savings_usd", "batch_savings_usd", "groups"]
    mine = next(r for r in rows[1:] if r[0] == STAFF_USERNAME)
    assert int(mine[1]) >= 1 and float(mine[6]) > 0

    # From the user to the conversation and its messages' usage
    staff_page.locator("#cost-users").get_by_role("link", name=STAFF_USERNAME).click()
    staff_page.locator("#cost-conversations tbody a").first.click()
    expect(staff_page.locator("#cost-messages")).to_contain_text("assistant")
    expect(staff_page.locator("#cost-messages")).to_contain_text(re.compile(r"\$0\.\d{4}"))
