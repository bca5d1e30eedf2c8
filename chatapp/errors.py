"""The one error base: what a user is told when we refuse or fail them.

Every refusal that reaches a person carries a protocol ``code`` (docs/protocol.md), a
``message`` in plain words and the HTTP status a JSON endpoint answers with; a 429 also says
when to retry. The edges translate them in one place each: ``web/endpoints.py`` into JSON
responses, ``web/consumer.py`` into error frames. Imports nothing of ours, so every layer may
raise one.
"""


class ChatappError(Exception):
    """A refusal or failure shown to the user: ``code``, ``message``, ``http_status``."""

    code = "error"
    http_status = 400
    retry_after: int | None = None  # seconds, for a 429

    def __init__(self, message: str, http_status: int | None = None, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if http_status is not None:
            self.http_status = http_status
        if code is not None:
            self.code = code
