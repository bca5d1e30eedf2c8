"""Images through the upload endpoint: what the composer gets back, what is refused, and who
may see the files afterwards."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from chatapp.attachments.image_sizes import IMAGE_TIERS, base64_size
from chatapp.models import Attachment
from tests.factories import make_conversation, make_user
from tests.image_files import (
    HTML,
    SVG,
    bilevel_png,
    camera_photo,
    decompression_bomb,
    detailed,
    encode,
    truncated_png,
)

pytestmark = [
    # The upload view is async: its database work runs through database_sync_to_async.
    pytest.mark.django_db(transaction=True),
    # Pillow warns on its way to refusing the oversized files below; the refusal is the point.
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def owner():
    return make_user()


@pytest.fixture
def conversation(owner):
    return make_conversation(owner, model="claude-sonnet-4-6")  # standard image tier


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def upload(client: Client, conversation, name: str, raw: bytes):
    return client.post(
        f"/api/conversations/{conversation.pk}/attachments/",
        {"file": SimpleUploadedFile(name, raw)},
    )


def stored_files(media_root) -> list:
    return [path for path in media_root.rglob("*") if path.is_file()]


def test_a_photo_upload_answers_with_its_size_and_tokens(owner, conversation):
    answer = upload(client_for(owner), conversation, "holiday.jpg", camera_photo(orientation=6))

    assert answer.status_code == 201
    body = answer.json()
    assert body["kind"] == "image"
    assert isinstance(body["id"], int)
    # Upright (40 × 60 px), and ⌈40/28⌉ × ⌈60/28⌉ = 2 × 3 tokens.
    assert (body["width"], body["height"], body["tokens"]) == (40, 60, 6)


@pytest.mark.parametrize(
    ("model", "tier"), [("claude-sonnet-4-6", "standard"), ("claude-opus-4-7", "high")]
)
def test_a_large_picture_is_sized_for_the_conversations_model(owner, model, tier):
    conversation = make_conversation(owner, model=model)
    raw = encode(detailed((3200, 2400)), "JPEG", quality=85)

    body = upload(client_for(owner), conversation, "plan.jpg", raw).json()

    limits = IMAGE_TIERS[tier]
    assert max(body["width"], body["height"]) <= limits.long_edge
    assert 0.9 * limits.max_tokens < body["tokens"] <= limits.max_tokens


def test_a_screenshot_stays_png(owner, conversation):
    raw = encode(Image.new("RGB", (120, 80), (250, 250, 250)), "PNG")

    body = upload(client_for(owner), conversation, "screen.png", raw).json()

    assert body["media_type"] == "image/png"


def test_a_screenshot_is_prepared_once_within_the_platforms_per_image_limit(
    owner, settings, media_root
):
    settings.ANTHROPIC_MAX_IMAGE_BASE64_BYTES = 200_000  # a platform stricter than any real one
    conversation = make_conversation(owner, model="claude-opus-4-8")  # high image tier
    raw = encode(detailed((2576, 1449)), "PNG")
    assert len(raw) * 4 / 3 > 200_000

    body = upload(client_for(owner), conversation, "screen.png", raw).json()

    prepared = Attachment.objects.get(pk=body["id"]).prepared
    assert base64_size(prepared.size) <= 200_000
    # Every pixel the tier keeps, as JPEG: the stored bytes are what each request sends.
    assert (body["width"], body["height"], body["media_type"]) == (2576, 1449, "image/jpeg")


@pytest.mark.parametrize(
    ("name", "raw", "status", "says"),
    [
        ("empty.png", b"", 400, "empty"),
        ("page.png", HTML, 415, "named like an image but contains text"),
        ("drawing.svg", SVG, 415, "SVG drawings are not accepted"),
        ("drawing.png", SVG, 415, "SVG drawings are not accepted"),
        ("cut.png", truncated_png(), 400, "damaged or incomplete"),
        ("bomb.png", decompression_bomb(), 413, "too large"),
        ("huge.png", bilevel_png(12_000, 12_000), 413, "12000 × 12000 pixels"),
    ],
    ids=["zero-bytes", "html-named-png", "svg", "svg-named-png", "truncated", "bomb", "huge"],
)
def test_hostile_files_are_refused_in_plain_words_and_leave_nothing(
    owner, conversation, media_root, name, raw, status, says
):
    answer = upload(client_for(owner), conversation, name, raw)

    assert answer.status_code == status
    assert answer["Content-Type"] == "application/json"
    assert says in answer.json()["error"]
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []


def _file_url(body: dict, variant: str = "") -> str:
    return body["download_url"] + (f"?variant={variant}" if variant else "")


def test_the_owner_gets_the_original_and_the_prepared_image_without_gps(owner, conversation):
    raw = camera_photo(orientation=6)
    body = upload(client_for(owner), conversation, "holiday.jpg", raw).json()
    client = client_for(owner)

    original = b"".join(client.get(_file_url(body)).streaming_content)
    prepared = b"".join(client.get(_file_url(body, "prepared")).streaming_content)

    assert original == raw  # the original is kept, for its owner only
    assert b"AcmeCam" not in prepared
    assert Image.open(io.BytesIO(prepared)).size == (40, 60)


@pytest.mark.parametrize("visitor", ["stranger", "anonymous"])
def test_nobody_else_sees_the_image(owner, conversation, visitor):
    body = upload(client_for(owner), conversation, "holiday.jpg", camera_photo()).json()
    client = client_for(make_user() if visitor == "stranger" else None)

    for url in (_file_url(body), _file_url(body, "prepared"), body["download_url"][:-5]):
        answer = client.get(url)
        assert answer.status_code == (404 if visitor == "stranger" else 401), url
        assert b"AcmeCam" not in answer.content
