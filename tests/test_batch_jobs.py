"""Batch jobs as a service: limits, the estimate, cancelling, and the results as downloads.
(The doors are in test_batch_api.py; the talking to the API in test_batch_poller.py.)"""

from decimal import Decimal

import pytest

from chatapp import batch_exports, batch_jobs
from chatapp.models import BatchItemStatus, BatchJobStatus, ClaudeModel
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
        max_tokens=100,
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
                                   model_id="claude-sonnet-4-6")
    assert estimate.as_json()["batch_usd"] is None
    assert estimate.as_json()["interactive_usd"] is None


def test_a_job_asks_the_default_output_length_unless_told():
    owner = make_user()
    document = make_text_document(owner)
    job = batch_jobs.create_job(owner, document_ids=[document.pk, document.pk], prompt="Who?",
                                model_id="claude-haiku-4-5")
    assert job.max_tokens == 8192
    assert job.items.count() == 1  # a document chosen twice is asked once


def test_cancelling_a_job_that_has_not_been_sent_cancels_every_document():
    owner = make_user()
    document = make_text_document(owner)
    job = batch_jobs.create_job(owner, document_ids=[document.pk], prompt="Who?",
                                model_id="claude-sonnet-4-6")
    job = batch_jobs.request_cancel(job)
    assert job.status == BatchJobStatus.ENDED
    assert list(job.items.values_list("status", flat=True)) == [BatchItemStatus.CANCELLED]
    with pytest.raises(batch_jobs.JobFinished):
        batch_jobs.request_cancel(job)


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx"])
def test_csv_cells_that_would_be_formulas_are_defused(cell):
    assert batch_exports.spreadsheet_safe(cell) == "'" + cell
    assert batch_exports.spreadsheet_safe("plain text") == "plain text"


def test_staff_see_jobs_with_their_document_count_and_cost_in_the_admin(client):
    owner = make_user()
    documents = [make_text_document(owner, f"Lease {n}") for n in range(3)]
    job = batch_jobs.create_job(owner, document_ids=[d.pk for d in documents], prompt="Who?",
                                model_id="claude-sonnet-4-6")
    job.items.update(status=BatchItemStatus.SUCCEEDED, cost_usd=Decimal("0.25"))
    client.force_login(make_user(is_staff=True, is_superuser=True))
    listing = client.get("/admin/chatapp/batchjob/")
    assert listing.status_code == 200
    row = listing.context["cl"].result_list.get(pk=job.pk)
    assert (row.documents, row.total_cost) == (3, Decimal("0.75"))
    assert client.get(f"/admin/chatapp/batchjob/{job.pk}/change/").status_code == 200
    assert client.get("/admin/chatapp/batchitem/").status_code == 200
