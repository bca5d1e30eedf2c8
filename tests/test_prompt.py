"""How a conversation becomes a Messages API request."""

import json

from chatapp.claude.prompt import Turn, alternate, build_request, user_content


def text_turn(role, text):
    return Turn(role, [{"type": "text", "text": text}])


def test_turns_alternate_and_start_with_the_user():
    messages = alternate(
        [text_turn("assistant", "stray"), text_turn("user", "hi"), text_turn("assistant", "yo")]
    )
    assert [m["role"] for m in messages] == ["user"]  # trailing assistant is not a prefill


def test_two_user_turns_in_a_row_are_joined():
    messages = alternate([text_turn("user", "first"), text_turn("user", "second")])
    assert messages == [
        {"role": "user", "content": [{"type": "text", "text": "first"},
                                     {"type": "text", "text": "second"}]}
    ]


def test_empty_replies_are_left_out():
    messages = alternate(
        [text_turn("user", "a"), Turn("assistant", []), text_turn("assistant", "  "),
         text_turn("user", "b")]
    )
    assert len(messages) == 1 and len(messages[0]["content"]) == 2


def test_newest_user_turn_carries_the_only_breakpoint():
    request = build_request(
        model="claude-sonnet-4-6", max_tokens=100,
        turns=[text_turn("user", "q1"), text_turn("assistant", "a1"), text_turn("user", "q2")],
    )
    marked = [
        block for message in request["messages"] for block in message["content"]
        if "cache_control" in block
    ]
    assert marked == [{"type": "text", "text": "q2", "cache_control": {"type": "ephemeral"}}]


def test_prefix_is_byte_identical_from_one_request_to_the_next():
    history = [text_turn("user", "q1"), text_turn("assistant", "a1")]
    first = build_request(model="m", max_tokens=10, turns=[history[0]], system_prompt="Be brief")
    second = build_request(
        model="m", max_tokens=10, turns=[*history, text_turn("user", "q2")],
        system_prompt="Be brief",
    )
    # The first request's messages, with its breakpoint, open the second one unchanged.
    first_prefix = json.dumps(first["messages"][0], sort_keys=True)
    assert json.dumps(second["messages"][0]["content"][0] | {"cache_control":
                      {"type": "ephemeral"}}, sort_keys=True) in first_prefix
    assert first["system"] == second["system"]


def test_stored_blocks_are_never_modified():
    stored = user_content("question")
    build_request(model="m", max_tokens=10, turns=[Turn("user", stored)])
    assert stored == [{"type": "text", "text": "question"}]


def test_blank_system_prompt_is_omitted():
    request = build_request(model="m", max_tokens=10, turns=[text_turn("user", "q")],
                            system_prompt="  ")
    assert "system" not in request
