"""The built-in tools: exact arithmetic without eval, the time in a zone, document search."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chatapp.models import Attachment, Project
from chatapp.policies.replies import reply_policy
from chatapp.replies.tools import (
    TOOL_DEFINITIONS,
    CalculationError,
    calculate,
    current_datetime,
    request_params,
    runner,
    search_documents,
)
from tests.factories import make_conversation, make_exchange, make_user


@pytest.mark.parametrize(
    ("expression", "answer"),
    [
        ("6*7", "42"),
        ("0.1 + 0.2", "3/10 (≈ 0.3)"),
        ("1/3 + 1/6", "1/2 (≈ 0.5)"),
        ("2**100", "1267650600228229401496703205376"),
        ("(2+3)×4 ÷ 5", "4"),
        ("-7 // 2", "-4"),
        ("2^10", "1024"),
    ],
)
def test_the_calculator_is_exact(expression, answer):
    assert calculate(expression) == answer


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("__import__('os').system('true')", "Only numbers"),
        ("open('/etc/passwd')", "Only numbers"),
        ("1/0", "Division by zero"),
        ("9**99999999", "too large"),
        ("2**0.5", "whole-number exponents"),
        ("1 +", "not an arithmetic expression"),
        ("x * 2", "Only numbers"),
    ],
)
def test_the_calculator_refuses_anything_else_in_plain_words(expression, words):
    with pytest.raises(CalculationError, match=words):
        calculate(expression)


def test_the_time_is_given_in_the_zone_asked_for():
    moment = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert current_datetime("Asia/Tokyo", now=moment) == (
        "Tuesday 24 November 2026, 16:00:00 JST (2026-11-24T16:00:00+09:00)"
    )
    with pytest.raises(ValueError, match="not an IANA time zone"):
        current_datetime("Mars/Olympus_Mons")


def test_tool_definitions_are_stable_and_ordered():
    offered = replace(reply_policy(), tools=True, web_search=False)
    names = [tool["name"] for tool in request_params(offered)["tools"]]
    assert names == ["search_documents", "calculator", "current_datetime"]
    assert request_params(offered) == request_params(offered)  # the same bytes: cacheable
    assert request_params(replace(offered, tools=False)) == {}


@pytest.mark.django_db
def test_search_finds_passages_with_their_page():
    conversation = make_conversation()
    Attachment.objects.create(
        owner=conversation.owner, conversation=conversation, kind="document", name="Lease.pdf",
        media_type="application/pdf", original_media_type="application/pdf", original="x.pdf",
        sha256="0" * 64, size=1, text="Parties and terms.\fRent is due on the first day.\fEnd.",
    )
    found = search_documents(conversation.pk, "when is rent due")
    assert found.startswith("[Lease.pdf, page 2]") and "Rent is due" in found


@pytest.mark.django_db
def test_search_reads_every_document_of_the_conversations_project():
    """Beyond what one request can carry, Claude finds the rest of a project's documents
    through the tool, with their pages; another project's and withdrawn ones stay out."""
    owner = make_user()
    project, other = (Project.objects.create(owner=owner, name=name) for name in "AB")
    conversation = make_conversation(owner, project=project)
    for name, place, text in [("Lease.pdf", project, "Parties.\fPets need written consent."),
                              ("Old.pdf", project, "Pets were never allowed."),
                              ("Other.pdf", other, "Pets are welcome.")]:
        Attachment.objects.create(
            owner=owner, project=place, kind="document", name=name,
            media_type="application/pdf", original_media_type="application/pdf",
            original="x.pdf", sha256="0" * 64, size=1, text=text,
            withdrawn_at=timezone.now() if name == "Old.pdf" else None,
        )
    found = search_documents(conversation.pk, "pets")
    assert found == "[Lease.pdf, page 2] Pets need written consent."


@pytest.mark.django_db
def test_without_documents_search_reads_the_conversation():
    conversation = make_conversation()
    make_exchange(conversation, "Our budget is 40k", "Noted: a budget of 40k.")
    assert "budget" in search_documents(conversation.pk, "budget")
    assert search_documents(conversation.pk, "zebra") == "No passage mentions 'zebra'."


@pytest.mark.django_db(transaction=True)
async def test_a_failing_or_unknown_tool_answers_with_an_error():
    conversation = await database_sync_to_async(make_conversation)()
    run = runner(conversation.pk)
    failed = await run("calculator", {"expression": "1/0"})
    assert failed.is_error and failed.text == "Division by zero."
    unknown = await run("teleport", {})
    assert unknown.is_error and "no tool named 'teleport'" in unknown.text
    assert (await run("calculator", {"expression": "2+2"})).text == "4"
    assert len(TOOL_DEFINITIONS) == 3


@pytest.mark.django_db(transaction=True)
async def test_the_runner_searches_documents_and_refuses_an_empty_query():
    conversation = await database_sync_to_async(make_conversation)()
    await database_sync_to_async(Attachment.objects.create)(
        owner_id=conversation.owner_id, conversation=conversation, kind="document",
        name="Lease.pdf", media_type="application/pdf", original_media_type="application/pdf",
        original="x.pdf", sha256="0" * 64, size=1, text="Parties.\fRent is due on the first.",
    )
    run = runner(conversation.pk)
    found = await run("search_documents", {"query": "rent due"})
    assert not found.is_error and found.text.startswith("[Lease.pdf, page 2]")
    empty = await run("search_documents", {"query": "?"})
    assert empty.is_error and empty.text == "Give some words to search for."
