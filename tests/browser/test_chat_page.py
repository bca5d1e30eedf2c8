"""The chat page as a person uses it: real Chromium, a real daphne server, the offline upstream.

Fixtures come from tests/browser/conftest.py: `live_app` (url, username, password, upstream),
`browser` (Chromium) and `page` (a fresh context, already logged in). Every wait is one of
Playwright's auto-waiting `expect(...)` assertions; nothing sleeps.
"""

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.api import create_conversation

pytestmark = pytest.mark.browser

# What the offline upstream quotes back ("You asked: ...") at the start of every reply.
REPLY_START = "You asked:"
FOOTER = re.compile(
    r"claude-[\w.-]+ · [\d,]+ in · [\d,]+ out · (\$\d+\.\d{2,4}|<\$0\.0001|unpriced)"
)
# Slow enough to watch a reply mid-stream: ~400 tokens at 40 tokens/s is about ten seconds.
LONG = "[[tokens:400]]"
SLOW_PACE = 40


@pytest.fixture(autouse=True)
def no_script_errors(request):
    """Any uncaught exception in the page fails the test that caused it."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    errors: list[str] = []
    page.context.on("weberror", lambda error: errors.append(str(error.error)))
    yield
    assert not errors, f"script errors in the page: {errors}"


def composer(page: Page):
    return page.get_by_role("textbox", name="Message Claude")


def send_button(page: Page):
    return page.get_by_role("button", name="Send", exact=True)


def stop_button(page: Page):
    return page.get_by_role("button", name="Stop", exact=True)


def last_reply(page: Page):
    return page.locator("#messages .msg-assistant").last


def streaming_reply(page: Page):
    return page.locator("#messages .msg-assistant.is-streaming")


def send(page: Page, text: str) -> None:
    box = composer(page)
    box.fill(text)
    expect(send_button(page)).to_be_enabled()
    box.press("Enter")


def start_new_chat(page: Page, live_app) -> None:
    page.goto(f"{live_app.url}/")
    expect(page.get_by_text("Start a conversation — ask Claude anything")).to_be_visible()


def test_log_in_through_the_form_and_see_the_offline_badge(browser, live_app):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{live_app.url}/")
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
        badge = page.get_by_text("offline demo upstream", exact=True)
        expect(badge).to_be_visible()  # on every page, the login page included

        page.get_by_label("Username").fill(live_app.username)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("correct username and password")

        page.get_by_label("Password").fill(live_app.password)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{live_app.url}/")
        expect(page.locator(".app-header")).to_contain_text(live_app.username)
        expect(badge).to_be_visible()
        expect(badge).to_have_attribute("title", re.compile("not from Claude"))
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        expect(page.get_by_text("Start a conversation — ask Claude anything")).to_be_visible()
        expect(send_button(page)).to_be_disabled()  # nothing typed yet
    finally:
        context.close()


def test_a_reply_streams_in_and_ends_with_model_tokens_and_cost(page: Page, live_app):
    live_app.upstream.set_pace(80)
    start_new_chat(page, live_app)
    question = "How does streaming work? [[tokens:240]]"
    send(page, question)

    # No conversation was open: sending created one and moved to its address.
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))
    expect(page.locator("#messages .msg-user").last).to_have_text(question)

    # Text appears while the reply is still streaming (the Send button is a Stop button then).
    expect(streaming_reply(page).locator(".md")).to_contain_text(REPLY_START)
    expect(stop_button(page)).to_be_visible()

    reply = last_reply(page)
    expect(reply.locator(".msg-footer")).to_contain_text(FOOTER, timeout=30_000)
    expect(stop_button(page)).to_have_count(0)
    expect(send_button(page)).to_be_visible()
    expect(reply).not_to_have_class(re.compile("is-streaming"))
    # Markdown is rendered: bold text, and the fenced code block is highlighted with a copy button.
    expect(reply.locator(".md strong").first).to_be_visible()
    expect(reply.locator(".code-block code.hljs")).to_contain_text("def offline_reply")
    expect(reply.get_by_role("button", name="Copy code")).to_be_visible()
    # The conversation now shows in the sidebar, highlighted as the current one.
    expect(page.locator(".conv-item.is-current")).to_have_count(1)


def test_stop_keeps_the_partial_text_and_says_stopped(page: Page, live_app):
    live_app.upstream.set_pace(SLOW_PACE)
    start_new_chat(page, live_app)
    send(page, f"Tell me everything {LONG}")

    expect(streaming_reply(page).locator(".md")).to_contain_text(REPLY_START)
    stop_button(page).click()

    reply = last_reply(page)
    expect(reply.locator(".msg-status")).to_have_text("Stopped")
    expect(reply.locator(".md")).to_contain_text(REPLY_START)
    expect(send_button(page)).to_be_visible()
    expect(reply.locator(".msg-footer")).to_contain_text(FOOTER)

    page.reload()  # what was kept is what the server saved
    reply = last_reply(page)
    expect(reply.locator(".msg-status")).to_have_text("Stopped")
    expect(reply.locator(".md")).to_contain_text(REPLY_START)


def test_html_in_a_reply_is_shown_as_text_and_never_runs(page: Page, live_app):
    payload = '<script>window.__xss=1</script> <img src=x onerror="window.__xss=1">'
    start_new_chat(page, live_app)
    send(page, payload)

    reply = last_reply(page)
    expect(reply.locator(".msg-footer")).to_contain_text(FOOTER, timeout=30_000)
    # The offline upstream quotes the question as is; the page shows the characters.
    expect(reply.locator(".md")).to_contain_text("<script>window.__xss=1</script>")
    expect(reply.locator(".md")).to_contain_text('<img src=x onerror="window.__xss=1">')
    expect(page.locator("#messages .msg-user").last).to_have_text(payload)
    expect(page.locator("#messages script, #messages img")).to_have_count(0)
    assert page.evaluate("() => window.__xss") is None


def test_reload_mid_reply_restores_the_text_and_keeps_streaming(page: Page, live_app):
    live_app.upstream.set_pace(SLOW_PACE)
    start_new_chat(page, live_app)
    send(page, f"A long answer please {LONG}")
    expect(streaming_reply(page).locator(".md")).to_contain_text(REPLY_START)
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))

    page.reload()
    restored = streaming_reply(page).locator(".md")
    expect(restored).to_contain_text(REPLY_START)  # from reply_state, not from a new reply
    expect(stop_button(page)).to_be_visible()
    so_far = restored.inner_text()
    expect(restored).not_to_have_text(so_far)  # and more keeps arriving

    # A second tab on the same conversation joins the same reply.
    other = page.context.new_page()
    try:
        other.goto(page.url)
        expect(streaming_reply(other).locator(".md")).to_contain_text(REPLY_START)
        expect(stop_button(other)).to_be_visible()

        live_app.upstream.set_pace(0)  # let it finish
        for tab in (page, other):
            reply = last_reply(tab)
            expect(reply.locator(".msg-footer")).to_contain_text(FOOTER, timeout=30_000)
            expect(tab.locator("#messages .msg-assistant")).to_have_count(1)
        assert (
            last_reply(page).locator(".md").inner_text()
            == last_reply(other).locator(".md").inner_text()
        )
    finally:
        other.close()


def test_a_reply_whose_end_is_lost_on_the_way_still_ends_on_screen(page: Page, live_app):
    """A frame can be lost between server and page (a full queue in an overloaded process):
    a streaming reply that goes silent is checked with the server and shown as it ended."""
    page.add_init_script("window.chatappSilenceMs = 1500")
    lost: list[str] = []

    def drop_the_first_end(socket):
        server = socket.connect_to_server()

        def from_server(message):
            if '"type":"message_completed"' in str(message) and not lost:
                lost.append(message)
                return
            socket.send(message)

        server.on_message(from_server)

    page.route_web_socket(re.compile(r"/ws/conversations/"), drop_the_first_end)
    start_new_chat(page, live_app)
    send(page, "Short answer [[tokens:30]]")

    reply = last_reply(page)
    expect(reply.locator(".msg-footer")).to_contain_text(FOOTER, timeout=15_000)
    expect(reply).not_to_have_class(re.compile("is-streaming"))
    expect(send_button(page)).to_be_visible()
    assert len(lost) == 1  # the end really was lost; the page found out by itself


def test_new_chat_stores_nothing_until_the_first_message(page: Page, live_app):
    start_new_chat(page, live_app)
    send(page, "The one real question")
    expect(last_reply(page).locator(".msg-footer")).to_contain_text(FOOTER, timeout=30_000)
    rows = page.locator("#conv-list .conv-item")
    before = rows.count()

    new_chat = page.get_by_role("button", name="New chat", exact=True)
    for _ in range(3):
        new_chat.click()
        expect(page).to_have_url(f"{live_app.url}/")
        expect(page.get_by_text("Start a conversation — ask Claude anything")).to_be_visible()
    expect(rows).to_have_count(before)
    page.reload()
    expect(page.locator("#conv-status")).not_to_contain_text("Loading")
    expect(rows).to_have_count(before)

    send(page, "A second question")  # the first message stores the conversation
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))
    expect(rows).to_have_count(before + 1)


def test_jump_to_latest_is_not_carried_to_an_empty_chat(page: Page, live_app):
    start_new_chat(page, live_app)
    send(page, "A long answer please [[tokens:1500]]")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    page.locator("#scroller").evaluate("s => s.scrollTo(0, 0)")  # read from the top
    jump = page.get_by_role("button", name="Jump to latest")
    expect(jump).to_be_visible()

    page.get_by_role("button", name="New chat", exact=True).click()
    expect(page.get_by_text("Start a conversation — ask Claude anything")).to_be_visible()
    expect(jump).to_be_hidden()


def test_rename_and_delete_a_conversation(page: Page, live_app):
    start_new_chat(page, live_app)
    send(page, "Something to rename")  # a conversation is stored with its first message
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))
    expect(last_reply(page).locator(".msg-footer")).to_contain_text(FOOTER, timeout=30_000)
    current = page.locator(".conv-item.is-current")
    expect(current).to_have_count(1)

    current.get_by_role("button", name=re.compile("^Rename")).click()
    title_box = page.get_by_role("textbox", name=re.compile("^New title"))
    title_box.fill("Trip planning notes")
    title_box.press("Enter")
    expect(page.locator(".conv-item.is-current .conv-link")).to_have_text("Trip planning notes")
    expect(page.locator("#conv-title")).to_have_text("Trip planning notes")

    page.reload()  # saved on the server
    expect(page.locator(".conv-item.is-current .conv-link")).to_have_text("Trip planning notes")

    page.locator(".conv-item.is-current").get_by_role("button", name=re.compile("^Delete")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Trip planning notes")
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(page).to_have_url(f"{live_app.url}/")
    sidebar = page.locator("#conv-list")
    expect(sidebar.get_by_text("Trip planning notes", exact=True)).to_have_count(0)

    page.reload()
    expect(page.locator("#conv-status")).not_to_contain_text("Loading")  # the list is in
    expect(sidebar.get_by_text("Trip planning notes", exact=True)).to_have_count(0)


def test_a_failed_reply_says_so_in_plain_words_with_retry(page: Page, live_app):
    start_new_chat(page, live_app)
    send(page, "[[fault:invalid]] please fail")

    reply = last_reply(page)
    error = reply.locator(".msg-error")
    expect(error).to_be_visible(timeout=30_000)
    expect(error).to_contain_text("Claude's service rejected this request.")
    expect(error.get_by_role("button", name="Retry", exact=True)).to_be_visible()
    expect(send_button(page)).to_be_visible()


def test_retry_replaces_a_failed_reply_with_a_new_one(page: Page, live_app):
    live_app.upstream.add_faults([{"kind": "status", "status": 529}])  # the next call fails
    start_new_chat(page, live_app)
    send(page, "Hello after an outage")

    error = last_reply(page).locator(".msg-error")
    expect(error).to_contain_text("overloaded", timeout=30_000)
    error.get_by_role("button", name="Retry", exact=True).click()

    reply = last_reply(page)
    expect(reply.locator(".msg-footer")).to_contain_text(FOOTER, timeout=30_000)
    expect(reply.locator(".md")).to_contain_text(REPLY_START)
    expect(page.locator("#messages .msg-error:visible")).to_have_count(0)
    expect(page.locator("#messages .msg-assistant")).to_have_count(1)


def test_a_failed_reply_says_what_happened_once_and_offers_only_retry(page: Page, live_app):
    live_app.upstream.add_faults([{"kind": "status", "status": 529}])  # the next call fails
    start_new_chat(page, live_app)
    send(page, "Hello during an outage")

    reply = last_reply(page)
    error = reply.locator(".msg-error")
    expect(error).to_contain_text("overloaded", timeout=30_000)
    assert error.inner_text().lower().count("overloaded") == 1  # said once, not twice
    expect(error.get_by_role("button", name="Retry", exact=True)).to_be_visible()
    # Nothing was written or billed: no Copy, no Regenerate, no "0 in · 0 out · unpriced".
    expect(reply.get_by_role("button", name="Copy reply")).to_have_count(0)
    expect(reply.get_by_role("button", name="Regenerate this reply")).to_have_count(0)
    expect(reply.locator(".msg-usage")).to_have_count(0)


def boxes_overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def test_a_toast_leaves_send_and_the_budget_line_uncovered(page: Page, live_app):
    start_new_chat(page, live_app)
    composer(page).fill("Typed, about to send")
    expect(page.locator("#budget-status")).to_be_visible()
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import…").click()
    chooser.value.set_files({"name": "broken.json", "mimeType": "application/json",
                             "buffer": b"{ not json"})
    toast = page.locator(".toast").last
    expect(toast).to_contain_text("Couldn't import")
    for covered in (send_button(page), page.locator("#budget-status")):
        assert not boxes_overlap(toast.bounding_box(), covered.bounding_box())


def test_the_sidebar_tools_stay_in_reach_with_many_conversations(page: Page, live_app):
    start_new_chat(page, live_app)
    for n in range(1, 31):
        create_conversation(page, f"Kept chat {n}")
    page.reload()
    expect(page.locator("#conv-list .conv-item", has_text="Kept chat 30")).to_have_count(1)
    assert page.locator("#conv-list .conv-item").count() >= 30
    for name in ("Import…", "Prompt presets", "Keyboard shortcuts"):
        expect(page.get_by_role("button", name=name)).to_be_in_viewport(ratio=1)
    page.locator("#conv-list").hover()
    page.mouse.wheel(0, 5000)  # the list scrolls under them
    expect(page.locator("#conv-list .conv-item").first).not_to_be_in_viewport()
    expect(page.get_by_role("button", name="Import…")).to_be_in_viewport(ratio=1)
    expect(page.get_by_role("button", name="New chat", exact=True)).to_be_in_viewport(ratio=1)


def test_the_sidebar_groups_conversations_by_when_they_were_last_used(page: Page, live_app):
    start_new_chat(page, live_app)
    create_conversation(page, "Grouped chat")
    row = page.locator("#conv-list li").filter(has_text="Grouped chat")

    def heading_above():
        return row.evaluate("""row => {
            for (let li = row.previousElementSibling; li; li = li.previousElementSibling) {
                if (li.classList.contains('conv-group')) return li.textContent;
            }
            return null;
        }""")

    now = datetime.now()
    for days_later, group in ((0, "Today"), (1, "Yesterday"), (4, "Previous 7 days"),
                              (40, "Older")):
        page.clock.set_fixed_time(now + timedelta(days=days_later))  # the reader's today
        page.reload()
        expect(row).to_have_count(1)
        assert heading_above() == group


def test_on_a_phone_the_conversation_header_fits_two_rows_and_the_model_name_is_whole(
    browser, live_app
):
    context = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        page = context.new_page()
        live_app.login(page)
        page.get_by_role("combobox", name="Model", exact=True).select_option("claude-sonnet-5-5")
        send(page, "Hello from a phone")
        expect(last_reply(page).locator(".msg-footer")).to_contain_text(FOOTER, timeout=30_000)
        expect(page.locator("#conv-cost")).to_be_visible()

        for control in (page.locator("#conv-title"), page.locator("#conv-cost"),
                        page.get_by_role("button", name="Settings"),
                        page.get_by_role("link", name="Export as Markdown"),
                        page.get_by_role("link", name="Export as JSON")):
            expect(control).to_be_in_viewport(ratio=1)
        rows = page.locator(".conv-header > :visible").evaluate_all(
            "nodes => new Set(nodes.map(n => Math.round(n.getBoundingClientRect().top / 8))).size"
        )
        assert rows <= 2

        # The picker is wide enough for the chosen model's whole name.
        room, needed = page.locator("#model-select").evaluate("""s => {
            const style = getComputedStyle(s);
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = style.font;
            const text = ctx.measureText(s.options[s.selectedIndex].text).width;
            return [s.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
                    text + 16];  // and the arrow
        }""")
        assert room >= needed, (room, needed)
    finally:
        context.close()


def test_phone_width_hides_the_sidebar_behind_a_button(browser, live_app):
    context = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        page = context.new_page()
        live_app.login(page)
        sidebar = page.get_by_role("navigation", name="Conversations")
        expect(sidebar).to_be_hidden()
        toggle = page.get_by_role("button", name="Show conversations")
        toggle.click()
        expect(sidebar).to_be_visible()
        expect(sidebar.get_by_role("button", name="New chat", exact=True)).to_be_visible()
        page.keyboard.press("Escape")
        expect(sidebar).to_be_hidden()
        expect(page.get_by_text("offline demo upstream", exact=True)).to_be_visible()
        # Every control of the header and the composer is on the screen, none cut off.
        for control in (page.get_by_role("link", name="Batch jobs"),
                        page.get_by_role("button", name="Log out"),
                        page.get_by_role("button", name="Attach files"),
                        page.locator("#model-select"), page.locator("#thinking-select"),
                        page.get_by_role("button", name="Send")):
            expect(control).to_be_in_viewport(ratio=1)
    finally:
        context.close()


def test_the_composer_hint_is_whole_at_1280_px(page: Page, live_app):
    start_new_chat(page, live_app)
    page.get_by_role("combobox", name="Model", exact=True).select_option("claude-sonnet-5-5")
    hint = page.locator("#composer-hint")
    expect(hint).to_be_visible()
    assert hint.evaluate("h => h.scrollWidth <= h.clientWidth && h.scrollHeight <= h.clientHeight")
    box, bar = hint.bounding_box(), page.locator(".composer-bar").bounding_box()
    assert box["y"] >= bar["y"] and box["y"] + box["height"] <= bar["y"] + bar["height"]
    assert hint.inner_text().replace("\xa0", " ") == "Enter to send · Shift+Enter for a new line"
