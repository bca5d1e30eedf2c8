"""What a whole reply costs the database, in statements: under a burst every statement is
~0.3-0.6 ms of Python on the one ORM thread (issue 18), so the count is pinned here and cannot
creep back unnoticed."""

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatapp import replies
from chatapp.models import Message, MessageStatus, MonthlySpend, UsageRecord
from tests.factories import make_conversation, make_user

pytestmark = [pytest.mark.django_db]


class Statements:
    """Every statement run on the connections it is installed on (the ORM thread's and the
    test's own), with its SQL, in the order run."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)

    def install(self) -> None:
        connection.execute_wrappers.append(self)

    def remove(self) -> None:
        connection.execute_wrappers.remove(self)


async def _counted(work):
    statements = Statements()
    await database_sync_to_async(statements.install)()
    statements.install()
    try:
        result = await work()
    finally:
        statements.remove()
        await database_sync_to_async(statements.remove)()
    return statements, result


# A new user's first reply and its title, prices read afresh (tests forget them): the turn's
# write, the plan's reads, the final write with its usage record and the user's first month
# and day rows, the title's reads and write. 70 before issue 18's trimming.
STATEMENTS_OF_A_FIRST_REPLY = 50


@pytest.mark.django_db(transaction=True)
async def test_a_first_reply_and_its_title_take_a_fixed_number_of_statements(
    claude, finish_replies
):
    user = await database_sync_to_async(make_user)()
    conversation = await database_sync_to_async(lambda: make_conversation(user))()

    async def ask():
        _question, reply = await replies.start_reply(conversation.pk, "What is a lease?", None)
        await replies.wait_for_all()
        return reply.pk

    statements, reply_id = await _counted(ask)

    reply = await Message.objects.aget(pk=reply_id)
    assert reply.status == MessageStatus.COMPLETE
    await conversation.arefresh_from_db()
    assert conversation.title  # the title is part of the count
    spent = await database_sync_to_async(lambda: MonthlySpend.objects.get(user=user).spent_usd)()
    billed = [r async for r in UsageRecord.objects.filter(user=user)]
    assert len(billed) == 2 and spent == sum(r.cost_usd for r in billed)  # reply and title
    assert len(statements.sql) <= STATEMENTS_OF_A_FIRST_REPLY, "\n".join(statements.sql)


def test_a_checkpoint_is_one_statement_that_keeps_the_replys_other_options():
    conversation = make_conversation()
    question = Message.objects.create(conversation=conversation, role="user",
                                      content=[{"type": "text", "text": "Hi"}])
    reply = Message.objects.create(
        conversation=conversation, role="assistant", status=MessageStatus.STREAMING,
        model=conversation.model, reply_to=question, parent=question,
        options={"route": {"reason": "short"}, "checkpoint_usage": {"calls": []}},
    )
    usage = {"continuing": False, "calls": [{"input_tokens": 12, "output_tokens": 5}]}

    with CaptureQueriesContext(connection) as queries:
        replies._checkpoint(reply.pk, "Hello so far", usage)

    assert len(queries) == 1
    reply.refresh_from_db()
    assert reply.text == "Hello so far"
    assert reply.options == {"route": {"reason": "short"}, "checkpoint_usage": usage}


def test_a_checkpoint_after_the_final_write_changes_nothing():
    conversation = make_conversation()
    reply = Message.objects.create(
        conversation=conversation, role="assistant", status=MessageStatus.COMPLETE,
        model=conversation.model, content=[{"type": "text", "text": "Final"}], options={},
    )

    replies._checkpoint(reply.pk, "Stale", {"continuing": False, "calls": []})

    reply.refresh_from_db()
    assert (reply.text, reply.options) == ("Final", {})
