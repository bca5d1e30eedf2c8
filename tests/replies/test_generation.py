"""Replies that survive upstream failures: what the user sees, what is stored, what is billed.

Every failure comes from the offline upstream's fault switches, through the real SDK.
"""

from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from chatapp.claude.prompt import continuation_text
from chatapp.models import ClaudeModel, Conversation, Message, MessageStatus, UsageRecord
from chatapp.replies import registry
from tests.factories import make_conversation, make_user
from tests.sockets import frames_until, next_frame, open_socket, send, streamed_text

pytestmark = [pytest.mark.django_db(transaction=True)]

LONG = "Tell me everything [[tokens:400]]"
RECORDED = Path(__file__).parents[1] / "fixtures" / "recorded-streams"


@pytest.fixture
async def owner():
    return await database_sync_to_async(make_user)()


async def ask(owner, text, *, model="claude-sonnet-4-6", settle=True):
    """Send ``text`` in a new conversation; every frame up to the reply's end, and the reply."""
    conversation = await database_sync_to_async(make_conversation)(owner, model=model)
    socket, connected = await open_socket(owner, conversation.pk)
    assert connected and (await next_frame(socket))["type"] == "ready"
    await send(socket, type="user_message", text=text)
    frames = await frames_until(socket, "message_completed")
    await socket.disconnect()
    reply_id = frames[-1]["message_id"]
    if settle:
        await registry.wait_for_all()
    reply = await Message.objects.aget(pk=reply_id)
    records = [r async for r in UsageRecord.objects.filter(message_id=reply_id, purpose="reply")]
    return frames, reply, records


def reply_requests(claude):
    """The streamed /v1/messages requests (titles and token counts left out)."""
    return [r for r in claude.requests() if r["path"] == "/v1/messages" and r["body"].get("stream")]


def notices(frames):
    return [frame["text"] for frame in frames if frame["type"] == "notice"]


async def clean_text(owner, text, model="claude-sonnet-4-6"):
    """What the same question gets when nothing goes wrong (the upstream is deterministic)."""
    _, reply, _ = await ask(owner, text, model=model)
    return reply.text


# --- Before the stream starts: the SDK retries, the user is told ----------------------------


async def test_a_429_with_retry_after_is_retried_by_the_sdk_and_announced(
    claude, owner, settings, finish_replies
):
    settings.ANTHROPIC_MAX_RETRIES = 2
    claude.add_faults([{"kind": "status", "status": 429, "retry_after": 0.2}])
    frames, reply, records = await ask(owner, "Hello")

    assert notices(frames) == ["Claude is busy, retrying in 1 s"]
    assert reply.status == MessageStatus.COMPLETE and "Hello" in reply.text
    assert len(records) == 1 and records[0].cost_usd > 0  # the refused request costs nothing
    assert len(reply_requests(claude)) == 2


async def test_a_529_twice_then_success_shows_two_notices_and_one_reply(
    claude, owner, settings, finish_replies
):
    settings.ANTHROPIC_MAX_RETRIES = 2
    claude.add_faults([{"kind": "status", "status": 529}] * 2)
    frames, reply, records = await ask(owner, "Are you there?")

    assert len(notices(frames)) == 2
    assert all(n.startswith("Claude is busy, retrying in ") for n in notices(frames))
    assert reply.status == MessageStatus.COMPLETE
    assert len(records) == 1 and reply.attempts == []


async def test_a_400_is_not_retried_and_is_explained(claude, owner, settings, finish_replies):
    settings.ANTHROPIC_MAX_RETRIES = 2
    claude.add_faults([{"kind": "status", "status": 400, "message": "messages: bad block"}])
    frames, reply, records = await ask(owner, "Try this")

    assert frames[-1]["status"] == "error"
    assert frames[-1]["error"] == {
        "code": "invalid_request", "message": "Claude rejected the request: messages: bad block"
    }
    assert notices(frames) == []
    assert len(reply_requests(claude)) == 1  # no retry
    assert reply.status == MessageStatus.ERROR and records == []


