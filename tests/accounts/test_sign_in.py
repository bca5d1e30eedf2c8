"""Single sign-on against a real OpenID provider: discovery, the authorization code with PKCE,
the user created and brought up to date at every sign-in, the provider's groups as Django
groups (tests/accounts/conftest.py starts the provider and plays the person's browser)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from chatapp.models import ProviderIdentity
from tests.accounts.conftest import PROVIDER_NAME, query, s256
from tests.factories import make_user

User = get_user_model()


def user_of(someone) -> User:
    return ProviderIdentity.objects.get(subject=someone.sub).user


def test_the_login_page_offers_sign_in_with_the_provider_by_name(sso):
    page = Client().get("/accounts/login/?next=/c/1/").content.decode()
    assert f"Sign in with {PROVIDER_NAME}" in page
    assert 'href="/oidc/authenticate/?next=/c/1/"' in page
    assert 'name="password"' in page  # local passwords stay allowed by default


def test_without_local_passwords_the_login_page_offers_only_the_provider(sso, settings):
    settings.CHATAPP_LOCAL_PASSWORDS = False
    page = Client().get("/accounts/login/").content.decode()
    assert f"Sign in with {PROVIDER_NAME}" in page and 'name="password"' not in page


def test_the_app_finds_the_provider_by_discovery_and_asks_for_a_code_with_pkce(someone):
    alice = someone()
    url = alice.start()
    # The provider's endpoints live at paths of its own: only its discovery document says so.
    assert url.startswith(f"{alice.provider.issuer}/oauth2/authorize?")
    params = query(url)
    assert params["response_type"] == "code" and params["client_id"] == "chatapp"
    assert params["redirect_uri"] == "http://testserver/oidc/callback/"
    assert params["scope"] == "openid email profile groups"
    assert params["code_challenge_method"] == "S256"
    kept = alice.client.session["oidc_states"][params["state"]]
    assert s256(kept["code_verifier"]) == params["code_challenge"]
    assert kept["nonce"] == params["nonce"]


def test_the_first_sign_in_creates_the_user_with_the_providers_groups(someone):
    alice = someone(given_name="Alice", family_name="Liddell", groups=["legal", "opus-users"])
    response = alice.sign_in(next_url="/batch-jobs/")
    assert response.status_code == 302 and response["Location"] == "/batch-jobs/"
    assert alice.signed_in
    user = user_of(alice)
    assert (user.username, user.email) == (alice.sub, f"{alice.sub}@example.com")
    assert (user.first_name, user.last_name) == ("Alice", "Liddell")
    assert not user.has_usable_password()  # signs in through the provider only
    assert sorted(user.groups.values_list("name", flat=True)) == ["legal", "opus-users"]
    assert alice.client.get("/").status_code == 200


def test_every_sign_in_brings_the_user_and_groups_up_to_date(someone):
    Group.objects.create(name="interns")
    alice = someone(groups=["legal", "interns"])
    alice.sign_in()
    first = user_of(alice)
    alice.provider.add_person(alice.sub, alice.password, email="alice@new.example.com",
                              email_verified=True, groups=["interns", "finance"])
    alice.client = Client()  # a new browser session here; the provider's session is kept
    assert alice.sign_in().status_code == 302 and alice.signed_in
    user = user_of(alice)
    assert user.pk == first.pk and user.email == "alice@new.example.com"
    assert sorted(user.groups.values_list("name", flat=True)) == ["finance", "interns"]
    assert Group.objects.filter(name="legal").exists()  # the group stays; she left it


def test_a_verified_email_takes_over_the_account_from_before_single_sign_on(someone):
    existing = make_user("bob")
    existing.email = "bob@example.com"
    existing.save()
    bob = someone(email="Bob@example.com", email_verified=True)
    assert bob.sign_in().status_code == 302
    assert user_of(bob).pk == existing.pk


def test_an_unverified_email_gets_an_account_of_its_own(someone):
    existing = make_user("carol")
    existing.email = "carol@example.com"
    existing.save()
    carol = someone(email="carol@example.com", email_verified=False, preferred_username="carol")
    assert carol.sign_in().status_code == 302
    user = user_of(carol)
    assert user.pk != existing.pk and user.username == "carol-2"


def test_password_logins_and_their_throttling_still_work_beside_single_sign_on(sso, settings):
    settings.AXES_FAILURE_LIMIT = 3
    make_user("dave")
    client = Client()
    wrong = {"username": "dave", "password": "no"}
    for _ in range(2):
        assert client.post("/accounts/login/", wrong).status_code == 200
    assert client.post("/accounts/login/", wrong).status_code == 429


def test_without_local_passwords_a_password_signs_nobody_in(sso, settings):
    from tests.factories import PASSWORD

    settings.CHATAPP_LOCAL_PASSWORDS = False
    settings.AUTHENTICATION_BACKENDS = [
        b for b in settings.AUTHENTICATION_BACKENDS
        if b != "django.contrib.auth.backends.ModelBackend"
    ]
    make_user("erin")
    client = Client()
    client.post("/accounts/login/", {"username": "erin", "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_a_user_deactivated_here_is_signed_out_at_once(someone):
    alice = someone()
    alice.sign_in()
    assert alice.client.get("/").status_code == 200
    User.objects.filter(username=alice.sub).update(is_active=False)
    assert alice.client.get("/")["Location"].startswith("/accounts/login/")


def test_next_must_stay_on_this_site(someone):
    alice = someone()
    response = alice.sign_in(next_url="https://evil.example/")
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_admins_password_form_gives_way_to_the_provider_without_local_passwords(sso, settings):
    assert b'name="password"' in Client().get("/admin/login/?next=/admin/").content
    settings.CHATAPP_LOCAL_PASSWORDS = False
    response = Client().get("/admin/login/?next=/admin/costs/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/costs/"
    assert Client().get("/admin/")["Location"] == "/admin/login/?next=/admin/"


def test_a_member_of_staff_reaches_the_admin_through_the_provider(someone, settings):
    settings.CHATAPP_LOCAL_PASSWORDS = False
    alice = someone()
    alice.sign_in()
    User.objects.filter(username=alice.sub).update(is_staff=True, is_superuser=True)
    alice.client = Client()
    assert alice.sign_in(next_url="/admin/")["Location"] == "/admin/"
    assert alice.client.get("/admin/").status_code == 200
