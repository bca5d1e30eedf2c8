"""How a conversation becomes a Messages API request."""

import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chatapp.claude.pricing import PriceRates
from chatapp.claude.prompt import (
    FAILED,
    NO_INSTRUCTIONS,
    REFUSED,
    Turn,
    alternate,
    build_request,
    continuation_content,
    continuation_text,
    system_message,
    user_content,
)
from chatapp.claude.prompt_attachments import (
    PromptAttachment,
    attachment_reference,
    document_block,
    image_block,
)
from chatapp.claude.prompt_cache import Breakpoint, choose_ttl, order_breakpoints


def text_turn(role, text):
    return Turn(role, [{"type": "text", "text": text}])


def test_turns_alternate_and_start_with_the_user():
    messages = alternate(
        [text_turn("assistant", "stray"), text_turn("user", "hi"), text_turn("assistant", "yo")]
    )
    assert [m["role"] for m in messages] == ["user"]  # trailing assistant is not a prefill


def test_two_user_turns_in_a_row_stay_two_messages_so_the_first_is_sent_as_it_was():
    # A question whose reply failed, then the next one: the API reads consecutive user
    # messages as one turn, and joining them would rewrite a message already sent.
    messages = alternate([text_turn("user", "first"), Turn("assistant", [], outcome=FAILED),
                          text_turn("user", "second")])
    assert messages == [
        {"role": "user", "content": [{"type": "text", "text": "first"}]},
        {"role": "user", "content": [{"type": "text", "text": "second"}]},
    ]


def test_empty_and_failed_replies_are_left_out_and_their_questions_stay():
    messages = alternate(
        [text_turn("user", "a"), Turn("assistant", []), text_turn("user", "b"),
         text_turn("assistant", "  "), text_turn("user", "c"),
         Turn("assistant", [{"type": "text", "text": "half"}], outcome=FAILED),
         text_turn("user", "d")]
    )
    assert [m["content"][0]["text"] for m in messages] == ["a", "b", "c", "d"]


def test_a_refused_reply_and_the_question_it_refused_are_left_out():
    refused = Turn("assistant", [{"type": "text", "text": "I can't help with that."}],
                   outcome=REFUSED)
    request = build_request(model="m", max_tokens=10, turns=[
        text_turn("user", "q1"), text_turn("assistant", "a1"),
        text_turn("user", "refused question"), refused, text_turn("user", "q3"),
    ])
    texts = [b["text"] for m in request["messages"] for b in m["content"]]
    assert texts == ["q1", "a1", "q3"]


def test_a_request_after_a_failed_reply_begins_with_the_failed_request():
    asked = [text_turn("user", "q1"), text_turn("assistant", "a1"), text_turn("user", "q2")]
    failed = build_request(model="m", max_tokens=10, turns=asked)
    later = build_request(model="m", max_tokens=10, turns=[
        *asked, Turn("assistant", [], outcome=FAILED), text_turn("user", "q3")])
    sent = without_marks(failed["messages"])
    assert without_marks(later["messages"])[: len(sent)] == sent


def test_the_previous_turn_and_the_newest_one_carry_the_breakpoints():
    request = build_request(
        model="claude-sonnet-4-6", max_tokens=100,
        turns=[text_turn("user", "q1"), text_turn("assistant", "a1"), text_turn("user", "q2")],
    )
    assert marked_blocks(request) == [
        {"type": "text", "text": "a1", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "q2", "cache_control": {"type": "ephemeral"}},
    ]


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


# --- Documents, images and the cache (docs/caching.md) ---------------------------------------

PDF_BYTES = b"%PDF-1.7 a contract"
SONNET_46 = PriceRates(
    input=Decimal("3"), output=Decimal("15"), cache_write_5m=Decimal("3.75"),
    cache_write_1h=Decimal("6"), cache_read=Decimal("0.30"),
)


