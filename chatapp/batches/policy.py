"""What the batches package is told by the deployment (built from settings by
``chatapp/policies/batches.py`` at the edges: the batch endpoints and ``manage.py
poll_batches``)."""

from dataclasses import dataclass

from chatapp.operations.policy import PollerHeartbeat


@dataclass(frozen=True)
class JobLimits:
    """What one batch job may ask (``jobs.py``).

    - ``max_documents``: ``CHATAPP_BATCH_MAX_DOCUMENTS``;
    - ``max_prompt_chars``: ``CHATAPP_MAX_MESSAGE_CHARS`` (the prompt, like a message);
    - ``default_max_tokens``: ``CHATAPP_MAX_OUTPUT_TOKENS``, for a job that names none (within
      the model's own limit).
    """

    max_documents: int
    max_prompt_chars: int
    default_max_tokens: int


@dataclass(frozen=True)
class PollerPolicy:
    """How the batch poller goes about its work (``poller.py``, ``submission.py``,
    ``polling.py``).

    - ``idle_seconds``: ``CHATAPP_BATCH_IDLE_SECONDS``, the pause between two rounds;
    - ``poll_seconds``: ``CHATAPP_BATCH_POLL_SECONDS``, a sent batch's first look and the
      shortest interval between looks;
    - ``poll_max_seconds``: ``CHATAPP_BATCH_POLL_MAX_SECONDS``, the longest;
    - ``max_requests``: ``CHATAPP_BATCH_MAX_REQUESTS``, per Message Batch;
    - ``max_bytes``: ``CHATAPP_BATCH_MAX_BYTES``, per Message Batch;
    - ``heartbeat``: where the poller says it is alive (``/readyz`` looks there).
    """

    idle_seconds: float
    poll_seconds: float
    poll_max_seconds: float
    max_requests: int
    max_bytes: int
    heartbeat: PollerHeartbeat
