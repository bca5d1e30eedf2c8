"""The batch job endpoints: what an owner, a stranger and an anonymous visitor each get.

Results are written onto items here the way the poller records them (tests/batches/test_poller.py
drives the real poller); these tests are about the doors.
"""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from chatapp.models import (
    Attachment,
    AttachmentKind,
    BatchItemStatus,
    BatchJob,
    BatchJobStatus,
    Budget,
    Message,
)
from tests.factories import make_conversation, make_text_document, make_user
from tests.image_files import encode, halves

pytestmark = pytest.mark.django_db

MODEL = "claude-sonnet-4-6"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def owner():
    return make_user()


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def post(client: Client, url: str, body: dict | None = None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def new_job(owner, count: int = 2, **body) -> dict:
    documents = [make_text_document(owner, f"Lease {n}", name=f"lease-{n}.txt")
                 for n in range(count)]
    body = {"document_ids": [d.pk for d in documents], "prompt": "Who pays?", "model": MODEL,
            **body}
    response = post(client_for(owner), "/api/batch-jobs/", body)
    assert response.status_code == 201, response.content
    return response.json()


def answer(job_id: int, text: str = "The tenant pays.", **fields) -> None:
    """Record an answer on every item, as the poller does when a batch's results arrive."""
    fields = {"status": BatchItemStatus.SUCCEEDED, "content": [{"type": "text", "text": text}],
              "stop_reason": "end_turn", "input_tokens": 120, "output_tokens": 30,
              "cost_usd": Decimal("0.00036"), **fields}
    BatchJob.objects.get(pk=job_id).items.update(**fields)
    BatchJob.objects.filter(pk=job_id).update(status=BatchJobStatus.ENDED)


def test_creating_a_job_answers_201_with_its_id_and_progress(owner):
    created = new_job(owner, 3)
    assert set(created) >= {"id", "status", "counts"}
    assert created["status"] == "submitting"
    assert created["counts"] == {"processing": 3, "succeeded": 0, "errored": 0,
                                 "cancelled": 0, "expired": 0}


def test_a_job_shows_each_document_with_its_answer_and_cost(owner):
    job = new_job(owner, 2)
    answer(job["id"])
    detail = client_for(owner).get(f"/api/batch-jobs/{job['id']}/").json()
    assert detail["status"] == "ended" and detail["counts"]["succeeded"] == 2
    assert detail["cost_usd"] == "0.00072"
    item = detail["items"][0]
    assert set(item) >= {"document_id", "status", "text", "cost_usd"}
    assert item["text"] == "The tenant pays." and item["cost_usd"] == "0.00036"
    assert item["document_name"] == "lease-0.txt" and item["error"] is None


def test_jobs_are_listed_newest_first_and_only_ones_own(owner):
    first, second = new_job(owner), new_job(owner)
    new_job(make_user())
    listed = client_for(owner).get("/api/batch-jobs/").json()["jobs"]
    assert [job["id"] for job in listed] == [second["id"], first["id"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"document_ids": []}, "Choose at least one document."),
        ({"document_ids": "1,2"}, "document_ids must be a list of document ids."),
        ({"prompt": "   "}, "Write the prompt to ask of every document."),
        ({"model": "claude-nonsense"}, "Unknown model 'claude-nonsense'."),
        ({"max_tokens": 300_001}, "max_tokens must be between 1 and 300,000"),
        ({"max_tokens": "lots"}, "max_tokens must be a whole number."),
    ],
)
def test_bad_input_gets_a_plain_400_and_stores_nothing(owner, change, message):
    document = make_text_document(owner)
    body = {"document_ids": [document.pk], "prompt": "Who pays?", "model": MODEL, **change}
    response = post(client_for(owner), "/api/batch-jobs/", body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert not BatchJob.objects.exists()


def test_haiku_4_5_has_no_long_output_beta(owner):
    document = make_text_document(owner)
    body = {"document_ids": [document.pk], "prompt": "Who?", "model": "claude-haiku-4-5",
            "max_tokens": 64_001}
    response = post(client_for(owner), "/api/batch-jobs/", body)
    assert response.status_code == 400
    assert "between 1 and 64,000" in response.json()["error"]


def test_someone_elses_document_or_an_image_is_not_found(owner):
    theirs = make_text_document(make_user())
    image = make_text_document(owner)
    Attachment.objects.filter(pk=image.pk).update(kind=AttachmentKind.IMAGE)
    for document_id in (theirs.pk, image.pk, 999_999):
        body = {"document_ids": [document_id], "prompt": "Who?", "model": MODEL}
        response = post(client_for(owner), "/api/batch-jobs/", body)
        assert response.status_code == 404
        assert response.json()["error"] == f"No such document: {document_id}."


def test_an_exhausted_budget_refuses_a_new_job(owner):
    Budget.objects.create(user=owner, monthly_usd=Decimal("0"))
    document = make_text_document(owner)
    body = {"document_ids": [document.pk], "prompt": "Who?", "model": MODEL}
    response = post(client_for(owner), "/api/batch-jobs/", body)
    assert response.status_code == 402 and "monthly budget" in response.json()["error"]


def test_a_job_whose_worst_case_does_not_fit_gets_402_saying_what_it_could_cost(owner):
    Budget.objects.create(user=owner, monthly_usd=Decimal("0.05"))
    documents = [make_text_document(owner, f"Lease {n}") for n in range(25)]
    body = {"document_ids": [d.pk for d in documents], "prompt": "Who?", "model": MODEL}
    response = post(client_for(owner), "/api/batch-jobs/", body)
    assert response.status_code == 402
    # 25 answers of up to 8,192 tokens at $7.50/M: about $1.54 in the worst case.
    assert response.json()["error"].startswith(
        "This batch job could cost up to $1.54, and $0.05 of your monthly budget of $0.05 is left."
    )
    assert not BatchJob.objects.exists()


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("post", "cancel/"), ("get", "results.csv"), ("get", "results.jsonl"),
     ("post", "items/{item}/conversation/")],
)
def test_a_strangers_job_is_not_found_and_anonymous_visitors_must_log_in(owner, method, suffix):
    job = new_job(owner)
    item = BatchJob.objects.get(pk=job["id"]).items.first().pk
    url = f"/api/batch-jobs/{job['id']}/" + suffix.format(item=item)
    stranger = getattr(client_for(make_user()), method)(url)
    assert stranger.status_code == 404
    assert getattr(client_for(), method)(url).status_code == 401
    assert client_for(make_user()).get(f"/batch-jobs/{job['id']}/").status_code == 404


