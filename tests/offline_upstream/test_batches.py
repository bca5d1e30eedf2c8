"""The offline upstream's Message Batches API, exercised through the real `anthropic` SDK.

Batches finish on the upstream's clock: `set_batch_seconds` says how long one takes (its
requests finish evenly spread over that time) and `advance_clock` moves time on.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest

from chatapp.offline_upstream.testing import RunningUpstream

MODEL = "claude-sonnet-4-6"


def request(custom_id: str, text: str = "Summarise this.", **params: Any) -> dict[str, Any]:
    params.setdefault("max_tokens", 200)
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}], **params}
    return {"custom_id": custom_id, "params": body}


@pytest.fixture
async def client(upstream: RunningUpstream):
    upstream.set_batch_seconds(100)
    async with anthropic.AsyncAnthropic(
        base_url=upstream.base_url, api_key="test", max_retries=0
    ) as sdk:
        yield sdk


async def results_of(client: anthropic.AsyncAnthropic, batch_id: str) -> dict[str, Any]:
    return {line.custom_id: line.result async for line in await client.messages.batches.results(
        batch_id
    )}


async def test_a_batch_is_in_progress_until_every_request_is_done(client, upstream):
    batch = await client.messages.batches.create(requests=[request("a"), request("b")])
    assert batch.id.startswith("msgbatch_") and batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 2 and batch.results_url is None
    assert (batch.expires_at - batch.created_at).total_seconds() == 24 * 3600

    upstream.advance_clock(60)  # the first request is done, but counts wait for the end
    halfway = await client.messages.batches.retrieve(batch.id)
    assert halfway.processing_status == "in_progress" and halfway.request_counts.processing == 2

    upstream.advance_clock(40)
    ended = await client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.ended_at is not None
    assert ended.request_counts.succeeded == 2 and ended.request_counts.processing == 0
    assert ended.results_url.endswith(f"/v1/messages/batches/{batch.id}/results")


async def test_results_are_messages_matched_by_custom_id(client, upstream):
    ids = [f"doc-{n}" for n in range(8)]
    batch = await client.messages.batches.create(
        requests=[request(custom_id, f"Question {custom_id}") for custom_id in ids]
    )
    upstream.advance_clock(100)
    lines = [line async for line in await client.messages.batches.results(batch.id)]
    assert sorted(line.custom_id for line in lines) == ids
    assert [line.custom_id for line in lines] != ids, "results come in an order of their own"
    for line in lines:
        assert line.result.type == "succeeded"
        message = line.result.message
        assert f"Question {line.custom_id}" in message.content[0].text
        assert message.usage.service_tier == "batch" and message.usage.output_tokens > 0


async def test_a_shared_cached_prefix_is_written_once_and_read_by_the_rest(client, upstream):
    system = [{"type": "text", "text": "x" * 4400, "cache_control": {"type": "ephemeral",
                                                                    "ttl": "1h"}}]
    batch = await client.messages.batches.create(
        requests=[request(f"r{n}", f"Document {n}", system=system) for n in range(3)]
    )
    upstream.advance_clock(100)
    usages = [r.message.usage for r in (await results_of(client, batch.id)).values()]
    assert sorted(u.cache_creation.ephemeral_1h_input_tokens for u in usages) == [0, 0, 1100]
    assert sorted(u.cache_read_input_tokens for u in usages) == [0, 1100, 1100]


async def test_a_magic_phrase_in_a_document_errors_that_request_only(client, upstream):
    poisoned = [{"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                                 "data": "Clause 1. [[fault:server_error]]"}},
                {"type": "text", "text": "Summarise."}]
    batch = await client.messages.batches.create(
        requests=[request("fine"), request("broken", poisoned), request("bad", "[[fault:invalid]]")]
    )
    upstream.advance_clock(100)
    ended = await client.messages.batches.retrieve(batch.id)
    assert ended.request_counts.errored == 2 and ended.request_counts.succeeded == 1
    results = await results_of(client, batch.id)
    assert results["broken"].error.error.type == "api_error"
    assert results["bad"].error.error.type == "invalid_request_error"
    assert results["bad"].error.request_id.startswith("req_")


async def test_an_invalid_request_is_an_errored_result_not_a_failed_batch(client, upstream):
    batch = await client.messages.batches.create(
        requests=[request("ok"), request("huge", max_tokens=200_000), request("nomodel",
                                                                              model="claude-x")]
    )
    upstream.advance_clock(100)
    results = await results_of(client, batch.id)
    assert results["ok"].type == "succeeded"
    assert "200000 > 128000" in results["huge"].error.error.message
    assert results["nomodel"].error.error.type == "not_found_error"


async def test_the_long_output_beta_allows_300k_tokens_on_listed_models(client, upstream):
    batch = await client.beta.messages.batches.create(
        betas=["output-300k-2026-03-24"],
        requests=[
            request("long", "[[tokens:150]]", max_tokens=300_000),
            request("haiku", model="claude-haiku-4-5", max_tokens=100_000),
        ],
    )
    upstream.advance_clock(100)
    results = await results_of(client, batch.id)
    assert results["long"].message.usage.output_tokens == 150
    assert "100000 > 64000" in results["haiku"].error.error.message
    create = [r for r in upstream.requests() if r["method"] == "POST"][-1]
    assert create["headers"]["anthropic-beta"] == "output-300k-2026-03-24"


async def test_cancelling_keeps_what_finished_and_cancels_the_rest(client, upstream):
    batch = await client.messages.batches.create(requests=[request(f"r{n}") for n in range(4)])
    upstream.advance_clock(55)  # two of four are done
    cancelling = await client.messages.batches.cancel(batch.id)
    assert cancelling.processing_status == "canceling"
    assert cancelling.cancel_initiated_at is not None

    upstream.advance_clock(1)
    ended = await client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert (ended.request_counts.succeeded, ended.request_counts.canceled) == (2, 2)
    results = await results_of(client, batch.id)
    assert {key: r.type for key, r in results.items()} == {
        "r0": "succeeded", "r1": "succeeded", "r2": "canceled", "r3": "canceled"}


async def test_a_batch_unfinished_after_24_hours_expires(client, upstream):
    upstream.set_batch_seconds(30 * 3600)
    batch = await client.messages.batches.create(requests=[request(f"r{n}") for n in range(3)])
    upstream.advance_clock(24 * 3600)
    ended = await client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.ended_at == ended.expires_at
    assert (ended.request_counts.succeeded, ended.request_counts.expired) == (2, 1)


async def test_results_before_the_end_are_refused(client, upstream):
    batch = await client.messages.batches.create(requests=[request("a")])
    with pytest.raises(anthropic.AnthropicError, match="finished processing"):
        await client.messages.batches.results(batch.id)


async def test_list_is_newest_first_and_paged(client, upstream):
    created = [(await client.messages.batches.create(requests=[request("a")])).id
               for _ in range(3)]
    first_page = await client.messages.batches.list(limit=2)
    assert [b.id for b in first_page.data] == created[::-1][:2] and first_page.has_more
    everything = [b.id async for b in client.messages.batches.list(limit=2)]
    assert everything == created[::-1]


async def test_only_an_ended_batch_can_be_deleted(client, upstream):
    batch = await client.messages.batches.create(requests=[request("a")])
    with pytest.raises(anthropic.BadRequestError, match="cancel it first"):
        await client.messages.batches.delete(batch.id)
    upstream.advance_clock(100)
    deleted = await client.messages.batches.delete(batch.id)
    assert deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        await client.messages.batches.retrieve(batch.id)


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([], "requests: List should have at least 1 item after validation, not 0"),
        ([{"custom_id": "bad id!", "params": {}}], "custom_id"),
        ([request("same"), request("same")], "unique"),
        ([{"custom_id": "x", "params": "nope"}], "params"),
    ],
)
async def test_malformed_batches_are_rejected(client, requests, message):
    with pytest.raises(anthropic.BadRequestError, match=message):
        await client.messages.batches.create(requests=requests)


async def test_a_results_download_can_be_cut_halfway_once(client, upstream):
    batch = await client.messages.batches.create(requests=[request(f"r{n}") for n in range(5)])
    upstream.advance_clock(100)
    upstream.drop_next_results_after(3)
    read = []
    with pytest.raises(httpx2.TransportError):
        async for line in await client.messages.batches.results(batch.id):
            read.append(line.custom_id)
    assert 0 < len(read) <= 3  # what was in flight when the connection dropped may be lost
    assert len(await results_of(client, batch.id)) == 5  # the next download is whole


def test_reset_forgets_batches_and_restores_the_processing_time(upstream):
    upstream.set_batch_seconds(7)
    assert upstream.state()["batch_seconds"] == 7
    upstream.reset()
    state = upstream.state()
    assert state["batch_seconds"] == state["default_batch_seconds"]
