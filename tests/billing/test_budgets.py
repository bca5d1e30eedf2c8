"""Monthly budgets: spend is counted, the worst case is reserved before a call and settled to
the actual cost after, and nobody can spend past their budget, however many requests race."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from chatapp.billing import budgets, limits, reservations
from chatapp.billing.accounting import record_call
from chatapp.claude.types import Usage
from chatapp.models import Budget, BudgetReservation, MonthlySpend
from tests.factories import make_user

pytestmark = pytest.mark.django_db

NOVEMBER = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def spend(user, amount: str, at=None) -> None:
    budgets.add_spend(user.pk, Decimal(amount), at)


# --- whose budget ------------------------------------------------------------------------


def test_without_any_budget_spending_is_counted_but_not_limited():
    user = make_user()
    spend(user, "1000")
    status = budgets.status(user.pk)
    assert status.spent == Decimal("1000") and status.limit is None
    assert not status.exhausted and not status.warning
    assert reservations.reserve(user.pk, Decimal("5000")) is None


def test_the_default_budget_applies_to_everyone_without_their_own():
    alice, bob = make_user(), make_user()
    Budget.objects.create(user=None, monthly_usd=Decimal("10"))
    Budget.objects.create(user=alice, monthly_usd=Decimal("50"))
    assert limits.monthly_limit(alice.pk) == Decimal("50")
    assert limits.monthly_limit(bob.pk) == Decimal("10")


def test_there_is_only_one_default_budget():
    Budget.objects.create(user=None, monthly_usd=Decimal("10"))
    second = Budget(user=None, monthly_usd=Decimal("20"))
    with pytest.raises(ValidationError, match="already a default budget"):
        second.full_clean()


def test_staff_set_budgets_in_the_admin(client):
    client.force_login(make_user(is_staff=True, is_superuser=True))
    added = client.post("/admin/chatapp/budget/add/", {"user": "", "monthly_usd": "25"})
    assert added.status_code == 302
    again = client.post("/admin/chatapp/budget/add/", {"user": "", "monthly_usd": "30"})
    assert "There is already a budget for this user (or already a default budget)." in (
        again.content.decode()
    )
    assert list(Budget.objects.values_list("user", "monthly_usd")) == [(None, Decimal("25"))]


def test_a_budget_cannot_be_negative():
    with pytest.raises(ValidationError):
        Budget(user=make_user(), monthly_usd=Decimal("-1")).full_clean()


# --- what the composer shows -----------------------------------------------------------------


def test_status_shows_spend_remaining_and_the_warning_from_80_percent():
    user = make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("10"))
    spend(user, "7.99")
    assert budgets.status(user.pk).as_json() | {"month": None, "renews_on": None} == {
        "month": None, "renews_on": None, "spent_usd": "7.99", "reserved_usd": "0",
        "limit_usd": "10", "remaining_usd": "2.01", "share_used": pytest.approx(0.799),
        "warning": False, "exceeded": False,
        "budget": {"kind": "user", "group": None, "label": "your monthly budget"},
    }
    spend(user, "0.01")
    assert budgets.status(user.pk).warning
    spend(user, "2")
    status = budgets.status(user.pk)
    assert status.exhausted and status.remaining == 0


def test_a_new_month_starts_from_nothing():
    user = make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("10"))
    spend(user, "10", NOVEMBER)
    assert budgets.status(user.pk, NOVEMBER).exhausted
    december = budgets.status(user.pk, DECEMBER)
    assert december.spent == 0 and not december.exhausted
    assert december.as_json()["month"] == "2026-12"
    assert december.as_json()["renews_on"] == "2027-01-01"


def test_the_api_tells_the_user_their_month(client):
    user = make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("20"))
    spend(user, "5")
    client.force_login(user)
    body = client.get("/api/budget/").json()
    assert body["spent_usd"] == "5" and body["remaining_usd"] == "15"
    assert body["share_used"] == 0.25 and body["warning"] is False


def test_the_budget_endpoint_needs_a_login(client):
    assert client.get("/api/budget/").status_code == 401


# --- reserve, then settle ----------------------------------------------------------------------


def test_a_reservation_holds_the_worst_case_until_it_is_released():
    user = make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("1"))
    held = reservations.reserve(user.pk, Decimal("0.40"))
    assert budgets.status(user.pk).reserved == Decimal("0.40")
    reservations.release(held)
    reservations.release(held)  # twice is harmless
    assert budgets.status(user.pk).reserved == 0
    assert not BudgetReservation.objects.exists()


def test_a_reservation_that_does_not_fit_is_refused_in_plain_words():
    user = make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("1"))
    spend(user, "0.70")
    with pytest.raises(budgets.BudgetExceeded) as refused:
        reservations.reserve(user.pk, Decimal("0.40"))
    assert "could cost up to $0.40" in refused.value.message
    assert "$0.30 of your monthly budget of $1.00 is left" in refused.value.message
    assert budgets.status(user.pk).reserved == 0


def test_at_100_percent_even_a_free_call_is_refused():
    user = make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("1"))
    spend(user, "1")
    with pytest.raises(budgets.BudgetExceeded, match="You have used your monthly budget"):
        reservations.reserve(user.pk, Decimal(0))
    with pytest.raises(budgets.BudgetExceeded, match="renews on 1 "):
        budgets.refuse_if_exhausted(user.pk)


def test_settling_replaces_the_reservation_with_the_actual_cost():
    user = make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("1"))
    held = reservations.reserve(user.pk, Decimal("0.5"))
    reservations.release(held)
    record_call(user_id=user.pk, purpose="reply", model_id="claude-sonnet-4-6",
                usage=Usage(input_tokens=2000, output_tokens=500))
    status = budgets.status(user.pk)
    assert status.reserved == 0 and status.spent == Decimal("0.0135")


def test_an_unpriced_call_adds_nothing_to_the_month():
    user = make_user()
    record_call(user_id=user.pk, purpose="reply", model_id="claude-mystery",
                usage=Usage(input_tokens=10, output_tokens=10))
    assert budgets.status(user.pk).spent == 0


def test_reservations_left_by_a_stopped_process_are_freed_at_start_up(settings):
    from chatapp.policies.replies import process_policy
    from chatapp.replies.recovery import mark_orphaned_replies

    settings.REDIS_URL = ""  # one process: nothing else can hold a reservation
    user = make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("1"))
    reservations.reserve(user.pk, Decimal("0.9"))
    mark_orphaned_replies(process_policy())
    assert budgets.status(user.pk).reserved == 0


def test_a_reservation_no_call_can_still_need_is_freed_by_the_next_one():
    from datetime import timedelta

    from django.utils import timezone

    user = make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("1"))
    reservations.reserve(user.pk, Decimal("0.9"))
    BudgetReservation.objects.update(created_at=timezone.now() - timedelta(hours=4))
    reservations.reserve(user.pk, Decimal("0.5"))  # would not fit beside the stale 0.9
    assert budgets.status(user.pk).reserved == Decimal("0.5")


@pytest.mark.django_db(transaction=True)
def test_racing_reservations_never_pass_the_budget():
    user = make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("4"))
    outcomes: list[str] = []
    start = threading.Barrier(12)

    def one_request() -> None:
        start.wait()
        try:
            reservations.reserve(user.pk, Decimal("1"))
            outcomes.append("held")
        except budgets.BudgetExceeded:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=one_request) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("held") == 4 and outcomes.count("refused") == 8
    assert MonthlySpend.objects.get(user=user).reserved_usd == Decimal("4")


@pytest.mark.django_db(transaction=True)
def test_racing_replies_and_batch_jobs_never_pass_the_budget(settings, tmp_path):
    """Twelve threads, each with its own database connection, at once: eight reserve a reply's
    worst case and four create a batch job (its documents' worst case). As many get in as fit,
    whatever the order; those refused hold and save nothing. Runs on SQLite and PostgreSQL."""
    from chatapp.batches import jobs as batch_jobs
    from chatapp.models import BatchJob
    from chatapp.policies.batches import job_limits
    from tests.factories import make_text_document

    settings.MEDIA_ROOT = tmp_path
    user = make_user()
    limit, reply_cost = Decimal("1"), Decimal("0.25")
    Budget.objects.create(user=user, monthly_usd=limit)
    documents = [make_text_document(user, f"Lease {n}.") for n in range(2)]
    job = {"document_ids": [d.pk for d in documents], "prompt": "Who pays?",
           "model_id": "claude-sonnet-4-6", "max_tokens": 20_000}
    # 40,000 tokens at $7.50/M: ~$0.30
    job_cost = batch_jobs.estimate(user, limits=job_limits(), **job).batch_usd
    outcomes: list[str] = []
    start = threading.Barrier(12)

    def one(kind: str) -> None:
        start.wait()
        try:
            if kind == "reply":
                reservations.reserve(user.pk, reply_cost)
            else:
                batch_jobs.create_job(user, limits=job_limits(), **job)
            outcomes.append(kind)
        except budgets.BudgetExceeded:
            outcomes.append(f"{kind} refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=("reply",)) for _ in range(8)]
    threads += [threading.Thread(target=one, args=("job",)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    replies, jobs = outcomes.count("reply"), outcomes.count("job")
    held = replies * reply_cost + jobs * job_cost
    reserved = MonthlySpend.objects.get(user=user).reserved_usd
    assert len(outcomes) == 12 and reserved == held <= limit
    assert BatchJob.objects.count() == jobs and BudgetReservation.objects.count() == replies + jobs
    # Nobody was refused while their worst case still fitted.
    if "reply refused" in outcomes:
        assert limit - held < reply_cost
    if "job refused" in outcomes:
        assert limit - held < job_cost


# --- sizing a request: its local bound while there is room, count_tokens near the limit ----------

HELLO = {"model": "claude-sonnet-4-6", "max_tokens": 1000,
         "messages": [{"role": "user", "content": "hello world!"}]}


@pytest.mark.django_db(transaction=True)
async def test_with_room_to_spare_a_request_reserves_its_bound_without_a_count(claude):
    from channels.db import database_sync_to_async

    user = await database_sync_to_async(make_user)()
    await Budget.objects.acreate(user=user, monthly_usd=Decimal("1"))
    held = await reservations.reserve_for_request(user.pk, HELLO)
    # The bound: 3 tokens for the empty system and tools, ⌈12/3⌉ = 4 for the text; doubled,
    # 14 prompt tokens at the 1-hour write rate, $6/M: 0.000084; 1000 output at $15/M: 0.015
    assert held.amount == Decimal("0.015084")
    assert claude.requests() == []


@pytest.mark.django_db(transaction=True)
async def test_near_the_limit_a_request_reserves_its_counted_prompt_and_full_output(claude):
    from channels.db import database_sync_to_async

    user = await database_sync_to_async(make_user)()
    await Budget.objects.acreate(user=user, monthly_usd=Decimal("1"))
    await database_sync_to_async(spend)(user, "0.98494")  # $0.01506 left
    held = await reservations.reserve_for_request(user.pk, HELLO)
    # The doubled bound ($0.015084) does not fit; counted, 6 prompt tokens (⌈12/4⌉ + 3) at
    # $6/M: 0.000036, and 1000 output tokens at $15/M: 0.015 do.
    assert held.amount == Decimal("0.015036")
    assert [r["path"] for r in claude.requests()] == ["/v1/messages/count_tokens"]


@pytest.mark.django_db(transaction=True)
async def test_an_unlimited_user_is_not_counted_at_all(claude):
    request = {"model": "claude-sonnet-4-6", "max_tokens": 10,
               "messages": [{"role": "user", "content": "hi"}]}
    from channels.db import database_sync_to_async

    user = await database_sync_to_async(make_user)()
    assert await reservations.reserve_for_request(user.pk, request) is None
    assert claude.requests() == []


# --- end to end: the reply path ------------------------------------------------------------------


async def _owner_with_budget(limit: str, spent: str = "0"):
    from channels.db import database_sync_to_async

    from tests.factories import make_conversation

    def build():
        user = make_user()
        Budget.objects.create(user=user, monthly_usd=Decimal(limit))
        spend(user, spent)
        return user, make_conversation(user)

    return await database_sync_to_async(build)()


async def _open(user, conversation_id):
    from tests.sockets import next_frame, open_socket

    socket, connected = await open_socket(user, conversation_id)
    assert connected and (await next_frame(socket))["type"] == "ready"
    return socket


@pytest.mark.django_db(transaction=True)
async def test_at_100_percent_a_message_is_refused_before_anything_is_saved_or_sent(
    claude, finish_replies
):
    from chatapp.models import Message
    from tests.sockets import next_frame, send

    user, conversation = await _owner_with_budget("1", spent="1")
    socket = await _open(user, conversation.pk)
    await send(socket, type="user_message", text="one more question")
    error = await next_frame(socket)
    assert error["type"] == "error" and error["code"] == "budget_exceeded"
    assert "You have used your monthly budget of $1.00" in error["message"]
    assert not await Message.objects.filter(conversation=conversation).aexists()
    assert claude.requests() == []
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_reply_whose_worst_case_does_not_fit_fails_before_it_is_sent(
    claude, finish_replies
):
    from tests.sockets import frames_until, send

    # Sonnet 4.6 with max_tokens 8,192 could cost $0.12 in output alone.
    user, conversation = await _owner_with_budget("0.05")
    socket = await _open(user, conversation.pk)
    await send(socket, type="user_message", text="write me a long essay")
    frames = await frames_until(socket, "message_completed")
    completed = frames[-1]
    assert completed["status"] == "error"
    assert completed["error"]["code"] == "budget_exceeded"
    assert "could cost up to $0.12" in completed["error"]["message"]
    # Only (free) token counts reached the upstream, never the request itself.
    assert {r["path"] for r in claude.requests()} == {"/v1/messages/count_tokens"}
    assert (await budgets.astatus(user.pk)).reserved == 0
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_after_a_reply_the_month_holds_what_it_cost_and_nothing_reserved(
    claude, finish_replies
):
    from chatapp.models import UsageRecord
    from chatapp.replies import registry
    from tests.sockets import frames_until, send

    user, conversation = await _owner_with_budget("10")
    socket = await _open(user, conversation.pk)
    await send(socket, type="user_message", text="hello")
    completed = (await frames_until(socket, "message_completed"))[-1]
    assert completed["status"] == "complete"
    await registry.wait_for_all()  # and the title it triggers
    costs = [r.cost_usd async for r in UsageRecord.objects.filter(user=user)]
    assert len(costs) == 2  # the reply and its title
    status = await budgets.astatus(user.pk)
    assert status.reserved == 0 and status.spent == sum(costs)
    # Far from the limit neither call waited for a count_tokens round trip first.
    assert "/v1/messages/count_tokens" not in {r["path"] for r in claude.requests()}
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_summary_the_budget_cannot_cover_fails_the_reply_before_anything_is_sent(
    claude, finish_replies
):
    """Compaction's summary is a call like any other: its worst case is reserved first."""
    from channels.db import database_sync_to_async

    from chatapp.models import ClaudeModel, Conversation
    from tests.factories import make_conversation, make_exchange
    from tests.sockets import frames_until, send

    def build():
        user = make_user()
        Budget.objects.create(user=user, monthly_usd=Decimal("0.01"))
        spend(user, "0.009")  # a tenth of a cent left: less than the summary could cost
        # A small window, so that a short history already needs summarising.
        ClaudeModel.objects.filter(pk="claude-haiku-4-5").update(context_window=30_000)
        conversation = make_conversation(user, model="claude-haiku-4-5")
        for number in range(10):
            make_exchange(conversation, f"Question {number}: " + "why " * 2000, "Because. " * 900)
        return user, conversation

    user, conversation = await database_sync_to_async(build)()
    socket = await _open(user, conversation.pk)
    await send(socket, type="user_message", text="And the last point?")
    completed = (await frames_until(socket, "message_completed"))[-1]
    await socket.disconnect()
    assert completed["status"] == "error" and completed["error"]["code"] == "budget_exceeded"
    assert completed["error"]["message"].startswith(
        "Summarising the earlier turns of this conversation could cost up to $"
    )
    assert "and $0.0010 of your monthly budget of $0.01 is left" in completed["error"]["message"]
    # Nothing but free counts was sent: neither the summary nor the reply.
    assert {r["path"] for r in claude.requests()} == {"/v1/messages/count_tokens"}
    assert not (await Conversation.objects.aget(pk=conversation.pk)).summary
    status = await budgets.astatus(user.pk)
    assert status.reserved == 0 and status.spent == Decimal("0.009")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
async def test_many_concurrent_requests_on_postgresql_never_pass_the_budget(
    claude, finish_replies, settings, tmp_path
):
    """Twelve replies asked for at once, in twelve conversations of one user, while a batch job
    is created on a connection of its own: exactly as many start as their worst cases fit in
    the budget; the rest are refused before they are sent, the job whole or not at all."""
    import asyncio
    import json

    from channels.db import database_sync_to_async

    from chatapp.batches import jobs as batch_jobs
    from chatapp.policies.batches import job_limits
    from tests.factories import make_conversation, make_text_document
    from tests.sockets import send

    claude.set_pace(2)  # replies that started keep streaming until they are stopped
    # The per-user message limit counts in Redis, across test runs; it is not under test here.
    settings.CHATAPP_MESSAGE_RATE_LIMIT = 0
    settings.MEDIA_ROOT = tmp_path
    limit = Decimal("0.20")

    def build():
        user = make_user()
        Budget.objects.create(user=user, monthly_usd=limit)
        conversations = [make_conversation(user, model="claude-haiku-4-5") for _ in range(12)]
        document = make_text_document(user, "Lease: the tenant pays on the first.")
        # 20,000 output tokens at Haiku 4.5's batch price ($2.50/M): about $0.05, more than is
        # left beside four replies (about $0.041 each), less than what one reply frees.
        job = {"document_ids": [document.pk], "prompt": "Who pays?",
               "model_id": "claude-haiku-4-5", "max_tokens": 20_000}
        return user, conversations, job

    user, conversations, job = await database_sync_to_async(build)()
    sockets = [await _open(user, c.pk) for c in conversations]

    def create_job() -> str:
        try:
            batch_jobs.create_job(user, limits=job_limits(), **job)
            return "created"
        except budgets.BudgetExceeded:
            return "refused"
        finally:
            connection.close()

    job_outcome, *_ = await asyncio.gather(
        asyncio.to_thread(create_job),  # its own thread and connection: a real race
        *(send(socket, type="user_message", text="the same question for everyone")
          for socket in sockets),
    )

    async def first_news(socket) -> str:
        while True:
            # A generous bound: twelve replies start at once on a machine that may be busy.
            frame = json.loads(await socket.receive_from(timeout=60))
            if frame["type"] == "delta":
                return "streaming"
            if frame["type"] == "message_completed":
                assert frame["error"]["code"] == "budget_exceeded"
                return "refused"

    outcomes = [await first_news(socket) for socket in sockets]
    reservations = BudgetReservation.objects.filter(user=user)
    held = [r.amount_usd async for r in reservations.filter(batch_job__isnull=True)]
    job_held = [r.amount_usd async for r in reservations.filter(batch_job__isnull=False)]
    worst_case = held[0]
    assert set(held) == {worst_case}
    assert outcomes.count("streaming") == len(held) and "refused" in outcomes
    assert len(job_held) == (job_outcome == "created")
    total = sum(held) + sum(job_held)
    month = await MonthlySpend.objects.aget(user=user)
    assert month.reserved_usd == total <= limit and month.spent_usd == 0
    assert limit - total < worst_case  # no reply was refused while one still fitted
    if job_outcome == "refused":
        job_cost = await database_sync_to_async(
            lambda: batch_jobs.estimate(user, limits=job_limits(), **job).batch_usd
        )()
        assert limit - total < job_cost

    for socket, outcome in zip(sockets, outcomes, strict=True):
        if outcome == "streaming":
            await send(socket, type="stop")
    from chatapp.replies import registry

    await registry.wait_for_all()
    status = await budgets.astatus(user.pk)
    assert status.reserved == sum(job_held)  # the job holds its share until its results come
    assert status.spent > 0 and status.spent + status.reserved <= limit
    for socket in sockets:
        await socket.disconnect()