def test_cancelling_before_anything_was_sent_ends_the_job_at_once(owner):
    job = new_job(owner, 3)
    client = client_for(owner)
    cancelled = post(client, f"/api/batch-jobs/{job['id']}/cancel/").json()
    assert cancelled["status"] == "ended"
    assert cancelled["counts"]["cancelled"] == 3 and cancelled["cancel_requested"]
    again = post(client, f"/api/batch-jobs/{job['id']}/cancel/")
    assert again.status_code == 409
    assert again.json()["error"].startswith("This job has already finished")


def test_the_estimate_shows_batch_prices_next_to_interactive_ones(owner):
    documents = [make_text_document(owner, "x" * 4000) for _ in range(2)]  # 1,000 tokens each
    body = {"document_ids": [d.pk for d in documents], "prompt": "Who pays?", "model": MODEL,
            "max_tokens": 1000}
    estimate = post(client_for(owner), "/api/batch-jobs/estimate/", body).json()
    assert estimate["documents"] == 2 and estimate["max_output_tokens"] == 2000
    assert estimate["input_tokens"] > 2000
    batch, interactive = Decimal(estimate["batch_usd"]), Decimal(estimate["interactive_usd"])
    assert batch * 2 == interactive
    # Sonnet 4.6: $3 in, $15 out per million; every output token counted.
    assert interactive == (Decimal(estimate["input_tokens"]) * 3 + 2000 * 15) / 1_000_000


