"""Building batch requests and splitting them within the API's per-batch limits."""

import json
import socket
import threading

import pytest

from chatapp.claude.batches import (
    CACHE_1H,
    MAX_REQUESTS_PER_BATCH,
    BatchRequest,
    item_request,
    retrieve,
    split,
    submit,
)
from chatapp.claude.types import UpstreamError


def request(custom_id: str, text: str = "x") -> BatchRequest:
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                               "data": text}, "title": custom_id}
    params = item_request(model="claude-sonnet-4-6", max_tokens=100, prompt="Summarise.",
                          document=document)
    return BatchRequest(custom_id, params)


def test_every_item_shares_a_document_free_prefix_with_a_1h_breakpoint():
    first, second = request("a", "one").params, request("b", "two").params
    assert first["system"] == second["system"]
    prompt_block, document = first["messages"][0]["content"]
    assert prompt_block == {"type": "text", "text": "Summarise.", "cache_control": CACHE_1H}
    assert document["type"] == "document" and document["source"]["data"] == "one"
    assert second["messages"][0]["content"][0] == prompt_block


def test_size_is_what_the_request_adds_to_a_create_body():
    one = request("a", "é" * 50)
    body = json.dumps({"requests": [one.as_api()]}, separators=(",", ":"))
    assert one.size >= len(body.encode()) - len('{"requests":[]}')


def test_split_keeps_order_and_the_request_count_limit():
    requests = [request(f"r{n}") for n in range(25)]
    groups = list(split(requests, max_count=10, max_bytes=10**9))
    assert [len(g) for g in groups] == [10, 10, 5]
    assert [r.custom_id for g in groups for r in g] == [r.custom_id for r in requests]


def test_split_keeps_the_byte_limit():
    requests = [request(f"r{n}", "y" * 1000) for n in range(5)]
    limit = requests[0].size * 2 + 10
    groups = list(split(requests, max_count=100, max_bytes=limit))
    assert [len(g) for g in groups] == [2, 2, 1]
    assert all(sum(r.size for r in g) <= limit for g in groups)


def test_a_request_too_large_for_any_batch_goes_alone():
    small, huge = request("small"), request("huge", "z" * 5000)
    groups = list(split([small, huge, small], max_count=100, max_bytes=huge.size - 1))
    assert [[r.custom_id for r in g] for g in groups] == [["small"], ["huge"], ["small"]]


def test_split_is_lazy():
    taken = []

    def produce():
        for n in range(100):
            taken.append(n)
            yield request(f"r{n}")

    first = next(split(produce(), max_count=3, max_bytes=10**9))
    assert len(first) == 3 and len(taken) == 4  # one more, to know the group is full


def test_no_group_holds_more_than_one_create_call_may_carry():
    requests = (BatchRequest(f"r{n}", {}) for n in range(MAX_REQUESTS_PER_BATCH + 1))
    groups = split(requests, max_count=100_000, max_bytes=10**12)  # a setting set too high
    assert [len(group) for group in groups] == [10_000, 1]


async def test_a_create_of_more_than_10000_requests_is_refused_before_it_is_sent():
    requests = [BatchRequest(f"r{n}", {}) for n in range(MAX_REQUESTS_PER_BATCH + 1)]
    with pytest.raises(UpstreamError) as raised:
        await submit(requests, long_output=False)
    assert raised.value.code == "invalid_request" and "10,000" in raised.value.message


@pytest.fixture
def hanging_up_server():
    """A server that accepts each connection and closes it without answering (a create whose
    answer is lost), counting the connections: each is one attempt."""
    listener = socket.create_server(("127.0.0.1", 0))
    attempts = []

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            attempts.append(1)
            connection.recv(65536)
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", attempts
    listener.close()


async def test_a_batch_create_is_attempted_once_though_the_client_retries_other_calls(
    hanging_up_server, settings
):
    base_url, attempts = hanging_up_server
    settings.ANTHROPIC_API_KEY, settings.ANTHROPIC_BASE_URL = "test-key", base_url
    settings.ANTHROPIC_MAX_RETRIES = 2

    with pytest.raises(UpstreamError) as raised:
        await retrieve("msgbatch_01")  # a look: retried by the SDK, harmless
    assert raised.value.code == "upstream_unreachable" and len(attempts) == 3

    attempts.clear()
    with pytest.raises(UpstreamError) as raised:
        await submit([request("a")], long_output=False)
    # No idempotency key: a second attempt could make a second batch. Looked up instead.
    assert raised.value.retryable and len(attempts) == 1
