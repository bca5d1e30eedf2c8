"""Documents in the chat page, as a person uses them: attach a PDF, see what questions will
cost, ask, open the citation, see the next reply read the document from the cache, remove it.

Real Chromium, a real daphne server, the offline upstream (which cites the passage of the
document that best matches the question). Every wait is one of Playwright's expect()s.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.files import LEASE, make_pdf

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def no_script_errors(page: Page):
    errors: list[str] = []
    page.context.on("weberror", lambda error: errors.append(str(error.error)))
    yield
    assert not errors, f"script errors in the page: {errors}"


def ask(page: Page, question: str) -> None:
    box = page.get_by_role("textbox", name="Message Claude")
    box.fill(question)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    box.press("Enter")


def finished_replies(page: Page):
    return page.locator("#messages .msg-assistant[data-status=complete]")


def test_attach_a_pdf_ask_see_the_citation_and_the_cache(page: Page, live_app):
    page.goto(f"{live_app.url}/")
    page.locator("#attach-input").set_input_files(
        {"name": "lease.pdf", "mimeType": "application/pdf", "buffer": make_pdf(LEASE)}
    )
    card = page.locator(".attachment-card", has_text="lease.pdf")
    expect(card).to_contain_text("3 pages")
    expect(card).to_contain_text(re.compile(r"[\d,]+ tokens"))
    expect(card).to_contain_text(re.compile(r"First question \$0\.\d+ · then \$0\.\d+ each"))

    ask(page, "What is the monthly rent?")
    expect(finished_replies(page)).to_have_count(1)
    expect(page.locator("#attachment-tray")).to_be_hidden()  # it went out with the question
    expect(page.locator(".msg-user .attachment-chip")).to_have_text("lease.pdf · 3 pages")

    reply = finished_replies(page).first
    reply.get_by_role("button", name="Source 1").click()
    source = reply.locator("details.cite-source")
    expect(source).to_have_attribute("open", "")
    expect(source.locator("summary")).to_have_text("[1] lease.pdf, page 2")
    expect(source.locator("blockquote")).to_contain_text("monthly rent of 1,200 euros")
    expect(reply.locator(".msg-cache")).to_contain_text("input tokens written to the cache")

    ask(page, "How can the lease be ended?")
    expect(finished_replies(page)).to_have_count(2)
    expect(finished_replies(page).last.locator(".msg-cache")).to_have_text(
        re.compile(r"[\d,]+ of [\d,]+ input tokens read from cache · caching saved \$")
    )

    page.get_by_role("button", name="Files (1)").click()
    dialog = page.get_by_role("dialog", name="Files in this conversation")
    expect(dialog).to_contain_text("lease.pdf")
    dialog.get_by_role("button", name="Remove").click()
    expect(dialog).to_contain_text("Your next question re-creates the prompt cache without it")
    dialog.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("button", name=re.compile(r"^Files \("))).to_be_hidden()
    expect(page.locator(".msg-user .attachment-chip")).to_have_class(re.compile("is-removed"))


def test_a_refused_file_is_explained_on_its_card(page: Page, live_app):
    page.goto(f"{live_app.url}/")
    page.locator("#attach-input").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": "Café".encode("latin-1")}
    )
    card = page.locator(".attachment-card", has_text="notes.txt")
    expect(card.get_by_role("alert")).to_contain_text("This text file is not UTF-8")
    card.get_by_role("button", name="Remove notes.txt").click()
    expect(page.locator("#attachment-tray")).to_be_hidden()
