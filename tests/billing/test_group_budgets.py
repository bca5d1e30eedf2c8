"""Groups' budgets (issue 21): a reservation is held against every budget that applies — the
user's own, each group's per member (on the user's month) and each group's as a whole (on the
group's month) — or against none; settled the same way; never passed under concurrency."""

import threading
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from chatapp.billing import budgets, limits, reservations
from chatapp.billing.accounting import record_call
from chatapp.claude.types import Usage
from chatapp.models import (
    AuditAction,
    AuditEntry,
    Budget,
    BudgetReservation,
    GroupMonthlySpend,
    GroupPolicy,
    MonthlySpend,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def group(name: str, *members, whole: str | None = None, member: str | None = None) -> Group:
    made = Group.objects.create(name=name)
    GroupPolicy.objects.create(
        group=made,
        monthly_limit_usd=None if whole is None else Decimal(whole),
        per_member_limit_usd=None if member is None else Decimal(member),
    )
    for user in members:
        user.groups.add(made)
    return made


def group_month(made: Group) -> GroupMonthlySpend:
    return GroupMonthlySpend.objects.get(group=made, month=limits.month_of())


def test_a_user_in_no_group_has_only_their_own_budget():
    user = make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("5"))
    applying = limits.limits_for(user.pk)
    assert applying.own == limits.Limit("user", Decimal("5")) and not applying.members
    assert not applying.groups


def test_every_budget_that_applies_is_found_in_one_statement(django_assert_num_queries):
    user = make_user()
    Budget.objects.create(user=None, monthly_usd=Decimal("100"))
    legal = group("Legal", user, whole="50", member="10")
    group("Interns", user, member="3")
    group("Unlimited", user)  # a policy without budgets (allowed models only)
    with django_assert_num_queries(1):
        applying = limits.limits_for(user.pk)
    assert applying.own == limits.Limit("default", Decimal("100"))
    assert sorted(limit.amount for limit in applying.members) == [Decimal("3"), Decimal("10")]
    assert applying.groups == (limits.Limit("group", Decimal("50"), legal.pk, "Legal"),)
    assert applying.tightest_on_user.amount == Decimal("3")


def test_budgets_keep_their_cents_and_another_users_groups_do_not_apply():
    user, other = make_user(), make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("12.34"))
    Budget.objects.create(user=None, monthly_usd=Decimal("99.99"))  # the default: theirs wins
    legal = group("Legal", user, whole="1234.56", member="0.07")
    group("Sales", other, whole="1", member="1")
    applying = limits.limits_for(user.pk)
    assert applying.own == limits.Limit("user", Decimal("12.34"))
    assert applying.members == (limits.Limit("member", Decimal("0.07"), legal.pk, "Legal"),)
    assert applying.groups == (limits.Limit("group", Decimal("1234.56"), legal.pk, "Legal"),)
    assert not limits.limits_for(make_user().pk).members  # in no group: only the default
    assert limits.limits_for(make_user().pk).own == limits.Limit("default", Decimal("99.99"))


def test_a_per_member_budget_holds_each_member_to_it_on_their_own_month():
    alice, bob = make_user(), make_user()
    Budget.objects.create(user=alice, monthly_usd=Decimal("50"))
    group("Interns", alice, bob, member="1")
    reservations.reserve(alice.pk, Decimal("0.6"))
    reservations.reserve(bob.pk, Decimal("0.6"))  # each member has their own dollar
    with pytest.raises(budgets.BudgetExceeded) as refused:
        reservations.reserve(alice.pk, Decimal("0.6"))
    assert refused.value.message.startswith(
        "This reply could cost up to $0.60, and $0.40 of the monthly budget per member of "
        "Interns of $1.00 is left."
    )
    assert MonthlySpend.objects.get(user=alice).reserved_usd == Decimal("0.6")


def test_a_whole_group_budget_is_shared_by_its_members_and_released_to_it():
    alice, bob = make_user(), make_user()
    legal = group("Legal", alice, bob, whole="1")
    first = reservations.reserve(alice.pk, Decimal("0.7"))
    assert first.group_ids == (legal.pk,)
    with pytest.raises(budgets.BudgetExceeded) as refused:
        reservations.reserve(bob.pk, Decimal("0.5"))
    assert "and $0.30 of the monthly budget of the group Legal of $1.00 is left" in (
        refused.value.message
    )
    # The refusal took nothing anywhere: not bob's month, not the group's.
    assert not MonthlySpend.objects.filter(user=bob, reserved_usd__gt=0).exists()
    assert group_month(legal).reserved_usd == Decimal("0.7")
    reservations.release(first)
    assert group_month(legal).reserved_usd == 0
    assert reservations.reserve(bob.pk, Decimal("0.5")).group_ids == (legal.pk,)


