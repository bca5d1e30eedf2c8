"""Automatic routing: the rule, its reason, and "Auto" end to end."""

from dataclasses import replace

import pytest
from channels.db import database_sync_to_async

from chatapp.models import Conversation, Message, UsageRecord
from chatapp.policies.replies import reply_policy
from chatapp.replies import registry
from chatapp.replies.model_router import Request, auto_versus_default, decide, score
from tests.factories import make_conversation, make_user
from tests.sockets import frames_until, next_frame, open_socket, send

DEFAULT = "claude-sonnet-5-5"  # CHATAPP_DEFAULT_MODEL: where Auto goes with no model
ANALYSIS = (
    "Analyse the attached contracts and compare their termination clauses, then assess the "
    "trade-offs of each for our negotiation strategy. " * 20
)


def confirming():
    """A reply policy under which Auto asks the cheapest model when its rule is unsure."""
    return replace(reply_policy(), router_confirm=True)


def greeting():
    """What the rule decides for a short greeting."""
    return decide(Request(text="Hi there!"), default_model=DEFAULT)


@pytest.mark.django_db
def test_a_short_greeting_goes_to_the_cheapest_tier():
    decision = decide(Request(text="Hi there!"), default_model=DEFAULT)
    assert decision.tier == "haiku" and decision.model == "claude-haiku-5-5"
    assert decision.reason == (
        "Auto chose Claude Haiku 5.5: a short message with no documents or thinking."
    )


@pytest.mark.django_db
def test_a_long_analysis_with_documents_and_thinking_goes_to_the_top_tier():
    decision = decide(Request(text=ANALYSIS, documents=2, thinking="high"), default_model=DEFAULT)
    assert decision.tier == "opus" and decision.model == "claude-opus-5-5"
    assert decision.reason == (
        "Auto chose Claude Opus 5.5: high thinking asked for, 2 document(s), a long message, "
        "analysis asked for."
    )
    assert not decision.unsure


@pytest.mark.django_db
def test_an_ordinary_question_goes_to_the_middle_tier():
    text = "What does this error mean? " + "The stack trace says a key is missing. " * 8
    assert decide(Request(text=text), default_model=DEFAULT).tier == "sonnet"


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
    await registry.wait_for_all()

    reply = await Message.objects.aget(pk=frames[-1]["message_id"])
    assert reply.model == "claude-haiku-5-5" and frames[-1]["model"] == "claude-haiku-5-5"
    assert reply.options["route"]["tier"] == "haiku"
    assert reply.notes == [reply.options["route"]["reason"]]
    assert (await Conversation.objects.aget(pk=conversation.pk)).model == "auto"
    # The rule was unsure (score 0 sits on the border): the cheapest model was asked, costed.
    confirmation = await UsageRecord.objects.aget(purpose="routing", message=reply)
    assert confirmation.cost_usd > 0
    # A side call: Haiku 5.5 thinks by default, so thinking is turned off (else its few
    # tokens go to thinking and no answer comes back).
    [check] = [r["body"] for r in claude.requests() if r["path"] == "/v1/messages"
               and "Classify" in r["body"]["messages"][0]["content"][0]["text"]]
    assert check["model"] == "claude-haiku-5-5"
    assert check["thinking"] == {"type": "disabled"} and check["max_tokens"] >= 5
    # The offline upstream answers filler, not one of the three words: the rule's choice
    # stands, and the reason says the check did not confirm it.
    assert reply.options["route"]["reason"].endswith("(the check gave no answer).")
    assert reply.options["route"]["confirmed_by"] == ""

    report = await database_sync_to_async(auto_versus_default)(Message.objects.all(), DEFAULT)
    assert report["messages"] == 1
    assert report["default_cost_usd"] > report["cost_usd"]  # Sonnet would have cost more


# --- the confirmation: its answer, and the budget ---------------------------------------------


def _completion(text: str):
    from chatapp.claude.types import Completion, Usage

    return Completion(text=text, model="claude-haiku-5-5", stop_reason="end_turn",
                      request_id="req_1", usage=Usage())


@pytest.mark.django_db
def test_an_empty_check_leaves_the_rules_choice_and_says_so():
    from chatapp.replies.model_router import apply_confirmation

    decision = apply_confirmation(greeting(), _completion(""))
    assert decision.tier == "haiku" and decision.confirmed_by == ""
    assert decision.reason.endswith("(the check gave no answer).")


@pytest.mark.django_db
def test_a_check_that_judges_otherwise_moves_the_message():
    from chatapp.replies.model_router import apply_confirmation

    decision = apply_confirmation(greeting(), _completion("Complex."))
    assert (decision.tier, decision.model) == ("opus", "claude-opus-5-5")
    assert decision.confirmed_by == "claude-haiku-5-5"
    same = apply_confirmation(greeting(), _completion("simple"))
    assert same.tier == "haiku" and same.reason.endswith("(confirmed by claude-haiku-5-5).")


def _owner_with_budget(limit: str, spent: str):
    from decimal import Decimal

    from chatapp.billing import budgets
    from chatapp.models import Budget

    owner = make_user()
    Budget.objects.create(user=owner, monthly_usd=Decimal(limit))
    budgets.add_spend(owner.pk, Decimal(spent))
    return owner, make_conversation(owner)


@pytest.mark.django_db(transaction=True)
async def test_a_confirmation_is_reserved_then_settled_to_its_cost(claude, finish_replies):
    from chatapp.billing import budgets
    from chatapp.replies.model_router import record_confirmation, route

    owner, conversation = await database_sync_to_async(_owner_with_budget)("10", "0")
    routed = await route(conversation.pk, "Hello!", (), None, confirming())
    assert routed.confirmation is not None
    held = (await budgets.astatus(owner.pk)).reserved
    assert held > 0  # until the confirmation is recorded (here: the message was refused)
    await database_sync_to_async(record_confirmation)(routed, None)
    status = await budgets.astatus(owner.pk)
    record = await UsageRecord.objects.aget(purpose="routing", user=owner)
    assert status.reserved == 0 and status.spent == record.cost_usd < held


@pytest.mark.django_db(transaction=True)
async def test_when_the_budget_cannot_cover_a_confirmation_the_rule_decides_alone(
    claude, finish_replies
):
    from chatapp.billing import budgets
    from chatapp.replies.model_router import route

    # A hundred-millionth of a dollar left: not used up, but too little for any call.
    owner, conversation = await database_sync_to_async(_owner_with_budget)("0.01", "0.00999999")
    routed = await route(conversation.pk, "Hello!", (), None, confirming())
    assert routed.confirmation is None
    assert routed.decision.tier == "haiku" and "confirmed" not in routed.decision.reason
    # Only the free count reached the upstream; nothing stays held.
    assert {r["path"] for r in claude.requests()} == {"/v1/messages/count_tokens"}
    assert (await budgets.astatus(owner.pk)).reserved == 0


@pytest.mark.django_db(transaction=True)
async def test_at_100_percent_an_auto_message_sends_nothing_upstream(claude, finish_replies):
    owner, conversation = await database_sync_to_async(_owner_with_budget)("1", "1")
    socket, _ = await open_socket(owner, conversation.pk)
    await next_frame(socket)
    await send(socket, type="user_message", text="Hello!", model="auto")
    error = await next_frame(socket)
    await socket.disconnect()
    assert error["type"] == "error" and error["code"] == "budget_exceeded"
    assert claude.requests() == []  # not even the router's question (or its count)
    routing = UsageRecord.objects.filter(purpose="routing")
    assert not await database_sync_to_async(routing.exists)()
