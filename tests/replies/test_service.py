"""How a reply's request is read from the database (the streaming path itself is specified in
tests/web/test_consumer.py and test_generation.py)."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatapp.billing import prices
from chatapp.models import ClaudeModel, Message, MessageStatus, Role
from chatapp.policies.attachments import prompt_policy
from chatapp.policies.replies import reply_policy
from chatapp.replies import history, registry, turns
from chatapp.replies import plan as reply_plan
from chatapp.replies import service as replies
from tests.factories import make_conversation, make_exchange

pytestmark = [pytest.mark.django_db]

MAX_OUTPUT = 8192  # what a reply may write when its conversation does not say


def queries_for_a_reply_after(exchanges: int, *, summarised: bool) -> int:
    """Statements that building the request of a reply after ``exchanges`` exchanges takes."""
    conversation = make_conversation()
    for number in range(exchanges):
        question, _ = make_exchange(conversation, f"Question {number}", f"Answer {number}")
        if summarised and number == 0:
            conversation.summary, conversation.summary_through = "Earlier talk.", question
            conversation.save()
    question = Message.objects.create(
        conversation=conversation, role=Role.USER, content=[{"type": "text", "text": "Now?"}]
    )
    reply = Message.objects.create(
        conversation=conversation, role=Role.ASSISTANT, status=MessageStatus.STREAMING,
        model=conversation.model, reply_to=question, parent=question,
    )
    prices.forget_prices()  # both measures read the prices afresh
    with CaptureQueriesContext(connection) as queries:
        request = history.request_for(
        reply.pk, default_max_tokens=MAX_OUTPUT, prompt_policy=prompt_policy())
    assert request["messages"][-1]["content"][-1]["text"] == "Now?"
    return len(queries)


@pytest.mark.parametrize("summarised", [False, True], ids=["whole", "summarised"])
def test_a_long_history_costs_no_more_queries_than_a_short_one(summarised):
    assert queries_for_a_reply_after(30, summarised=summarised) == queries_for_a_reply_after(
        2, summarised=summarised
    )


# --- Append-only conversations, through the real SDK against the offline upstream ------------
# On the 5.5 models every thinking block sent back is bound to its exact prefix (system, tools,
# every earlier message and block); the upstream answers a rewritten prefix with a 400.


def _without_marks(messages):
    """Messages as the prefix is compared: cache_control marks move and are no part of it."""
    return [
        {**m, "content": [{k: v for k, v in b.items() if k != "cache_control"}
                          for b in m["content"]]}
        if isinstance(m["content"], list) else m
        for m in messages
    ]


def _replies_sent(claude):
    return [r["body"] for r in claude.requests()
            if r["path"] == "/v1/messages" and r["body"].get("stream")]


async def _ask(conversation_id, text, attachment_ids=()):
    _question, reply = await replies.start_reply(
        conversation_id, text, None, attachment_ids, policy=reply_policy(), thinking="medium"
    )
    await registry.wait_for_all()
    return await Message.objects.aget(pk=reply.pk)


def _assert_append_only(bodies):
    for earlier, later in itertools.pairwise(bodies):
        sent = _without_marks(earlier["messages"])
        assert _without_marks(later["messages"])[: len(sent)] == sent
        assert later.get("system") == earlier.get("system")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("model", ["claude-sonnet-5-5", "claude-opus-5-5"])
async def test_a_document_attached_after_the_first_reply_keeps_the_conversation_going(
    claude, finish_replies, model
):
    from channels.db import database_sync_to_async
    from django.core.files.uploadedfile import SimpleUploadedFile

    from chatapp.attachments import intake
    from chatapp.policies.attachments import upload_policy
    from tests.factories import make_user

    conversation = await database_sync_to_async(
        lambda: make_conversation(make_user(), model=model, system_prompt="Be precise.")
    )()
    first = await _ask(conversation.pk, "What makes a lease valid?")
    document = await intake.add_upload(conversation, SimpleUploadedFile(
        "lease.txt", b"Clause 1: the rent is due monthly. Clause 2: notice is three months."),
        upload_policy())
    later = [
        await _ask(conversation.pk, "What does this lease say about notice?", (document.pk,)),
        await _ask(conversation.pk, "And the rent?"),
        await _ask(conversation.pk, "Summarise both clauses."),
    ]

    for reply in (first, *later):
        assert reply.status == MessageStatus.COMPLETE, reply.error_message
    assert any(b["type"] == "thinking" for b in first.content)  # bound blocks are sent back
    bodies = _replies_sent(claude)
    assert len(bodies) == 4
    _assert_append_only(bodies)
    sent_back = [b for m in bodies[-1]["messages"] for b in m["content"]]
    assert sum(b["type"] == "thinking" for b in sent_back) == 3
    assert [b["type"] for b in bodies[1]["messages"][-1]["content"]] == ["document", "text"]
    assert bodies[0]["diagnostics"] == {"previous_message_id": None}
    assert bodies[1]["diagnostics"] == {"previous_message_id": first.upstream_id}


@pytest.mark.django_db(transaction=True)
async def test_a_refused_question_is_left_out_of_later_requests_and_stays_stored(
    claude, finish_replies
):
    from channels.db import database_sync_to_async

    from tests.factories import make_user

    conversation = await database_sync_to_async(
        lambda: make_conversation(make_user(), model="claude-sonnet-5-5")
    )()
    first = await _ask(conversation.pk, "What is a lease?")
    refused = await _ask(conversation.pk, "Something refused [[fault:refusal]]")
    after = await _ask(conversation.pk, "What is a deposit?")

    assert refused.stop_reason == "refusal"
    assert first.status == after.status == MessageStatus.COMPLETE, after.error_message
    bodies = _replies_sent(claude)
    texts = [b.get("text", "") for m in bodies[-1]["messages"] for b in m["content"]]
    assert not any("[[fault:refusal]]" in text for text in texts)
    _assert_append_only([bodies[0], bodies[-1]])
    assert await Message.objects.filter(
        conversation_id=conversation.pk, content__icontains="[[fault:refusal]]"
    ).aexists()  # the question stays stored (and on screen)


@pytest.mark.django_db(transaction=True)
async def test_a_question_whose_reply_failed_is_sent_again_as_it_was(claude, finish_replies):
    from channels.db import database_sync_to_async

    from tests.factories import make_user

    conversation = await database_sync_to_async(
        lambda: make_conversation(make_user(), model="claude-sonnet-5-5")
    )()
    await _ask(conversation.pk, "What is a lease?")
    failed = await _ask(conversation.pk, "And a sublease? [[fault:invalid]]")
    after = await _ask(conversation.pk, "What is a deposit?")

    assert failed.status == MessageStatus.ERROR
    assert after.status == MessageStatus.COMPLETE, after.error_message
    bodies = _replies_sent(claude)
    _assert_append_only(bodies[1:])  # the failed request opens the next one unchanged
    assert [m["role"] for m in bodies[-1]["messages"]][-2:] == ["user", "user"]


def _asked_under(conversation, text, system_prompt):
    """A question asked (through the reply service) after the system prompt was set."""
    conversation.system_prompt = system_prompt
    conversation.save()
    _question, reply, _model = turns.open_turn(
        conversation.pk, text, None, prompt_policy=prompt_policy()
    )
    reply.status, reply.content = MessageStatus.COMPLETE, [{"type": "text", "text": "Yes."}]
    reply.save()
    return reply


@pytest.mark.parametrize(
    ("model", "system", "roles"),
    [
        ("claude-sonnet-5-5", "Be brief.", ["user", "assistant"] * 2 + ["user", "system"]),
        ("claude-sonnet-4-6", "Answer in French.", ["user", "assistant"] * 2 + ["user"]),
    ],
)
def test_a_changed_system_prompt_never_rewrites_the_top_of_the_prompt(model, system, roles):
    conversation = make_conversation(model=model)
    _asked_under(conversation, "q1", "Be brief.")
    _asked_under(conversation, "q2", "Be brief.")
    latest = _asked_under(conversation, "q3", "Answer in French.")

    request = history.request_for(
        latest.pk, default_max_tokens=MAX_OUTPUT, prompt_policy=prompt_policy())
    assert request["system"] == [{"type": "text", "text": system}]
    assert [m["role"] for m in request["messages"]] == roles
    # The plan builds the same request from what the turn's write and its sizing have read.
    opened = (Message.objects.select_related("conversation").get(pk=latest.pk),
              ClaudeModel.objects.get(pk=model))
    assert reply_plan.read_request(latest.pk, reply_policy(), opened)[0] == request
    if roles[-1] == "system":  # the models that take system messages get the change there
        assert request["messages"][-1]["content"][0]["text"] == "Answer in French."


@pytest.mark.django_db(transaction=True)
async def test_a_system_prompt_changed_mid_conversation_keeps_the_thinking_valid(
    claude, finish_replies
):
    from channels.db import database_sync_to_async

    from chatapp.models import Conversation
    from tests.factories import make_user

    conversation = await database_sync_to_async(
        lambda: make_conversation(make_user(), model="claude-sonnet-5-5",
                                  system_prompt="Be brief.")
    )()
    first = await _ask(conversation.pk, "What is a lease?")
    await Conversation.objects.filter(pk=conversation.pk).aupdate(
        system_prompt="Answer like a pirate."
    )
    later = [await _ask(conversation.pk, "What is a deposit?"),
             await _ask(conversation.pk, "And a landlord?")]

    for reply in (first, *later):
        assert reply.status == MessageStatus.COMPLETE, reply.error_message
    bodies = _replies_sent(claude)
    _assert_append_only(bodies)
    assert bodies[-1]["system"] == [{"type": "text", "text": "Be brief."}]
    system_messages = [m for m in bodies[-1]["messages"] if m["role"] == "system"]
    assert [m["content"][0]["text"] for m in system_messages] == ["Answer like a pirate."]


def test_a_reply_whose_text_was_redacted_goes_back_without_its_thinking():
    # The redacted words differ from the ones the thinking after them was bound to.
    conversation = make_conversation(model="claude-sonnet-5-5")
    thought = {"type": "thinking", "thinking": "", "signature": "sig"}
    _, kept = make_exchange(conversation, "q1", "")
    kept.content = [thought, {"type": "text", "text": "a1"}]
    kept.save()
    _, redacted = make_exchange(conversation, "q2", "")
    redacted.content = [{"type": "text", "text": "key [redacted: API key]"}, thought,
                        {"type": "text", "text": "a2"}]
    redacted.flag_summary = [{"kind": "api_key", "action": "redact", "count": 1}]
    redacted.save()
    latest = _asked_under(conversation, "q3", "")

    request = history.request_for(
        latest.pk, default_max_tokens=MAX_OUTPUT, prompt_policy=prompt_policy())
    kinds = [[b["type"] for b in m["content"]] for m in request["messages"]]
    assert kinds[1] == ["thinking", "text"] and kinds[3] == ["text", "text"]
