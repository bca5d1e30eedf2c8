"""GET /metrics: Prometheus' text format, for a bearer token or a staff session, counting what
the app does (real replies through the SDK against the offline upstream) and summing every
process's counts in multiprocess mode."""

import os
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from chatapp.models import BatchJob, BatchJobStatus, Budget, MessageStatus
from chatapp.policies.replies import reply_policy
from chatapp.policies.safety import rate_limits
from chatapp.replies import registry, turns
from chatapp.replies import service as replies
from chatapp.safety import ratelimits
from tests.factories import logged_in, make_conversation, make_exchange, make_user

TOKEN = "scrape-secret-0123456789"
MODEL = "claude-sonnet-4-6"


@pytest.fixture(autouse=True)
def metrics_token(settings, monkeypatch):
    settings.CHATAPP_METRICS_TOKEN = TOKEN
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


def scrape(client: Client | None = None) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, by name and labels."""
    client = client or Client(headers={"Authorization": f"Bearer {TOKEN}"})
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.django_db
def test_metrics_need_the_bearer_token_or_a_staff_session():
    anonymous = Client().get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    wrong = Client(headers={"Authorization": "Bearer not-the-token"}).get("/metrics")
    assert wrong.status_code == 401
    assert logged_in(make_user()).get("/metrics").status_code == 403
    scrape(logged_in(make_user(is_staff=True)))
    scrape()


@pytest.mark.django_db
def test_without_a_configured_token_no_bearer_is_believed(settings):
    settings.CHATAPP_METRICS_TOKEN = ""
    assert Client(headers={"Authorization": "Bearer "}).get("/metrics").status_code == 401


@pytest.mark.django_db(transaction=True)
async def test_a_reply_is_counted_with_its_tokens_cost_and_timings(claude, finish_replies):
    conversation = await sync_to_async(make_conversation)(model=MODEL)
    before = await sync_to_async(scrape)()
    await replies.start_reply(conversation.pk, "Say hello.", None, (), policy=reply_policy())
    await registry.wait_for_all()
    after = await sync_to_async(scrape)()

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("chatapp_replies_started_total", model=MODEL) == 1
    assert grew("chatapp_replies_finished_total", model=MODEL, outcome="complete") == 1
    assert grew("chatapp_reply_time_to_first_token_seconds_count", model=MODEL) == 1
    assert grew("chatapp_reply_duration_seconds_count", model=MODEL) == 1
    assert grew("chatapp_reply_duration_seconds_sum", model=MODEL) > 0
    assert grew("chatapp_tokens_total", model=MODEL, kind="input") > 0
    assert grew("chatapp_tokens_total", model=MODEL, kind="output") > 0
    assert grew("chatapp_cost_usd_total", model=MODEL, kind="output") > 0
    assert value(after, "chatapp_streams_in_progress") == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("fault", "outcome", "error_type"), [
    ({"kind": "status", "status": 529}, "error", "overloaded_error"),
    # Midway the SDK lets the transport error through unwrapped: still counted, by its kind.
    ({"kind": "drop", "after_tokens": 3}, "interrupted", "connection"),
], ids=["overloaded", "dropped-midway"])
async def test_a_failed_reply_is_counted_by_outcome_and_upstream_error_type(
    claude, finish_replies, settings, fault, outcome, error_type
):
    settings.CHATAPP_STREAM_RECOVERIES = 0
    conversation = await sync_to_async(make_conversation)(model=MODEL)
    claude.add_faults([fault])
    before = await sync_to_async(scrape)()
    await replies.start_reply(conversation.pk, "Say hello.", None, (), policy=reply_policy())
    await registry.wait_for_all()
    after = await sync_to_async(scrape)()
    for name, labels in [
        ("chatapp_replies_finished_total", {"model": MODEL, "outcome": outcome}),
        ("chatapp_upstream_errors_total", {"type": error_type}),
    ]:
        assert value(after, name, **labels) - value(before, name, **labels) == 1, name


@pytest.mark.django_db
def test_budget_and_rate_limit_refusals_are_counted():
    one_message = replace(rate_limits(), message=1)
    user = make_user()
    conversation = make_conversation(owner=user)
    Budget.objects.create(user=user, monthly_usd=Decimal("0"))
    before = scrape()
    with pytest.raises(turns.ReplyRefused):
        turns.refuse_if_over_budget(conversation)
    ratelimits.spend_sync(user.pk, "message", one_message)
    with pytest.raises(ratelimits.RateLimited):
        ratelimits.spend_sync(user.pk, "message", one_message)
    after = scrape()
    assert value(after, "chatapp_budget_refusals_total", stage="reply") - value(
        before, "chatapp_budget_refusals_total", stage="reply") == 1
    assert value(after, "chatapp_rate_limit_refusals_total", action="message") - value(
        before, "chatapp_rate_limit_refusals_total", action="message") == 1


@pytest.mark.django_db
def test_streams_in_progress_and_batch_jobs_by_state_come_from_the_database():
    conversation = make_conversation()
    make_exchange(conversation, "Still going?", "Yes", status=MessageStatus.STREAMING)
    owner = conversation.owner
    for status in (BatchJobStatus.IN_PROGRESS, BatchJobStatus.IN_PROGRESS,
                   BatchJobStatus.SUBMITTING):
        BatchJob.objects.create(owner=owner, prompt="Who?", model=MODEL, max_tokens=100,
                                status=status)
    samples = scrape()
    assert value(samples, "chatapp_streams_in_progress") == 1
    assert value(samples, "chatapp_batch_jobs", state="in_progress") == 2
    assert value(samples, "chatapp_batch_jobs", state="submitting") == 1
    # Every state is there, an empty one as 0 (absent would read as "unknown").
    assert all(("chatapp_batch_jobs", frozenset({("state", state)})) in samples
               for state in BatchJobStatus.values)


@pytest.mark.django_db
def test_in_multiprocess_mode_a_scrape_sums_every_process(tmp_path, monkeypatch):
    """Two other processes count replies; a scrape of this one reports both."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = "from chatapp.operations import metrics; metrics.reply_started('claude-x')"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape()
    assert value(samples, "chatapp_replies_started_total", model="claude-x") == 2
    assert ("chatapp_streams_in_progress", frozenset()) in samples  # the database's, too


