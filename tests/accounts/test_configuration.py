"""Single sign-on is configured by the environment: OIDC_ISSUER switches it on (its backend and
re-check middleware), deployment checks stay clean, and impossible combinations stop the
process at start-up with words that say what is missing."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SSO = {"OIDC_ISSUER": "https://login.example.com/realms/staff", "OIDC_CLIENT_ID": "chatapp",
       "OIDC_CLIENT_SECRET": "s3cret"}
SHOW = ("import json; from django.conf import settings as s; print(json.dumps([s.OIDC_ISSUER, "
        "s.OIDC_PROVIDER_NAME, s.AUTHENTICATION_BACKENDS, s.MIDDLEWARE, s.OIDC_USE_PKCE]))")


def manage(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHATAPP_VAR_DIR": str(tmp_path), **env}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)


def shown(tmp_path, **env: str) -> list:
    result = manage(tmp_path, "shell", "-c", SHOW, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_issuer_switches_single_sign_on_on(tmp_path):
    issuer, name, backends, middleware, pkce = shown(tmp_path, **SSO)
    assert (issuer, name, pkce) == (SSO["OIDC_ISSUER"], "login.example.com", True)
    assert backends[-2:] == ["django.contrib.auth.backends.ModelBackend",
                             "chatapp.accounts.backends.ProviderBackend"]
    auth = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    assert middleware[auth + 1] == "chatapp.accounts.middleware.ProviderRecheck"


def test_without_local_passwords_only_the_provider_signs_in(tmp_path):
    backends = shown(tmp_path, CHATAPP_LOCAL_PASSWORDS="false", **SSO)[2]
    assert "django.contrib.auth.backends.ModelBackend" not in backends
    assert "chatapp.accounts.backends.ProviderBackend" in backends


def test_off_by_default(tmp_path):
    issuer, _, backends, middleware, _ = shown(tmp_path)
    assert issuer == "" and not any("chatapp.accounts" in x for x in backends + middleware)


def test_impossible_combinations_stop_the_process(tmp_path):
    no_secret = manage(tmp_path, "check", OIDC_ISSUER=SSO["OIDC_ISSUER"], OIDC_CLIENT_ID="x")
    assert no_secret.returncode != 0
    assert "OIDC_ISSUER needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET" in no_secret.stderr
    nobody = manage(tmp_path, "check", CHATAPP_LOCAL_PASSWORDS="false")
    assert nobody.returncode != 0
    assert "CHATAPP_LOCAL_PASSWORDS=false needs OIDC_ISSUER" in nobody.stderr


def test_check_deploy_is_clean_with_single_sign_on(tmp_path):
    result = manage(
        tmp_path, "check", "--deploy", "--fail-level", "WARNING",
        CHATAPP_HTTPS="true", DEBUG="false", SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="chat.example.com", CHATAPP_LOCAL_PASSWORDS="false", **SSO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
