"""Everyday comforts, as a person uses them in real Chromium: keyboard shortcuts, search that
jumps to the message, export and import, versions of edited and regenerated messages, and an
automated accessibility check (axe-core) of the chat page."""

import json
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_chat_page import (
    FOOTER,
    LONG,
    REPLY_START,
    SLOW_PACE,
    composer,
    last_reply,
    no_script_errors,  # noqa: F401 (autouse fixture: any script error fails the test)
    send,
    start_new_chat,
    stop_button,
    streaming_reply,
)

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def finished(page: Page):
    expect(last_reply(page).locator(".msg-footer")).to_contain_text(FOOTER, timeout=30_000)


def ask(page: Page, text: str) -> None:
    """Send, and wait until the reply to *this* question has finished."""
    questions = page.locator("#messages .msg-user").count()
    send(page, text)
    expect(page.locator("#messages .msg-assistant")).to_have_count(questions + 1)
    finished(page)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()


def test_keyboard_shortcuts_and_their_help_dialog(page: Page, live_app):
    start_new_chat(page, live_app)
    page.locator("body").click()
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("New chat")
    expect(help_dialog).to_contain_text("Stop the reply being written")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    page.keyboard.press("/")
    expect(composer(page)).to_be_focused()

    page.keyboard.press("Control+Shift+O")
    expect(page).to_have_url(f"{live_app.url}/")  # a new chat is stored with its first message
    expect(composer(page)).to_be_focused()

    live_app.upstream.set_pace(SLOW_PACE)
    send(page, f"Keep talking {LONG}")
    expect(streaming_reply(page).locator(".md")).to_contain_text(REPLY_START)
    expect(stop_button(page)).to_be_visible()
    page.keyboard.press("Escape")
    expect(last_reply(page).locator(".msg-status")).to_contain_text("Stopped")


def test_search_finds_a_message_and_jumps_to_it(page: Page, live_app):
    word = f"zanzibar{uuid.uuid4().hex[:6]}"
    start_new_chat(page, live_app)
    ask(page, f"Tell me about {word} please")
    target_url = page.url
    page.get_by_role("button", name="New chat", exact=True).click()
    expect(page).not_to_have_url(target_url)

    page.keyboard.press("Control+K")
    box = page.get_by_role("searchbox", name="Search conversations")
    expect(box).to_be_focused()
    box.fill(word)
    results = page.locator("#search-results a")
    expect(page.locator("#search-status")).to_contain_text("for “" + word + "”")
    # The offline upstream's titles come from the question: the title may match too; the
    # message's own hit is the one that jumps to it.
    message_hit = results.filter(has_not_text="Title matches").first
    expect(message_hit).to_contain_text(word)
    message_hit.click()

    expect(page).to_have_url(target_url)
    found = page.locator("#messages .msg.is-found")
    expect(found).to_have_count(1)
    expect(found).to_contain_text(word)
    expect(found).to_be_focused()

    box.fill("nothingmatchesthis" + uuid.uuid4().hex[:6])
    expect(page.locator("#search-status")).to_contain_text("Nothing found")


def test_export_then_import_gives_the_same_conversation(page: Page, live_app, tmp_path):
    start_new_chat(page, live_app)
    ask(page, "Export me [[tokens:20]]")
    original_url = page.url

    with page.expect_download() as markdown:
        page.get_by_role("link", name="Export as Markdown").click()
    text = Path(markdown.value.path()).read_text()
    assert "### You" in text and "Export me [[tokens:20]]" in text

    with page.expect_download() as download:
        page.get_by_role("link", name="Export as JSON").click()
    saved = tmp_path / "export.json"
    download.value.save_as(saved)
    data = json.loads(saved.read_text())
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    original_reply = data["messages"][1]["text"]
    # As if the question had a file: an export lists it but does not carry it.
    data["messages"][0]["attachments"] = [{"name": "menu.txt", "kind": "document",
                                           "media_type": "text/plain", "size": 17, "pages": None}]
    saved.write_text(json.dumps(data))

    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import…").click()
    chooser.value.set_files(saved)
    expect(page.locator(".toast")).to_contain_text("Imported")
    expect(page.locator(".toast")).to_contain_text("1 attached file was not imported")
    expect(page).not_to_have_url(original_url)
    expect(page.locator("#conv-title")).to_contain_text("(imported)")
    expect(page.locator("#messages .msg-user .msg-text")).to_have_text(
        ["Export me [[tokens:20]]\n\n[Attached in the original: menu.txt (text/plain)]"])
    expect(page.locator("#messages .msg-assistant .md")).to_have_text([original_reply])


