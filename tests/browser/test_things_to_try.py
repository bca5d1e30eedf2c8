"""An empty chat offers "things to try": suggestions that show documents, images, thinking,
tools and Auto; a click fills the message box (nothing is sent until the user presses Enter).
On the offline upstream the calculator suggestion really calls the app's calculator tool, and
the conversation gets a title of its own."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_chat_page import composer, last_reply, send_button, start_new_chat

pytestmark = pytest.mark.browser

SUGGESTIONS = ["Summarise a document", "Describe a picture", "Think it through",
               "Use the calculator", "Let Auto pick the model"]
OFFLINE_ONLY = ["A long reply", "An error, then Retry"]


def things_to_try(page: Page):
    return page.get_by_role("list", name="Things to try")


def test_an_empty_chat_offers_things_to_try(page: Page, live_app):
    start_new_chat(page, live_app)
    suggestions = things_to_try(page).get_by_role("button")
    expect(suggestions).to_have_text(SUGGESTIONS + OFFLINE_ONLY)
    expect(page.get_by_text("Things to try", exact=True)).to_be_visible()


def test_a_suggestion_fills_the_composer_and_the_calculator_answers(page: Page, live_app):
    start_new_chat(page, live_app)
    expect(send_button(page)).to_be_disabled()
    things_to_try(page).get_by_role("button", name="Use the calculator").click()

    expect(composer(page)).to_have_value("What is 15% of 2,340?")
    expect(composer(page)).to_be_focused()
    expect(send_button(page)).to_be_enabled()
    expect(page.locator("#messages .msg-assistant")).to_have_count(0)  # nothing sent yet

    composer(page).press("Enter")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".tool-card")).to_contain_text("calculator")
    expect(reply.locator(".md strong").first).to_have_text("351")
    expect(page.locator("#conv-list")).to_contain_text("Calculating 15% of 2,340")


def test_suggestions_pick_auto_and_thinking(page: Page, live_app):
    start_new_chat(page, live_app)
    things_to_try(page).get_by_role("button", name="Think it through").click()
    expect(composer(page)).to_have_value(
        "Plan a three-day trip to Lisbon on a small budget. Think it through before you answer.")
    expect(page.get_by_label("Thinking")).not_to_have_value("off")

    things_to_try(page).get_by_role("button", name="Let Auto pick the model").click()
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_value("auto")
    expect(composer(page)).to_have_value("Write a haiku about the sea.")


def test_the_document_suggestion_opens_the_file_picker(page: Page, live_app):
    start_new_chat(page, live_app)
    with page.expect_file_chooser() as chooser:
        things_to_try(page).get_by_role("button", name="Summarise a document").click()
    assert chooser.value.is_multiple()
    expect(composer(page)).to_have_value(
        "Summarise the attached document in three bullet points, quoting it where it matters.")