# --- After the stream started: we recover ---------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "error_event", "after_tokens": 200, "error_type": "overloaded_error"},
        {"kind": "drop", "after_tokens": 200},
    ],
    ids=["error event after 200 tokens", "dropped connection"],
)
async def test_a_stream_that_breaks_is_restarted_in_place_with_a_note(
    claude, owner, fault, finish_replies
):
    expected = await clean_text(owner, LONG)
    claude.reset()
    claude.add_faults([fault])
    frames, reply, records = await ask(owner, LONG)

    # The user saw the text start over (a reply_state with the note), then the whole reply.
    resets = [f for f in frames if f["type"] == "reply_state"]
    assert len(resets) == 1 and resets[0]["text"] == ""
    assert "restarted" in resets[0]["note"]
    assert streamed_text(frames, reply.pk) == expected
    # Stored: the whole reply, the broken attempt's text and reason, a note.
    assert reply.status == MessageStatus.COMPLETE and reply.text == expected
    assert len(reply.attempts) == 1
    assert expected.startswith(reply.attempts[0]["text"]) and reply.attempts[0]["text"]
    assert reply.notes == [
        "The connection to Claude broke; the reply was restarted (attempt 2 of 3)."
    ]
    # Sonnet 4.6 takes no prefill (catalog `prefill: False`): the retry ends with the question.
    assert reply_requests(claude)[-1]["body"]["messages"][-1]["role"] == "user"
    # Billed: both calls, the broken one included; the reply shows their sum.
    assert len(records) == 2
    assert reply.output_tokens == sum(r.output_tokens for r in records)
    assert reply.cost_usd == sum(r.cost_usd for r in records)
    assert records[0].output_tokens >= 150 or records[1].output_tokens >= 150


async def test_a_read_timeout_mid_reply_is_recovered(claude, owner, settings, finish_replies):
    settings.ANTHROPIC_TIMEOUT_SECONDS = 0.5
    claude.add_faults([{"kind": "stall", "after_tokens": 30, "seconds": 3}])
    frames, reply, records = await ask(owner, LONG)

    assert reply.status == MessageStatus.COMPLETE
    assert reply.attempts[0]["error"]["code"] == "upstream_unreachable"
    assert len(records) == 2 and reply.text == streamed_text(frames, reply.pk)


async def test_a_model_that_takes_a_prefill_goes_on_where_it_stopped(
    claude, owner, finish_replies
):
    expected = await clean_text(owner, LONG, model="claude-haiku-4-5")
    claude.reset()
    claude.add_faults([{"kind": "drop", "after_tokens": 120}])
    _, reply, records = await ask(owner, LONG, model="claude-haiku-4-5")

    prefill = reply_requests(claude)[-1]["body"]["messages"][-1]
    assert prefill["role"] == "assistant"
    assert expected.startswith(prefill["content"][-1]["text"])
    assert reply.status == MessageStatus.COMPLETE
    assert " ".join(reply.text.split()) == " ".join(expected.split())
    assert "went on where it stopped" in reply.notes[0]
    assert len(records) == 2


async def test_when_recovery_fails_the_reply_is_interrupted_and_can_be_continued(
    claude, owner, settings, finish_replies
):
    settings.CHATAPP_STREAM_RECOVERIES = 1
    drop = {"kind": "drop", "after_tokens": 60}
    claude.add_faults([drop, drop])
    conversation = await database_sync_to_async(make_conversation)(owner)
    socket, _ = await open_socket(owner, conversation.pk)
    await next_frame(socket)
    await send(socket, type="user_message", text=LONG)
    frames = await frames_until(socket, "message_completed")
    reply_id = frames[-1]["message_id"]

    assert frames[-1]["status"] == "interrupted"
    assert frames[-1]["error"]["code"] == "upstream_unreachable"
    interrupted = await Message.objects.aget(pk=reply_id)
    assert interrupted.text and interrupted.text == streamed_text(frames, reply_id)
    assert len(interrupted.attempts) == 1  # the second break is the reply's own error
    assert await UsageRecord.objects.filter(message_id=reply_id).acount() == 2

    await send(socket, type="continue", message_id=reply_id)
    more = await frames_until(socket, "message_completed")
    await socket.disconnect()
    await registry.wait_for_all()
    # Sonnet 4.6 takes no prefill: a new user turn asks Claude to go on, in a reply of its own;
    # the interrupted reply stays as it was (later requests send exactly what this one sent).
    question = next(f for f in more if f["type"] == "message_created")["message"]
    assert question["text"] == continuation_text("")  # "Continue your previous reply…"
    assert question["options"] == {"continues": reply_id}
    follow_up = await Message.objects.aget(pk=more[-1]["message_id"])
    assert follow_up.pk != reply_id and more[-1]["status"] == "complete"
    assert streamed_text(more, follow_up.pk) == follow_up.text and follow_up.text
    last_request = reply_requests(claude)[-1]["body"]["messages"]
    assert last_request[-2]["role"] == "assistant"
    assert last_request[-2]["content"][0]["text"] == interrupted.text
    assert last_request[-1]["content"][-1]["text"] == continuation_text("")
    unchanged = await Message.objects.aget(pk=reply_id)
    assert unchanged.text == interrupted.text and unchanged.status == MessageStatus.INTERRUPTED
    assert await UsageRecord.objects.filter(message_id=follow_up.pk).acount() == 1


