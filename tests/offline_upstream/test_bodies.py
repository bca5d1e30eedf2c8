"""Every Messages body the offline upstream accepts can be recorded and checked against the
`anthropic` SDK's own request types (issue 17 point 10; the session hook is in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import pytest

from chatapp.offline_upstream.request_types import problems
from chatapp.offline_upstream.state import RECORD_BODIES_ENV, UNCHECKED_HEADER
from chatapp.offline_upstream.testing import RunningUpstream

ASK = {"model": "claude-haiku-4-5", "max_tokens": 200,
       "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """A fresh upstream recording into a file of this test's own, and an SDK client."""
    path = tmp_path / "bodies.jsonl"
    monkeypatch.setenv(RECORD_BODIES_ENV, str(path))
    with RunningUpstream(tokens_per_second=0) as up:
        yield up, path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_accepted_bodies_are_recorded_once_and_fit_the_sdk_types(recorded):
    up, path = recorded
    async with anthropic.AsyncAnthropic(base_url=up.base_url, api_key="t", max_retries=0) as sdk:
        await sdk.messages.create(**ASK)
        await sdk.messages.create(**ASK)  # the same body: recorded once
        async with sdk.messages.stream(**ASK, system="Be brief.") as stream:
            await stream.get_final_message()
        await sdk.messages.count_tokens(model=ASK["model"], messages=ASK["messages"])
        await sdk.messages.batches.create(requests=[{"custom_id": "a", "params": ASK}])
    entries = lines(path)
    assert [(e["path"], e["batch_request"]) for e in entries] == [
        ("/v1/messages", False), ("/v1/messages", False), ("/v1/messages/count_tokens", False),
        ("/v1/messages/batches", True)]
    assert entries[1]["body"]["stream"] is True
    assert problems(path) == []


async def test_a_field_the_sdk_types_do_not_know_is_named(recorded):
    up, path = recorded
    async with anthropic.AsyncAnthropic(base_url=up.base_url, api_key="t", max_retries=0) as sdk:
        # The upstream is lenient about unknown fields; the check afterwards is not.
        await sdk.messages.create(**ASK, extra_body={"reasoning": {"depth": 2}})
        await sdk.messages.create(**{**ASK, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "hi", "lang": "en"}]}]})
    assert problems(path) == [
        "request 1 (/v1/messages): body.reasoning: not a field of "
        "MessageCreateParamsNonStreaming",
        "request 2 (/v1/messages): body.messages.0.content.0.lang: not a field of "
        "TextBlockParam",
    ]


async def test_a_beta_field_fits_only_the_beta_types(recorded):
    up, path = recorded
    binding = {"type": "adaptive", "block_binding": {"prefix_mismatch_behavior": "error"}}
    async with anthropic.AsyncAnthropic(base_url=up.base_url, api_key="t", max_retries=0) as sdk:
        await sdk.beta.messages.create(**{**ASK, "model": "claude-sonnet-5-5",
                                          "max_tokens": 4000}, thinking=binding,
                                       betas=["thinking-binding-controls-2026-08-01"])
        # The same field through the plain Messages API: the SDK's plain types lack it.
        await sdk.messages.create(**{**ASK, "model": "claude-sonnet-5-5", "max_tokens": 4000},
                                  thinking=binding, system="Plain.",
                                  extra_headers={"anthropic-beta":
                                                 "thinking-binding-controls-2026-08-01"})
    entries = lines(path)
    assert [e["beta"] for e in entries] == [True, True]
    # Both carry the beta header, so both are checked against the beta types: clean.
    assert problems(path) == []
    entries[1]["beta"] = False
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    assert problems(path) == [
        "request 2 (/v1/messages): body.thinking.block_binding: not a field of "
        "ThinkingConfigAdaptiveParam"]


async def test_refused_legacy_and_marked_bodies_are_not_recorded(recorded):
    up, path = recorded
    async with anthropic.AsyncAnthropic(base_url=up.base_url, api_key="t", max_retries=0) as sdk:
        with pytest.raises(anthropic.BadRequestError):
            await sdk.messages.create(**ASK, extra_body={"temperature": 0.2})
        await sdk.messages.create(**ASK, extra_body={"temperature": 0.2},
                                  extra_headers={"anthropic-version": "2023-06-01"})
        await sdk.messages.create(**ASK, extra_body={"off_type": True},
                                  extra_headers={UNCHECKED_HEADER: "1"})
    assert lines(path) == []