def marked_blocks(request):
    return [
        block for message in request["messages"] for block in message["content"]
        if "cache_control" in block
    ]


def reference(attachment_id, kind="document", name="contract.pdf"):
    return attachment_reference(attachment_id, kind, name)


def contract(title="contract.pdf"):
    return PromptAttachment(
        "document", title,
        block=document_block(title=title, media_type="application/pdf", data=PDF_BYTES),
    )


def asked_with(*ids, text="What is the notice period?"):
    return Turn("user", [*(reference(i) for i in ids), {"type": "text", "text": text}])


def without_marks(value):
    """The request as the cache hashes it: cache_control marks are not part of the prefix."""
    return json.loads(json.dumps(value).replace(', "cache_control": {"type": "ephemeral"}', ""))


def test_a_pdf_is_a_titled_base64_document_with_citations_and_text_is_a_text_source():
    assert document_block(title="contract.pdf", media_type="application/pdf",
                          data=PDF_BYTES) == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf",
                   "data": base64.b64encode(PDF_BYTES).decode()},
        "title": "contract.pdf",
        "citations": {"enabled": True},
    }
    assert document_block(title="notes.md", media_type="text/plain", data="# Notes")["source"] \
        == {"type": "text", "media_type": "text/plain", "data": "# Notes"}


def test_order_is_system_then_documents_then_turns():
    request = build_request(
        model="m", max_tokens=10, system_prompt="Be precise.",
        turns=[asked_with(7)], attachments={7: contract()},
    )
    assert list(request)[:3] == ["model", "max_tokens", "messages"]
    assert request["system"] == [{"type": "text", "text": "Be precise."}]
    first_turn = request["messages"][0]["content"]
    assert [block["type"] for block in first_turn] == ["document", "text"]


def test_a_document_attached_later_stays_in_the_question_it_was_attached_to():
    turns = [asked_with(1), text_turn("assistant", "a1"), asked_with(2, text="And this one?")]
    attachments = {1: contract("one.pdf"), 2: contract("two.pdf")}
    request = build_request(model="m", max_tokens=10, turns=turns, attachments=attachments)
    first, _reply, newest = request["messages"]
    assert [b.get("title") for b in first["content"]] == ["one.pdf", None]
    assert [b.get("title") for b in newest["content"]] == ["two.pdf", None]


def test_attaching_a_document_after_the_first_reply_never_changes_what_was_sent():
    thinking = {"type": "thinking", "thinking": "", "signature": "sig"}
    history = [text_turn("user", "q1"), Turn("assistant", [thinking, {"type": "text",
                                                                      "text": "a1"}])]
    before = build_request(model="m", max_tokens=10, system_prompt="S",
                           turns=[*history, text_turn("user", "q2")])
    after = build_request(model="m", max_tokens=10, system_prompt="S",
                          turns=[*history, text_turn("user", "q2"), text_turn("assistant", "a2"),
                                 asked_with(1, text="Read this")],
                          attachments={1: contract()})
    sent = without_marks(before["messages"])
    assert without_marks(after["messages"])[: len(sent)] == sent
    assert after["messages"][-1]["content"][0]["type"] == "document"


def test_the_last_document_block_carries_a_breakpoint():
    request = build_request(model="m", max_tokens=10, turns=[asked_with(1, 2)],
                            attachments={1: contract("one.pdf"), 2: contract("two.pdf")})
    first_turn = request["messages"][0]["content"]
    assert "cache_control" not in first_turn[0]
    assert first_turn[1]["cache_control"] == {"type": "ephemeral"}
    assert first_turn[2]["cache_control"] == {"type": "ephemeral"}  # the newest turn's


