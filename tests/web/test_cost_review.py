"""The admin cost review at /admin/costs/: who may see it, what it shows, the CSV."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User

from chatapp.claude.types import Usage
from chatapp.models import BatchItem, BatchItemStatus, Message, Project, UsageRecord
from tests.cost_data import call, make_team
from tests.factories import make_conversation, make_exchange, make_user

pytestmark = pytest.mark.django_db

NOVEMBER = "?start=2026-11-01&end=2026-11-30"


@pytest.fixture
def team():
    return make_team()


@pytest.fixture
def staff(client):
    admin = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_visitors_and_ordinary_users_are_sent_to_the_admin_login(client):
    assert client.get("/admin/costs/").status_code == 302
    client.force_login(make_user())
    response = client.get("/admin/costs/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_the_permission_to_view_usage_get_403(client):
    clerk = make_user(is_staff=True)
    client.force_login(clerk)
    assert client.get("/admin/costs/").status_code == 403
    assert client.get("/admin/costs/export.csv").status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_usagerecord"))
    assert client.get("/admin/costs/").status_code == 200


def test_the_review_shows_each_user_and_the_totals(staff, team):
    page = staff.get(f"/admin/costs/{NOVEMBER}").content.decode()
    assert "alice" in page and "bob" in page and "carol" not in page
    assert 'data-total="cost">$0.0213' in page
    assert "+ 1 unpriced" in page
    assert "claude-mystery" in page  # the per-model table, unpriced
    assert "<svg" in page and "03 Nov · claude-sonnet-4-6 · $0.0135" in page


def test_the_admin_links_to_the_review(staff):
    assert 'href="/admin/costs/"' in staff.get("/admin/").content.decode()


def test_a_bad_range_says_so_and_shows_this_month(staff, team):
    page = staff.get("/admin/costs/?start=2026-11-30&end=2026-11-01").content.decode()
    assert "The start date is after the end date. Showing this month instead." in page


def test_sorting_is_a_click_on_the_column(staff, team):
    by_user = staff.get(f"/admin/costs/{NOVEMBER}&o=-user").content.decode()
    assert by_user.index(">bob<") < by_user.index(">alice<")
    by_cost = staff.get(f"/admin/costs/{NOVEMBER}&o=-cost").content.decode()
    assert by_cost.index(">alice<") < by_cost.index(">bob<")
    assert 'aria-sort="descending"' in by_cost


def test_the_csv_has_the_agreed_columns_and_one_row_per_user(staff, team):
    response = staff.get(f"/admin/costs/export.csv{NOVEMBER}")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "costs-2026-11-01-to-2026-11-30.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["user", "requests", "input_tokens", "output_tokens",
                       "cache_write_tokens", "cache_read_tokens", "cost_usd",
                       "cache_savings_usd", "batch_savings_usd", "groups"]
    body = {row[0]: row for row in rows[1:]}
    assert set(body) == {"alice", "bob"}
    assert body["alice"][1:6] == ["2", "2100", "600", "0", "10000"]
    assert Decimal(body["alice"][6]) == Decimal("0.0183")
    assert Decimal(body["alice"][7]) == Decimal("0.027")
    assert Decimal(body["bob"][8]) == Decimal("0.003")


def test_a_bad_csv_range_gets_400_in_plain_words(staff):
    response = staff.get("/admin/costs/export.csv?start=30/11/2026")
    assert response.status_code == 400
    assert response.content.decode() == "The start date must look like 2026-11-30."


def test_drill_down_from_a_user_to_a_conversations_messages(staff, team):
    alice = team[0]
    user_page = staff.get(f"/admin/costs/users/{alice.pk}/{NOVEMBER}").content.decode()
    assert "Plans" in user_page and "$0.0183" in user_page
    conversation = alice.conversations.get()
    _, reply = make_exchange(conversation, "why?", "because", input_tokens=1200,
                                    output_tokens=80, cost_usd=Decimal("0.0048"))
    make_exchange(conversation, "and?", "no price", cost_breakdown={"unpriced": True})
    page = staff.get(f"/admin/costs/conversations/{conversation.pk}/").content.decode()
    assert f"#{reply.pk}" in page and "1,200" in page and "$0.0048" in page
    assert "unpriced" in page
    assert "billed in its reply" in page


def test_drilling_into_nothing_is_404(staff):
    assert staff.get("/admin/costs/users/999999/").status_code == 404
    assert staff.get("/admin/costs/conversations/999999/").status_code == 404


def test_the_page_costs_the_same_few_queries_however_many_users(staff, team,
                                                                django_assert_max_num_queries):
    for n in range(30):
        call(make_user(f"extra{n}"), "claude-haiku-4-5", usage_of(10),
             when=datetime(2026, 11, 10, tzinfo=UTC))
    # One query per table (users, models, days, projects, groups, …): a constant, whatever
    # the number of users.
    with django_assert_max_num_queries(16):
        assert staff.get(f"/admin/costs/{NOVEMBER}").status_code == 200
    assert UsageRecord.objects.count() > 30 and Message.objects.count() == 0


def usage_of(tokens: int):
    from chatapp.claude.types import Usage

    return Usage(input_tokens=tokens, output_tokens=tokens)


def test_the_review_compares_strategies_on_the_teams_own_usage(staff, team):
    page = staff.get(f"/admin/costs/{NOVEMBER}").content.decode()
    assert "What would it have cost?" in page
    assert "Everything on Claude Opus 5.5" in page and "Without prompt caching" in page
    assert "The 1 unpriced calls are left out of every row." in page
    assert "another tier would write replies" in page.lower()


def test_the_share_that_could_wait_is_checked(staff, team):
    page = staff.get(f"/admin/costs/{NOVEMBER}&wait=150").content.decode()
    assert "must be a number from 0 to 100" in page
    response = staff.get(f"/admin/costs/strategies.csv{NOVEMBER}&wait=abc")
    assert response.status_code == 400


def test_the_comparison_downloads_as_csv(staff, team):
    response = staff.get(f"/admin/costs/strategies.csv{NOVEMBER}&wait=50")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["user", "strategy", "label", "cost_usd", "difference_usd", "assumption"]
    overall = {row[1]: row for row in rows[1:] if row[0] == "(all users)"}
    assert Decimal(overall["actual"][3]) == Decimal("0.0213")
    assert Decimal(overall["no_caching"][4]) == Decimal("0.027")
    assert {row[0] for row in rows[1:]} == {"(all users)", "alice", "bob"}


def test_each_user_row_counts_their_flagged_replies(staff, team):
    from chatapp.models import ContentFlag

    alice = team[0]
    conversation = alice.conversations.get()
    _, reply = make_exchange(conversation, "My card?", "4111 1111 1111 1111")
    ContentFlag.objects.create(
        message=reply, category="personal_data", kind="card_number", action="flag"
    )
    ContentFlag.objects.filter(message=reply).update(created_at=datetime(2026, 11, 6, tzinfo=UTC))
    page = staff.get(f"/admin/costs/{NOVEMBER}").content.decode()
    assert ">Flagged</th>" in page
    assert f"conversation__owner__id__exact={alice.pk}\">1</a>" in page


def test_auto_replies_are_set_against_the_default_model(staff, team):
    alice = team[0]
    conversation = alice.conversations.get()
    _, reply = make_exchange(
        conversation, "hi", "Hello!", input_tokens=1_000_000,
        output_tokens=0, cost_usd=Decimal("1"), options={"route": {"auto": True}},
    )
    Message.objects.filter(pk=reply.pk).update(
        created_at=datetime(2026, 11, 7, tzinfo=UTC), model="claude-haiku-4-5"
    )
    page = staff.get(f"/admin/costs/{NOVEMBER}").content.decode()
    # a million input tokens: $1 on Haiku 4.5, $2 on the default Sonnet 5.5
    assert "1 replies where the model was picked by Auto cost $1" in page
    assert "would have cost $2" in page and "Auto saved $1" in page


def _answered(job, item, usage, when):
    """A batch item answered as the poller records it: a batch call priced by the real
    accounting, its usage and cost kept on the item."""
    record = call(job.owner, job.model, usage, when=when, batch=True, purpose="batch")
    BatchItem.objects.filter(pk=item.pk).update(
        status=BatchItemStatus.SUCCEEDED, completed_at=when, cost_usd=record.cost_usd,
        **usage.as_dict())


def test_batch_job_spend_is_called_batch_jobs_and_shown_per_job(staff, settings, tmp_path):
    """Batch items belong to no conversation: their calls are not a deleted conversation's."""
    from chatapp.batches import jobs as batch_jobs
    from chatapp.claude.types import Usage
    from chatapp.policies.batches import job_limits
    from tests.factories import make_text_document

    settings.MEDIA_ROOT = tmp_path
    dana = make_user("dana")
    leases = batch_jobs.create_job(
        dana, document_ids=[make_text_document(dana, f"Lease {n}").pk for n in range(2)],
        prompt="Who pays the repairs?", model_id="claude-haiku-4-5", limits=job_limits())
    memos = batch_jobs.create_job(
        dana, document_ids=[make_text_document(dana, "Memo").pk], prompt="Sum up.",
        model_id="claude-haiku-4-5", limits=job_limits())
    when = datetime(2026, 11, 6, 12, tzinfo=UTC)
    for item in leases.items.all():  # (1000 × $1 + 1000 × $5) × 0.5 each: $0.003
        _answered(leases, item, Usage(input_tokens=1000, output_tokens=1000), when)
    # (3000 × $1 + 3000 × $5) × 0.5: $0.009
    _answered(memos, memos.items.get(), Usage(input_tokens=3000, output_tokens=3000), when)

    page = staff.get(f"/admin/costs/users/{dana.pk}/{NOVEMBER}").content.decode()
    assert "(deleted conversations)" not in page
    assert "Batch jobs" in page and "$0.0150" in page  # all three answers
    jobs = page[page.index('id="cost-batch-jobs"'):]
    # The costliest job first
    assert jobs.index(f"Batch job {memos.pk}") < jobs.index(f"Batch job {leases.pk}")
    assert "$0.0090" in jobs
    assert "Who pays the repairs?" in jobs and "$0.0060" in jobs
    assert jobs.count("claude-haiku-4-5") == 2


