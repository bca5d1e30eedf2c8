"""Every way a sign-in through the provider can go wrong ends on a page that says what went
wrong in plain words, with a way to try again, and nobody signed in."""

import urllib.parse

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chatapp.accounts import discovery
from tests.accounts.conftest import PROVIDER_NAME, query
from tests.servers import free_port

User = get_user_model()


def assert_failure_page(response, status: int, code: str, words: str) -> None:
    page = response.content.decode()
    assert response.status_code == status, page
    assert "Sign-in failed" in page and f'data-code="{code}"' in page
    assert words in page, page
    assert f"Try again with {PROVIDER_NAME}" in page and 'href="/oidc/authenticate/"' in page
    assert "You are not signed in." in page


def assert_nobody_signed_in(someone) -> None:
    assert not someone.signed_in
    assert someone.client.get("/")["Location"].startswith("/accounts/login/")
    assert not User.objects.filter(username=someone.sub).exists()


@pytest.mark.parametrize(("fault", "code", "words"), [
    ("wrong_audience", "wrong_audience",
     "the ID token was issued to another application (wrong audience)"),
    ("expired", "expired_token", "the ID token has expired"),
    ("bad_signature", "bad_signature",
     "the ID token&#x27;s signature does not match the provider&#x27;s keys"),
])
def test_an_id_token_that_fails_a_check_signs_nobody_in(someone, fault, code, words):
    alice = someone()
    alice.provider.set_fault(fault)
    response = alice.sign_in()
    assert_failure_page(response, 400, code, f"The answer from {PROVIDER_NAME} could not be "
                                             f"trusted: {words}")
    assert_nobody_signed_in(alice)


def test_a_callback_from_a_sign_in_started_in_another_browser_is_refused(someone):
    """Login CSRF: an attacker's code and state, opened in the victim's browser."""
    mallory = someone()
    back = mallory.at_provider(mallory.start())
    victim = someone()
    response = victim.client.get(back)
    assert_failure_page(response, 400, "state_mismatch", "not started in this browser")
    assert_nobody_signed_in(victim)
    assert not User.objects.filter(username=mallory.sub).exists()


def test_a_changed_state_is_refused_and_the_real_one_cannot_be_replayed_after(someone):
    alice = someone()
    back = alice.at_provider(alice.start())
    forged = back.replace(f"state={query(back)['state']}", "state=forged")
    assert_failure_page(alice.client.get(forged), 400, "state_mismatch", "already used")
    assert_nobody_signed_in(alice)
    # The failure signed the session out, states included: the genuine answer is stale now.
    assert_failure_page(alice.client.get(back), 400, "state_mismatch", "cannot be trusted")
    assert_nobody_signed_in(alice)


def test_a_callback_used_twice_signs_in_once(someone):
    alice = someone()
    back = alice.at_provider(alice.start())
    assert alice.client.get(back).status_code == 302 and alice.signed_in
    assert_failure_page(alice.client.get(back), 400, "state_mismatch", "already used")
    assert not alice.signed_in


def test_a_person_who_cancels_at_the_provider_is_told_so(someone):
    alice = someone()
    back = alice.person.at_provider(alice.start(), "http://testserver", cancel=True)
    assert query(back)["error"] == "access_denied"
    response = alice.client.get(back)
    assert_failure_page(response, 403, "provider_refused", f"{PROVIDER_NAME} did not sign you in "
                        "(access_denied: The person cancelled the sign-in.)")
    assert_nobody_signed_in(alice)


def test_an_answer_that_names_another_provider_is_refused(someone):
    """RFC 9207: the mix-up attack, where another provider's answer is slipped in."""
    alice = someone()
    back = alice.at_provider(alice.start())
    assert query(back)["iss"] == alice.provider.issuer
    forged = back.replace(f"iss={urllib.parse.quote(alice.provider.issuer, safe='')}",
                          "iss=https%3A%2F%2Fevil.example")
    assert forged != back
    response = alice.client.get(forged)
    assert_failure_page(response, 400, "wrong_issuer", "the answer came from another provider")
    assert_nobody_signed_in(alice)


def test_a_deactivated_account_is_refused(someone):
    alice = someone()
    alice.sign_in()
    User.objects.filter(username=alice.sub).update(is_active=False)
    alice.client = Client()
    response = alice.sign_in()
    assert_failure_page(response, 403, "account_deactivated", "Your account here is deactivated")
    assert not alice.signed_in


def test_an_unreachable_provider_is_said_plainly(someone, settings):
    settings.OIDC_ISSUER = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    discovery.forget()
    response = Client().get("/oidc/authenticate/")
    assert_failure_page(response, 502, "provider_unreachable", f"{PROVIDER_NAME} could not be "
                                                               "reached")


def test_a_discovery_document_for_another_issuer_is_not_trusted(someone, settings):
    settings.OIDC_ISSUER = someone().provider.issuer + "/"  # not the issuer its document names
    discovery.forget()
    response = Client().get("/oidc/authenticate/")
    assert_failure_page(response, 400, "issuer_mismatch", "its discovery document names")


def test_failed_sign_ins_do_not_lock_out_the_address(someone, settings):
    """django-axes counts password failures per username and address; a failed sign-in
    through the provider has no username here and must not pause anyone's logins."""
    settings.AXES_FAILURE_LIMIT = 2
    alice = someone()
    alice.provider.set_fault("expired")
    for _ in range(3):
        alice.client = Client()
        assert alice.sign_in().status_code == 400
    alice.provider.set_fault(None)
    alice.client = Client()
    assert alice.sign_in().status_code == 302 and alice.signed_in


def test_single_sign_on_is_not_there_unless_configured(client):
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404
    assert b"Sign in with" not in client.get("/accounts/login/").content


def test_a_failed_sign_in_through_the_provider_is_one_audit_entry(someone):
    from chatapp.models import AuditAction, AuditEntry

    alice = someone()
    alice.provider.set_fault("wrong_audience")
    before = AuditEntry.objects.count()
    alice.sign_in()
    [entry] = AuditEntry.objects.order_by("id")[before:]
    assert entry.action == AuditAction.SIGN_IN_FAILED
    assert entry.actor is None
    assert entry.detail["code"] and entry.detail["provider"]
