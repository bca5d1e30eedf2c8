"""The batches package's policies, from settings (called by the batch endpoints per request and
by ``manage.py poll_batches`` once per run)."""

from django.conf import settings

from chatapp.batches.policy import JobLimits, PollerPolicy
from chatapp.policies.operations import poller_heartbeat


def job_limits() -> JobLimits:
    return JobLimits(
        max_documents=settings.CHATAPP_BATCH_MAX_DOCUMENTS,
        max_prompt_chars=settings.CHATAPP_MAX_MESSAGE_CHARS,
        default_max_tokens=settings.CHATAPP_MAX_OUTPUT_TOKENS,
    )


def batch_poller() -> PollerPolicy:
    return PollerPolicy(
        idle_seconds=settings.CHATAPP_BATCH_IDLE_SECONDS,
        poll_seconds=settings.CHATAPP_BATCH_POLL_SECONDS,
        poll_max_seconds=settings.CHATAPP_BATCH_POLL_MAX_SECONDS,
        max_requests=settings.CHATAPP_BATCH_MAX_REQUESTS,
        max_bytes=settings.CHATAPP_BATCH_MAX_BYTES,
        heartbeat=poller_heartbeat(),
    )
