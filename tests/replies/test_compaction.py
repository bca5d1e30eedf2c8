"""Long conversations: older turns are summarised before the prompt outgrows the context
window; documents and the last turns stay whole; the summary is a priced call."""

import itertools

import pytest
from channels.db import database_sync_to_async

from chatapp.models import ClaudeModel, Conversation, Message, UsageRecord
from chatapp.policies.replies import reply_policy
from chatapp.replies import registry
from chatapp.replies import service as replies
from chatapp.replies.history import SUMMARY_HEADING
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
    await registry.wait_for_all()
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
    # A side call: Haiku 5.5 thinks by default, and thinking must not eat the summary's room.
    (summarising,) = [r["body"] for r in claude.requests() if r["path"] == "/v1/messages"
                      and "compress" in str(r["body"].get("system"))]
    assert summarising["thinking"] == {"type": "disabled"}
    reply = await Message.objects.aget(pk=frames[-1]["message_id"])
    assert reply.notes == [
        "Earlier turns (16 messages) were summarised to fit the model's context window."
    ]


def counts(claude):
    return [r for r in claude.requests() if r["path"] == "/v1/messages/count_tokens"]


async def small_window(claude, settings, tokens, model="claude-sonnet-4-6"):
    """A model whose window (ours and the upstream's) is ``tokens``; replies of 1,000 tokens."""
    settings.CHATAPP_MAX_OUTPUT_TOKENS = 1000
    claude.set_context_window(model, tokens)
    await ClaudeModel.objects.filter(pk=model).aupdate(context_window=tokens)


async def test_a_short_conversation_asks_for_no_count_before_its_replies(claude, finish_replies):
    conversation = await database_sync_to_async(lambda: make_conversation(make_user()))()
    first = await ask(conversation, "first")
    second = await ask(conversation, "second")

    assert first[-1]["status"] == second[-1]["status"] == "complete"
    assert counts(claude) == []  # far below the window: sized locally, no round trip
    assert len(reply_requests(claude)) == 2
    messages = [m async for m in Message.objects.filter(conversation=conversation)]
    # Replies are sized from their usage; questions stay uncounted until that is worth it.
    assert [m.token_count for m in messages if m.role == "user"] == [None, None]
    assert all(m.token_count > 0 for m in messages if m.role == "assistant")


async def test_near_the_limit_a_question_is_counted_once_and_the_count_kept(
    claude, settings, finish_replies
):
    # 12,000 tokens, 1,000 for the reply: this question's bound (about 12,000 with the room
    # kept for tools) is over, its real size (about 9,500) is not.
    await small_window(claude, settings, 12_000)
    conversation = await database_sync_to_async(lambda: make_conversation(make_user()))()
    near = await ask(conversation, "word " * 6000)
    later = await ask(conversation, "And briefly?")

    assert near[-1]["status"] == later[-1]["status"] == "complete"
    assert not any(f["type"] == "notice" for f in near + later)  # nothing was summarised
    assert len(counts(claude)) == 1  # the long question, once; the short one by its bound
    question = await Message.objects.filter(conversation=conversation, role="user").afirst()
    assert question.token_count == 7503  # kept with the reply's final write (30,000 chars / 4)


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


# --- Tool rounds: every call is fitted again ---------------------------------------------------

SEARCH = '[[tool:search_documents {"query": "zebra", "max_results": 10}]]'


