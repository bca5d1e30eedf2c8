"""Batch jobs end to end: the poller submits them through the real SDK to the offline upstream,
polls, and records each document's answer, usage and batch-priced cost exactly once.

The upstream's batches finish on its own clock (`set_batch_seconds`, `advance_clock`), and the
poll interval is zero here, so every `tick` looks at every running batch: no waiting.
"""

import asyncio
from dataclasses import replace
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async

from chatapp.batches import jobs as batch_jobs
from chatapp.batches import submission as batch_submission
from chatapp.batches.policy import PollerPolicy
from chatapp.batches.poller import BatchPoller
from chatapp.billing import budgets, prices
from chatapp.claude import batches as claude_batches
from chatapp.claude.pricing import price_usage
from chatapp.claude.types import Usage
from chatapp.models import (
    BatchItem,
    BatchItemStatus,
    BatchJob,
    BatchJobStatus,
    Budget,
    CallPurpose,
    MessageBatch,
    MonthlySpend,
    UsageRecord,
)
from chatapp.policies.batches import batch_poller, job_limits
from chatapp.replies import registry
from tests.factories import make_text_document, make_user
from tests.sockets import frames_until, next_frame, open_socket, send

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "claude-sonnet-4-6"
PROMPT = "Who pays the rent, and when?"
BATCH_SECONDS = 100  # the upstream answers a batch's requests evenly over this many seconds


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def poller_policy(**changes) -> PollerPolicy:
    """The poller's policy from settings, looking at a sent batch again on every round (the
    upstream's clock is the test's), with ``changes``."""
    return replace(batch_poller(), poll_seconds=0, poll_max_seconds=0, **changes)


def new_poller(*, results_chunk: int = 200, **changes) -> BatchPoller:
    return BatchPoller(poller_policy(**changes), results_chunk=results_chunk)


@pytest.fixture
def upstream(claude):
    claude.set_batch_seconds(BATCH_SECONDS)
    return claude


@database_sync_to_async
def start_job(
    count: int, texts: dict[int, str] | None = None, budget: str | None = None, **fields
) -> BatchJob:
    owner = make_user()
    if budget is not None:
        Budget.objects.create(user=owner, monthly_usd=Decimal(budget))
    texts = texts or {}
    documents = [
        make_text_document(owner, texts.get(n, f"Lease {n}: the tenant pays rent monthly."),
                           name=f"lease-{n}.txt")
        for n in range(count)
    ]
    fields.setdefault("prompt", PROMPT)
    fields.setdefault("model_id", MODEL)
    return batch_jobs.create_job(
        owner, document_ids=[d.pk for d in documents], limits=job_limits(), **fields
    )


@database_sync_to_async
def reload(job: BatchJob) -> tuple[BatchJob, dict[str, int], list[BatchItem]]:
    job.refresh_from_db()
    return job, batch_jobs.counts(job), list(job.items.order_by("id"))


@database_sync_to_async
def usage_records(job: BatchJob) -> list[UsageRecord]:
    return list(UsageRecord.objects.filter(user=job.owner_id))


@database_sync_to_async
def month_of(job: BatchJob) -> tuple[Decimal, Decimal, Decimal]:
    """(spent, reserved, what the documents still processing hold) for the job's owner."""
    status = budgets.status(job.owner_id)
    processing = job.items.filter(status=BatchItemStatus.PROCESSING)
    return status.spent, status.reserved, sum(i.reserved_usd for i in processing)


def batch_creates(upstream) -> list[dict]:
    return [r for r in upstream.requests()
            if r["method"] == "POST" and r["path"] == "/v1/messages/batches"]


