"""``manage.py check_upstream`` against the offline upstream: one tiny request per active
catalog model, each reported OK or with the API's status, error type and message."""

import io

import pytest
from django.core.management import CommandError, call_command

from chatapp.models import ClaudeModel

pytestmark = pytest.mark.django_db


def check(*models: str) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("check_upstream", *models, stdout=out, no_color=True)
    except CommandError as failed:
        return out.getvalue(), failed
    return out.getvalue(), None


def model_requests(claude) -> list[dict]:
    return [r for r in claude.requests() if r["path"] == "/v1/messages"]


def test_every_active_model_is_asked_once_and_answers(claude):
    active = list(ClaudeModel.objects.filter(is_active=True).values_list("pk", flat=True))
    out, failed = check()
    assert failed is None, out
    assert sorted(r["body"]["model"] for r in model_requests(claude)) == sorted(active)
    assert "anthropic-version 2026-10-21" in out
    for model in active:
        assert f"OK      {model}: " in out
    assert f"All {len(active)} models answered." in out
    # Tiny: a one-line question and little room for the answer.
    assert all(r["body"]["max_tokens"] <= 5000 for r in model_requests(claude))


def test_what_the_sdk_warns_about_a_model_is_shown_with_it(claude):
    out, failed = check("claude-opus-4-5")
    assert failed is None
    assert "claude-opus-4-5 is deprecated" in out.replace("'", "")


def test_inactive_models_are_not_asked(claude):
    ClaudeModel.objects.filter(pk="claude-haiku-4-5").update(is_active=False)
    check()
    assert "claude-haiku-4-5" not in {r["body"]["model"] for r in model_requests(claude)}


def test_a_model_the_api_does_not_know_is_reported_with_the_apis_words_and_fails(claude):
    known = ClaudeModel.objects.get(pk="claude-haiku-4-5")
    known.pk, known.display_name = "claude-imaginary-9", "Claude Imaginary 9"
    known.save(force_insert=True)

    out, failed = check("claude-imaginary-9", "claude-haiku-4-5")

    assert failed is not None and "1 of 2 models failed: claude-imaginary-9" in str(failed)
    assert "OK      claude-haiku-4-5: " in out
    line = next(line for line in out.splitlines() if "claude-imaginary-9" in line)
    assert line.startswith("FAILED  claude-imaginary-9: 404 not_found_error: ")
    assert "(req_" in line


def test_a_refused_key_fails_the_check(claude):
    claude.add_faults([{"kind": "status", "status": 401, "message": "invalid x-api-key"}])
    out, failed = check("claude-sonnet-4-6")
    assert failed is not None
    assert "FAILED  claude-sonnet-4-6: 401 authentication_error: invalid x-api-key" in out


def test_an_unreachable_api_is_reported_without_a_status(claude, settings):
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    out, failed = check("claude-sonnet-4-6")
    assert failed is not None
    assert "FAILED  claude-sonnet-4-6: no answer connection_error: " in out


def test_without_an_api_key_the_check_says_so(settings):
    settings.ANTHROPIC_API_KEY = ""
    settings.OFFLINE_UPSTREAM = False
    _, failed = check()
    assert failed is not None and "ANTHROPIC_API_KEY" in str(failed)