def sent_results(request):
    return [
        block
        for message in request["body"]["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]


async def test_tool_results_that_would_overflow_the_window_are_cut_short_and_the_reply_completes(
    claude, settings, finish_replies
):
    # Each search returns about 6,000 characters (1,500 tokens); three rounds of them would
    # take the prompt past the 5,000-token window, which the upstream refuses with a 400.
    await small_window(claude, settings, 5000)
    conversation = await database_sync_to_async(lambda: make_conversation(make_user()))()
    frames = await ask(conversation, f"Zebras? {'zebra stripes ' * 500} {SEARCH} [[tool_rounds:3]]")

    assert frames[-1]["status"] == "complete" and frames[-1]["error"] is None
    calls = reply_requests(claude)
    assert len(calls) == 4  # three tool rounds and the answer, none refused
    marked = [r for r in sent_results(calls[-1]) if "characters were left out" in r["content"]]
    assert marked  # the model was told where a result was cut
    (note,) = frames[-1]["notes"]
    assert note.startswith("Tool results were too long for the model's context window")
    assert "search_documents" in note
    reply = await Message.objects.aget(pk=frames[-1]["message_id"])
    stored = [b for b in reply.content if b["type"] == "tool_result"]
    assert [b["content"] for b in stored] == [r["content"] for r in sent_results(calls[-1])]


def without_marks(messages):
    """Messages as the prefix is compared: cache_control marks move and are no part of it."""
    return [
        {**m, "content": [{k: v for k, v in b.items() if k != "cache_control"}
                          for b in m["content"]]}
        if isinstance(m["content"], list) else m
        for m in messages
    ]


async def test_a_tool_loop_that_outgrows_the_window_cuts_its_newest_results_never_what_it_sent(
    claude, settings, finish_replies
):
    # The conversation (about 9,000 tokens) fits 13,000 less 1,000 for the reply; three
    # searches of about 1,500 tokens each do not. Summarising the earlier turns on the way (as
    # it once did) would rewrite the prefix the loop's own thinking blocks are bound to: only
    # the newest results, not sent yet, are cut.
    await small_window(claude, settings, 13_000)

    def earlier_turns():
        conversation = make_conversation(make_user())
        for number in range(4):  # 8 messages of 1,000 tokens, counted as replies are
            question, answer = make_exchange(
                conversation, f"Question {number}: " + "why " * 1000, "Because. " * 444
            )
            question.token_count = answer.token_count = 1000
            question.save()
            answer.save()
        return conversation

    conversation = await database_sync_to_async(earlier_turns)()
    frames = await ask(conversation, f"Zebras? {'zebra stripes ' * 200} {SEARCH} [[tool_rounds:3]]")

    assert frames[-1]["status"] == "complete" and frames[-1]["error"] is None
    assert not [f for f in frames if f["type"] == "notice" and "Summarising" in f["text"]]
    (note,) = frames[-1]["notes"]
    assert note.startswith("Tool results were too long for the model's context window")
    calls = reply_requests(claude)
    assert len(calls) == 4
    for earlier, later in itertools.pairwise(calls):
        sent = without_marks(earlier["body"]["messages"])
        assert without_marks(later["body"]["messages"])[: len(sent)] == sent
    saved = await Conversation.objects.aget(pk=conversation.pk)
    assert not saved.summary and saved.summary_through_id is None


def test_a_replys_tool_results_are_sized_by_their_bytes_not_their_characters():
    # Taken as exact later: 300 CJK characters are 900 UTF-8 bytes, about 300 tokens, never 100.
    from chatapp.replies.compaction import reply_token_count

    content = [{"type": "tool_result", "tool_use_id": "t1", "content": "漢" * 300}]
    assert reply_token_count(content, output_tokens=20) == 20 + 300


async def test_after_a_summary_earlier_thinking_is_left_out_and_the_conversation_goes_on(
    claude, settings, finish_replies
):
    # Claude Sonnet 5.5 binds each thinking block to its exact prefix: once a summary stands in
    # for the older turns, the replies written before it are sent without their thinking (which
    # the upstream would refuse), and the replies written after it keep theirs.
    model = "claude-sonnet-5-5"
    await small_window(claude, settings, 9000, model=model)
    conversation = await database_sync_to_async(
        lambda: make_conversation(make_user(), model=model)
    )()
    asked = []
    for number in range(7):
        long = number < 5  # five long questions force summaries, two short ones follow
        text = f"Question {number}: " + ("why " * 1000 if long else "and then?")
        _question, reply = await replies.start_reply(
            conversation.pk, text, None, policy=reply_policy(), thinking="medium"
        )
        await registry.wait_for_all()
        asked.append(await Message.objects.aget(pk=reply.pk))

    assert all(r.status == "complete" for r in asked), [r.error_message for r in asked]
    summarised = [r for r in asked if any("were summarised" in n for n in r.notes)]
    assert summarised  # the window forced a summary on the way
    epoch = summarised[-1]
    bodies = [r["body"] for r in reply_requests(claude)]
    last = bodies[-1]["messages"]
    assert any(SUMMARY_HEADING in b.get("text", "") for b in last[0]["content"])
    thinking_sent = sum(b["type"] == "thinking" for m in last for b in m["content"])
    written_since = [r for r in asked[:-1] if r.pk >= epoch.pk]
    assert thinking_sent == len(written_since) > 0


def test_a_transcript_over_what_the_summariser_reads_counts_as_cut():
    # The summariser reads at most TRANSCRIPT_CHARS; beyond it the reply's note says turns are
    # missing from the summary (_save_summary).
    from chatapp.replies.summaries import TRANSCRIPT_CHARS, transcript_cut

    assert not transcript_cut(TRANSCRIPT_CHARS)
    assert transcript_cut(TRANSCRIPT_CHARS + 1)
