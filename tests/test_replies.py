"""How a reply's request is read from the database (the streaming path itself is specified in
test_consumers.py and test_generation.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatapp import accounting, replies
from chatapp.models import Message, MessageStatus, Role
from tests.factories import make_conversation, make_exchange

pytestmark = [pytest.mark.django_db]


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
    accounting.forget_prices()  # both measures read the prices afresh
    with CaptureQueriesContext(connection) as queries:
        request = replies._request_for(reply.pk)
    assert request["messages"][-1]["content"][-1]["text"] == "Now?"
    return len(queries)


@pytest.mark.parametrize("summarised", [False, True], ids=["whole", "summarised"])
def test_a_long_history_costs_no_more_queries_than_a_short_one(summarised):
    assert queries_for_a_reply_after(30, summarised=summarised) == queries_for_a_reply_after(
        2, summarised=summarised
    )
