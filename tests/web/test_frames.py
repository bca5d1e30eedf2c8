"""The socket's frame parser: every input is a frame or a plain-words FrameError."""

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatapp.web.frames import FrameError, Regenerate, Stop, UserMessage, parse_frame


def test_user_message_with_everything():
    frame = parse_frame(json.dumps(
        {"type": "user_message", "text": "hi", "model": "claude-haiku-4-5", "attachments": [3]}
    ))
    assert frame == UserMessage(text="hi", model="claude-haiku-4-5", attachments=(3,))


def test_stop_with_and_without_a_message():
    assert parse_frame('{"type":"stop"}') == Stop()
    assert parse_frame('{"type":"stop","message_id":7}') == Stop(7)


def test_edit_message_is_a_user_message_naming_the_question_it_replaces():
    frame = parse_frame(json.dumps({"type": "edit_message", "message_id": 4, "text": "Better"}))
    assert frame == UserMessage(text="Better", edit_of=4)
    with pytest.raises(FrameError, match="message_id must be a positive whole number"):
        parse_frame(json.dumps({"type": "edit_message", "text": "Better"}))


def test_regenerate_needs_a_message_id():
    assert parse_frame('{"type":"regenerate","message_id":4}') == Regenerate(4)
    with pytest.raises(FrameError, match="message_id"):
        parse_frame('{"type":"regenerate"}')


def test_regenerate_may_ask_for_the_fallback_model_of_a_refused_reply():
    assert parse_frame('{"type":"regenerate","message_id":4,"fallback":true}') == Regenerate(
        4, fallback=True
    )
    assert parse_frame('{"type":"regenerate","message_id":4}').fallback is False
    with pytest.raises(FrameError, match="fallback must be true or false"):
        parse_frame('{"type":"regenerate","message_id":4,"fallback":"yes"}')


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("not json", "not valid JSON"),
        ("[1,2]", "JSON object"),
        ('{"type":"dance"}', "Unknown frame type"),
        ('{"text":"hi"}', "Unknown frame type"),
        ('{"type":"user_message"}', "text"),
        ('{"type":"user_message","text":"   "}', "text"),
        ('{"type":"user_message","text":"hi","attachments":"3"}', "attachments"),
        ('{"type":"user_message","text":"hi","attachments":[true]}', "attachment"),
        ('{"type":"user_message","text":"hi","model":5}', "model"),
        ('{"type":"stop","message_id":-1}', "message_id"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_frames_are_explained(raw, says):
    with pytest.raises(FrameError, match=says):
        parse_frame(raw)


def test_overlong_message_is_refused_with_the_limit(settings):
    settings.CHATAPP_MAX_MESSAGE_CHARS = 10
    with pytest.raises(FrameError, match="limit is 10"):
        parse_frame(json.dumps({"type": "user_message", "text": "x" * 11}))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_any_bytes_yield_a_frame_or_a_frame_error(raw):
    with contextlib.suppress(FrameError):
        parse_frame(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["user_message", "stop", "regenerate", "x"]),
    st.dictionaries(st.sampled_from(["text", "model", "attachments", "message_id"]), json_values),
)
def test_any_json_object_yields_a_frame_or_a_frame_error(kind, fields):
    with contextlib.suppress(FrameError):
        parse_frame(json.dumps({"type": kind, **fields}))


def test_continue_names_the_reply_to_go_on_with():
    from chatapp.web.frames import Continue

    assert parse_frame('{"type": "continue", "message_id": 7}') == Continue(7)
    with pytest.raises(FrameError, match="message_id must be a positive whole number"):
        parse_frame('{"type": "continue"}')


def test_thinking_is_one_of_the_offered_depths():
    frame = parse_frame('{"type": "user_message", "text": "hi", "thinking": "high"}')
    assert frame.thinking == "high"
    with pytest.raises(FrameError, match="thinking must be one of off, on, low"):
        parse_frame('{"type": "user_message", "text": "hi", "thinking": "deep"}')