def test_the_first_questions_documents_carry_a_breakpoint_of_their_own_ttl():
    """A project's documents open the first question of every conversation in it: their
    breakpoint has the project's TTL, the conversation's own come after it."""
    turns = [asked_with(1), text_turn("assistant", "a1"), asked_with(2)]
    request = build_request(model="m", max_tokens=10, turns=turns, cache_ttl="5m",
                            first_ttl="1h",
                            attachments={1: contract("shared.pdf"), 2: contract("mine.pdf")})
    marks = [(b.get("title") or b.get("text") or b["type"], b["cache_control"].get("ttl", "5m"))
             for b in marked_blocks(request)]
    assert marks == [("shared.pdf", "1h"), ("a1", "5m"), ("mine.pdf", "5m"),
                     ("What is the notice period?", "5m")]


def test_everything_before_the_newest_turn_is_byte_identical_from_one_request_to_the_next():
    attachments = {1: contract()}
    history = [asked_with(1), text_turn("assistant", "Three months.")]
    first = build_request(model="m", max_tokens=10, system_prompt="S", turns=history[:1],
                          attachments=attachments)
    second = build_request(model="m", max_tokens=10, system_prompt="S",
                           turns=[*history, text_turn("user", "And the rent?")],
                           attachments=attachments)
    assert json.dumps(without_marks(second["messages"][0])) == json.dumps(
        without_marks(first["messages"][0])
    )
    assert second["system"] == first["system"]


def test_the_moving_breakpoint_sits_at_the_end_of_the_previous_turn():
    turns = [asked_with(1), text_turn("assistant", "a1"), text_turn("user", "q2"),
             Turn("assistant", [{"type": "thinking", "thinking": "t", "signature": "s"},
                                {"type": "text", "text": "a2"}]),
             text_turn("user", "q3")]
    request = build_request(model="m", max_tokens=10, turns=turns, attachments={1: contract()})
    assert [(b.get("text") or b["type"]) for b in marked_blocks(request)] == [
        "document", "a2", "q3"
    ]


def test_never_more_than_four_breakpoints_keeping_the_first_and_the_latest():
    points = [Breakpoint(index, 0, "5m") for index in range(6)]
    assert [p.message for p in order_breakpoints(points)] == [0, 3, 4, 5]


def test_a_one_hour_breakpoint_never_follows_a_five_minute_one():
    points = [Breakpoint(0, 0, "1h"), Breakpoint(1, 0, "5m"), Breakpoint(2, 0, "1h")]
    assert [p.ttl for p in order_breakpoints(points)] == ["1h", "5m", "5m"]


def test_one_hour_breakpoints_are_marked_with_their_ttl():
    request = build_request(model="m", max_tokens=10, turns=[asked_with(1)],
                            attachments={1: contract()}, cache_ttl="1h")
    assert {json.dumps(b["cache_control"]) for b in marked_blocks(request)} == {
        '{"type": "ephemeral", "ttl": "1h"}'
    }


@pytest.mark.parametrize(
    ("gaps_minutes", "ttl"),
    [
        ([], "5m"),  # one question: nothing to go by
        ([1, 1, 1], "5m"),  # a question a minute: 5-minute entries stay alive and cost less
        ([4], "5m"),
        ([20, 12, 30], "1h"),  # 5-minute entries expire between questions: write once for 1h
        ([4.8], "1h"),  # within the safety margin of the 5-minute expiry
        ([90, 120], "5m"),  # nothing survives; 5-minute writes are the cheaper ones
        ([1, 1, 1, 1, 1, 40, 40, 40], "1h"),  # the latest pace counts
    ],
)
def test_the_ttl_follows_the_pace_of_questions(gaps_minutes, ttl):
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    times = [start]
    for gap in gaps_minutes:
        times.append(times[-1] + timedelta(minutes=gap))
    assert choose_ttl(times, SONNET_46) == ttl


