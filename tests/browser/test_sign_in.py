"""Single sign-on in real Chromium: the whole redirect dance between chatapp (daphne, started
with OIDC_* in its environment as a deployment would be) and a real OpenID provider
(tests/openid_provider.mjs), and the failures, each a page that says what went wrong."""

import os
import subprocess
import sys
import tempfile
import urllib.parse
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ROOT, _database_url, _free_port, _wait_for_port
from tests.openid_provider import CLIENT_ID, CLIENT_SECRET, OpenIDProvider

PROVIDER_NAME = "Example Login"


@pytest.fixture(scope="module")
def sso_app(offline_upstream):
    """(app URL, provider): a chatapp server whose sign-in goes through the provider."""
    tmp = Path(tempfile.mkdtemp(prefix="chatapp-sso-"))
    database_url, drop_database = _database_url(tmp)
    port = _free_port()
    provider = OpenIDProvider([f"http://127.0.0.1:{port}/oidc/callback/"])
    env = {
        **os.environ,
        "CHATAPP_VAR_DIR": str(tmp),
        "DATABASE_URL": database_url,
        "OFFLINE_UPSTREAM_URL": offline_upstream.base_url,
        "ANTHROPIC_API_KEY": "",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_PROVIDER_NAME": PROVIDER_NAME,
        "OIDC_SCOPES": "openid email profile groups",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run([*manage, *command, "--verbosity", "0"], env=env, cwd=ROOT, check=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "chatapp.runtime.server", "-b", "127.0.0.1", "-p", str(port),
         "config.asgi:application"],
        env=env, cwd=ROOT,
    )
    try:
        _wait_for_port(port, server)
        yield f"http://127.0.0.1:{port}", provider
    finally:
        server.terminate()
        server.wait(timeout=20)
        provider.stop()
        if drop_database:
            drop_database()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


@pytest.fixture
def person(sso_app):
    """Someone the provider knows: (username, password)."""
    _, provider = sso_app
    sub = f"person-{uuid.uuid4().hex[:8]}"
    provider.add_person(sub, "provider-password", email=f"{sub}@example.com",
                        email_verified=True, preferred_username=sub, groups=["legal"])
    yield sub, "provider-password"
    provider.set_fault(None)


def dance(page, app: str, person) -> None:
    """From the login page, through the provider's login form, back to chatapp."""
    page.goto(f"{app}/accounts/login/")
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Username").fill(person[0])
    page.get_by_label("Password").fill(person[1])
    page.get_by_role("button", name="Sign in").click()


def expect_signed_out(page, app: str) -> None:
    page.goto(f"{app}/")
    expect(page).to_have_url(f"{app}/accounts/login/?next=/")


def test_signing_in_through_the_provider_opens_the_chat_page(sso_app, person, context):
    app, _ = sso_app
    page = context.new_page()
    dance(page, app, person)
    page.wait_for_url(f"{app}/")
    expect(page.locator(".header-user")).to_have_text(person[0])
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()


@pytest.mark.parametrize(("fault", "words"), [
    ("wrong_audience", "issued to another application (wrong audience)"),
    ("expired", "the ID token has expired"),
    ("bad_signature", "signature does not match the provider's keys"),
])
def test_an_id_token_that_fails_a_check_ends_on_a_clear_page(sso_app, person, context, fault,
                                                             words):
    app, provider = sso_app
    provider.set_fault(fault)
    page = context.new_page()
    dance(page, app, person)
    page.wait_for_url(f"{app}/oidc/callback/**")
    expect(page.get_by_role("heading", name="Sign-in failed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(words)
    expect_signed_out(page, app)
    # Once the provider behaves, "Try again" signs in (its own session: no form this time).
    provider.set_fault(None)
    page.goto(f"{app}/oidc/callback/?state=stale")
    page.get_by_role("link", name=f"Try again with {PROVIDER_NAME}").click()
    page.wait_for_url(f"{app}/")
    expect(page.locator(".header-user")).to_have_text(person[0])


def test_a_sign_in_finished_in_another_browser_is_refused(sso_app, person, browser, context):
    """The answer meant for one browser (code and state) opened in another: login CSRF."""
    app, _ = sso_app
    page = context.new_page()
    page.goto(f"{app}/accounts/login/")
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    # The form sent with this browser's cookies, its redirects not followed: the answer for
    # chatapp (code and state) is caught before this browser could use it.
    action = page.locator("form").get_attribute("action")
    url = urllib.parse.urljoin(page.url, action)
    response = context.request.post(url, form={"username": person[0], "password": person[1]},
                                    max_redirects=0)
    while not response.headers["location"].startswith(f"{app}/oidc/callback/"):
        response = context.request.get(response.headers["location"], max_redirects=0)
    answer = response.headers["location"]
    other = browser.new_context()
    try:
        victim = other.new_page()
        victim.goto(answer)
        expect(victim.get_by_role("heading", name="Sign-in failed")).to_be_visible()
        expect(victim.get_by_role("alert")).to_contain_text("not started in this browser")
        expect_signed_out(victim, app)
    finally:
        other.close()