def test_edit_and_regenerate_keep_every_version_one_click_away(page: Page, live_app):
    start_new_chat(page, live_app)
    ask(page, "First question [[tokens:10]]")
    ask(page, "Second question [[tokens:10]]")

    first = page.locator("#messages .msg-user").first
    first.get_by_role("button", name="Edit this message").click()
    box = page.get_by_role("textbox", name="Edit your message")
    box.fill("Edited question [[tokens:10]]")
    box.press("Enter")

    expect(page.locator("#messages .msg-user .msg-text")).to_have_text(
        ["Edited question [[tokens:10]]"])
    finished(page)
    expect(last_reply(page).locator(".md")).to_contain_text("Edited question")
    versions = page.locator("#messages .msg-user").first.locator(".msg-versions")
    expect(versions).to_contain_text("2 / 2")

    versions.get_by_role("button", name="Previous version of this message").click()
    expect(page.locator("#messages .msg-user .msg-text")).to_have_text(
        ["First question [[tokens:10]]", "Second question [[tokens:10]]"])
    expect(versions).to_contain_text("1 / 2")

    # Regenerate the first reply: the second question leaves the screen with it.
    page.locator("#messages .msg-assistant").first.get_by_role(
        "button", name="Regenerate this reply").click()
    expect(page.locator("#messages .msg-user")).to_have_count(1)
    finished(page)
    reply_versions = last_reply(page).locator(".msg-versions")
    expect(reply_versions).to_contain_text("2 / 2")
    reply_versions.get_by_role("button", name="Previous version of this reply").click()
    expect(page.locator("#messages .msg-user")).to_have_count(2)

    page.reload()  # what is on screen is what the server keeps
    expect(page.locator("#messages .msg-user")).to_have_count(2)
    expect(last_reply(page).locator(".msg-footer")).to_contain_text(FOOTER)


def serious_violations(page: Page) -> list[str]:
    page.evaluate(AXE.read_text())
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.help + ' ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return found


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_chat_page_passes_an_accessibility_check(page: Page, live_app, scheme):
    page.emulate_media(color_scheme=scheme)
    start_new_chat(page, live_app)
    assert serious_violations(page) == []

    ask(page, "Check me **please** [[tokens:240]]")
    expect(last_reply(page).get_by_role("button", name="Copy code")).to_be_visible()
    assert serious_violations(page) == []

    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    assert serious_violations(page) == []


def test_every_control_is_reachable_with_the_tab_key(page: Page, live_app):
    start_new_chat(page, live_app)
    ask(page, "Tab through me [[tokens:10]]")
    wanted = {"New chat", "Search conversations", "Message Claude", "Import…",
              "Keyboard shortcuts", "Copy reply", "Regenerate this reply", "Edit this message",
              "Export as Markdown", "Export as JSON"}
    page.locator("body").click()
    reached = set()
    # Earlier tests' conversations of the same user stand in the sidebar, each with its own
    # controls, before the sidebar's footer: press on until everything wanted was reached.
    for _ in range(600):
        page.keyboard.press("Tab")
        reached.add(page.evaluate(
            "() => { const e = document.activeElement; return e.getAttribute('aria-label') ||"
            " (e.labels && e.labels[0] && e.labels[0].textContent.trim()) ||"
            " e.textContent.trim(); }"))
        if wanted <= reached:
            break
    assert wanted <= reached, wanted - reached


def test_the_tab_title_says_when_a_reply_finished_out_of_sight(page: Page, live_app):
    start_new_chat(page, live_app)
    # Headless tabs are never hidden: pretend this one is, as a background tab would be.
    page.evaluate("() => { window.__hidden = false;"
                  " Object.defineProperty(document, 'hidden', {get: () => window.__hidden}); }")
    live_app.upstream.set_pace(SLOW_PACE)
    send(page, "Answer while I look away [[tokens:40]]")
    expect(streaming_reply(page)).to_have_count(1)
    page.evaluate("() => { window.__hidden = true; }")
    expect(page).to_have_title(re.compile("^● Reply ready — "), timeout=30_000)
    page.evaluate("() => { window.__hidden = false;"
                  " document.dispatchEvent(new Event('visibilitychange')); }")
    expect(page).not_to_have_title(re.compile("^●"))
