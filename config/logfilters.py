"""A log filter that keeps the Anthropic API key out of every log line.

The SDK and httpx never log request headers at the levels we set, but a DEBUG run, an
exception that quotes its arguments, or a library update could; this is the backstop.
"""

import logging
import re

from django.conf import settings

# Anthropic keys look like this; anything of that shape is masked even if it is not ours.
_KEY_SHAPE = re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}")
MASK = "[redacted API key]"


def redact_secrets(text: str) -> str:
    key = getattr(settings, "ANTHROPIC_API_KEY", "") or ""
    if len(key) >= 8:  # a shorter "key" is a test value; masking it would garble text
        text = text.replace(key, MASK)
    return _KEY_SHAPE.sub(MASK, text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_secrets(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text)
        return True