# --- Tool rounds and thinking ----------------------------------------------------------------

CALC = '[[tool:calculator {"expression": "6*7"}]]'
CLOCK = '[[tool:current_datetime {"timezone": "Europe/Paris"}]]'


def tool_results(request):
    return [b for b in request["body"]["messages"][-1]["content"] if b["type"] == "tool_result"]


async def test_a_two_round_tool_loop_with_thinking_sends_the_thinking_back_unchanged(
    claude, owner, finish_replies
):
    conversation = await database_sync_to_async(make_conversation)(owner)
    socket, _ = await open_socket(owner, conversation.pk)
    await next_frame(socket)
    await send(socket, type="user_message", text=f"Work it out {CALC} [[tool_rounds:2]]",
               thinking="high")
    frames = await frames_until(socket, "message_completed")
    await socket.disconnect()
    await registry.wait_for_all()
    reply = await Message.objects.aget(pk=frames[-1]["message_id"])
    calls = reply_requests(claude)

    assert len(calls) == 3  # tool call, tool call, answer
    assert calls[0]["body"]["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert calls[0]["body"]["output_config"] == {"effort": "high"}
    first_thinking = reply.content[0]
    assert first_thinking["type"] == "thinking" and first_thinking["signature"]
    sent_back = calls[1]["body"]["messages"][-2]["content"][0]
    assert sent_back == first_thinking  # exactly as received, signature included
    assert [b["type"] for b in reply.content].count("tool_result") == 2
    assert reply.status == MessageStatus.COMPLETE and "The tools answered:" in reply.text
    assert "- calculator: 42" in reply.text
    # Thinking streamed live, and its tokens are in the usage.
    assert any(f.get("thinking") for f in frames if f["type"] == "delta")
    assert frames[-1]["thinking_tokens"] > 0
    assert reply.cost_breakdown["calls"] == 3


async def test_parallel_calls_are_answered_in_one_message_with_cards(
    claude, owner, finish_replies
):
    frames, reply, _ = await ask(owner, f"Two things {CALC} {CLOCK}")
    second = reply_requests(claude)[1]
    uses = [b for b in reply.content if b["type"] == "tool_use"]

    results = tool_results(second)
    assert [r["tool_use_id"] for r in results] == [u["id"] for u in uses]
    assert second["body"]["messages"][-1]["content"] == results  # results only, in one turn
    assert results[0]["content"] == "42" and "+01:00" in results[1]["content"]  # Paris, CET
    cards = [f["tool"] for f in frames if f["type"] == "tool_call"]
    assert [c["status"] for c in cards].count("running") == 2
    done = {c["name"]: c for c in cards if c["status"] == "done"}
    assert done["calculator"]["result"] == "42" and done["calculator"]["ms"] >= 0
    assert reply.options["tool_ms"].keys() == {u["id"] for u in uses}


async def test_an_unknown_tool_gets_an_error_result_not_a_crash(claude, owner, finish_replies):
    frames, reply, _ = await ask(owner, 'Weather? [[tool:get_weather {"location": "Paris"}]]')
    (result,) = tool_results(reply_requests(claude)[1])
    assert result["is_error"] is True and "no tool named 'get_weather'" in result["content"]
    assert reply.status == MessageStatus.COMPLETE and "get_weather (error)" in reply.text
    assert [c["status"] for c in (f["tool"] for f in frames if f["type"] == "tool_call")] == [
        "running", "error"]


async def test_the_round_limit_stops_the_loop_with_a_note_and_a_valid_history(
    claude, owner, settings, finish_replies
):
    settings.CHATAPP_TOOL_ROUNDS = 3
    conversation = await database_sync_to_async(make_conversation)(owner)
    socket, _ = await open_socket(owner, conversation.pk)
    await next_frame(socket)
    await send(socket, type="user_message", text=f"Forever {CALC} [[tool_rounds:50]]")
    done = await frames_until(socket, "message_completed")
    reply = await Message.objects.aget(pk=done[-1]["message_id"])
    assert len(reply_requests(claude)) == 3
    assert reply.notes == [
        "Claude asked for more tool calls after 3 rounds; the reply was stopped there."
    ]
    unanswered = reply.content[-1]
    assert unanswered["type"] == "tool_result" and unanswered["is_error"] is True

    await send(socket, type="user_message", text="And now?")  # the history is still valid
    after = await frames_until(socket, "message_completed")
    await socket.disconnect()
    assert after[-1]["status"] == "complete"


async def test_the_recorded_tool_use_stream_gets_an_error_result_for_our_missing_tool(
    claude, owner, finish_replies
):
    recorded = (RECORDED / "tool_use_response.txt").read_text()
    claude.add_faults([{"kind": "replay", "body": recorded}])
    _, reply, records = await ask(owner, "What's the weather in Paris?")

    (result,) = tool_results(reply_requests(claude)[1])
    assert result["tool_use_id"] == "toolu_01NRLabsLyVHZPKxbKvkfSMn" and result["is_error"]
    assert reply.status == MessageStatus.COMPLETE and len(records) == 2
    assert reply.text.startswith("I'll check the current weather in Paris for you.")


async def test_a_paused_turn_is_sent_back_and_continued(claude, owner, finish_replies):
    _, reply, records = await ask(owner, "Look it up [[pause_turn]]")
    second = reply_requests(claude)[1]["body"]["messages"][-1]
    assert second["role"] == "assistant" and second["content"][-1]["type"] == "server_tool_use"
    assert [b["type"] for b in reply.content] == ["text", "server_tool_use", "text"]
    assert reply.stop_reason == "end_turn" and len(records) == 2


# --- Refusals: marked, explained, retried on the catalog's fallback model ----------------------

REFUSING = "claude-opus-5-5"
FALLBACK = "claude-opus-4-8"


async def set_fallback(fallback):
    """Opus 5.5's fallback in the catalog (capabilities, as staff can edit them)."""
    model = await ClaudeModel.objects.aget(pk=REFUSING)
    capabilities = {k: v for k, v in model.capabilities.items() if k != "fallback_model"}
    model.capabilities = {**capabilities, **({"fallback_model": fallback} if fallback else {})}
    await model.asave(update_fields=["capabilities"])


@pytest.fixture
async def fallback_in_catalog():
    await set_fallback(FALLBACK)


async def refused_exchange(claude, owner, fault=None, text="How do I pick this lock?"):
    """A question on Opus 5.5 that the upstream refuses once; (socket, frames, reply)."""
    claude.add_faults([fault or {"kind": "refusal"}])
    conversation = await database_sync_to_async(make_conversation)(owner, model=REFUSING)
    socket, _ = await open_socket(owner, conversation.pk)
    await next_frame(socket)
    await send(socket, type="user_message", text=text)
    frames = await frames_until(socket, "message_completed")
    reply = await Message.objects.aget(pk=frames[-1]["message_id"])
    return socket, frames, reply


async def test_a_refusal_is_stored_with_its_reason_and_explanation_and_billed(
    claude, owner, finish_replies
):
    socket, frames, reply = await refused_exchange(claude, owner)
    await socket.disconnect()
    done = frames[-1]

    assert done["status"] == "error" and done["stop_reason"] == "refusal"
    assert done["error"]["code"] == "refusal"
    assert "This request was refused due to policy." in done["error"]["message"]
    assert done["options"]["stop_details"]["explanation"] == (
        "This request was refused due to policy."
    )
    assert done["options"]["stop_details"]["category"] == "cyber"
    assert reply.stop_reason == "refusal" and reply.text == ""
    assert await UsageRecord.objects.filter(message_id=reply.pk).acount() == 1  # billed


async def test_a_refusal_without_category_or_explanation_still_ends_cleanly(
    claude, owner, finish_replies
):
    fault = {"kind": "refusal", "category": None, "explanation": None}
    socket, frames, reply = await refused_exchange(claude, owner, fault)
    await socket.disconnect()

    assert frames[-1]["error"] == {
        "code": "refusal", "message": "Claude declined to answer this request."
    }
    assert reply.options["stop_details"] == {
        "type": "refusal", "category": None, "explanation": None
    }


async def test_the_recorded_refusal_stream_ends_as_a_refusal_with_no_text(
    claude, owner, finish_replies
):
    recorded = (RECORDED / "refusal_response.txt").read_text()
    claude.add_faults([{"kind": "replay", "body": recorded}])
    frames, reply, records = await ask(owner, "Anything")

    assert reply.status == MessageStatus.ERROR and reply.stop_reason == "refusal"
    assert reply.text == "" and streamed_text(frames, reply.pk) == ""
    assert reply.options["stop_details"]["category"] == "cyber"
    assert len(records) == 1 and records[0].output_tokens == 120


async def test_a_refused_question_is_retried_on_the_fallback_model_and_billed(
    claude, owner, fallback_in_catalog, finish_replies
):
    socket, _, refused = await refused_exchange(claude, owner)
    await send(socket, type="regenerate", message_id=refused.pk, fallback=True)
    frames = await frames_until(socket, "message_completed")
    await socket.disconnect()
    await registry.wait_for_all()
    retried = await Message.objects.aget(pk=frames[-1]["message_id"])

    started = next(f for f in frames if f["type"] == "message_started")
    assert started["model"] == FALLBACK and started["reply_to"] == refused.reply_to_id
    assert frames[-1]["status"] == "complete" and "How do I pick this lock?" in retried.text
    assert retried.model == FALLBACK and retried.options["fallback_from"] == REFUSING
    assert retried.notes[0] == (
        "Retried on Claude Opus 4.8: Claude Opus 5.5 declined this question."
    )
    request = reply_requests(claude)[-1]["body"]
    assert request["model"] == FALLBACK
    assert request["messages"][-1]["content"][-1]["text"] == "How do I pick this lock?"
    records = [r async for r in UsageRecord.objects.filter(message_id=retried.pk)]
    assert len(records) == 1 and records[0].model == FALLBACK and records[0].cost_usd > 0
    await refused.arefresh_from_db()
    assert refused.superseded  # kept as the other version of the reply
    conversation = await Conversation.objects.aget(pk=refused.conversation_id)
    assert conversation.model == REFUSING  # the conversation stays on its model


async def test_only_a_refused_reply_with_a_fallback_in_the_catalog_can_fall_back(
    claude, owner, finish_replies
):
    await set_fallback(None)
    socket, _, refused = await refused_exchange(claude, owner)
    await send(socket, type="regenerate", message_id=refused.pk, fallback=True)
    error = await next_frame(socket)
    assert error["type"] == "error" and error["code"] == "bad_frame"
    assert "no fallback model" in error["message"]

    await send(socket, type="user_message", text="Something else")
    answered = await frames_until(socket, "message_completed")
    await send(socket, type="regenerate", message_id=answered[-1]["message_id"], fallback=True)
    error = await next_frame(socket)
    await socket.disconnect()
    assert error["code"] == "bad_frame" and "Only a declined reply" in error["message"]


# --- Replies cut short: said so, and Continue asks in a new user turn --------------------------


def context_exceeded_stream() -> str:
    """The recorded basic stream, ended by the context window instead of end_turn."""
    return (RECORDED / "basic_response.txt").read_text().replace(
        '"stop_reason":"end_turn"', '"stop_reason":"model_context_window_exceeded"'
    )


async def cut_short(claude, owner, *, model="claude-sonnet-4-6", text="Go on [[tokens:300]]",
                    fault=None):
    """A reply that ends cut short; (socket, its frames, the reply)."""
    if fault:
        claude.add_faults([fault])
    conversation = await database_sync_to_async(make_conversation)(
        owner, model=model, max_output_tokens=60
    )
    socket, _ = await open_socket(owner, conversation.pk)
    await next_frame(socket)
    await send(socket, type="user_message", text=text)
    frames = await frames_until(socket, "message_completed")
    await registry.wait_for_all()
    return socket, frames, await Message.objects.aget(pk=frames[-1]["message_id"])


@pytest.mark.parametrize("ending", ["max_tokens", "model_context_window_exceeded"])
async def test_continue_after_a_cut_short_reply_is_a_new_user_turn(
    claude, owner, ending, finish_replies
):
    fault = None
    if ending == "model_context_window_exceeded":
        fault = {"kind": "replay", "body": context_exceeded_stream()}
    socket, frames, cut = await cut_short(claude, owner, fault=fault)
    assert frames[-1]["status"] == "complete" and cut.stop_reason == ending

    await send(socket, type="continue", message_id=cut.pk)
    frames = await frames_until(socket, "message_completed")
    await registry.wait_for_all()
    created = next(f for f in frames if f["type"] == "message_created")["message"]
    assert created["role"] == "user" and created["text"] == continuation_text(ending)
    assert created["options"] == {"continues": cut.pk}
    follow_up = await Message.objects.aget(pk=frames[-1]["message_id"])
    assert follow_up.pk != cut.pk and follow_up.reply_to_id == created["id"]
    assert frames[-1]["status"] == "complete"
    # No prefill: the request ends with the new user turn, right after the cut reply.
    messages = reply_requests(claude)[-1]["body"]["messages"]
    assert messages[-1]["role"] == "user"
    assert messages[-1]["content"][-1]["text"] == continuation_text(ending)
    assert messages[-2]["role"] == "assistant" and messages[-2]["content"][0]["text"] == cut.text
    await cut.arefresh_from_db()
    assert cut.stop_reason == ending and cut.text  # the cut reply is kept as it was

    # Append-only: the next question's request starts with exactly what the continuation sent.
    await send(socket, type="user_message", text="Thanks")
    await frames_until(socket, "message_completed")
    await socket.disconnect()
    continued, following = reply_requests(claude)[-2:]
    sent = [{**m, "content": [strip_cache(b) for b in m["content"]]}
            for m in continued["body"]["messages"]]
    again = [{**m, "content": [strip_cache(b) for b in m["content"]]}
             for m in following["body"]["messages"]]
    assert again[: len(sent)] == sent


def strip_cache(block):
    return {k: v for k, v in block.items() if k != "cache_control"}


async def test_a_cut_short_reply_on_a_prefill_model_goes_on_in_place(
    claude, owner, finish_replies
):
    socket, _, cut = await cut_short(claude, owner, model="claude-haiku-4-5")
    assert cut.stop_reason == "max_tokens"
    await send(socket, type="continue", message_id=cut.pk)
    frames = await frames_until(socket, "message_completed")
    await socket.disconnect()
    await registry.wait_for_all()

    assert not [f for f in frames if f["type"] == "message_created"]
    assert frames[-1]["message_id"] == cut.pk
    last = reply_requests(claude)[-1]["body"]["messages"][-1]
    assert last["role"] == "assistant" and cut.text.startswith(last["content"][-1]["text"])
    grown = await Message.objects.aget(pk=cut.pk)
    assert grown.text.startswith(last["content"][-1]["text"]) and len(grown.text) > len(cut.text)


async def test_only_the_latest_reply_cut_short_stopped_or_interrupted_can_be_continued(
    claude, owner, finish_replies
):
    _, reply, _ = await ask(owner, "Hello")  # complete, ended on end_turn
    socket, _ = await open_socket(owner, reply.conversation_id)
    await next_frame(socket)
    await send(socket, type="continue", message_id=reply.pk)
    error = await next_frame(socket)
    await socket.disconnect()
    assert error["code"] == "bad_frame" and "cut short" in error["message"]


# --- What the real API may send that this app never heard of -----------------------------------


async def test_unknown_events_and_fields_in_a_stream_are_ignored(claude, owner, finish_replies):
    """The recorded basic stream with an event type and fields from a future API version."""
    future = (RECORDED / "basic_response.txt").read_text().replace(
        "event: ping\n",
        'event: future_event\ndata: {"type":"future_event","hint":{"a":1}}\n\nevent: ping\n',
        1,
    ).replace('"type":"text_delta"', '"type":"text_delta","confidence":0.9', 1).replace(
        '"stop_sequence":null}', '"stop_sequence":null,"stop_details":null,"novelty":"x"}', 1
    )
    claude.add_faults([{"kind": "replay", "body": future}])
    frames, reply, records = await ask(owner, "Hi")

    assert frames[-1]["status"] == "complete" and reply.text == "Hello there!"
    assert streamed_text(frames, reply.pk) == "Hello there!"
    assert reply.stop_reason == "end_turn" and len(records) == 1
