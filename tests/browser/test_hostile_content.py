"""Hostile replies in real Chromium: nothing runs, and the text is still there to read.

Two ways in. The offline upstream quotes the question in its reply, so a hostile *message*
comes back as hostile reply text (and is shown in the user's own bubble too). For markdown
that needs several lines (a fenced code block) the upstream replays a reply we write.

"Nothing ran" is checked three ways: the payloads' own sentinels (``window.__xss``, dialogs),
the DOM (no script, SVG, frame, handler attribute or javascript: link survives), and the
browser's console (no Content-Security-Policy violation, i.e. nothing even tried to run).
"""

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_chat_page import FOOTER, last_reply, send, start_new_chat

pytestmark = pytest.mark.browser

# Each is sent as a message; the upstream quotes up to 120 characters of it, so each fits.
HOSTILE_MESSAGES = [
    "<script>window.__xss='script'</script><img src=x onerror=\"window.__xss='img'\">"
    '<b onmouseover="window.__xss=1">bold</b>',
    "<svg onload=\"window.__xss='svg'\"><script>window.__xss=2</script></svg>"
    '<iframe src="javascript:window.__xss=3"></iframe>',
    "[click me](javascript:window.__xss='link') <a href=\"javascript:alert(1)\">a</a> "
    '<details open ontoggle="alert(1)">x',
    '<math><mi xlink:href="javascript:alert(1)">m</mi></math> `<script>alert(1)</script>`',
]

# A reply with HTML inside a fenced code block, inline code, and a link with a sneaky scheme.
REPLAYED = (
    "Here is the page you asked for:\n\n"
    "```html\n<script>window.__xss='code'</script>\n<img src=x onerror=alert(1)>\n```\n\n"
    "Inline: `<svg onload=alert(1)>` and a [harmless link](java\tscript:alert(1)).\n\n"
    "<div onclick=\"window.__xss='div'\">Raw block HTML</div>\n"
)


def sse_reply(text: str) -> str:
    """A complete Messages API stream whose reply is exactly ``text``."""
    events = [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_hostile", "type": "message", "role": "assistant", "content": [],
            "model": "claude-sonnet-4-6", "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": text}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {
            "stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 40}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


@pytest.fixture
def watched(page: Page):
    """The page, with every dialog and CSP violation recorded."""
    seen = {"dialogs": [], "csp": []}

    def on_dialog(dialog):
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda msg: "Content Security Policy" in msg.text
            and seen["csp"].append(msg.text))
    return page, seen


# Anything in the rendered replies that could run code.
RUNNABLE = """() => {
  const found = [];
  for (const root of document.querySelectorAll('#messages .md, #messages .msg-user .msg-text')) {
    for (const el of root.querySelectorAll('*')) {
      const tag = el.tagName.toLowerCase();
      if (['script', 'svg', 'iframe', 'object', 'embed', 'img', 'math', 'style'].includes(tag))
        found.push(tag);
      for (const attr of el.attributes) {
        if (attr.name.startsWith('on')) found.push(tag + '[' + attr.name + ']');
        const squashed = attr.value.replace(/[\\s\\u0000-\\u001f]/g, '');
        if (/^(javascript|data|vbscript):/i.test(squashed))
          found.push(tag + '[' + attr.name + '=' + attr.value + ']');
      }
    }
  }
  return found;
}"""


def assert_nothing_ran(page: Page, seen) -> None:
    assert page.evaluate("() => window.__xss") is None
    assert seen["dialogs"] == []
    assert page.evaluate(RUNNABLE) == []
    assert seen["csp"] == [], "something tried to run and the CSP had to stop it"


def test_hostile_messages_are_shown_as_text_and_never_run(watched, live_app):
    assert all(len(payload) <= 120 for payload in HOSTILE_MESSAGES)
    page, seen = watched
    start_new_chat(page, live_app)
    for number, payload in enumerate(HOSTILE_MESSAGES, start=1):
        send(page, payload)
        expect(page.locator("#messages .msg-footer")).to_have_count(number, timeout=30_000)
        expect(page.locator("#messages .msg-user .msg-text").last).to_have_text(payload)
        reply = last_reply(page).locator(".md")
        expect(reply).to_contain_text("You asked:")
        # The quoted payload is readable; only its markdown (link, code span) is rendered.
        visible = re.sub(r"\[(.*?)\]\(.*?\)|`", r"\1", payload)
        expect(reply).to_contain_text(visible[:40])
    page.get_by_text("click me").first.click()  # what a reader might do
    page.get_by_text("bold").last.hover()
    assert_nothing_ran(page, seen)

    page.reload()  # as stored and rendered from the conversation's JSON
    expect(page.locator("#messages .msg-footer")).to_have_count(len(HOSTILE_MESSAGES))
    assert_nothing_ran(page, seen)


def test_html_in_code_blocks_and_raw_html_in_a_reply_are_shown_not_run(watched, live_app):
    page, seen = watched
    live_app.upstream.add_faults([{"kind": "replay", "body": sse_reply(REPLAYED)}])
    start_new_chat(page, live_app)
    send(page, "Show me the page")

    reply = last_reply(page)
    expect(reply.locator(".msg-footer")).to_contain_text(FOOTER, timeout=30_000)
    code = reply.locator(".code-block code")
    expect(code).to_contain_text("<script>window.__xss='code'</script>")
    expect(code).to_contain_text("<img src=x onerror=alert(1)>")
    expect(reply.locator(".md code").last).to_have_text("<svg onload=alert(1)>")
    expect(reply.locator(".md")).to_contain_text("harmless link")
    expect(reply.locator(".md")).to_contain_text("Raw block HTML")
    reply.get_by_text("harmless link").click()
    reply.get_by_text("Raw block HTML").click()
    assert_nothing_ran(page, seen)


# Links that look like local paths to a careless filter but that Chromium opens on another
# site: a backslash is a slash in http(s) URLs, so "/\evil.example" is "//evil.example".
OFF_SITE_LINKS = (
    "Read [one](/\\evil.example/a), [two](\\\\\\\\evil.example/b), "
    "[three](/\\\\\\\\evil.example/c) and [four](</\\evil.example/d>); [home](/c/1/) is ours.\n"
)


def test_links_that_the_browser_reads_as_another_site_are_not_links(watched, live_app):
    page, seen = watched
    live_app.upstream.add_faults([{"kind": "replay", "body": sse_reply(OFF_SITE_LINKS)}])
    start_new_chat(page, live_app)
    send(page, "Where should I go?")

    reply = last_reply(page)
    expect(reply.locator(".msg-footer")).to_contain_text(FOOTER, timeout=30_000)
    for text in ("one", "two", "three", "four"):
        expect(reply.locator(".md")).to_contain_text(text)  # still readable, as plain text
    # Where each remaining link really leads, as Chromium resolves it: only our own site.
    targets = reply.locator(".md a[href]").evaluate_all("links => links.map(a => a.href)")
    assert targets == [f"{live_app.url}/c/1/"]
    assert_nothing_ran(page, seen)
