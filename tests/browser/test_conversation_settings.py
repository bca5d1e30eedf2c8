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
    dialog.get_by_label("Model's default").uncheck()
    dialog.get_by_role("spinbutton", name="Temperature", exact=True).fill("0.3")
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
    expect(last_reply(page).locator(".md")).to_contain_text(
        'system prompt "Answer like a pirate."; temperature 0.3; max_tokens 400'
    )

    # A model that takes no temperature: the control says why and cannot be used.
    page.get_by_role("button", name="Settings").click()
    dialog.get_by_label("Model", exact=True).select_option(label="Claude Opus 5")
    expect(dialog.get_by_role("spinbutton", name="Temperature", exact=True)).to_be_disabled()
    expect(dialog).to_contain_text("Claude Opus 5 does not accept a temperature")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    # Extended thinking in the composer: no temperature either.
    page.get_by_label("Thinking").select_option("low")
    page.get_by_role("button", name="Settings").click()
    expect(dialog.get_by_role("spinbutton", name="Temperature", exact=True)).to_be_disabled()
    expect(dialog).to_contain_text("Not available while extended thinking is on")
    dialog.get_by_role("button", name="Cancel").click()


def test_a_preset_fills_the_settings_and_starts_a_new_chat(page: Page, live_app):
    name = f"Haiku poet {uuid.uuid4().hex[:6]}"
    start_new_chat(page, live_app)
    page.get_by_role("button", name="Prompt presets").click()
    dialog = presets_dialog(page)
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("System prompt").fill("Answer in haiku.")
    dialog.get_by_label("Model", exact=True).select_option(label="Claude Haiku 4.5")
    dialog.get_by_label("Temperature").fill("0.7")
    dialog.get_by_role("button", name="Add preset").click()
    expect(dialog.get_by_role("status")).to_contain_text(f"Added “{name}”")
    expect(dialog.locator(".preset-row", has_text=name)).to_contain_text(
        "Answer in haiku. · Claude Haiku 4.5 · temperature 0.7"
    )
    dialog.get_by_role("button", name="Close").click()

    ask(page, "First things first [[tokens:5]]")
    page.get_by_role("button", name="Settings").click()
    settings = settings_dialog(page)
    settings.get_by_label("Preset").select_option(label=name)
    settings.get_by_role("button", name="Apply").click()
    expect(settings.get_by_label("System prompt")).to_have_value("Answer in haiku.")
    expect(settings.get_by_role("spinbutton", name="Temperature", exact=True)).to_have_value("0.7")
    settings.get_by_role("button", name="Save", exact=True).click()
    expect(settings).to_be_hidden()
    expect(page.locator("#model-select")).to_have_value("claude-haiku-4-5")  # the picker
    ask(page, "And now? [[show_request]]")
    expect(last_reply(page).locator(".md")).to_contain_text(
        'system prompt "Answer in haiku."; temperature 0.7'
    )

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
