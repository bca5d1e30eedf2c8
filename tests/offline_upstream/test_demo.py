"""The offline demo shows the app: conversations get titles of their own, and a question with
arithmetic in it calls the app's calculator and answers with its result.

Through the app (its title job, a reply with its tools, over the socket) and through the SDK
against the offline upstream directly.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chatapp.models import Conversation, Message, MessageStatus
from chatapp.offline_upstream.reading import arithmetic_in, title_for
from chatapp.replies import registry
from chatapp.replies.tools import TOOL_DEFINITIONS
from tests.factories import make_conversation, make_user
from tests.sockets import frames_until, next_frame, open_socket, send
from tests.upstream_fixtures import user

TOOLS = [dict(tool) for tool in TOOL_DEFINITIONS]
TITLE_SYSTEM = ("You name conversations. Reply with a title of at most six words, no quotes, "
                "no punctuation at the end.")


async def ask_in_app(owner, text: str) -> tuple[Conversation, Message]:
    """Send ``text`` in a new conversation over the socket; the conversation (titled by then)
    and the finished reply."""
    conversation = await database_sync_to_async(make_conversation)(owner)
    socket, connected = await open_socket(owner, conversation.pk)
    assert connected and (await next_frame(socket))["type"] == "ready"
    await send(socket, type="user_message", text=text)
    frames = await frames_until(socket, "message_completed")
    await socket.disconnect()
    await registry.wait_for_all()  # the title job included
    reply = await Message.objects.aget(pk=frames[-1]["message_id"])
    return await Conversation.objects.aget(pk=conversation.pk), reply


# --- Titles -------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
async def test_each_conversation_gets_a_short_title_of_its_own(claude):
    owner = await database_sync_to_async(make_user)()
    lease, _ = await ask_in_app(owner, "What does my lease say about pets in the flat?")
    egg, _ = await ask_in_app(owner, "How do I boil an egg?")

    assert lease.title == "Lease Pets Flat"
    assert egg.title == "Boil Egg"
    for title in (lease.title, egg.title):
        assert "User" not in title and "You asked" not in title and len(title.split()) <= 6


async def test_a_title_call_is_answered_with_the_questions_key_words(sdk):
    excerpt = ("User: Summarise the attached lease: what are the tenant's obligations?\n\n"
               "Assistant: You asked: \"Summarise the attached lease\"")
    message = await sdk.messages.create(
        model="claude-haiku-4-5", max_tokens=24, system=TITLE_SYSTEM,
        messages=[user(excerpt)])
    assert message.stop_reason == "end_turn"
    assert [b.text for b in message.content] == ["Summarise Attached Lease Tenant's Obligations"]


async def test_a_title_call_is_never_a_tool_call_nor_a_long_reply(sdk):
    excerpt = ('User: Multiply [[tool:calculator {"expression": "6*7"}]] [[tokens:500]]\n\n'
               "Assistant: Let me use calculator for this.")
    message = await sdk.messages.create(
        model="claude-haiku-4-5", max_tokens=24, system=TITLE_SYSTEM, tools=TOOLS,
        messages=[user(excerpt)])
    assert message.stop_reason == "end_turn"
    assert [b.text for b in message.content] == ["Multiply"]


async def test_a_users_system_prompt_that_mentions_titles_still_gets_a_reply(sdk):
    message = await sdk.messages.create(
        model="claude-haiku-4-5", max_tokens=500, system="Give every answer a title.",
        messages=[user("How do I boil an egg?")])
    assert message.content[0].text.startswith('You asked: "How do I boil an egg?"')


def test_titles_name_a_calculation_by_its_expression():
    assert title_for("User: What is 17% of 2,340?\n\nAssistant: …") == "Calculating 17% of 2,340"
    assert title_for("Hi") == "Hi" and title_for("[[tokens:5]]") == "A short exchange"


# --- The calculator ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("question", "expression"),
    [
        ("What is 12*(3+4)?", "12*(3+4)"),
        ("Calculate 17% of 2,340", "17/100*2340"),
        ("calculate 2^10 please", "2**10"),
        ("(2+3)×4 ÷ 5 = ?", "(2+3)*4 / 5"),
        ("what is 10-3", "10-3"),
        ("We met on 2026-12-01 in room 4", None),  # a date, not a subtraction
        ("How do I boil an egg?", None),
    ],
)
def test_arithmetic_is_read_from_the_question(question, expression):
    assert arithmetic_in(question) == expression


@pytest.mark.django_db(transaction=True)
async def test_a_calculation_calls_the_apps_calculator_and_answers_with_its_result(claude):
    owner = await database_sync_to_async(make_user)()
    conversation, reply = await ask_in_app(owner, "What is 12*(3+4)?")

    [call] = [b for b in reply.content if b["type"] == "tool_use"]
    assert call["name"] == "calculator" and call["input"] == {"expression": "12*(3+4)"}
    [result] = [b for b in reply.content if b["type"] == "tool_result"]
    assert "84" in str(result["content"]) and not result.get("is_error")
    assert reply.status == MessageStatus.COMPLETE
    assert "`12*(3+4)` = **84**" in reply.text
    assert conversation.title == "Calculating 12×(3+4)"


async def test_a_calculation_is_a_tool_use_only_where_the_calculator_is_offered(sdk):
    asked = [user("What is 6*7?")]
    offered = await sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=500, tools=TOOLS, messages=asked)
    assert offered.stop_reason == "tool_use"
    assert [(b.name, b.input) for b in offered.content if b.type == "tool_use"] == [
        ("calculator", {"expression": "6*7"})]

    plain = await sdk.messages.create(model="claude-sonnet-4-6", max_tokens=500,
                                         messages=asked)
    declined = await sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=500, tools=TOOLS,
        tool_choice={"type": "none"}, messages=asked)
    for message in (plain, declined):
        assert message.stop_reason == "end_turn"
        assert all(block.type == "text" for block in message.content)


async def test_the_answer_after_the_calculator_leads_with_its_result(sdk):
    first = await sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=500, tools=TOOLS,
        messages=[user("Calculate 17% of 2,340")])
    [call] = [b for b in first.content if b.type == "tool_use"]
    called = [b.model_dump(exclude_none=True) for b in first.content]
    second = await sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=2000, tools=TOOLS,
        messages=[user("Calculate 17% of 2,340"), {"role": "assistant", "content": called},
                  user([{"type": "tool_result", "tool_use_id": call.id, "content": "397.8"}])])
    assert second.stop_reason == "end_turn"
    assert second.content[0].text.startswith("`17/100*2340` = **397.8**\n\nThe tools answered:")
