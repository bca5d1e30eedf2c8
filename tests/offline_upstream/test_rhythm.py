"""The offline upstream streams text in Claude's rhythm: one event every 70–200 ms carrying
what the model wrote meanwhile (issue 10), unless told to send every 1–3-token delta."""

from __future__ import annotations

import anthropic
import pytest

from chatapp.offline_upstream.pacing import Pacer
from chatapp.offline_upstream.replies import delta_texts
from chatapp.offline_upstream.state import EVENT_MS_ENV, parse_event_ms
from chatapp.offline_upstream.testing import RunningUpstream

TEXT = "The parties agree that rent is due on the first day of each month. " * 20


def events(rate: float, event_ms: tuple[float, float] | None) -> list[tuple[str, int]]:
    pacer = Pacer(lambda: rate, event_ms=event_ms, seed=7)
    return list(pacer.events(delta_texts(TEXT, 4, seed=7)))


def test_at_60_tokens_a_second_an_event_carries_what_70_to_200_ms_bring():
    first, *sent = events(60, (70, 200))
    assert first == delta_texts(TEXT, 4, seed=7)[0]  # the first text goes out at once
    assert first[0] + "".join(text for text, _ in sent) == TEXT
    sizes = [tokens for _, tokens in sent[:-1]]  # the last one carries what is left
    assert min(sizes) >= 60 * 0.070 and max(sizes) <= 60 * 0.200 + 2
    assert max(sizes) - min(sizes) >= 4  # the gaps vary, as Claude's do


def test_without_a_rhythm_or_a_pace_every_small_delta_is_an_event():
    assert events(60, None) == delta_texts(TEXT, 4, seed=7)
    assert events(0, (70, 200)) == delta_texts(TEXT, 4, seed=7)


@pytest.mark.parametrize(
    ("value", "parsed"), [("70-200", (70.0, 200.0)), ("100", (100.0, 100.0)), ("0", None)]
)
def test_the_gap_is_given_as_low_high_milliseconds(value, parsed):
    assert parse_event_ms(value) == parsed


@pytest.mark.parametrize("value", ["200-70", "-5", "soon"])
def test_a_gap_that_makes_no_sense_is_refused(value):
    with pytest.raises(ValueError):
        parse_event_ms(value)


async def text_deltas(up: RunningUpstream, question: str) -> list[str]:
    async with anthropic.AsyncAnthropic(base_url=up.base_url, api_key="test", max_retries=0) as sdk:
        request = {"model": "claude-sonnet-4-6", "max_tokens": 1024,
                   "messages": [{"role": "user", "content": question}]}
        async with sdk.messages.stream(**request) as stream:
            return [event.delta.text async for event in stream
                    if event.type == "content_block_delta" and event.delta.type == "text_delta"]


async def test_a_served_stream_keeps_claudes_rhythm_by_default(monkeypatch):
    monkeypatch.delenv(EVENT_MS_ENV, raising=False)
    with RunningUpstream(tokens_per_second=600) as up:
        assert up.state()["event_ms"] == [70, 200]
        deltas = await text_deltas(up, "in Claude's rhythm [[tokens:120]]")
    # The first token at once, then 600 tokens/s × 70–200 ms: 42–120 tokens an event, so the
    # 120 tokens come in at most four events.
    assert 2 <= len(deltas) <= 4


async def test_the_rhythm_can_be_turned_off_for_fine_grained_streams(monkeypatch):
    monkeypatch.setenv(EVENT_MS_ENV, "0")
    with RunningUpstream(tokens_per_second=600) as up:
        assert up.state()["event_ms"] == 0
        deltas = await text_deltas(up, "token by token [[tokens:120]]")
    assert len(deltas) >= 40  # 1–3 tokens each
