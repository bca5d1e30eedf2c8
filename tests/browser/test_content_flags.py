"""The content checks as a reader sees them: a badge on the reply, explained on hover, and
redacted text replacing what streamed in. The test server redacts card numbers and flags
everything else (tests/browser/conftest.py)."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_chat_page import FOOTER, last_reply, send, start_new_chat

pytestmark = pytest.mark.browser

CARD = "4111 1111 1111 1111"


def test_a_flagged_reply_wears_a_badge_that_explains_itself(page: Page, live_app):
    start_new_chat(page, live_app)
    send(page, "Write to jane.doe@acme-corp.com about it")

    reply = last_reply(page)
    expect(reply.locator(".msg-footer")).to_contain_text(FOOTER, timeout=30_000)
    badge = reply.get_by_role("note")
    expect(badge).to_have_text("Flagged: personal data")
    expect(badge).to_have_attribute("title", re.compile(r"contains an e-mail address\."))
    expect(reply.locator(".md")).to_contain_text("jane.doe@acme-corp.com")  # flagged, not hidden

    page.reload()  # the badge comes from the stored message too
    expect(last_reply(page).get_by_role("note")).to_have_text("Flagged: personal data")


def test_a_redacted_card_number_disappears_from_the_page_when_the_reply_ends(
    page: Page, live_app
):
    start_new_chat(page, live_app)
    send(page, f"Is {CARD} a test card?")

    reply = last_reply(page)
    expect(reply.locator(".msg-footer")).to_contain_text(FOOTER, timeout=30_000)
    expect(reply.locator(".md")).to_contain_text("[redacted: card number]")
    expect(reply.locator(".md")).not_to_contain_text(CARD)
    expect(reply.get_by_role("note")).to_have_attribute("title", re.compile(r"\(redacted\)"))

    page.reload()
    expect(last_reply(page).locator(".md")).to_contain_text("[redacted: card number]")
    # What the user typed is theirs and stays as they typed it.
    expect(page.locator("#messages .msg-user .msg-text").last).to_contain_text(CARD)
