"""In the browser: a broken reply restarted with a note, Continue after an interruption (a new
turn where the model takes no prefill), the Thinking panel and tool cards, and Auto routing's
one-line reason."""

import pytest
from playwright.sync_api import Page, expect

from chatapp.claude.prompt import continuation_text

pytestmark = pytest.mark.browser


def send(page: Page, text: str) -> None:
    page.get_by_role("textbox", name="Message Claude").fill(text)
    page.get_by_role("button", name="Send", exact=True).click()


def last_reply(page: Page):
    return page.locator("#messages .msg-assistant").last


def finished(page: Page):
    return page.locator("#messages .msg-assistant[data-status=complete]")


def test_a_broken_stream_restarts_with_a_note(page, live_app):
    live_app.upstream.add_faults([{"kind": "drop", "after_tokens": 40}])
    send(page, "Tell me a story [[tokens:400]]")
    reply = last_reply(page)
    expect(reply.locator(".msg-note")).to_contain_text("the reply was restarted")
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".md")).to_contain_text("offline_reply")
    assert reply.locator(".md").inner_text().count("You asked:") == 1  # started over, once


def test_an_interrupted_reply_offers_continue_and_retry(page, live_app):
    live_app.upstream.add_faults([{"kind": "drop", "after_tokens": 30}] * 3)
    send(page, "Keep talking [[tokens:200]]")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "interrupted")
    expect(reply.get_by_role("button", name="Retry")).to_be_visible()
    written = reply.locator(".md").inner_text()
    reply.get_by_role("button", name="Continue").click()
    # The model takes no prefill: a short question of its own asks for the rest, in a new
    # reply; the interrupted one stays as it was.
    replies = page.locator("#messages .msg-assistant")
    expect(replies).to_have_count(2)
    expect(page.locator("#messages .msg-user .msg-text").last).to_have_text(
        continuation_text("")
    )
    expect(replies.last).to_have_attribute("data-status", "complete", timeout=15_000)
    expect(replies.last.locator(".md")).to_contain_text(
        'You asked: "Continue your previous reply exactly where it stopped'
    )
    expect(replies.first.locator(".md")).to_have_text(written)


def test_thinking_and_tool_cards_are_shown(page, live_app):
    page.get_by_role("combobox", name="Model", exact=True).select_option("claude-sonnet-4-6")
    page.get_by_label("Thinking").select_option("high")
    send(page, 'Multiply [[tool:calculator {"expression": "6*7"}]]')
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    panel = reply.locator(".msg-trace")
    expect(panel.locator("summary")).to_contain_text("Thinking")
    expect(panel).not_to_have_attribute("open", "")  # collapsed once the answer came
    card = reply.locator(".tool-card")
    expect(card.locator(".tool-name")).to_have_text("calculator")
    expect(card.locator(".tool-result")).to_have_text("42")
    expect(card.locator(".tool-status")).to_contain_text("done")
    expect(reply.locator(".md")).to_contain_text("The tools answered:")


def reply_order(reply) -> list[str]:
    """What the reader sees in a reply, top to bottom: each piece of text, and "card: <tool>"."""
    return reply.locator(".md > *").evaluate_all(
        """nodes => nodes.map(n => n.classList.contains('tool-cards')
            ? 'card: ' + Array.from(n.querySelectorAll('.tool-name'))
                .map(t => t.textContent).join(',')
            : n.innerText.trim().split('\\n')[0])"""
    )


def test_a_tool_reply_reads_in_the_order_it_was_written(page, live_app):
    page.get_by_role("combobox", name="Model", exact=True).select_option("claude-sonnet-4-6")
    send(page, 'Multiply [[tool:calculator {"expression": "6*7"}]]')
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".tool-result")).to_have_text("42")

    def read_in_order():
        order = reply_order(last_reply(page))
        assert order[0] == "Let me use calculator for this."
        assert order[1] == "card: calculator"
        assert order[2].startswith("The tools answered:")
        assert "this.The tools" not in last_reply(page).locator(".md").inner_text()

    read_in_order()
    page.reload()  # drawn from the stored blocks, the same
    expect(last_reply(page).locator(".tool-result")).to_have_text("42")
    read_in_order()


def test_auto_says_which_model_answered_and_why(page, live_app):
    page.get_by_role("combobox", name="Model", exact=True).select_option("auto")
    send(page, "Hi!")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".msg-note")).to_contain_text("Auto chose Claude Haiku 5.5")
    # Its mark is drawn, not a symbol character missing from fonts without symbols.
    expect(reply.locator(".msg-note svg.msg-note-icon")).to_be_visible()
    expect(reply.locator(".msg-note")).not_to_contain_text("ⓘ")
    expect(reply.locator(".msg-usage")).to_contain_text("claude-haiku-5-5")