def test_a_deleted_conversations_calls_stay_apart_from_batch_jobs(staff, team):
    alice = team[0]
    alice.conversations.all().delete()
    page = staff.get(f"/admin/costs/users/{alice.pk}/{NOVEMBER}").content.decode()
    assert "(deleted conversations)" in page and "$0.0183" in page
    assert 'id="cost-batch-jobs"' not in page


MONEY_CELL = r"-?\d+\.\d{8}"  # the one form money takes in every CSV (money.csv_usd)


def test_every_money_cell_of_the_csvs_has_one_form(staff, team):
    import re

    for url, columns in ((f"/admin/costs/export.csv{NOVEMBER}", [6, 7, 8]),
                         (f"/admin/costs/strategies.csv{NOVEMBER}&wait=50", [3, 4])):
        text = b"".join(staff.get(url).streaming_content).decode()
        rows = list(csv.reader(io.StringIO(text)))[1:]
        cells = [row[n] for row in rows for n in columns]
        assert cells and all(re.fullmatch(MONEY_CELL, cell) for cell in cells), cells
    # What the sums came back as before: an exponent, or 16 to 18 places.
    assert "E-" not in text and not re.search(r"\.\d{9,}", text)


def test_projects_show_their_spend_cache_savings_and_who_asked(staff, team):
    """A project's conversations are its spend, by whoever asked in them; the CSV has a row
    per project and person."""
    alice, bob = User.objects.get(username="alice"), User.objects.get(username="bob")
    leases = Project.objects.create(owner=alice, name="Leases")
    for person, usage in ((alice, Usage(input_tokens=2000, output_tokens=500)),
                          (bob, Usage(input_tokens=100, cache_read_tokens=10_000,
                                      output_tokens=100))):
        call(person, "claude-sonnet-4-6", usage, when=datetime(2026, 11, 5, tzinfo=UTC),
             conversation=make_conversation(person, project=leases))
    page = staff.get(f"/admin/costs/{NOVEMBER}").content.decode()
    table = page[page.index('id="cost-projects"'):]
    table = table[: table.index("</table>")]
    # $0.0135 + $0.0048; the cache read saved 10,000 × ($3 − $0.30) = $0.027
    assert "Leases" in table and "$0.0183" in table and "$0.0270" in table
    assert "alice ($0.0135), bob ($0.0048)" in table

    lines = list(csv.reader(io.StringIO(
        b"".join(staff.get(f"/admin/costs/projects.csv{NOVEMBER}").streaming_content).decode()
    )))
    assert lines == [
        ["project", "user", "requests", "cost_usd", "cache_savings_usd"],
        ["Leases", "alice", "1", "0.01350000", "0.00000000"],
        ["Leases", "bob", "1", "0.00480000", "0.02700000"],
    ]
