"""Batch jobs as a service: limits, the estimate, cancelling, and the results as downloads.
(The doors are in tests/web/test_api_batches.py; the talking to the API in test_poller.py.)"""

from decimal import Decimal

import pytest

from chatapp.batches import jobs as batch_jobs
from chatapp.billing import budgets, reservations
from chatapp.csv_files import spreadsheet_safe
from chatapp.models import (
    BatchItem,
    BatchItemStatus,
    BatchJob,
    BatchJobStatus,
    Budget,
    BudgetReservation,
    ClaudeModel,
)
from chatapp.policies.batches import job_limits
from tests.factories import make_text_document, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.mark.parametrize(
    ("model_id", "limit"),
    [("claude-sonnet-4-6", 300_000), ("claude-opus-4-7", 300_000), ("claude-haiku-4-5", 64_000),
     ("claude-sonnet-5-5", 128_000)],
)
def test_the_long_output_beta_raises_the_limit_only_where_the_catalog_says(model_id, limit):
    assert batch_jobs.output_limit(ClaudeModel.objects.get(pk=model_id)) == limit


def test_the_estimate_prices_each_document_in_its_own_size_band():
    """Haiku 5.5 bills every token of a request above 100K prompt tokens at 5× the rate."""
    owner = make_user()
    small = make_text_document(owner, "x" * 400)  # 100 tokens
    large = make_text_document(owner, "y" * 440_000)  # 110,000 tokens
    estimate = batch_jobs.estimate(
        owner, document_ids=[small.pk, large.pk], prompt="Sum up.", model_id="claude-haiku-5-5",
        max_tokens=100, limits=job_limits(),
    )
    prefix = (estimate.input_tokens - 100 - 110_000) // 2
    small_cost = (Decimal(100 + prefix) * Decimal("0.10") + 100 * Decimal("0.50")) / 10**6
    large_cost = (Decimal(110_000 + prefix) * Decimal("0.50") + 100 * Decimal("2.50")) / 10**6
    assert estimate.interactive_usd == pytest.approx(small_cost + large_cost, abs=Decimal("1e-8"))
    assert estimate.batch_usd * 2 == estimate.interactive_usd


def test_an_unpriced_model_estimates_as_unpriced_never_free():
    owner = make_user()
    document = make_text_document(owner)
    ClaudeModel.objects.get(pk="claude-sonnet-4-6").prices.all().delete()
    estimate = batch_jobs.estimate(owner, document_ids=[document.pk], prompt="Sum up.",
                                   model_id="claude-sonnet-4-6", limits=job_limits())
    assert estimate.as_json()["batch_usd"] is None
    assert estimate.as_json()["interactive_usd"] is None


def test_a_job_asks_the_default_output_length_unless_told():
    owner = make_user()
    document = make_text_document(owner)
    job = batch_jobs.create_job(owner, document_ids=[document.pk, document.pk], prompt="Who?",
                                model_id="claude-haiku-4-5", limits=job_limits())
    assert job.max_tokens == 8192
    assert job.items.count() == 1  # a document chosen twice is asked once


def test_cancelling_a_job_that_has_not_been_sent_cancels_every_document():
    owner = make_user()
    document = make_text_document(owner)
    job = batch_jobs.create_job(owner, document_ids=[document.pk], prompt="Who?",
                                model_id="claude-sonnet-4-6", limits=job_limits())
    job = batch_jobs.request_cancel(job)
    assert job.status == BatchJobStatus.ENDED
    assert list(job.items.values_list("status", flat=True)) == [BatchItemStatus.CANCELLED]
    with pytest.raises(batch_jobs.JobFinished):
        batch_jobs.request_cancel(job)


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx"])
def test_csv_cells_that_would_be_formulas_are_defused(cell):
    assert spreadsheet_safe(cell) == "'" + cell
    assert spreadsheet_safe("plain text") == "plain text"


def test_staff_see_jobs_with_their_document_count_and_cost_in_the_admin(client):
    owner = make_user()
    documents = [make_text_document(owner, f"Lease {n}") for n in range(3)]
    job = batch_jobs.create_job(owner, document_ids=[d.pk for d in documents], prompt="Who?",
                                model_id="claude-sonnet-4-6", limits=job_limits())
    job.items.update(status=BatchItemStatus.SUCCEEDED, cost_usd=Decimal("0.25"))
    client.force_login(make_user(is_staff=True, is_superuser=True))
    listing = client.get("/admin/chatapp/batchjob/")
    assert listing.status_code == 200
    row = listing.context["cl"].result_list.get(pk=job.pk)
    assert (row.documents, row.total_cost) == (3, Decimal("0.75"))
    assert client.get(f"/admin/chatapp/batchjob/{job.pk}/change/").status_code == 200
    assert client.get("/admin/chatapp/batchitem/").status_code == 200


# --- the budget: a job holds its worst case from the moment it is created -----------------------


def _job_with_budget(limit: str, count: int = 3, max_tokens: int = 1000, prompt: str = "Who?"):
    owner = make_user()
    Budget.objects.create(user=owner, monthly_usd=Decimal(limit))
    documents = [make_text_document(owner, f"Lease {n}. " * 100) for n in range(count)]
    fields = {"document_ids": [d.pk for d in documents], "prompt": prompt,
              "model_id": "claude-sonnet-4-6", "max_tokens": max_tokens}
    return owner, fields


