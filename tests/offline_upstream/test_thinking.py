"""Thinking on the 5.x models in the offline upstream: on by default, counted against
max_tokens, `display`, text between tool calls, and preserved thinking (blocks bound to the
model and to the exact prefix they were made after).

Facts: /work/shared/anthropic-api.md and Anthropic's "Preserved thinking" docs.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import anthropic
import pytest

from tests.upstream_fixtures import user

BINDING_BETA = "thinking-binding-controls-2026-08-01"
MISMATCH = (
    "Invalid `signature` in `thinking` block. The block is bound to a different conversation. "
    'Remove the block, or set `thinking.block_binding.prefix_mismatch_behavior` to "drop_block".'
)
TOOLS = [{"name": "calculator", "description": "arithmetic",
          "input_schema": {"type": "object", "properties": {"expression": {"type": "string"}}}}]
ASK_TOOL = 'Work it out [[tool:calculator {"expression": "6*7"}]]'


# --- thinking by default ------------------------------------------------------------------


@pytest.mark.parametrize("model", ["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5",
                                   "claude-opus-5", "claude-sonnet-5", "claude-fable-5-1"])
async def test_the_5x_models_think_without_being_asked(sdk, model):
    message = await sdk.messages.create(model=model, max_tokens=4000, messages=[user("Hi")])
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].signature
    thinking = message.usage.output_tokens_details.thinking_tokens
    assert 0 < thinking < message.usage.output_tokens


async def test_older_models_do_not_think_unless_asked(sdk):
    message = await sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=4000, messages=[user("Hi")])
    assert [block.type for block in message.content] == ["text"]


async def test_thinking_counts_against_max_tokens(sdk):
    # A title-sized request: the thinking uses all 24 tokens, no text comes at all.
    message = await sdk.messages.create(
        model="claude-sonnet-5-5", max_tokens=24, messages=[user("Name this conversation")])
    assert message.stop_reason == "max_tokens"
    assert [block.type for block in message.content] == ["thinking"]
    assert message.usage.output_tokens == 24
    async with sdk.messages.stream(
        model="claude-sonnet-5-5", max_tokens=24, messages=[user("Name this conversation")]
    ) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_message()
    starts = [e.content_block.type for e in events if e.type == "content_block_start"]
    assert starts == ["thinking"] and final.stop_reason == "max_tokens"
    # Room for both: the text gets what the thinking left.
    roomy = await sdk.messages.create(
        model="claude-sonnet-5-5", max_tokens=200, messages=[user("Name this conversation")])
    thinking = roomy.usage.output_tokens_details.thinking_tokens
    assert roomy.stop_reason == "max_tokens" and roomy.usage.output_tokens == 200
    assert roomy.content[1].type == "text" and thinking < 200


async def test_turning_thinking_off_where_the_model_allows_it(sdk):
    message = await sdk.messages.create(
        model="claude-haiku-5-5", max_tokens=24, thinking={"type": "disabled"},
        messages=[user("Name this conversation")])
    assert [block.type for block in message.content] == ["text"]


# --- display --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5",
                                   "claude-opus-5", "claude-sonnet-5", "claude-fable-5-2"])
async def test_display_is_omitted_by_default_on_the_newer_models(sdk, model):
    message = await sdk.messages.create(model=model, max_tokens=4000, messages=[user("Hi")])
    assert message.content[0].thinking == "" and message.content[0].signature
    # Still billed: the model thought, it is only not shown.
    assert message.usage.output_tokens_details.thinking_tokens > 0


async def test_display_summarized_shows_the_thinking(sdk):
    async with sdk.messages.stream(
        model="claude-opus-5-5", max_tokens=4000, messages=[user("Hi")],
        thinking={"type": "adaptive", "display": "summarized"},
    ) as stream:
        deltas = [e.delta.type async for e in stream if e.type == "content_block_delta"]
        final = await stream.get_final_message()
    assert final.content[0].thinking.startswith("The question is")
    assert "thinking_delta" in deltas and "signature_delta" in deltas


async def test_older_models_summarize_by_default(sdk):
    message = await sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=4000, thinking={"type": "adaptive"},
        messages=[user("Hi")])
    assert message.content[0].thinking.startswith("The question is")


@pytest.mark.parametrize("model", ["claude-opus-5-5", "claude-sonnet-5-5"])
async def test_text_between_tool_calls_comes_back_as_thinking(sdk, model):
    message = await sdk.messages.create(
        model=model, max_tokens=4000, tools=TOOLS, messages=[user(ASK_TOOL)],
        thinking={"type": "adaptive", "display": "summarized"})
    assert [block.type for block in message.content] == ["thinking", "thinking", "tool_use"]
    assert message.content[1].thinking == "Let me use calculator for this."


async def test_other_models_say_it_in_text(sdk):
    message = await sdk.messages.create(
        model="claude-opus-5", max_tokens=4000, tools=TOOLS, messages=[user(ASK_TOOL)])
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]


# --- preserved thinking ---------------------------------------------------------------------


async def _tool_turn(sdk, model: str, system: str = "Be brief.", **extra: Any):
    """A first tool-calling turn: (request kwargs, the assistant turn as sent back, answer)."""
    request = {"model": model, "max_tokens": 4000, "tools": TOOLS, "system": system,
               "messages": [user(ASK_TOOL)], **extra}
    first = await sdk.messages.create(**request)
    turn = {"role": "assistant", "content": [block.to_dict() for block in first.content]}
    tool_use = next(block for block in first.content if block.type == "tool_use")
    answer = user([{"type": "tool_result", "tool_use_id": tool_use.id, "content": "42"}])
    return request, turn, answer


async def test_an_append_only_conversation_keeps_its_thinking(sdk):
    request, turn, answer = await _tool_turn(sdk, "claude-sonnet-5-5")
    second = await sdk.messages.create(
        **{**request, "messages": [*request["messages"], turn, answer]})
    assert second.stop_reason == "end_turn" and "- calculator: 42" in second.content[-1].text
    # cache_control is not part of the prefix: marking an earlier block changes nothing.
    marked = copy.deepcopy(request)
    marked["messages"][0]["content"] = [{"type": "text", "text": ASK_TOOL,
                                         "cache_control": {"type": "ephemeral"}}]
    again = await sdk.messages.create(**{**marked, "messages": [
        *marked["messages"], turn, answer]})
    assert again.stop_reason == "end_turn"


@pytest.mark.parametrize("change", ["system", "tools", "earlier-message"])
async def test_a_changed_prefix_is_refused(sdk, change):
    request, turn, answer = await _tool_turn(sdk, "claude-opus-5-5")
    later = copy.deepcopy({**request, "messages": [*request["messages"], turn, answer]})
    if change == "system":
        later["system"] = "Be brief. Today is Tuesday."
    elif change == "tools":
        later["tools"] = [*TOOLS, {"name": "clock", "input_schema": {"type": "object"}}]
    else:
        later["messages"][0]["content"] = ASK_TOOL + " (edited)"
    with pytest.raises(anthropic.BadRequestError) as raised:
        await sdk.messages.create(**later)
    assert raised.value.body["error"] == {
        "type": "invalid_request_error", "message": f"messages.1.content.0: {MISMATCH}"}
    # Resending the same history never fixes it.
    with pytest.raises(anthropic.BadRequestError):
        await sdk.messages.create(**later)


async def test_a_thinking_block_left_out_between_others_breaks_the_later_one(sdk):
    request, turn, answer = await _tool_turn(
        sdk, "claude-sonnet-5-5", thinking={"type": "adaptive", "display": "summarized"})
    assert [b["type"] for b in turn["content"]] == ["thinking", "thinking", "tool_use"]
    del turn["content"][0]
    with pytest.raises(anthropic.BadRequestError) as raised:
        await sdk.messages.create(**{**request, "messages": [*request["messages"], turn,
                                                                 answer]})
    assert raised.value.body["error"]["message"] == f"messages.1.content.0: {MISMATCH}"


async def test_models_without_preserved_thinking_do_not_check_the_prefix(sdk):
    request, turn, answer = await _tool_turn(sdk, "claude-opus-5")
    later = {**request, "system": "Something else.",
             "messages": [*request["messages"], turn, answer]}
    assert (await sdk.messages.create(**later)).stop_reason == "end_turn"


async def test_drop_block_needs_the_beta_header_and_reports_what_it_dropped(sdk):
    request, turn, answer = await _tool_turn(sdk, "claude-sonnet-5-5")
    later = {**request, "system": "Changed.", "messages": [*request["messages"], turn, answer],
             "thinking": {"type": "adaptive",
                          "block_binding": {"prefix_mismatch_behavior": "drop_block"}}}
    with pytest.raises(anthropic.BadRequestError) as raised:
        await sdk.beta.messages.create(**later)
    assert BINDING_BETA in raised.value.body["error"]["message"]

    dropped = await sdk.beta.messages.create(**later, betas=[BINDING_BETA])
    assert dropped.stop_reason == "end_turn"
    # Both thinking blocks of that turn (Sonnet 5.5 thinks between tool calls too).
    assert [t.to_dict() for t in dropped.input_transformations] == [
        {"type": "thinking_dropped", "path": f"messages.1.content.{index}",
         "reason": "prefix_binding_mismatch"} for index in (0, 1)]
    # With the beta the list is always there: empty when nothing was dropped.
    kept = await sdk.beta.messages.create(
        **{**later, "system": request["system"]}, betas=[BINDING_BETA])
    assert kept.input_transformations == []
    # Dropped blocks are no part of the prompt: as if they had never been sent.
    stripped = {**turn, "content": [b for b in turn["content"] if b["type"] != "thinking"]}
    by_hand = await sdk.messages.create(**{
        **request, "system": "Changed.", "messages": [*request["messages"], stripped, answer]})
    assert dropped.usage.input_tokens == by_hand.usage.input_tokens


async def test_error_behaviour_with_the_beta_still_refuses(sdk):
    request, turn, answer = await _tool_turn(sdk, "claude-sonnet-5-5")
    later = {**request, "system": "Changed.", "messages": [*request["messages"], turn, answer],
             "thinking": {"type": "adaptive",
                          "block_binding": {"prefix_mismatch_behavior": "error"}}}
    with pytest.raises(anthropic.BadRequestError) as raised:
        await sdk.beta.messages.create(**later, betas=[BINDING_BETA])
    assert raised.value.body["error"]["message"].endswith(MISMATCH)


async def test_a_block_from_a_model_that_cannot_be_read_is_dropped_silently(sdk):
    # Fable 5.1's thinking cannot be read by Opus 5.5 (the reverse is allowed).
    request, turn, answer = await _tool_turn(sdk, "claude-fable-5-1")
    history = [*request["messages"], turn, answer]
    switched = await sdk.beta.messages.create(
        **{**request, "model": "claude-opus-5-5", "messages": history}, betas=[BINDING_BETA])
    assert [t.to_dict() for t in switched.input_transformations] == [{
        "type": "thinking_dropped", "path": "messages.1.content.0",
        "reason": "model_binding_mismatch"}]
    plain = await sdk.messages.create(**{**request, "model": "claude-opus-5-5",
                                            "messages": history})
    assert plain.stop_reason == "end_turn"  # no error without the beta either

    request, turn, answer = await _tool_turn(sdk, "claude-opus-5-5")
    read = await sdk.beta.messages.create(
        **{**request, "model": "claude-fable-5-1",
           "messages": [*request["messages"], turn, answer]}, betas=[BINDING_BETA])
    assert read.input_transformations == []


async def test_an_edited_thinking_block_is_refused(sdk):
    request, turn, answer = await _tool_turn(
        sdk, "claude-haiku-5-5", thinking={"type": "adaptive", "display": "summarized"})
    turn["content"][0]["thinking"] += " (edited)"
    with pytest.raises(anthropic.BadRequestError) as raised:
        await sdk.messages.create(**{**request, "messages": [*request["messages"], turn,
                                                                 answer]})
    assert raised.value.body["error"]["message"] == (
        "messages.1.content.0: Invalid `signature` in `thinking` block")


async def test_a_redacted_block_with_other_data_is_refused(sdk):
    request, turn, answer = await _tool_turn(sdk, "claude-opus-5")
    request["messages"][0]["content"] += " [[redacted_thinking]]"
    first = await sdk.messages.create(**request)
    assert first.content[0].type == "redacted_thinking"
    turn = {"role": "assistant", "content": [block.to_dict() for block in first.content]}
    turn["content"][0]["data"] = turn["content"][0]["data"][:-8] + "AAAAAAA="
    tool_use = first.content[-1]
    answer = user([{"type": "tool_result", "tool_use_id": tool_use.id, "content": "42"}])
    with pytest.raises(anthropic.BadRequestError) as raised:
        await sdk.messages.create(**{**request, "messages": [*request["messages"], turn,
                                                                 answer]})
    assert raised.value.body["error"]["message"] == (
        "messages.1.content.0: Invalid `data` in `redacted_thinking` block")


async def test_in_a_batch_an_unset_behaviour_drops_instead_of_failing(sdk, upstream):
    request, turn, answer = await _tool_turn(sdk, "claude-sonnet-5-5")
    changed = {**request, "system": "Changed.", "messages": [*request["messages"], turn, answer]}
    strict = {**changed, "thinking": {"type": "adaptive",
                                      "block_binding": {"prefix_mismatch_behavior": "error"}}}
    batch = await sdk.beta.messages.batches.create(
        requests=[{"custom_id": "unset", "params": changed},
                  {"custom_id": "error", "params": strict}],
        betas=[BINDING_BETA])
    upstream.advance_clock(3600)
    results = {r.custom_id: r.result async for r in
               await sdk.beta.messages.batches.results(batch.id)}
    assert results["unset"].type == "succeeded"
    assert results["unset"].message.input_transformations[0].reason == "prefix_binding_mismatch"
    assert results["error"].type == "errored"
    assert MISMATCH in results["error"].error.error.message


async def test_hidden_thinking_still_takes_its_time_in_the_stream(sdk, upstream):
    upstream.set_pace(500)
    async with sdk.messages.stream(
        model="claude-opus-5-5", max_tokens=4000, messages=[user("Take your time")]
    ) as stream:
        seen = {}
        async for event in stream:
            if event.type == "content_block_start" and event.content_block.type == "thinking":
                seen["start"] = time.monotonic()
            if event.type == "content_block_delta" and event.delta.type == "signature_delta":
                seen["signed"] = time.monotonic()
        final = await stream.get_final_message()
    assert final.content[0].thinking == ""  # omitted: nothing shown ...
    thinking = final.usage.output_tokens_details.thinking_tokens
    # ... but the block closes only once its tokens have been "thought" at the pace.
    assert seen["signed"] - seen["start"] >= 0.8 * thinking / 500


async def test_between_tools_thinks_only_between_tool_calls(sdk):
    between = {"type": "between_tools"}
    plain = await sdk.messages.create(
        model="claude-sonnet-5-5", max_tokens=4000, thinking=between, messages=[user("Hi")])
    assert [block.type for block in plain.content] == ["text"]
    calling = await sdk.messages.create(
        model="claude-sonnet-5-5", max_tokens=4000, thinking=between, tools=TOOLS,
        messages=[user(ASK_TOOL)])
    assert [block.type for block in calling.content] == ["thinking", "tool_use"]


async def test_between_tools_keeps_its_effort_for_the_whole_conversation(sdk):
    request, turn, answer = await _tool_turn(
        sdk, "claude-sonnet-5-5", thinking={"type": "between_tools"},
        output_config={"effort": "low"})
    history = [*request["messages"], turn, answer]
    same = await sdk.messages.create(**{**request, "messages": history})
    assert same.stop_reason == "end_turn"
    with pytest.raises(anthropic.BadRequestError) as raised:
        await sdk.messages.create(**{**request, "messages": history,
                                        "output_config": {"effort": "high"}})
    assert raised.value.body["error"]["message"].startswith(
        "messages.1.content.0: `output_config.effort` cannot change mid-conversation with "
        "`thinking.type.between_tools`")
    # Adaptive thinking may change its effort from turn to turn.
    adaptive = await sdk.messages.create(**{
        **request, "messages": history, "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"}})
    assert adaptive.stop_reason == "end_turn"
