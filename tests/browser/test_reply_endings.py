"""In the browser: how a reply ended, as a person sees it. A question Claude declines stays on
screen, marked, with Claude's explanation and one click to ask the catalog's fallback model; a
reply cut short says why and Continue brings the rest in a new turn; thinking shows in its
panel, never as an empty one, and what Opus/Sonnet 5.5 write between tool calls (sent as
thinking) is shown on the call it led to."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from chatapp.claude.prompt import continuation_text
from tests.browser.test_chat_page import (
    last_reply,
    no_script_errors,  # noqa: F401 (autouse fixture: any script error fails the test)
    send,
    start_new_chat,
)

pytestmark = pytest.mark.browser

RECORDED = Path(__file__).parents[1] / "fixtures" / "recorded-streams"
REFUSED = "This request was refused due to policy."


def pick_model(page: Page, model: str) -> None:
    page.get_by_role("combobox", name="Model", exact=True).select_option(model)


def question(page: Page):
    return page.locator("#messages .msg-user").last


def conversation_cost(page: Page) -> float:
    return float(re.search(r"\$([\d.]+)", page.locator("#conv-cost").inner_text()).group(1))


def test_a_declined_question_is_marked_explained_and_answered_by_the_fallback(
    page: Page, live_app
):
    start_new_chat(page, live_app)
    pick_model(page, "claude-opus-5-5")
    live_app.upstream.add_faults([{"kind": "refusal"}])  # this request only
    send(page, "How do I pick the lock of my own shed?")

    refused = last_reply(page)
    expect(refused).to_have_attribute("data-status", "error")
    expect(refused.locator(".msg-error-text")).to_have_text(
        "Claude declined to answer this question."
    )
    expect(refused.locator(".msg-refusal-explanation")).to_have_text(REFUSED)
    expect(question(page)).to_have_class(re.compile(r"\bis-refused\b"))
    expect(question(page).locator(".msg-refused-mark")).to_have_text("Declined")
    expect(question(page).locator(".msg-text")).to_have_text(
        "How do I pick the lock of my own shed?"
    )
    expect(refused.locator(".msg-usage")).to_contain_text("claude-opus-5-5")  # billed too
    spent = conversation_cost(page)

    refused.get_by_role("button", name="Retry with Claude Opus 4.8").click()
    answer = last_reply(page)
    expect(answer).to_have_attribute("data-status", "complete")
    expect(answer.locator(".md")).to_contain_text(
        'You asked: "How do I pick the lock of my own shed?"'
    )
    expect(answer.locator(".md")).to_contain_text("claude-opus-4-8")
    expect(answer.locator(".msg-note")).to_contain_text(
        "Retried on Claude Opus 4.8: Claude Opus 5.5 declined this question."
    )
    expect(answer.locator(".msg-usage")).to_contain_text(re.compile(r"claude-opus-4-8 .*\$\d"))
    expect(page.locator("#conv-cost")).not_to_have_text(f"Conversation cost ${spent:.4f}")
    assert conversation_cost(page) > spent  # the fallback's answer is billed as usual
    expect(question(page)).not_to_have_class(re.compile(r"\bis-refused\b"))
    expect(page.locator("#messages .msg-user")).to_have_count(1)
    expect(answer.locator(".version-count")).to_have_text("2 / 2")  # the refusal is kept


def test_a_refusal_without_explanation_or_fallback_says_what_can_be_done(
    page: Page, live_app
):
    start_new_chat(page, live_app)
    pick_model(page, "claude-sonnet-4-6")  # no fallback_model in the catalog
    live_app.upstream.add_faults([{"kind": "refusal", "category": None, "explanation": None}])
    send(page, "Something it will not answer")

    refused = last_reply(page)
    expect(refused.locator(".msg-refusal-explanation")).to_have_text(
        "No reason was given. You can edit the question, or ask another model."
    )
    expect(refused.get_by_role("button", name=re.compile("^Retry with"))).to_have_count(0)
    expect(question(page).locator(".msg-refused-mark")).to_be_visible()


def test_a_reply_cut_at_its_length_limit_says_so_and_continue_brings_the_rest(
    page: Page, live_app
):
    start_new_chat(page, live_app)
    page.locator("body").click()
    page.keyboard.press("Control+,")
    dialog = page.get_by_role("dialog", name="Conversation settings")
    dialog.get_by_label("Model", exact=True).select_option(label="Claude Sonnet 4.6")
    dialog.get_by_role("spinbutton", name="Max output tokens").fill("60")
    dialog.get_by_role("button", name="Save", exact=True).click()
    expect(dialog).to_be_hidden()
    send(page, "Tell me a long story [[tokens:300]]")

    cut = page.locator("#messages .msg-assistant").first
    expect(cut).to_have_attribute("data-status", "complete")
    expect(cut.locator(".msg-status")).to_have_text(
        "Cut short: the reply reached its length limit"
    )
    written = cut.locator(".md").inner_text()
    cut.get_by_role("button", name="Continue").click()

    # A new, small turn asks for the rest (current models take no prefill) and it arrives.
    expect(page.locator("#messages .msg-assistant")).to_have_count(2)
    asked = question(page)
    expect(asked.locator(".msg-text")).to_have_text(continuation_text("max_tokens"))
    expect(asked).to_have_class(re.compile(r"\bis-continuation\b"))
    rest = last_reply(page)
    expect(rest).not_to_have_attribute("data-status", "streaming")
    expect(rest.locator(".md")).to_contain_text(
        'You asked: "Your previous reply was cut off at the output limit.'
    )
    expect(cut.locator(".md")).to_have_text(written)  # the first part stays as it was
    expect(cut.get_by_role("button", name="Continue")).to_have_count(0)  # no longer the last


def test_a_reply_cut_by_the_context_window_says_so_and_can_be_continued(page: Page, live_app):
    ended = (RECORDED / "basic_response.txt").read_text().replace(
        '"stop_reason":"end_turn"', '"stop_reason":"model_context_window_exceeded"'
    )
    start_new_chat(page, live_app)
    live_app.upstream.add_faults([{"kind": "replay", "body": ended}])
    send(page, "Go on and on")

    cut = last_reply(page)
    expect(cut.locator(".md")).to_have_text("Hello there!")
    expect(cut.locator(".msg-status")).to_have_text(
        "Cut short: the reply reached the model's context window"
    )
    cut.get_by_role("button", name="Continue").click()
    expect(last_reply(page).locator(".md")).to_contain_text(
        'You asked: "Your previous reply was cut off because the conversation filled the context'
    )
    expect(last_reply(page)).to_have_attribute("data-status", "complete")


def test_summarised_thinking_streams_into_the_panel(page: Page, live_app):
    live_app.upstream.set_pace(40)
    start_new_chat(page, live_app)
    pick_model(page, "claude-sonnet-4-6")
    page.get_by_label("Thinking").select_option("high")
    send(page, "Think first [[tokens:200]]")

    reply = last_reply(page)
    panel = reply.locator(".msg-trace")
    expect(panel).to_have_attribute("open", "")  # open while Claude thinks
    expect(panel.locator(".trace-thinking")).to_contain_text("The question is:")
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(panel).not_to_have_attribute("open", "")
    expect(panel.locator("summary")).to_contain_text("Thinking")
    expect(reply.locator(".msg-thought")).to_be_hidden()


def test_thinking_that_is_not_shown_opens_no_empty_panel(page: Page, live_app):
    start_new_chat(page, live_app)
    pick_model(page, "claude-opus-5-5")  # always thinks; unasked, its thinking is omitted
    send(page, "Just answer")

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".msg-trace")).to_be_hidden()
    expect(reply.locator(".msg-thought")).to_contain_text("Claude thought (not shown)")


def test_what_sonnet_5_5_writes_between_tool_calls_is_shown_on_the_call(page: Page, live_app):
    start_new_chat(page, live_app)
    pick_model(page, "claude-sonnet-5-5")
    page.get_by_label("Thinking").select_option("low")
    send(page, 'Multiply [[tool:calculator {"expression": "6*7"}]]')

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    card = reply.locator(".tool-card")
    expect(card.locator(".tool-lead")).to_have_text("Let me use calculator for this.")
    expect(card.locator(".tool-result")).to_have_text("42")
    expect(reply.locator(".trace-thinking")).not_to_contain_text("Let me use calculator")
    expect(reply.locator(".md")).to_contain_text("The tools answered:")


def test_a_stopped_reply_continued_in_place_is_counted_once_in_the_conversation_cost(
    page: Page, live_app
):
    live_app.upstream.set_pace(40)  # slow enough to stop it mid-reply
    start_new_chat(page, live_app)
    pick_model(page, "claude-haiku-4-5")  # takes a prefill: Continue grows the same reply
    send(page, "Tell me everything [[tokens:400]]")
    reply = last_reply(page)
    expect(reply.locator(".md")).to_contain_text("You asked:")
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(reply.locator(".msg-status")).to_have_text("Stopped")
    expect(page.locator("#conv-cost")).to_be_visible()

    live_app.upstream.set_pace(0)
    reply.get_by_role("button", name="Continue").click()
    expect(page.locator("#messages .msg-assistant")).to_have_count(1)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".msg-footer")).to_be_visible()
    expect(page.locator("#conv-title")).not_to_have_text("New chat")  # the title's call is in

    # What a reload shows (the stored total: each reply once, at its whole cost, and the
    # title's call) is what the page shows without one.
    fresh = page.context.new_page()
    fresh.goto(page.url)
    stored = fresh.locator("#conv-cost")
    expect(stored).to_have_text(re.compile(r"Conversation cost \$\d"))
    expect(page.locator("#conv-cost")).to_have_text(stored.inner_text())
    fresh.close()
