"""The composer's cost line: an estimate of the message being typed, and this month's spend."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

NOTES = ("The quarterly report covers revenue, costs and the hiring plan. " * 120).encode()


@pytest.fixture(autouse=True)
def no_script_errors(page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield
    assert not errors, f"script errors in the page: {errors}"


def test_the_estimate_appears_and_grows_when_a_document_is_attached(page: Page, live_app):
    page.goto(f"{live_app.url}/")
    estimate = page.locator("#cost-estimate")
    page.get_by_role("textbox", name="Message Claude").fill("Summarise the attached notes")
    expect(estimate).to_have_text(re.compile(r"^≈ \d+ tokens in · \$\d+\.\d{4}–\$\d+\.\d{2,4}$"))
    typed_only = int(re.search(r"≈ ([\d,]+)", estimate.inner_text()).group(1).replace(",", ""))

    page.locator("#attach-input").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": NOTES}
    )
    expect(estimate).to_have_attribute("title", re.compile(r"[\d,]+ attached"))
    with_notes = int(re.search(r"≈ ([\d,]+)", estimate.inner_text()).group(1).replace(",", ""))
    assert with_notes > typed_only + 1000  # about 7,700 characters of notes

    # Typing on does not block: the text box keeps every key, the estimate follows.
    page.get_by_role("textbox", name="Message Claude").press_sequentially(" in bullets")
    expect(page.get_by_role("textbox", name="Message Claude")).to_have_value(
        "Summarise the attached notes in bullets"
    )


def test_the_composer_shows_this_months_spend(page: Page, live_app):
    page.goto(f"{live_app.url}/")
    expect(page.locator("#budget-status")).to_have_text(re.compile(r"^This month: \$\d+\.\d{2}"))


# The page's one rule for amounts: under $1 to four decimals, from $1 to cents, "$0.00" for
# nothing and "<$0.0001" for less than shows.
ONE_RULE = re.compile(r"^(<?\$0\.\d{4}|\$[1-9][\d,]*\.\d{2}|\$0\.00)$")
AMOUNT = re.compile(r"<?\$[\d,]*\.?\d*")


def amounts(text: str) -> list[str]:
    return [a.rstrip(".,") for a in AMOUNT.findall(text)]


def test_every_amount_on_the_page_follows_one_rule(page: Page, live_app):
    page.goto(f"{live_app.url}/")
    box = page.get_by_role("textbox", name="Message Claude")
    box.fill("What does a carrot cost?")
    box.press("Enter")
    reply = page.locator("#messages .msg-assistant").last
    expect(reply).to_have_attribute("data-status", "complete")
    expect(page.locator("#conv-cost")).to_be_visible()
    expect(page.locator("#budget-status")).to_contain_text("$")
    box.fill("And a potato?")
    expect(page.locator("#cost-estimate")).to_contain_text("$")
    page.get_by_role("button", name="Settings").click()
    dialog = page.get_by_role("dialog", name="Conversation settings")
    dialog.get_by_label("Model", exact=True).select_option(label="Claude Sonnet 4.6")
    expect(dialog).to_contain_text("reading $")

    shown = [page.locator(selector).inner_text() for selector in
             ("#conv-cost", "#budget-status", "#cost-estimate", "#messages .msg-footer")]
    shown.append(dialog.inner_text())
    found = [amount for text in shown for amount in amounts(text)]
    assert len(found) >= 6, found
    assert [a for a in found if not ONE_RULE.match(a)] == []