def test_creating_a_job_reserves_its_estimate_at_batch_prices():
    owner, fields = _job_with_budget("10")
    estimate = batch_jobs.estimate(owner, limits=job_limits(), **fields)
    job = batch_jobs.create_job(owner, limits=job_limits(), **fields)
    status = budgets.status(owner.pk)
    assert status.reserved == estimate.batch_usd > 0 and status.spent == 0
    # Every document holds its own share (1,000 output tokens at $7.50/M alone: $0.0075).
    shares = list(job.items.values_list("reserved_usd", flat=True))
    assert sum(shares) == estimate.batch_usd and all(s > Decimal("0.0075") for s in shares)
    assert job.reservation.amount_usd == estimate.batch_usd


def test_a_job_that_does_not_fit_the_budget_is_refused_in_plain_words_and_not_saved():
    # Three documents of 8,192 output tokens at the batch price ($7.50/M): over $0.18.
    owner, fields = _job_with_budget("0.10", max_tokens=8192)
    estimate = batch_jobs.estimate(owner, limits=job_limits(), **fields)
    with pytest.raises(budgets.BudgetExceeded) as refused:
        batch_jobs.create_job(owner, limits=job_limits(), **fields)
    assert refused.value.message == (
        f"This batch job could cost up to ${estimate.batch_usd:.2f}, and $0.10 of your monthly "
        "budget of $0.10 is left. Choose fewer documents, a smaller maximum answer length or a "
        "cheaper model, or ask an administrator to raise your budget."
    )
    assert not BatchJob.objects.exists() and not BatchItem.objects.exists()
    assert budgets.status(owner.pk).reserved == 0


def test_cancelling_a_job_before_it_was_sent_gives_its_reservation_back():
    owner, fields = _job_with_budget("10")
    job = batch_jobs.create_job(owner, limits=job_limits(), **fields)
    batch_jobs.request_cancel(job)
    assert budgets.status(owner.pk).reserved == 0
    assert not BudgetReservation.objects.exists()


def test_settling_again_gives_nothing_back_twice():
    owner, fields = _job_with_budget("10")
    job = batch_jobs.create_job(owner, limits=job_limits(), **fields)
    first = job.items.order_by("id").first()
    BatchItem.objects.filter(pk=first.pk).update(status=BatchItemStatus.EXPIRED)
    batch_jobs.settle_reservation(job.pk)
    batch_jobs.settle_reservation(job.pk)
    held = budgets.status(owner.pk).reserved
    assert held == sum(job.items.exclude(pk=first.pk).values_list("reserved_usd", flat=True))


def test_a_job_holds_nothing_for_a_user_without_a_budget():
    owner = make_user()
    document = make_text_document(owner)
    batch_jobs.create_job(owner, limits=job_limits(), document_ids=[document.pk], prompt="Who?",
                          model_id="claude-sonnet-4-6")
    assert not BudgetReservation.objects.exists()


def test_a_batch_jobs_reservation_outlives_restarts_and_is_never_stale(settings):
    from datetime import timedelta

    from django.utils import timezone

    from chatapp.policies.replies import process_policy
    from chatapp.replies.recovery import mark_orphaned_replies

    settings.REDIS_URL = ""
    owner, fields = _job_with_budget("10")
    batch_jobs.create_job(owner, limits=job_limits(), **fields)
    held = budgets.status(owner.pk).reserved
    mark_orphaned_replies(process_policy())  # start-up frees what replies left, not what jobs hold
    BudgetReservation.objects.update(created_at=timezone.now() - timedelta(days=1))
    reservations.reserve(owner.pk, Decimal("0.01"))  # and the next call frees only stale replies'
    assert budgets.status(owner.pk).reserved == held + Decimal("0.01")


def test_a_long_prompt_is_estimated_as_written_to_the_1_hour_cache_by_every_request():
    """The instructions are a cached prefix (1-hour breakpoint): in the worst case every
    request writes it, at twice the input price."""
    owner = make_user()
    document = make_text_document(owner, "x" * 400)
    prompt = "Summarise the obligations of each party. " * 200  # over Sonnet's 1,024 minimum
    estimate = batch_jobs.estimate(owner, document_ids=[document.pk], prompt=prompt,
                                   model_id="claude-sonnet-4-6", max_tokens=100,
                                   limits=job_limits())
    prefix = estimate.input_tokens - 100
    assert prefix > 1024
    # Sonnet 4.6: $3/M input, $6/M 1-hour write, $15/M output; halved in a batch.
    assert estimate.batch_usd == (Decimal(prefix) * 6 + 100 * 3 + 100 * 15) / 2 / 10**6


def test_a_job_of_an_unpriced_model_holds_nothing_and_leaves_nothing_behind():
    owner, fields = _job_with_budget("10")
    ClaudeModel.objects.get(pk="claude-sonnet-4-6").prices.all().delete()
    job = batch_jobs.create_job(owner, limits=job_limits(), **fields)
    assert budgets.status(owner.pk).reserved == 0
    batch_jobs.request_cancel(job)
    assert not BudgetReservation.objects.exists()