# A long-lived process makes its counter at start and counts later, as the server and the
# poller do; "go" on stdin lets both make theirs before either counts.
CONTAINER_PROCESS = """
import sys
from chatapp.operations import metrics
tokens = metrics.TOKENS.labels(model="claude-x", kind="output")
print("ready", flush=True)
sys.stdin.readline()
tokens.inc(int(sys.argv[1]))
"""
# Its own PID and UTS namespaces: PID 1 and its own host name, as in a container.
AS_IN_A_CONTAINER = ["unshare", "--user", "--map-root-user", "--pid", "--uts", "--fork",
                     "sh", "-c", 'hostname "$0" && exec "$@"']


@pytest.mark.django_db
def test_containers_sharing_the_directory_each_count_in_their_own_files(tmp_path, monkeypatch):
    """compose.yaml: the server and the batch poller, each PID 1 in its own container, share
    the directory on a volume; the tokens the poller counts for a batch reach the server's
    scrape, added to the server's own (named by PID alone, both wrote the same file)."""
    try:
        subprocess.run([*AS_IN_A_CONTAINER, "probe", "true"], check=True, timeout=30,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot start a process in its own PID and UTS namespaces here: {exc}")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    processes = {
        host: subprocess.Popen(
            [*AS_IN_A_CONTAINER, host, sys.executable, "-c", CONTAINER_PROCESS, str(tokens)],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for host, tokens in (("app", 5), ("poller", 7))
    }
    for process in processes.values():
        assert process.stdout.readline() == "ready\n"
    for process in processes.values():
        process.communicate("go\n", timeout=60)
        assert process.returncode == 0
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape()
    assert value(samples, "chatapp_tokens_total", model="claude-x", kind="output") == 12
