"""What a whole reply costs the database, in statements: under a burst every statement is
~0.3-0.6 ms of Python on the one ORM thread (issue 18), so the count is pinned here and cannot
creep back unnoticed."""

from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatapp.models import (
    Budget,
    BudgetReservation,
    Message,
    MessageStatus,
    MonthlySpend,
    UsageRecord,
)
from chatapp.policies.replies import reply_policy
from chatapp.replies import final_write, registry
from chatapp.replies import service as replies
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


# A reply that opens a conversation, and its title: the turn's write, the plan's reads, the
# final write with its usage record, the title's reads and write. A new user's first one also
# makes the user's month and day rows, and reads the prices afresh (tests forget them); later
# ones find those rows and the prices remembered. 70 and 46 before issue 18's trimming,
# 50 and 37 before the plan reused the turn's reads (docs/benchmarks.md, item 19). With a
# budget each call also reserves and the final write releases: 56 before a reservation
# stopped checking the limit separately first (item 20).
STATEMENTS_OF_A_FIRST_REPLY = {"new user": 46, "known user": 33, "known user with a budget": 52}


async def _ask(conversation_id):
    _question, reply = await replies.start_reply(
        conversation_id, "What is a lease?", None, policy=reply_policy()
    )
    await registry.wait_for_all()
    return reply.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", STATEMENTS_OF_A_FIRST_REPLY)
async def test_a_first_reply_and_its_title_take_a_fixed_number_of_statements(
    claude, finish_replies, who
):
    user = await database_sync_to_async(make_user)()
    if who == "known user with a budget":  # each call reserves, and the final write releases
        await Budget.objects.acreate(user=user, monthly_usd=Decimal("50"))
    if who != "new user":  # a conversation earlier today, uncounted
        earlier = await database_sync_to_async(lambda: make_conversation(user))()
        await _ask(earlier.pk)
    conversation = await database_sync_to_async(lambda: make_conversation(user))()

    statements, reply_id = await _counted(lambda: _ask(conversation.pk))

    reply = await Message.objects.aget(pk=reply_id)
    assert reply.status == MessageStatus.COMPLETE
    await conversation.arefresh_from_db()
    assert conversation.title  # the title is part of the count
    spent = await database_sync_to_async(lambda: MonthlySpend.objects.get(user=user).spent_usd)()
    billed = [r async for r in UsageRecord.objects.filter(user=user)]
    assert spent == sum(r.cost_usd for r in billed)  # each reply and title, exactly
    assert len(billed) == (2 if who == "new user" else 4)
    assert not await BudgetReservation.objects.aexists()  # every reservation settled
    assert len(statements.sql) <= STATEMENTS_OF_A_FIRST_REPLY[who], "\n".join(statements.sql)


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
        final_write.checkpoint(reply.pk, "Hello so far", usage)

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

    final_write.checkpoint(reply.pk, "Stale", {"continuing": False, "calls": []})

    reply.refresh_from_db()
    assert (reply.text, reply.options) == ("Final", {})