def test_results_download_as_csv_with_formulas_defused(owner):
    job = new_job(owner, 2)
    answer(job["id"], "=HYPERLINK(\"http://evil\")")
    response = client_for(owner).get(f"/api/batch-jobs/{job['id']}/results.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["document"] for row in rows] == ["lease-0.txt", "lease-1.txt"]
    assert rows[0]["answer"] == "'=HYPERLINK(\"http://evil\")"
    # Money as in every CSV (chatapp.billing.money.csv_usd): dollars to 8 places.
    assert rows[0]["status"] == "succeeded" and rows[0]["cost_usd"] == "0.00036000"
    assert rows[0]["input_tokens"] == "120"


def test_results_download_as_json_lines(owner):
    job = new_job(owner, 2)
    answer(job["id"])
    response = client_for(owner).get(f"/api/batch-jobs/{job['id']}/results.jsonl")
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert len(lines) == 2
    assert lines[0]["text"] == "The tenant pays."
    assert lines[0]["content"] == [{"type": "text", "text": "The tenant pays."}]


def test_an_answer_opens_as_a_conversation_with_its_document(owner):
    job = new_job(owner, 1)
    answer(job["id"])
    item = BatchJob.objects.get(pk=job["id"]).items.get()
    client = client_for(owner)
    created = post(client, f"/api/batch-jobs/{job['id']}/items/{item.pk}/conversation/")
    assert created.status_code == 201
    conversation_id = created.json()["id"]
    assert created.json()["url"] == f"/c/{conversation_id}/"

    detail = client.get(f"/api/conversations/{conversation_id}/").json()
    question, reply = detail["messages"]
    assert question["text"] == "Who pays?"
    assert question["content"][0]["type"] == "attachment"
    assert reply["text"] == "The tenant pays." and reply["cost_usd"] == "0.00036"
    copy = Attachment.objects.get(conversation_id=conversation_id)
    assert copy.message_id == question["id"] and copy.pk != item.document_id
    assert copy.original.name != item.document.original.name
    assert copy.original.read() == item.document.original.read()
    assert Message.objects.filter(conversation_id=conversation_id).count() == 2


def test_an_unanswered_document_cannot_be_opened_as_a_conversation(owner):
    job = new_job(owner, 1)
    item = BatchJob.objects.get(pk=job["id"]).items.get()
    response = post(client_for(owner),
                    f"/api/batch-jobs/{job['id']}/items/{item.pk}/conversation/")
    assert response.status_code == 400
    assert response.json()["error"] == "Only an answered document can be opened as a conversation."


@pytest.mark.django_db(transaction=True)  # the upload endpoint is an async view
def test_documents_are_uploaded_many_at_once_and_listed(owner, claude):
    in_a_chat = make_text_document(owner, name="chat.txt",
                                   conversation=make_conversation(owner))
    client = client_for(owner)
    for n in range(3):
        upload = SimpleUploadedFile(f"note-{n}.txt", f"Note {n}: pay on time.".encode())
        response = client.post("/api/batch-documents/", {"file": upload, "model": MODEL})
        assert response.status_code == 201, response.content
        assert response.json()["conversation_id"] is None
        assert response.json()["tokens"] > 0
    listed = client.get("/api/batch-documents/").json()["documents"]
    assert [d["name"] for d in listed] == ["note-2.txt", "note-1.txt", "note-0.txt", "chat.txt"]
    assert listed[-1]["conversation_id"] == in_a_chat.conversation_id
    assert client_for(make_user()).get("/api/batch-documents/").json()["documents"] == []


@pytest.mark.django_db(transaction=True)
def test_an_image_or_an_empty_file_is_refused_in_plain_words(owner, claude):
    client = client_for(owner)
    empty = client.post("/api/batch-documents/", {"file": SimpleUploadedFile("e.txt", b"")})
    assert empty.status_code == 400 and empty.json()["error"] == "The file is empty."
    picture = encode(halves((40, 30)), "PNG")
    image = client.post("/api/batch-documents/", {"file": SimpleUploadedFile("p.png", picture)})
    assert image.status_code == 415 and "not images" in image.json()["error"]
    assert not Attachment.objects.exists()


def test_the_page_is_linked_from_the_chat_page(owner):
    client = client_for(owner)
    assert 'href="/batch-jobs/"' in client.get("/").content.decode()
    page = client.get("/batch-jobs/")
    assert page.status_code == 200 and "New job" in page.content.decode()