async def test_a_25_document_job_end_to_end(upstream):
    job = await start_job(25)
    poller = new_poller()

    await poller.tick()
    job, counts, _ = await reload(job)
    assert job.status == BatchJobStatus.IN_PROGRESS
    assert counts["processing"] == 25
    (create,) = batch_creates(upstream)
    requests = create["body"]["requests"]
    assert len(requests) == 25 and len({r["custom_id"] for r in requests}) == 25
    # One document-free prefix (system + instructions, 1-hour breakpoint) shared by all.
    prefixes = {str((r["params"]["system"], r["params"]["messages"][0]["content"][0]))
                for r in requests}
    assert len(prefixes) == 1
    first = requests[0]["params"]["messages"][0]["content"]
    assert first[0] == {"type": "text", "text": PROMPT,
                        "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    assert first[1]["type"] == "document" and first[1]["title"] == "lease-0.txt"

    upstream.advance_clock(BATCH_SECONDS)
    await poller.tick()
    job, counts, items = await reload(job)
    assert job.status == BatchJobStatus.ENDED and job.ended_at is not None
    assert counts == {"processing": 0, "succeeded": 25, "errored": 0, "cancelled": 0,
                      "expired": 0}
    for item in items:
        assert f'You asked: "{PROMPT}"' in item.text
        assert item.output_tokens > 0 and item.cost_usd > 0
    records = await usage_records(job)
    assert len(records) == 25
    assert all(r.is_batch and r.purpose == CallPurpose.BATCH for r in records)
    assert sum(r.cost_usd for r in records) == sum(item.cost_usd for item in items)


async def test_batch_items_cost_half_the_interactive_price(upstream):
    job = await start_job(1)
    poller = new_poller()
    await poller.tick()
    upstream.advance_clock(BATCH_SECONDS)
    await poller.tick()
    _, _, (item,) = await reload(job)
    (record,) = await usage_records(job)
    usage = Usage(input_tokens=item.input_tokens, output_tokens=item.output_tokens,
                  cache_write_5m_tokens=item.cache_write_5m_tokens,
                  cache_write_1h_tokens=item.cache_write_1h_tokens,
                  cache_read_tokens=item.cache_read_tokens)
    (rates,) = await database_sync_to_async(prices.rates_in_force)(MODEL)
    interactive = price_usage(usage, rates).total
    assert item.cost_usd == price_usage(usage, rates, batch=True).total
    assert item.cost_usd == pytest.approx(interactive / 2, abs=Decimal("0.00000002"))
    assert record.batch_savings_usd == interactive - item.cost_usd


async def test_a_job_over_the_per_batch_limit_is_split_into_several_batches(upstream):
    job = await start_job(25)
    poller = new_poller(max_requests=10)
    await poller.tick()
    assert [len(c["body"]["requests"]) for c in batch_creates(upstream)] == [10, 10, 5]

    upstream.advance_clock(BATCH_SECONDS)
    await poller.tick()
    job, counts, _ = await reload(job)
    assert job.status == BatchJobStatus.ENDED and counts["succeeded"] == 25
    sizes = await database_sync_to_async(
        lambda: [b.items.count() for b in MessageBatch.objects.filter(job=job)]
    )()
    assert sizes == [10, 10, 5]


async def test_a_job_over_the_per_batch_byte_limit_is_split_too(upstream):
    long_text = "The tenant pays rent on the first day of each month. " * 40
    job = await start_job(5, texts=dict.fromkeys(range(5), long_text))
    one_request = await database_sync_to_async(
        lambda: batch_jobs.item_request(job, job.items.first()).size
    )()
    await new_poller(max_bytes=int(one_request * 2.5)).tick()  # two fit, a third does not
    assert [len(c["body"]["requests"]) for c in batch_creates(upstream)] == [2, 2, 1]
    _, counts, _ = await reload(job)
    assert counts["processing"] == 5


async def test_cancelling_mid_way_keeps_the_finished_answers(upstream):
    job = await start_job(10)
    poller = new_poller()
    await poller.tick()
    upstream.advance_clock(BATCH_SECONDS * 0.45)  # four of ten are answered upstream

    job = await database_sync_to_async(batch_jobs.request_cancel)(job)
    assert job.status == BatchJobStatus.CANCELLING
    await poller.tick()

    job, counts, items = await reload(job)
    assert job.status == BatchJobStatus.ENDED
    assert (counts["succeeded"], counts["cancelled"], counts["processing"]) == (4, 6, 0)
    assert [i.status for i in items] == ["succeeded"] * 4 + ["cancelled"] * 6
    assert len(await usage_records(job)) == 4  # only what was answered is billed
    cancels = [r for r in upstream.requests() if r["path"].endswith("/cancel")]
    assert len(cancels) == 1


async def test_a_batch_unfinished_after_24_hours_expires(upstream):
    upstream.set_batch_seconds(30 * 3600)
    job = await start_job(3)
    poller = new_poller()
    await poller.tick()
    upstream.advance_clock(24 * 3600)
    await poller.tick()
    job, counts, items = await reload(job)
    assert job.status == BatchJobStatus.ENDED
    assert (counts["succeeded"], counts["expired"]) == (2, 1)
    assert items[-1].status == BatchItemStatus.EXPIRED and items[-1].cost_usd is None


async def test_an_errored_item_says_why_and_the_rest_succeed(upstream):
    job = await start_job(3, texts={1: "Clause 1. [[fault:invalid]]"})
    poller = new_poller()
    await poller.tick()
    upstream.advance_clock(BATCH_SECONDS)
    await poller.tick()
    job, counts, items = await reload(job)
    assert job.status == BatchJobStatus.ENDED
    assert (counts["succeeded"], counts["errored"]) == (2, 1)
    broken = items[1]
    assert broken.status == BatchItemStatus.ERRORED and broken.error_code == "invalid_request"
    assert broken.error_message.startswith("Claude rejected the request:")
    assert broken.cost_usd is None and broken.text == ""
    assert len(await usage_records(job)) == 2


async def test_a_poller_restarted_mid_way_records_nothing_twice(upstream):
    job = await start_job(25)
    await new_poller().tick()
    upstream.advance_clock(BATCH_SECONDS)
    # The first poller loses its connection while reading the results (after 14 lines: some
    # chunks of five are recorded, the rest not), and stops; a new one starts from the start.
    upstream.drop_next_results_after(14)
    await new_poller(results_chunk=5).tick()
    job, counts, _ = await reload(job)
    assert counts["succeeded"] in (5, 10) and counts["processing"] == 25 - counts["succeeded"]
    assert job.status == BatchJobStatus.IN_PROGRESS

    await new_poller(results_chunk=5).tick()
    job, counts, items = await reload(job)
    assert job.status == BatchJobStatus.ENDED and counts["succeeded"] == 25
    records = await usage_records(job)
    assert len(records) == 25
    spent = await database_sync_to_async(
        lambda: MonthlySpend.objects.get(user_id=job.owner_id).spent_usd
    )()
    assert spent == sum(item.cost_usd for item in items)


async def test_two_pollers_at_once_record_every_result_once(upstream):
    job = await start_job(12)
    first, second = new_poller(results_chunk=3), new_poller(results_chunk=3)
    await asyncio.gather(first.tick(), second.tick())
    assert len(batch_creates(upstream)) == 1
    upstream.advance_clock(BATCH_SECONDS)
    await asyncio.gather(first.tick(), second.tick())
    job, counts, _ = await reload(job)
    assert job.status == BatchJobStatus.ENDED and counts["succeeded"] == 12
    assert len(await usage_records(job)) == 12


async def test_more_than_the_interactive_limit_uses_the_long_output_beta(upstream):
    job = await start_job(1, prompt="Write it all out. [[tokens:150]]", max_tokens=200_000)
    poller = new_poller()
    await poller.tick()
    (create,) = batch_creates(upstream)
    assert create["headers"]["anthropic-beta"] == "output-300k-2026-03-24"
    assert create["body"]["requests"][0]["params"]["max_tokens"] == 200_000
    upstream.advance_clock(BATCH_SECONDS)
    await poller.tick()
    _, counts, (item,) = await reload(job)
    assert counts["succeeded"] == 1 and item.output_tokens == 150


async def test_a_job_that_cannot_reach_claude_is_sent_later(upstream, settings):
    job = await start_job(2)
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    await new_poller().tick()
    job, counts, _ = await reload(job)
    assert job.status == BatchJobStatus.SUBMITTING and counts["processing"] == 2
    assert job.submit_lease_until is not None  # the pause before the next attempt

    settings.ANTHROPIC_BASE_URL = upstream.base_url
    await database_sync_to_async(
        lambda: BatchJob.objects.filter(pk=job.pk).update(submit_lease_until=None)
    )()  # the pause is over
    await new_poller().tick()
    job, _, _ = await reload(job)
    assert job.status == BatchJobStatus.IN_PROGRESS
    (create,) = batch_creates(upstream)
    assert len(create["body"]["requests"]) == 2


async def test_a_removed_document_errors_its_item_only(upstream):
    job = await start_job(2)
    await database_sync_to_async(
        lambda: job.items.order_by("id").first().document.delete()
    )()
    poller = new_poller()
    await poller.tick()
    upstream.advance_clock(BATCH_SECONDS)
    await poller.tick()
    _, counts, items = await reload(job)
    assert (counts["errored"], counts["succeeded"]) == (1, 1)
    assert "was removed before the job was sent" in items[0].error_message


async def test_a_follow_up_question_on_an_answer_is_asked_with_its_document(upstream):
    job = await start_job(1, texts={0: "Lease 0: the tenant pays rent on the first."})
    poller = new_poller()
    await poller.tick()
    upstream.advance_clock(BATCH_SECONDS)
    await poller.tick()
    _, _, (item,) = await reload(job)
    conversation = await database_sync_to_async(batch_jobs.open_as_conversation)(item)

    owner = await database_sync_to_async(lambda: job.owner)()
    socket, connected = await open_socket(owner, conversation.pk)
    assert connected and (await next_frame(socket))["type"] == "ready"
    await send(socket, type="user_message", text="And who pays for repairs?")
    completed = (await frames_until(socket, "message_completed"))[-1]
    await socket.disconnect()
    await registry.wait_for_all()
    await registry.shutdown()

    assert completed["status"] == "complete"
    asked = next(r for r in upstream.requests() if r["path"] == "/v1/messages")["body"]
    first_turn, answer, follow_up = asked["messages"]
    documents = [b for b in first_turn["content"] if b["type"] == "document"]
    assert documents[0]["source"]["data"] == "Lease 0: the tenant pays rent on the first."
    assert any(b.get("text") == PROMPT for b in first_turn["content"])
    answer_text = "".join(b.get("text", "") for b in answer["content"])
    assert answer["role"] == "assistant" and answer_text == item.text
    assert follow_up["content"][-1]["text"] == "And who pays for repairs?"


# --- the budget: reserved at creation, settled as the results arrive ----------------------------


async def test_results_turn_the_reservation_into_what_the_answers_cost(upstream):
    job = await start_job(3, texts={1: "Clause 1. [[fault:invalid]]"}, budget="10")
    spent, reserved, held = await month_of(job)
    assert spent == 0 and reserved == held > 0

    poller = new_poller()
    await poller.tick()
    upstream.advance_clock(BATCH_SECONDS)
    await poller.tick()
    job, counts, items = await reload(job)
    assert job.status == BatchJobStatus.ENDED and (counts["succeeded"], counts["errored"]) == (2, 1)
    spent, reserved, _ = await month_of(job)
    # The errored document's share is given back; the answers are billed at what they cost.
    assert reserved == 0 and spent == sum(i.cost_usd for i in items if i.cost_usd)
    assert all(i.cost_usd < i.reserved_usd for i in items if i.cost_usd)


async def test_cancelled_and_expired_documents_give_their_share_back(upstream):
    upstream.set_batch_seconds(30 * 3600)
    job = await start_job(3, budget="10")
    poller = new_poller()
    await poller.tick()
    upstream.advance_clock(24 * 3600)  # two answered, the last one expires
    await poller.tick()
    job, counts, items = await reload(job)
    assert (counts["succeeded"], counts["expired"]) == (2, 1)
    assert await month_of(job) == (sum(i.cost_usd for i in items if i.cost_usd), 0, 0)

    cancelled = await start_job(4, budget="10")
    await poller.tick()
    upstream.advance_clock(15 * 3600)  # two of four answered upstream, then cancelled
    await database_sync_to_async(batch_jobs.request_cancel)(cancelled)
    await poller.tick()
    cancelled, counts, items = await reload(cancelled)
    assert (counts["succeeded"], counts["cancelled"]) == (2, 2)
    assert await month_of(cancelled) == (sum(i.cost_usd for i in items if i.cost_usd), 0, 0)


async def test_restarted_and_racing_pollers_settle_each_document_once(upstream):
    job = await start_job(25, budget="10")
    await new_poller().tick()
    upstream.advance_clock(BATCH_SECONDS)
    upstream.drop_next_results_after(14)  # the first poller stops part-way through the results
    await new_poller(results_chunk=5).tick()
    job, counts, items = await reload(job)
    spent, reserved, held = await month_of(job)
    assert 0 < counts["succeeded"] < 25
    assert reserved == held  # exactly the unanswered documents' shares are still held
    assert spent == sum(i.cost_usd for i in items if i.cost_usd)

    await asyncio.gather(new_poller(results_chunk=5).tick(), new_poller(results_chunk=5).tick())
    job, counts, items = await reload(job)
    assert job.status == BatchJobStatus.ENDED and counts["succeeded"] == 25
    assert await month_of(job) == (sum(i.cost_usd for i in items), 0, 0)


# --- A create is never made twice ------------------------------------------------------------


@database_sync_to_async
def free_to_submit(job: BatchJob) -> None:
    """The pause after a failed attempt is over."""
    BatchJob.objects.filter(pk=job.pk).update(submit_lease_until=None)


async def create_without_recording(job: BatchJob) -> str:
    """What a poller stopped right after its create reached the API leaves behind: a batch
    upstream, and our MessageBatch still ``sending`` without its id."""
    _, requests, long_output = await database_sync_to_async(batch_submission.next_batch)(
        job.pk, poller_policy()
    )
    state = await claude_batches.submit(requests, long_output=long_output)
    return state.upstream_id


async def test_an_unanswered_create_is_looked_up_and_adopted_never_made_again(upstream):
    job = await start_job(3)
    made = await create_without_recording(job)
    poller = new_poller()

    await poller.tick()  # the batch may be ours but is still running: nothing is created
    assert len(batch_creates(upstream)) == 1
    job, counts, _ = await reload(job)
    assert job.status == BatchJobStatus.SUBMITTING and counts["processing"] == 3

    upstream.advance_clock(BATCH_SECONDS)
    await free_to_submit(job)
    await poller.tick()  # ended: its results name our documents, so it is ours
    assert len(batch_creates(upstream)) == 1
    job, counts, _ = await reload(job)
    assert job.status == BatchJobStatus.ENDED and counts["succeeded"] == 3
    (batch,) = await database_sync_to_async(lambda: list(job.batches.all()))()
    assert batch.upstream_id == made
    assert len(await usage_records(job)) == 3


async def test_someone_elses_batch_of_the_same_size_is_not_taken_for_ours(upstream):
    job = await start_job(2)
    # Tried once, never reached the API.
    _, requests, _ = await database_sync_to_async(batch_submission.next_batch)(
        job.pk, poller_policy()
    )
    # Meanwhile another application on the same account made a batch of two.
    foreign = [claude_batches.BatchRequest(f"theirs_{n}", r.params) for n, r in enumerate(requests)]
    theirs = (await claude_batches.submit(foreign, long_output=False)).upstream_id
    upstream.advance_clock(BATCH_SECONDS)  # it has ended: its results tell whose it is

    await new_poller().tick()
    job, _, _ = await reload(job)
    assert job.status == BatchJobStatus.IN_PROGRESS
    (batch,) = await database_sync_to_async(lambda: list(job.batches.all()))()
    assert batch.upstream_id not in (None, theirs)
    ours = batch_creates(upstream)[-1]["body"]["requests"]
    assert sorted(r["custom_id"] for r in ours) == sorted(r.custom_id for r in requests)


async def test_a_cancelled_job_finds_its_unanswered_batch_and_cancels_it(upstream):
    job = await start_job(4)
    made = await create_without_recording(job)
    await database_sync_to_async(batch_jobs.request_cancel)(job)
    upstream.advance_clock(BATCH_SECONDS)  # it ran to its end meanwhile

    poller = new_poller()
    await poller.tick()
    job, counts, _ = await reload(job)
    assert len(batch_creates(upstream)) == 1
    (batch,) = await database_sync_to_async(lambda: list(job.batches.all()))()
    assert batch.upstream_id == made
    assert counts["succeeded"] == 4  # answered before the cancel arrived: kept and billed



@pytest.mark.parametrize("model", ["claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"])
async def test_a_5x_model_is_told_not_to_think_so_a_short_answer_still_has_text(upstream, model):
    # The 5.x models think unless told otherwise, and thinking spends max_tokens: a batch that
    # sent no thinking field got answers with no text at all at a small max_tokens.
    job = await start_job(2, model_id=model, max_tokens=60)
    poller = new_poller()
    await poller.tick()
    (create,) = batch_creates(upstream)
    upstream.advance_clock(BATCH_SECONDS)
    await poller.tick()
    job, counts, items = await reload(job)
    assert counts["succeeded"] == 2
    assert all(item.text.strip() for item in items)
    sent = create["body"]["requests"][0]["params"]
    assert "thinking" in sent or "output_config" in sent
