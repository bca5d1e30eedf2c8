"""Attachments' files: stored with their row, deleted once the row's deletion commits.
The bytes live in files (``default_storage``), never in the database."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction

from chatapp.models import (
    Attachment,
)

logger = logging.getLogger(__name__)


# --- Files -----------------------------------------------------------------------------------


def file_names(attachment: Attachment) -> list[str]:
    return [field.name for field in (attachment.original, attachment.prepared) if field]


def delete_files(names: Sequence[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete %s", name)


def delete_files_when_committed(sender: type, instance: Attachment, **kwargs: Any) -> None:
    """post_delete receiver: the files go once the row's deletion is committed (connected in
    ``apps.py``, so a deleted conversation takes its attachments' files with it)."""
    names = file_names(instance)
    transaction.on_commit(lambda: delete_files(names))
