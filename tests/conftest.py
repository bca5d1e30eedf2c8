"""Shared fixtures: users and conversations, and the app pointed at the offline upstream.

The offline upstream (``tests.upstream_fixtures``) is the only stand-in in this suite: the
app reaches it through the real SDK over loopback.
"""

import os
import tempfile
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from chatapp.offline_upstream.state import RECORD_BODIES_ENV

pytest_plugins = ["tests.upstream_fixtures", "tests.openid_provider"]
RECORDED_BODIES = pytest.StashKey[Path]()


def pytest_configure(config):
    """The offline upstream records every Messages body it accepts (issue 17 point 10)."""
    if not os.environ.get(RECORD_BODIES_ENV):
        path = Path(tempfile.mkdtemp(prefix="upstream-bodies-")) / "bodies.jsonl"
        os.environ[RECORD_BODIES_ENV] = str(path)
        config.stash[RECORDED_BODIES] = path


def pytest_sessionfinish(session, exitstatus):
    """Every recorded body must fit the SDK's own request types: a field they do not know
    is one the real API would refuse (or read otherwise), however lenient the upstream is."""
    path = session.config.stash.get(RECORDED_BODIES, None)
    if path is None:
        return
    from chatapp.offline_upstream.request_types import problems

    found = problems(path)
    if not found:
        path.unlink(missing_ok=True)
        path.parent.rmdir()
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    reporter.write_sep("=", "request bodies the anthropic SDK's types do not know", red=True)
    for problem in found:
        reporter.write_line(problem)
    reporter.write_line(f"(all recorded bodies: {path})")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config, items):
    """`services` tests need PostgreSQL and Redis: they run in the pass that has them.

    Browser tests run last: Playwright's sync API keeps an event loop running in the main
    thread while the browser is open, which asyncio tests cannot share.
    """
    items.sort(key=lambda item: "/browser/" in str(item.path))
    with_services = bool(os.environ.get("REDIS_URL")) and django_settings.DATABASES["default"][
        "ENGINE"
    ].endswith("postgresql")
    if with_services:
        return
    selected = [item for item in items if "services" not in item.keywords]
    deselected = [item for item in items if "services" in item.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture
def claude(upstream, settings):
    """The app's SDK client pointed at a freshly reset offline upstream."""
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.ANTHROPIC_BASE_URL = upstream.base_url
    settings.ANTHROPIC_MAX_RETRIES = 0
    settings.ANTHROPIC_TIMEOUT_SECONDS = 10.0
    settings.CHATAPP_COALESCE_MS = 5
    return upstream


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hashing a password the production way takes most of a second; tests make many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    """Rate-limit counts must not carry over from one test (or one run) to the next.

    The in-process cache is cleared; a Redis cache, shared with other processes, gets a key
    prefix of this test's own instead of being flushed.
    """
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()
    else:
        settings.CACHES = {
            "default": {**settings.CACHES["default"], "KEY_PREFIX": uuid.uuid4().hex}
        }


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """In-process tests render pages without a collectstatic manifest (browser tests use one)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def model_catalog(request):
    """The catalog the seed migration creates; transactional tests flush it, so put it back."""
    if not request.node.get_closest_marker("django_db"):
        return
    request.getfixturevalue("django_db_blocker")
    from chatapp.claude.catalog import seed_catalog
    from chatapp.models import ClaudeModel, ModelPrice

    with request.getfixturevalue("django_db_blocker").unblock():
        seed_catalog(ClaudeModel, ModelPrice)
    # Prices a rolled-back test saved must not be remembered by the next one.
    from chatapp.billing.prices import forget_prices

    forget_prices()


@pytest.fixture
async def finish_replies():
    """A test that starts replies waits for them (and the titles they trigger) to finish."""
    from chatapp.replies import registry

    yield
    await registry.wait_for_all()
    await registry.shutdown()
