"""A session that came through the provider is re-checked with it (prompt=none) once
OIDC_RECHECK_MINUTES have passed: a person the provider no longer knows is signed out, one it
still knows stays signed in with their groups brought up to date."""

from django.contrib.auth import get_user_model
from django.test import Client

from tests.accounts.conftest import query
from tests.factories import make_user

User = get_user_model()


def due_for_recheck(someone) -> None:
    """The re-check time passes (the session keeps when it is due)."""
    session = someone.client.session
    session["oidc_id_token_expiration"] = 0
    session.save()


def recheck(someone):
    """A page load once the re-check is due: off to the provider without a prompt, and back."""
    response = someone.client.get("/c/7/")
    assert response.status_code == 302
    to_provider = response["Location"]
    assert to_provider.startswith(f"{someone.provider.issuer}/oauth2/authorize?")
    assert query(to_provider)["prompt"] == "none"
    assert query(to_provider)["code_challenge_method"] == "S256"
    return someone.client.get(someone.at_provider(to_provider, log_in=False))


def test_a_person_the_provider_still_knows_stays_signed_in_with_new_groups(someone):
    alice = someone(groups=["legal"])
    alice.sign_in()
    alice.provider.add_person(alice.sub, alice.password, groups=["finance"])
    due_for_recheck(alice)
    response = recheck(alice)
    assert response.status_code == 302 and response["Location"] == "/c/7/"
    assert alice.signed_in
    user = User.objects.get(username=alice.sub)
    assert list(user.groups.values_list("name", flat=True)) == ["finance"]
    assert alice.client.get("/").status_code == 200  # not due again for a while


def test_a_person_removed_from_the_provider_loses_access_at_the_recheck(someone):
    alice = someone()
    alice.sign_in()
    assert alice.client.get("/").status_code == 200
    alice.provider.remove_person(alice.sub)
    due_for_recheck(alice)
    response = recheck(alice)
    page = response.content.decode()
    assert response.status_code == 401 and 'data-code="provider_refused"' in page
    assert "no longer confirms your sign-in, so you were signed out here" in page
    assert not alice.signed_in
    assert alice.client.get("/")["Location"].startswith("/accounts/login/")
    # The next sign-in fails at the provider itself: it does not know her any more.
    url = alice.start()
    try:
        alice.at_provider(url)
    except AssertionError as refused:
        assert "Unknown username or wrong password" in str(refused)
    else:
        raise AssertionError("the provider signed in a person it removed")


def test_the_pages_own_requests_are_not_sent_to_the_provider(someone):
    alice = someone()
    alice.sign_in()
    due_for_recheck(alice)
    response = alice.client.get("/api/conversations/", headers={"Sec-Fetch-Mode": "cors"})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"


def test_password_sessions_are_never_sent_to_the_provider(sso):
    client = Client()
    client.force_login(make_user("local"), backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/").status_code == 200
