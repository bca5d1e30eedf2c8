"""Probes: /healthz (the process answers) and /readyz (everything serving needs answers), both
without a login; /readyz names what fails. Runs in both passes (embedded, PostgreSQL+Redis)."""

import json
import tomllib

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from chatapp.batches.poller import BatchPoller
from chatapp.operations import health, heartbeat
from chatapp.policies.batches import batch_poller
from chatapp.policies.operations import poller_heartbeat

CLOSED_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


@pytest.fixture(autouse=True)
def own_heartbeat(settings, tmp_path):
    """Each test has its own poller heartbeat (file or, with Redis, a cache key under the
    test's own prefix), so another run's poller never counts as this one's."""
    settings.CHATAPP_BATCH_POLLER_HEARTBEAT_FILE = tmp_path / "batch-poller.alive"
    heartbeat.forget()
    yield
    heartbeat.forget()


def readyz() -> tuple[int, dict]:
    response = Client().get("/readyz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.content)


def test_healthz_answers_without_a_login_or_the_database_and_gives_the_version():
    # No django_db mark: a query here would fail the test.
    with open(django_settings.BASE_DIR / "pyproject.toml", "rb") as file:
        version = tomllib.load(file)["project"]["version"]
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok", "version": version}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db(transaction=True)
def test_readyz_is_ok_once_a_batch_poller_has_gone_round():
    # What the poller's loop (or cron's --once) does.
    async_to_sync(BatchPoller(batch_poller()).tick)()
    status, body = readyz()
    assert status == 200, body
    assert body == {
        "status": "ok",
        "failing": [],
        "checks": {"database": "ok", "cache": "ok", "channel_layer": "ok", "batch_poller": "ok"},
    }


@pytest.mark.django_db
def test_readyz_is_cheap_enough_to_poll_every_second(django_assert_max_num_queries):
    heartbeat.beat_sync(poller_heartbeat())
    readyz()  # the first one also checks the migrations
    with django_assert_max_num_queries(1):  # then: SELECT 1
        status, _ = readyz()
    assert status == 200


@pytest.mark.django_db
def test_readyz_fails_naming_the_batch_poller_when_none_has_run():
    status, body = readyz()
    assert status == 503
    assert body["failing"] == ["batch_poller"]
    assert body["checks"]["batch_poller"] == "no batch poller has run"


@pytest.mark.django_db
def test_readyz_fails_when_the_poller_was_last_seen_too_long_ago(settings):
    settings.CHATAPP_BATCH_POLLER_STALE_SECONDS = 5
    heartbeat.beat_sync(poller_heartbeat())
    if settings.REDIS_URL:
        from django.core.cache import cache

        cache.set(heartbeat.CACHE_KEY, cache.get(heartbeat.CACHE_KEY) - 60)
    else:
        import os

        path = settings.CHATAPP_BATCH_POLLER_HEARTBEAT_FILE
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime - 60))
    status, body = readyz()
    assert status == 503
    assert body["failing"] == ["batch_poller"]
    assert "last seen 6" in body["checks"]["batch_poller"]


@pytest.mark.django_db
def test_readyz_can_be_told_no_poller_runs_here(settings):
    settings.CHATAPP_READY_NEEDS_BATCH_POLLER = False
    assert readyz()[0] == 200


@pytest.mark.django_db
def test_readyz_fails_naming_the_database_while_a_migration_is_not_applied(monkeypatch):
    heartbeat.beat_sync(poller_heartbeat())
    monkeypatch.setattr(health, "_migrated", False)
    with connection.cursor() as cursor:  # rolled back with the test
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'chatapp' AND name = "
            "(SELECT MAX(name) FROM django_migrations WHERE app = 'chatapp')"
        )
    status, body = readyz()
    assert status == 503
    assert body["failing"] == ["database"]
    assert body["checks"]["database"] == "1 migration(s) not applied"


@pytest.mark.django_db
def test_readyz_fails_naming_the_cache_when_it_is_unreachable(settings):
    heartbeat.beat_sync(poller_heartbeat())
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": CLOSED_REDIS}
    }
    status, body = readyz()
    assert status == 503
    assert "cache" in body["failing"]
    assert "ConnectionError" in body["checks"]["cache"]


@pytest.mark.django_db
def test_readyz_fails_naming_the_channel_layer_when_redis_is_unreachable(settings):
    settings.CHATAPP_READY_NEEDS_BATCH_POLLER = False
    settings.REDIS_URL = CLOSED_REDIS
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                    "CONFIG": {"hosts": [CLOSED_REDIS]}}
    }
    status, body = readyz()
    assert status == 503
    assert body["failing"] == ["channel_layer"]
