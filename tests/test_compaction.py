"""Long conversations: older turns are summarised before the prompt outgrows the context
window; documents and the last turns stay whole; the summary is a priced call."""

import pytest
from channels.db import database_sync_to_async

from chatapp import replies
from chatapp.compaction import SUMMARY_HEADING
from chatapp.models import ClaudeModel, Conversation, Message, UsageRecord
from tests.factories import make_conversation, make_exchange, make_user
from tests.sockets import frames_until, next_frame, open_socket, send

pytestmark = [pytest.mark.django_db(transaction=True)]

DOCUMENT = {
    "type": "document",
    "title": "Contract",
    "source": {"type": "text", "media_type": "text/plain", "data": "Clause 7: rent is due."},
}


def long_conversation(model: str, exchanges: int, chars: int) -> Conversation:
    conversation = make_conversation(make_user(), model=model)
    for number in range(exchanges):
        question, _ = make_exchange(
            conversation, f"Question {number}: " + "why " * (chars // 4), "Because. " * (chars // 9)
        )
        if number == 0:
            question.content = [DOCUMENT, *question.content]
            question.save()
    return conversation


async def ask(conversation, text):
    socket, _ = await open_socket(conversation.owner, conversation.pk)
    await next_frame(socket)
    await send(socket, type="user_message", text=text)
    frames = await frames_until(socket, "message_completed")
    await socket.disconnect()
    await replies.wait_for_all()
    return frames


def reply_requests(claude):
    return [r for r in claude.requests() if r["path"] == "/v1/messages" and r["body"].get("stream")]


async def test_a_conversation_beyond_the_window_is_summarised_and_answered(
    claude, finish_replies
):
    # Haiku 4.5's real window is 200K tokens: this history (about 225K) would be refused.
    conversation = await database_sync_to_async(long_conversation)(
        "claude-haiku-4-5", exchanges=10, chars=45_000
    )
    frames = await ask(conversation, "And what about clause 7?")

    assert frames[-1]["status"] == "complete"
    assert "Summarising earlier turns" in " ".join(
        f["text"] for f in frames if f["type"] == "notice"
    )
    sent = reply_requests(claude)[-1]["body"]["messages"]
    first = sent[0]["content"]
    assert first[0]["type"] == "document"  # the document of a summarised turn, whole
    assert any(SUMMARY_HEADING in block.get("text", "") for block in first)
    # The last four messages and the question are sent whole.
    assert sent[-1]["content"][-1]["text"] == "And what about clause 7?"
    assert sent[-2]["content"][0]["text"].startswith("Because.")
    assert sent[-3]["content"][0]["text"].startswith("Question 9:")

    saved = await Conversation.objects.aget(pk=conversation.pk)
    assert saved.summary and saved.summary_through_id is not None
    summary = await UsageRecord.objects.aget(purpose="summary", conversation=conversation)
    assert summary.model == "claude-haiku-5-5" and summary.cost_usd > 0
    reply = await Message.objects.aget(pk=frames[-1]["message_id"])
    assert reply.notes == [
        "Earlier turns (16 messages) were summarised to fit the model's context window."
    ]


async def test_each_message_is_counted_once(claude, finish_replies):
    conversation = await database_sync_to_async(lambda: make_conversation(make_user()))()
    await ask(conversation, "first")
    await ask(conversation, "second")
    counted = [r for r in claude.requests() if r["path"] == "/v1/messages/count_tokens"]
    assert len(counted) == 2  # one per question; replies are sized from their usage
    sizes = [m.token_count async for m in Message.objects.filter(conversation=conversation)]
    assert all(size and size > 0 for size in sizes)


async def test_a_question_too_long_even_after_summarising_is_refused_in_plain_words(
    claude, finish_replies
):
    await ClaudeModel.objects.filter(pk="claude-sonnet-4-6").aupdate(context_window=9000)
    conversation = await database_sync_to_async(lambda: make_conversation(make_user()))()
    frames = await ask(conversation, "word " * 8000)

    assert frames[-1]["status"] == "error"
    assert frames[-1]["error"]["code"] == "context_too_long"
    assert "too long for the model" in frames[-1]["error"]["message"]
    assert reply_requests(claude) == []  # nothing was sent that would have failed