def test_the_review_has_a_per_group_view_and_the_csv_a_group_column(staff, team):
    """Issue 21: each group's members' calls added up, beside the group's budget; a member of
    two groups counts in both; the CSV names each user's groups."""
    from django.contrib.auth.models import Group

    from chatapp.models import GroupPolicy

    alice, bob, _carol = team
    legal, tax = Group.objects.create(name="legal"), Group.objects.create(name="tax")
    GroupPolicy.objects.create(group=legal, monthly_limit_usd=Decimal("1"))
    alice.groups.add(legal, tax)
    bob.groups.add(legal)

    from chatapp.cost_review import queries
    from chatapp.cost_review.date_ranges import DateRange

    rows = {r["user__groups__name"]: r
            for r in queries.per_group(DateRange.parse("2026-11-01", "2026-11-30"))}
    assert set(rows) == {"legal", "tax"}
    assert rows["legal"]["members"] == 2 and rows["tax"]["members"] == 1
    assert rows["legal"]["cost"] == Decimal("0.0213")  # alice's $0.0183 + bob's $0.003
    assert rows["tax"]["cost"] == Decimal("0.0183") and rows["tax"]["budget"] is None
    assert rows["legal"]["budget"] == Decimal("1")
    assert rows["legal"]["share_used"] == Decimal("0.0213")

    page = staff.get(f"/admin/costs/{NOVEMBER}").content.decode()
    assert 'id="cost-groups"' in page and ">legal<" in page and ">tax<" in page

    response = staff.get(f"/admin/costs/export.csv{NOVEMBER}")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    body = {row[0]: row for row in rows[1:]}
    assert body["alice"][-1] == "legal; tax" and body["bob"][-1] == "legal"
