"""Configuration: production settings pass Django's deployment checks; bad values fail loudly."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import ConfigurationError, env_bool, env_int

ROOT = Path(__file__).resolve().parents[1]


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "CHATAPP_HTTPS": "true",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "chat.example.com",
        "CHATAPP_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_unless_asked_for(settings):
    assert settings.DEBUG is False or os.environ.get("DEBUG")


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("0", False), ("Yes", True)])
def test_booleans_are_read_generously(monkeypatch, raw, value):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG") is value


def test_a_typo_stops_the_process(monkeypatch):
    monkeypatch.setenv("FLAG", "ture")
    with pytest.raises(ConfigurationError, match="FLAG must be true or false"):
        env_bool("FLAG")
    monkeypatch.setenv("COUNT", "-3")
    with pytest.raises(ConfigurationError, match="at least 0"):
        env_int("COUNT", 1, minimum=0)


def test_the_api_key_never_reaches_a_page(client, settings, django_user_model):
    settings.ANTHROPIC_API_KEY = "sk-ant-secret-value"
    user = django_user_model.objects.create_user("keyless", password="pw-12345678")
    client.force_login(user)
    for url in ("/", "/api/models/", "/api/conversations/"):
        assert b"sk-ant-secret-value" not in client.get(url).content


def _database_settings(tmp_path, **env: str) -> dict:
    code = "import json; from django.conf import settings; print(json.dumps(settings.DATABASES))"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, check=True,
        env={**os.environ, "CHATAPP_VAR_DIR": str(tmp_path), **env},
        capture_output=True, text=True,
    )
    return json.loads(result.stdout.splitlines()[-1])["default"]


def test_database_connections_are_kept_not_opened_per_query(tmp_path):
    sqlite = _database_settings(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    assert sqlite["CONN_MAX_AGE"] == 60 and sqlite["CONN_HEALTH_CHECKS"]
    postgres = _database_settings(
        tmp_path, DATABASE_URL="postgres://chatapp@127.0.0.1:5432/chatapp",
        CHATAPP_DB_POOL_MAX="25",
    )
    # Under ASGI a pool, not per-thread persistent connections (which pile up per request).
    assert postgres["CONN_MAX_AGE"] == 0 and postgres["CONN_HEALTH_CHECKS"]
    assert postgres["OPTIONS"]["pool"]["max_size"] == 25
    # The pool joins the URL's own options; it does not replace them.
    secure = _database_settings(
        tmp_path, DATABASE_URL="postgres://chatapp@db.example.com:5432/chatapp?sslmode=require"
    )
    assert secure["OPTIONS"]["sslmode"] == "require" and "pool" in secure["OPTIONS"]
