"""Pinning and archiving conversations, as a person does it in the sidebar: real Chromium, a real
daphne server, the offline upstream (fixtures: tests/browser/conftest.py). Every wait is one of
Playwright's auto-waiting `expect(...)` assertions; nothing sleeps.

Every test files conversations of its own (titles with a unique word), since the demo user's
conversations from other tests share the sidebar.
"""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.api import create_conversation
from tests.browser.test_chat_page import (
    no_script_errors,  # noqa: F401 (autouse fixture: any script error fails the test)
)
from tests.browser.test_comforts import serious_violations

pytestmark = pytest.mark.browser


def unique(title: str) -> str:
    return f"{title} {uuid.uuid4().hex[:6]}"


def create(page: Page, title: str) -> int:
    """A conversation stored with this title (the JSON API, as Import does)."""
    return create_conversation(page, title)["id"]


def show_sidebar_with(page: Page, live_app, *titles: str) -> None:
    page.goto(f"{live_app.url}/")
    for title in titles:
        expect(row(page, title)).to_have_count(1)


def row(page: Page, title: str):
    return page.locator("#conv-list .conv-item").filter(has_text=title)


def group_of(page: Page, title: str) -> str | None:
    """The heading of the sidebar group the conversation's row stands in (read in one go in
    the page: the list may be redrawn at any moment)."""
    return page.evaluate("""title => {
        const rows = [...document.querySelectorAll('#conv-list .conv-item')]
            .filter(row => row.textContent.includes(title));
        if (rows.length !== 1) return null;
        for (let li = rows[0].previousElementSibling; li; li = li.previousElementSibling) {
            if (li.classList.contains('conv-group')) return li.textContent;
        }
        return null;
    }""", title)


def archived_dialog(page: Page):
    page.get_by_role("button", name="Archived chats").click()
    dialog = page.get_by_role("dialog", name="Archived chats")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("status")).not_to_contain_text("Loading")
    return dialog


def test_pin_moves_a_conversation_into_pinned_at_the_top_and_it_stays_after_reload(
    page: Page, live_app
):
    first, second = unique("Pinned first"), unique("Pinned second")
    page.goto(f"{live_app.url}/")
    create(page, first)
    create(page, second)
    show_sidebar_with(page, live_app, first, second)
    assert group_of(page, first) == "Today"

    row(page, first).get_by_role("button", name=f"Pin {first}", exact=True).click()
    expect(page.locator("#conv-list .conv-group").first).to_have_text("Pinned")
    expect(row(page, first)).to_have_class(re.compile("is-pinned"))
    assert group_of(page, first) == "Pinned"
    row(page, second).get_by_role("button", name=f"Pin {second}", exact=True).click()
    expect(row(page, second)).to_have_class(re.compile("is-pinned"))

    page.reload()  # saved on the server: the most recently pinned stands first
    pinned_titles = page.locator("#conv-list .conv-item.is-pinned .conv-title")
    expect(pinned_titles.first).to_have_text(second)
    expect(pinned_titles.nth(1)).to_have_text(first)
    assert page.locator("#conv-list .conv-item").first.inner_text() == second

    for title in (first, second):
        row(page, title).get_by_role("button", name=f"Unpin {title}", exact=True).click()
        expect(row(page, title)).not_to_have_class(re.compile("is-pinned"))
    page.reload()
    expect(row(page, first)).to_have_count(1)
    assert group_of(page, first) == "Today"


def test_pinning_works_from_the_keyboard_and_keeps_focus_on_the_row(page: Page, live_app):
    title = unique("Keyboard pin")
    page.goto(f"{live_app.url}/")
    create(page, title)
    show_sidebar_with(page, live_app, title)

    row(page, title).get_by_role("link").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name=f"Pin {title}", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    # The row moved into Pinned; focus moved with it, onto what undoes it.
    expect(page.get_by_role("button", name=f"Unpin {title}", exact=True)).to_be_focused()
    assert group_of(page, title) == "Pinned"
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name=f"Pin {title}", exact=True)).to_be_focused()
    assert group_of(page, title) == "Today"


def test_archive_takes_a_conversation_out_of_the_sidebar_and_unarchive_brings_it_back(
    page: Page, live_app
):
    title = unique("Filed away")
    page.goto(f"{live_app.url}/")
    create(page, title)
    show_sidebar_with(page, live_app, title)

    row(page, title).get_by_role("button", name=f"Archive {title}").click()
    expect(row(page, title)).to_have_count(0)
    expect(page.locator("#toasts")).to_contain_text(f"“{title}” archived")

    page.reload()
    expect(page.locator("#conv-status")).not_to_contain_text("Loading")
    expect(row(page, title)).to_have_count(0)
    dialog = archived_dialog(page)
    entry = dialog.get_by_role("listitem").filter(has_text=title)
    expect(entry).to_contain_text("Archived ")

    entry.get_by_role("button", name=f"Unarchive {title}").click()
    expect(entry).to_have_count(0)
    expect(row(page, title)).to_have_count(1)  # back in the sidebar, under its date
    dialog.get_by_role("button", name="Close").click()
    page.reload()
    expect(row(page, title)).to_have_count(1)
    assert group_of(page, title) == "Today"