def test_settling_adds_the_cost_to_the_user_and_to_each_limited_group():
    user = make_user()
    legal = group("Legal", user, whole="10")
    interns = group("Interns", user, member="5")  # per member only: no group month
    reservation = reservations.reserve(user.pk, Decimal("1"))
    reservations.release(reservation)
    record = record_call(user_id=user.pk, purpose="reply", model_id="claude-sonnet-4-6",
                         usage=Usage(input_tokens=1000, output_tokens=1000))
    assert record.cost_usd == Decimal("0.018")
    assert MonthlySpend.objects.get(user=user).spent_usd == Decimal("0.018")
    assert group_month(legal).spent_usd == Decimal("0.018")
    assert group_month(legal).reserved_usd == 0
    assert not GroupMonthlySpend.objects.filter(group=interns).exists()


def test_a_used_up_group_refuses_every_member_in_plain_words():
    alice, bob = make_user(), make_user()
    legal = group("Legal", alice, bob, whole="1")
    budgets.add_spend(alice.pk, Decimal("1"))
    assert group_month(legal).spent_usd == Decimal("1")
    with pytest.raises(budgets.BudgetExceeded) as refused:
        budgets.refuse_if_exhausted(bob.pk)
    assert refused.value.exhausted
    assert refused.value.message.startswith(
        "The group Legal has used its monthly budget of $1.00 ($1.00 so far this month)."
    )


def test_status_reports_the_budget_nearest_its_limit():
    user = make_user()
    Budget.objects.create(user=user, monthly_usd=Decimal("100"))
    legal = group("Legal", user, whole="10", member="40")
    budgets.add_spend(user.pk, Decimal("6"))  # 6% of 100, 15% of 40, 60% of 10
    status = budgets.status(user.pk)
    assert status.budget == limits.Limit("group", Decimal("10"), legal.pk, "Legal")
    assert status.as_json()["budget"] == {
        "kind": "group", "group": "Legal", "label": "the monthly budget of the group Legal"
    }
    assert (status.spent, status.limit, status.remaining) == (
        Decimal("6"), Decimal("10"), Decimal("4")
    )
    GroupPolicy.objects.filter(group=legal).update(monthly_limit_usd=None)
    nearest = budgets.status(user.pk)
    assert (nearest.budget.kind, nearest.limit) == ("member", Decimal("40"))


def test_membership_changing_meanwhile_gives_back_to_the_groups_held():
    user = make_user()
    legal = group("Legal", user, whole="10")
    reservation = reservations.reserve(user.pk, Decimal("2"))
    user.groups.clear()
    reservations.release(reservation)
    assert group_month(legal).reserved_usd == 0
    assert not BudgetReservation.objects.exists()


def test_a_batch_jobs_reservation_shrinks_on_its_groups_too():
    user = make_user()
    legal = group("Legal", user, whole="10")
    reservation = reservations.reserve(user.pk, Decimal("3"))
    reservations.shrink(reservation, Decimal("1"))
    assert group_month(legal).reserved_usd == Decimal("1")
    assert MonthlySpend.objects.get(user=user).reserved_usd == Decimal("1")


@pytest.mark.django_db(transaction=True)
def test_racing_members_never_pass_their_groups_budget():
    """Twelve members of one group, each with a thread and connection of their own, reserve
    at once: exactly as many as fit the group's budget get in (SQLite and PostgreSQL)."""
    members = [make_user() for _ in range(12)]
    legal = group("Legal", *members, whole="4")
    outcomes: list[str] = []
    start = threading.Barrier(12)

    def one_request(user) -> None:
        start.wait()
        try:
            reservations.reserve(user.pk, Decimal("1"))
            outcomes.append("held")
        except budgets.BudgetExceeded:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=one_request, args=(user,)) for user in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("held") == 4 and outcomes.count("refused") == 8
    assert group_month(legal).reserved_usd == Decimal("4")
    # Those refused took nothing from their own months either.
    assert sum(m.reserved_usd for m in MonthlySpend.objects.all()) == Decimal("4")
    assert BudgetReservation.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_racing_members_of_two_overlapping_groups_never_pass_either():
    """Members of Legal (whole $3) and of Legal and Tax (Tax whole $2) race: neither group's
    month passes its budget, and every reservation is held on all its groups or on none."""
    both = [make_user() for _ in range(6)]
    legal_only = [make_user() for _ in range(6)]
    legal = group("Legal", *both, *legal_only, whole="3")
    tax = group("Tax", *both, whole="2")
    start = threading.Barrier(12)

    def one_request(user) -> None:
        start.wait()
        try:
            reservations.reserve(user.pk, Decimal("1"))
        except budgets.BudgetExceeded:
            pass
        finally:
            connection.close()

    threads = [threading.Thread(target=one_request, args=(u,)) for u in both + legal_only]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = list(BudgetReservation.objects.all())
    assert group_month(legal).reserved_usd == len(rows) == 3
    held_by_tax = sum(1 for r in rows if tax.pk in r.group_ids)
    tax_month = GroupMonthlySpend.objects.filter(group=tax).first()  # none if nobody got in
    assert (tax_month.reserved_usd if tax_month else 0) == held_by_tax <= 2
    assert all(r.group_ids == sorted([legal.pk, tax.pk]) or r.group_ids == [legal.pk]
               for r in rows)