def test_the_one_hour_cache_is_chosen_only_when_its_rates_make_it_cheaper():
    slow = [datetime(2026, 11, 24, 9, 0, tzinfo=UTC) + timedelta(minutes=20 * n)
            for n in range(3)]
    dear_1h = PriceRates(input=Decimal(3), output=Decimal(15), cache_write_5m=Decimal("3.75"),
                         cache_write_1h=Decimal("7.5"), cache_read=Decimal("0.30"))
    assert choose_ttl(slow, dear_1h) == "5m"  # 7.5 + 0.3 is not under 2 × 3.75
    assert choose_ttl(slow, None) == "5m"


def test_the_previous_reply_is_named_for_cache_diagnostics_and_the_first_turn_opts_in():
    request = build_request(model="m", max_tokens=10, turns=[text_turn("user", "q")],
                            previous_message_id="msg_01")
    assert request["diagnostics"] == {"previous_message_id": "msg_01"}
    first = build_request(model="m", max_tokens=10, turns=[text_turn("user", "q")])
    assert first["diagnostics"] == {"previous_message_id": None}


def test_an_image_stays_in_its_turn_before_the_question():
    image = PromptAttachment("image", "chart.png",
                             block=image_block(media_type="image/png", data=b"\x89PNG"))
    turns = [text_turn("user", "hi"), text_turn("assistant", "hello"),
             Turn("user", [reference(3, "image", "chart.png"), {"type": "text", "text": "q"}])]
    request = build_request(model="m", max_tokens=10, turns=turns, attachments={3: image})
    assert [b["type"] for b in request["messages"][2]["content"]] == ["image", "text"]
    assert request["messages"][2]["content"][0]["source"]["media_type"] == "image/png"


def test_an_attachment_that_cannot_be_sent_leaves_a_note_in_its_place():
    too_big = PromptAttachment("document", "huge.pdf", note="The document “huge.pdf” was left "
                               "out: with it the request would carry more than 100 PDF pages.")
    request = build_request(
        model="m", max_tokens=10, attachments={1: too_big},
        turns=[Turn("user", [reference(1, name="huge.pdf"), reference(2, name="gone.pdf"),
                             {"type": "text", "text": "q"}])],
    )
    texts = [block["text"] for block in request["messages"][0]["content"]]
    assert texts == [
        "[The document “huge.pdf” was left out: with it the request would carry more than "
        "100 PDF pages.]",
        "[The document “gone.pdf” attached here has been removed.]",
        "q",
    ]


def test_earlier_replies_keep_their_citations_and_no_user_turn_gets_any():
    citations = [{"type": "page_location", "document_index": 0, "cited_text": "three months",
                  "document_title": "contract.pdf", "start_page_number": 1,
                  "end_page_number": 2}]
    cited = {"type": "text", "text": "“three months”", "citations": citations}
    stored = [asked_with(1), Turn("assistant", [cited]), text_turn("user", "q2")]
    request = build_request(model="m", max_tokens=10, turns=stored, attachments={1: contract()})
    assert request["messages"][1]["content"][0] == {
        **cited, "cache_control": {"type": "ephemeral"}
    }
    users = [b for m in request["messages"] if m["role"] == "user" for b in m["content"]]
    assert not any("citations" in b for b in users if b["type"] == "text")


# --- Instructions changed mid-conversation (docs/caching.md) ----------------------------------


def test_a_changed_system_prompt_is_a_system_message_after_its_question_not_a_new_top():
    turns = [
        Turn("user", user_content("q1"), instructions="Be brief."),  # the first records it
        text_turn("assistant", "a1"),
        Turn("user", user_content("q2"), instructions="Answer in French."),
    ]
    request = build_request(model="m", max_tokens=10, system_prompt="Be brief.", turns=turns)
    assert request["system"] == [{"type": "text", "text": "Be brief."}]
    assert [m["role"] for m in request["messages"]] == ["user", "assistant", "user", "system"]
    assert request["messages"][-1]["content"][0]["text"] == "Answer in French."