def test_undo_in_the_toast_brings_an_archived_conversation_back(page: Page, live_app):
    title = unique("Archived by mistake")
    page.goto(f"{live_app.url}/")
    create(page, title)
    show_sidebar_with(page, live_app, title)

    row(page, title).get_by_role("button", name=f"Archive {title}").click()
    expect(row(page, title)).to_have_count(0)
    page.locator("#toasts").get_by_role("button", name="Undo").click()
    expect(row(page, title)).to_have_count(1)
    page.reload()
    expect(row(page, title)).to_have_count(1)


def test_an_archived_conversation_opens_from_the_archived_list_and_by_its_address(
    page: Page, live_app
):
    title = unique("Open me archived")
    page.goto(f"{live_app.url}/")
    conversation_id = create(page, title)
    show_sidebar_with(page, live_app, title)
    row(page, title).get_by_role("button", name=f"Archive {title}").click()
    expect(row(page, title)).to_have_count(0)

    archived_dialog(page).get_by_role("link", name=re.compile(re.escape(title))).click()
    expect(page).to_have_url(f"{live_app.url}/c/{conversation_id}/")
    expect(page.locator("#conv-title")).to_have_text(title)
    note = page.locator("#archived-note")
    expect(note).to_contain_text("This conversation is archived")

    page.goto(f"{live_app.url}/c/{conversation_id}/")  # by its address
    expect(page.locator("#conv-title")).to_have_text(title)
    expect(note).to_be_visible()
    expect(row(page, title)).to_have_count(0)
    note.get_by_role("button", name="Unarchive").click()
    expect(note).to_be_hidden()
    expect(row(page, title)).to_have_count(1)
    expect(row(page, title)).to_have_class(re.compile("is-current"))


def test_sending_a_message_in_an_archived_conversation_brings_it_back(page: Page, live_app):
    title = unique("Continued later")
    page.goto(f"{live_app.url}/")
    conversation_id = create(page, title)
    page.goto(f"{live_app.url}/c/{conversation_id}/")
    row(page, title).get_by_role("button", name=f"Archive {title}").click()
    note = page.locator("#archived-note")
    expect(note).to_be_visible()

    box = page.get_by_role("textbox", name="Message Claude")
    box.fill("One more question")
    box.press("Enter")

    expect(page.locator("#messages .msg-assistant").last).to_have_attribute(
        "data-status", "complete", timeout=30_000
    )
    expect(note).to_be_hidden()
    expect(page.locator("#toasts")).to_contain_text("Unarchived")
    page.reload()
    expect(row(page, title)).to_have_count(1)
    expect(note).to_be_hidden()


def test_search_finds_archived_conversations_only_when_asked(page: Page, live_app):
    word = f"quokka{uuid.uuid4().hex[:6]}"
    title = f"Notes on the {word}"
    page.goto(f"{live_app.url}/")
    conversation_id = create(page, title)
    show_sidebar_with(page, live_app, title)
    row(page, title).get_by_role("button", name=f"Archive {title}").click()
    expect(row(page, title)).to_have_count(0)

    page.get_by_role("searchbox", name="Search conversations").fill(word)
    status = page.locator("#search-status")
    expect(status).to_contain_text("Nothing found")
    page.get_by_role("checkbox", name="Include archived chats").check()
    hit = page.locator("#search-results a")
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text(title)
    expect(hit).to_contain_text("archived")
    hit.click()
    expect(page).to_have_url(f"{live_app.url}/c/{conversation_id}/")
    expect(page.locator("#archived-note")).to_be_visible()


def test_delete_from_the_archived_list(page: Page, live_app):
    title = unique("Archived then deleted")
    page.goto(f"{live_app.url}/")
    create(page, title)
    show_sidebar_with(page, live_app, title)
    row(page, title).get_by_role("button", name=f"Archive {title}").click()
    expect(row(page, title)).to_have_count(0)

    dialog = archived_dialog(page)
    dialog.get_by_role("button", name=f"Delete {title}").click()
    confirm = page.get_by_role("dialog", name="Delete chat?")
    expect(confirm).to_contain_text(title)
    confirm.get_by_role("button", name="Delete", exact=True).click()
    expect(dialog.get_by_role("listitem").filter(has_text=title)).to_have_count(0)

    page.reload()
    expect(archived_dialog(page).get_by_role("listitem").filter(has_text=title)).to_have_count(0)