def test_staff_set_a_groups_budgets_and_models_on_the_groups_page(client):
    client.force_login(make_user(is_staff=True, is_superuser=True))
    added = client.post("/admin/auth/group/add/", {
        "name": "Interns",
        "policy-TOTAL_FORMS": 1, "policy-INITIAL_FORMS": 0,
        "policy-0-monthly_limit_usd": "200", "policy-0-per_member_limit_usd": "20",
        "policy-0-allowed_models": ["claude-haiku-5-5"],
    })
    assert added.status_code == 302
    policy = GroupPolicy.objects.get(group__name="Interns")
    assert (policy.monthly_limit_usd, policy.per_member_limit_usd) == (
        Decimal("200"), Decimal("20")
    )
    assert list(policy.allowed_models.values_list("pk", flat=True)) == ["claude-haiku-5-5"]
    entry = AuditEntry.objects.filter(action=AuditAction.ADMIN_ADD).latest("pk")
    assert entry.target_type == "auth.group"  # audited, the inline's values with it
    listed = client.get("/admin/auth/group/").content.decode()
    assert "Interns" in listed and "1 allowed" in listed
    assert client.get(f"/admin/auth/group/{policy.group_id}/change/").status_code == 200
    negative = client.post("/admin/auth/group/add/", {
        "name": "Odd", "policy-TOTAL_FORMS": 1, "policy-INITIAL_FORMS": 0,
        "policy-0-monthly_limit_usd": "-5",
    })
    assert negative.status_code == 200 and not Group.objects.filter(name="Odd").exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
async def test_twelve_members_replying_at_once_on_postgresql_never_pass_their_group(
    claude, finish_replies, settings
):
    """Twelve members of one group ask at once, each in a conversation of their own: as many
    replies start as their worst cases fit in the group's budget, the rest are refused before
    they are sent, and after they settle the group's month is within its budget."""
    import asyncio
    import json

    from channels.db import database_sync_to_async

    from chatapp.replies import registry
    from tests.billing.test_budgets import _open
    from tests.factories import make_conversation
    from tests.sockets import send

    claude.set_pace(2)  # replies that started keep streaming until they are stopped
    settings.CHATAPP_MESSAGE_RATE_LIMIT = 0
    limit = Decimal("0.20")

    def build():
        members = [make_user() for _ in range(12)]
        made = group("Legal", *members, whole=str(limit))
        return made, [(m, make_conversation(m, model="claude-haiku-4-5")) for m in members]

    legal, pairs = await database_sync_to_async(build)()
    sockets = [await _open(member, conversation.pk) for member, conversation in pairs]
    await asyncio.gather(*(
        send(socket, type="user_message", text="the same question for everyone")
        for socket in sockets
    ))

    async def first_news(socket) -> str:
        while True:
            frame = json.loads(await socket.receive_from(timeout=60))
            if frame["type"] == "delta":
                return "streaming"
            if frame["type"] == "message_completed":
                assert frame["error"]["code"] == "budget_exceeded"
                assert "the monthly budget of the group Legal" in frame["error"]["message"]
                return "refused"

    outcomes = [await first_news(socket) for socket in sockets]
    held = [r.amount_usd async for r in BudgetReservation.objects.all()]
    worst_case = held[0]
    month = await GroupMonthlySpend.objects.aget(group=legal)
    assert outcomes.count("streaming") == len(held) and "refused" in outcomes
    assert month.reserved_usd == sum(held) <= limit
    assert limit - sum(held) < worst_case  # no reply was refused while one still fitted

    for socket, outcome in zip(sockets, outcomes, strict=True):
        if outcome == "streaming":
            await send(socket, type="stop")
    await registry.wait_for_all()
    month = await GroupMonthlySpend.objects.aget(group=legal)
    members_spent = sum([m.spent_usd async for m in MonthlySpend.objects.all()])
    assert month.reserved_usd == 0 and month.spent_usd == members_spent > 0
    assert month.spent_usd <= limit
    for socket in sockets:
        await socket.disconnect()
