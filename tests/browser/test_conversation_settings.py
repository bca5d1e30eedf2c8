"""The conversation settings panel and prompt presets, as a person uses them in real Chromium:
settings shape the next reply (the offline upstream's [[show_request]] says what it got),
mistakes are explained in the dialog, presets fill the panel and start chats."""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_chat_page import (
    last_reply,
    no_script_errors,  # noqa: F401 (autouse fixture: any script error fails the test)
    send,
    start_new_chat,
)
from tests.browser.test_comforts import finished, serious_violations

pytestmark = pytest.mark.browser


def settings_dialog(page: Page):
    return page.get_by_role("dialog", name="Conversation settings")


def presets_dialog(page: Page):
    return page.get_by_role("dialog", name="Prompt presets")


def ask(page: Page, text: str) -> None:
    questions = page.locator("#messages .msg-user").count()
    send(page, text)
    expect(page.locator("#messages .msg-assistant")).to_have_count(questions + 1)
    finished(page)


def test_settings_shape_the_next_reply_and_mistakes_are_explained(page: Page, live_app):
    start_new_chat(page, live_app)
    page.locator("body").click()
    page.keyboard.press("Control+,")  # the new chat page: saving starts the conversation
    dialog = settings_dialog(page)
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("System prompt")).to_be_focused()
    expect(dialog).to_contain_text("Changing it starts the prompt cache afresh")
    dialog.get_by_label("System prompt").fill("Answer like a pirate.")
    dialog.get_by_label("Model", exact=True).select_option(label="Claude Sonnet 4.6")
    # API version 2026-10-21 takes no temperature on any model: the panel offers none.
    expect(dialog.get_by_text("Temperature")).to_have_count(0)
    expect(dialog.get_by_role("spinbutton", name="Temperature")).to_have_count(0)
    max_output = dialog.get_by_role("spinbutton", name="Max output tokens")
    max_output.fill("999999")
    expect(dialog).to_contain_text("Up to 128,000 for Claude Sonnet 4.6")
    dialog.get_by_role("button", name="Save", exact=True).click()
    expect(dialog.get_by_role("alert")).to_contain_text(
        "Max output tokens must be a whole number from 1 to 128,000 for Claude Sonnet 4.6"
    )
    expect(dialog.get_by_label("System prompt")).to_have_value("Answer like a pirate.")

    max_output.fill("400")
    dialog.get_by_role("button", name="Save", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))
    expect(page.locator(".toast")).to_contain_text("Settings saved")

    ask(page, "Who are you? [[show_request]]")
    answer = last_reply(page).locator(".md")
    expect(answer).to_contain_text('system prompt "Answer like a pirate."')
    expect(answer).to_contain_text("max_tokens 400")


def test_the_thinking_control_says_when_a_model_cannot_turn_thinking_off(page: Page, live_app):
    start_new_chat(page, live_app)
    picker, thinking = page.locator("#model-select"), page.get_by_label("Thinking")
    picker.select_option(label="Claude Opus 5.5")
    always = re.compile("This model always thinks; Off uses low effort")
    expect(thinking).to_have_attribute("title", always)
    expect(thinking.locator("option").first).to_have_text("Thinking: minimum")
    picker.select_option(label="Claude Haiku 5.5")  # takes {"type": "disabled"}: a plain Off
    expect(thinking.locator("option").first).to_have_text("Thinking off")
    expect(thinking).not_to_have_attribute("title", re.compile("always thinks"))
    # A deprecated model is still offered, marked with its retirement date.
    expect(picker.locator("option", has_text="Claude Opus 4.5")).to_have_text(
        "Claude Opus 4.5 (deprecated, retires on 2027-01-22)")
    expect(picker.locator("option", has_text="Claude Sonnet 4.5")).to_have_count(0)  # retired


def test_a_preset_fills_the_settings_and_starts_a_new_chat(page: Page, live_app):
    name = f"Haiku poet {uuid.uuid4().hex[:6]}"
    start_new_chat(page, live_app)
    page.get_by_role("button", name="Prompt presets").click()
    dialog = presets_dialog(page)
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("System prompt").fill("Answer in haiku.")
    dialog.get_by_label("Model", exact=True).select_option(label="Claude Haiku 4.5")
    expect(dialog.get_by_label("Temperature")).to_have_count(0)  # no model takes one
    dialog.get_by_role("button", name="Add preset").click()
    expect(dialog.get_by_role("status")).to_contain_text(f"Added “{name}”")
    expect(dialog.locator(".preset-row", has_text=name)).to_contain_text(
        "Answer in haiku. · Claude Haiku 4.5"
    )
    dialog.get_by_role("button", name="Close").click()

    ask(page, "First things first [[tokens:5]]")
    page.get_by_role("button", name="Settings").click()
    settings = settings_dialog(page)
    settings.get_by_label("Preset").select_option(label=name)
    settings.get_by_role("button", name="Apply").click()
    expect(settings.get_by_label("System prompt")).to_have_value("Answer in haiku.")
    settings.get_by_role("button", name="Save", exact=True).click()
    expect(settings).to_be_hidden()
    expect(page.locator("#model-select")).to_have_value("claude-haiku-4-5")  # the picker
    ask(page, "And now? [[show_request]]")
    expect(last_reply(page).locator(".md")).to_contain_text('system prompt "Answer in haiku."')

    chat_url = page.url
    page.get_by_role("button", name="Prompt presets").click()
    dialog.get_by_role("button", name=f"New chat with {name}").click()
    expect(dialog).to_be_hidden()
    expect(page).not_to_have_url(chat_url)
    page.get_by_role("button", name="Settings").click()
    expect(settings.get_by_label("System prompt")).to_have_value("Answer in haiku.")
    settings.get_by_role("button", name="Cancel").click()

    page.get_by_role("button", name="Prompt presets").click()
    dialog.get_by_role("button", name=f"Delete {name}").click()
    dialog.get_by_role("button", name=f"Really delete {name}?").click()
    expect(dialog.get_by_role("status")).to_contain_text(f"Deleted “{name}”")
    expect(dialog.locator(".preset-row", has_text=name)).to_have_count(0)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_settings_and_presets_dialogs_pass_an_accessibility_check(page: Page, live_app, scheme):
    page.emulate_media(color_scheme=scheme)
    start_new_chat(page, live_app)
    page.get_by_role("button", name="Settings").click()
    settings = settings_dialog(page)
    settings.get_by_label("Model", exact=True).select_option(label="Claude Opus 5")
    settings.get_by_role("spinbutton", name="Max output tokens").fill("0")
    settings.get_by_role("button", name="Save", exact=True).click()
    expect(settings.get_by_role("alert")).to_be_visible()
    assert serious_violations(page) == []
    settings.get_by_role("button", name="Cancel").click()

    page.get_by_role("button", name="Prompt presets").click()
    expect(presets_dialog(page)).to_be_visible()
    assert serious_violations(page) == []


def test_with_auto_the_settings_quote_no_one_models_cache_prices(page: Page, live_app):
    page.goto(f"{live_app.url}/")
    page.locator("body").click()
    page.keyboard.press("Control+,")
    dialog = page.get_by_role("dialog", name="Conversation settings")
    model = dialog.get_by_label("Model", exact=True)
    model.select_option(label="Claude Sonnet 4.6")
    expect(dialog).to_contain_text("reading $0.3000")  # Sonnet 4.6's own price
    model.select_option("auto")  # the model Auto picks is not known yet
    expect(dialog).not_to_contain_text("per million tokens")
    expect(dialog).to_contain_text("writes cost a little more than input")