def test_another_tab_of_the_conversation_sees_it_pinned_and_archived(page: Page, live_app):
    title = unique("Two tabs")
    page.goto(f"{live_app.url}/")
    conversation_id = create(page, title)
    page.goto(f"{live_app.url}/c/{conversation_id}/")
    other = page.context.new_page()
    other.goto(f"{live_app.url}/c/{conversation_id}/")
    expect(row(other, title)).to_have_count(1)
    expect(other.locator("#conn-status")).to_be_hidden()  # its socket is open

    row(page, title).get_by_role("button", name=f"Pin {title}", exact=True).click()
    expect(row(other, title)).to_have_class(re.compile("is-pinned"))
    assert group_of(other, title) == "Pinned"

    row(page, title).get_by_role("button", name=f"Archive {title}").click()
    expect(row(other, title)).to_have_count(0)
    expect(other.locator("#archived-note")).to_be_visible()
    other.close()


def test_a_tab_showing_another_conversation_catches_up_when_it_comes_back(
    page: Page, live_app
):
    title, elsewhere = unique("Filed in one tab"), unique("Open elsewhere")
    page.goto(f"{live_app.url}/")
    create(page, title)
    other_id = create(page, elsewhere)
    other = page.context.new_page()
    other.goto(f"{live_app.url}/c/{other_id}/")
    expect(row(other, title)).to_have_count(1)

    page.bring_to_front()
    show_sidebar_with(page, live_app, title)
    row(page, title).get_by_role("button", name=f"Pin {title}", exact=True).click()
    expect(row(page, title)).to_have_class(re.compile("is-pinned"))

    # The person comes back to the other tab. Headless tabs never lose focus: say it came back.
    other.evaluate("() => window.dispatchEvent(new Event('focus'))")
    expect(row(other, title)).to_have_class(re.compile("is-pinned"))
    other.close()


def test_on_a_phone_pin_archive_and_the_archived_list_fit_the_screen(browser, live_app):
    context = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        page = context.new_page()
        live_app.login(page)
        title = unique("Phone filing")
        create(page, title)
        page.reload()
        page.get_by_role("button", name="Show conversations").click()
        sidebar = page.get_by_role("navigation", name="Conversations")
        expect(sidebar).to_be_visible()

        pin = row(page, title).get_by_role("button", name=f"Pin {title}", exact=True)
        expect(pin).to_be_in_viewport(ratio=1)
        pin.click()
        expect(row(page, title)).to_have_class(re.compile("is-pinned"))
        archive = row(page, title).get_by_role("button", name=f"Archive {title}")
        expect(archive).to_be_in_viewport(ratio=1)
        archive.click()
        expect(row(page, title)).to_have_count(0)

        dialog = archived_dialog(page)
        entry = dialog.get_by_role("listitem").filter(has_text=title)
        for control in (entry.get_by_role("link"),
                        entry.get_by_role("button", name=f"Unarchive {title}"),
                        entry.get_by_role("button", name=f"Delete {title}")):
            expect(control).to_be_in_viewport(ratio=1)
        entry.get_by_role("button", name=f"Unarchive {title}").click()
        expect(row(page, title)).to_have_count(1)
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pinned_rows_the_archived_note_and_list_pass_an_accessibility_check(
    page: Page, live_app, scheme
):
    page.emulate_media(color_scheme=scheme)
    pinned, archived = unique("Checked pin"), unique("Checked archive")
    page.goto(f"{live_app.url}/")
    create(page, pinned)
    conversation_id = create(page, archived)
    show_sidebar_with(page, live_app, pinned, archived)
    row(page, pinned).get_by_role("button", name=f"Pin {pinned}", exact=True).click()
    expect(row(page, pinned)).to_have_class(re.compile("is-pinned"))
    page.goto(f"{live_app.url}/c/{conversation_id}/")
    row(page, archived).get_by_role("button", name=f"Archive {archived}").click()
    expect(page.locator("#archived-note")).to_be_visible()
    assert serious_violations(page) == []

    archived_dialog(page)
    assert serious_violations(page) == []


def test_a_title_being_typed_survives_the_list_being_redrawn(page: Page, live_app):
    """A redraw of the sidebar (here: the conversation pinned in another tab; also the automatic
    title arriving) used to take the rename box away mid-word and save half a title."""
    title = unique("Renamed while filed")
    page.goto(f"{live_app.url}/")
    conversation_id = create(page, title)
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket))
    page.goto(f"{live_app.url}/c/{conversation_id}/")
    expect(page.locator("#conn-status")).to_be_hidden()  # its socket is open
    row(page, title).get_by_role("button", name=re.compile("^Rename")).click()
    box = page.get_by_role("textbox", name=re.compile("^New title"))
    box.fill("Half a ti")

    other = page.context.new_page()
    other.goto(f"{live_app.url}/c/{conversation_id}/")
    with sockets[-1].expect_event(
        "framereceived", predicate=lambda payload: "conversation_updated" in str(payload)
    ):
        row(other, title).get_by_role("button", name=f"Pin {title}", exact=True).click()
    other.close()

    expect(box).to_have_value("Half a ti")  # still there, still being typed
    box.press("End")
    box.type("tle, whole")
    box.press("Enter")
    renamed = page.locator("#conv-list .conv-item").filter(has_text="Half a title, whole")
    expect(renamed).to_have_class(re.compile("is-pinned"))
    assert group_of(page, "Half a title, whole") == "Pinned"
