"""Automatic routing: the rule, its reason, and "Auto" end to end."""

import pytest
from channels.db import database_sync_to_async

from chatapp import replies
from chatapp.model_router import Request, auto_versus_default, decide, score
from chatapp.models import Conversation, Message, UsageRecord
from tests.factories import make_conversation, make_user
from tests.sockets import frames_until, next_frame, open_socket, send

ANALYSIS = (
    "Analyse the attached contracts and compare their termination clauses, then assess the "
    "trade-offs of each for our negotiation strategy. " * 20
)


@pytest.mark.django_db
def test_a_short_greeting_goes_to_the_cheapest_tier():
    decision = decide(Request(text="Hi there!"))
    assert decision.tier == "haiku" and decision.model == "claude-haiku-5-5"
    assert decision.reason == (
        "Auto chose Claude Haiku 5.5: a short message with no documents or thinking."
    )


@pytest.mark.django_db
def test_a_long_analysis_with_documents_and_thinking_goes_to_the_top_tier():
    decision = decide(Request(text=ANALYSIS, documents=2, thinking="high"))
    assert decision.tier == "opus" and decision.model == "claude-opus-5-5"
    assert decision.reason == (
        "Auto chose Claude Opus 5.5: high thinking asked for, 2 document(s), a long message, "
        "analysis asked for."
    )
    assert not decision.unsure


@pytest.mark.django_db
def test_an_ordinary_question_goes_to_the_middle_tier():
    text = "What does this error mean? " + "The stack trace says a key is missing. " * 8
    assert decide(Request(text=text)).tier == "sonnet"


def test_a_long_conversation_counts():
    assert score(Request(text="and then?", earlier_messages=30)) == (2, ["a long conversation"])


@pytest.mark.django_db(transaction=True)
async def test_auto_routes_each_message_and_says_why(claude, finish_replies):
    owner = await database_sync_to_async(make_user)()
    conversation = await database_sync_to_async(make_conversation)(owner)
    socket, _ = await open_socket(owner, conversation.pk)
    await next_frame(socket)
    await send(socket, type="user_message", text="Hello!", model="auto")
    frames = await frames_until(socket, "message_completed")
    await socket.disconnect()
    await replies.wait_for_all()

    reply = await Message.objects.aget(pk=frames[-1]["message_id"])
    assert reply.model == "claude-haiku-5-5" and frames[-1]["model"] == "claude-haiku-5-5"
    assert reply.options["route"]["tier"] == "haiku"
    assert reply.notes == [reply.options["route"]["reason"]]
    assert (await Conversation.objects.aget(pk=conversation.pk)).model == "auto"
    # The rule was unsure (score 0 sits on the border): the cheapest model confirmed, costed.
    confirmation = await UsageRecord.objects.aget(purpose="routing", message=reply)
    assert confirmation.cost_usd > 0
    assert "confirmed by claude-haiku-5-5" in reply.options["route"]["reason"]

    report = await database_sync_to_async(auto_versus_default)(Message.objects.all())
    assert report["messages"] == 1
    assert report["default_cost_usd"] > report["cost_usd"]  # Sonnet would have cost more