def test_an_emptied_system_prompt_says_the_earlier_instructions_no_longer_apply():
    turns = [text_turn("user", "q1"), text_turn("assistant", "a1"),
             Turn("user", user_content("q2"), instructions="")]
    request = build_request(model="m", max_tokens=10, system_prompt="Be brief.", turns=turns)
    assert without_marks(request["messages"][-1]) == system_message(NO_INSTRUCTIONS)


def test_a_model_without_system_messages_gets_the_latest_prompt_on_top():
    turns = [text_turn("user", "q1"), text_turn("assistant", "a1"),
             Turn("user", user_content("q2"), instructions="Answer in French.")]
    request = build_request(model="m", max_tokens=10, system_prompt="Be brief.", turns=turns,
                            system_messages=False)
    assert request["system"] == [{"type": "text", "text": "Answer in French."}]
    assert [m["role"] for m in request["messages"]] == ["user", "assistant", "user"]


def test_instructions_of_a_refused_question_move_to_the_next_one():
    turns = [text_turn("user", "q1"), text_turn("assistant", "a1"),
             Turn("user", user_content("refused"), instructions="Answer in French."),
             Turn("assistant", user_content("No."), outcome=REFUSED), text_turn("user", "q3")]
    request = build_request(model="m", max_tokens=10, system_prompt="Be brief.", turns=turns)
    assert [m["role"] for m in request["messages"]] == ["user", "assistant", "user", "system"]
    assert request["messages"][2]["content"][0]["text"] == "q3"


# --- Thinking whose prefix was rewritten ---------------------------------------------------------

THOUGHT = {"type": "thinking", "thinking": "", "signature": "sig"}


def test_a_reply_whose_prefix_was_rewritten_is_sent_without_its_thinking():
    turns = [text_turn("user", "summary"),
             Turn("assistant", [THOUGHT, {"type": "text", "text": "old"}], keep_thinking=False),
             text_turn("user", "q"), Turn("assistant", [THOUGHT, {"type": "text", "text": "new"}]),
             text_turn("user", "q2")]
    request = build_request(model="m", max_tokens=10, turns=turns)
    kinds = [[b["type"] for b in m["content"]] for m in request["messages"]]
    assert kinds == [["text"], ["text"], ["text"], ["thinking", "text"], ["text"]]


def test_replies_after_a_removed_file_lose_their_thinking_and_those_before_keep_it():
    turns = [text_turn("user", "q1"), Turn("assistant", [THOUGHT, {"type": "text", "text": "a1"}]),
             asked_with(9), Turn("assistant", [THOUGHT, {"type": "text", "text": "a2"}]),
             text_turn("user", "q3")]
    request = build_request(model="m", max_tokens=10, turns=turns, attachments={})
    kinds = [[b["type"] for b in m["content"]] for m in request["messages"]]
    assert kinds == [["text"], ["thinking", "text"], ["text", "text"], ["text"], ["text"]]


def test_a_reply_cut_short_is_continued_by_a_question_of_its_own():
    assert "output limit" in continuation_text("max_tokens")
    assert "context window" in continuation_text("model_context_window_exceeded")
    assert continuation_content(None) == user_content(continuation_text(None))


def test_a_citation_goes_back_with_the_fields_a_request_takes():
    # The API's responses add `file_id` to a citation; its request types have no such field.
    cited = {"type": "text", "text": "“ten years”", "citations": [
        {"type": "char_location", "cited_text": "ten years", "document_index": 0,
         "document_title": "lease.txt", "start_char_index": 0, "end_char_index": 9,
         "file_id": None}]}
    request = build_request(model="m", max_tokens=10, attachments={1: contract()},
                            turns=[asked_with(1), Turn("assistant", [cited]),
                                   text_turn("user", "q2")])
    (sent,) = request["messages"][1]["content"][0]["citations"]
    assert "file_id" not in sent and sent["cited_text"] == "ten years"
    assert "file_id" in cited["citations"][0]  # the stored reply is left as it is
