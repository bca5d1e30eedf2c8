"""What the attachments package is told by the deployment (built from settings by
``chatapp/policies/attachments.py`` at the edges, per request)."""

from dataclasses import dataclass

from chatapp.safety.policy import ContentPolicy


@dataclass(frozen=True)
class UploadPolicy:
    """How a file coming in is judged (``intake.py``).

    - ``max_upload_bytes``: ``CHATAPP_MAX_UPLOAD_BYTES``, the largest file one upload may be;
    - ``max_upload_mb``: ``CHATAPP_MAX_UPLOAD_MB``, the same in the words of a refusal;
    - ``max_image_base64_bytes``: ``ANTHROPIC_MAX_IMAGE_BASE64_BYTES``, what a prepared image's
      base64 may take;
    - ``content``: the content checks run on a document's text (flagged only, never changed);
    - ``default_model``: ``CHATAPP_DEFAULT_MODEL``, whose limits a project's files (a project
      has no model) and a conversation's whose model left the catalog are judged by.
    """

    max_upload_bytes: int
    max_upload_mb: int
    max_image_base64_bytes: int
    content: ContentPolicy
    default_model: str


@dataclass(frozen=True)
class PromptPolicy:
    """How sent attachments join a request (``prompting.py``).

    - ``max_image_base64_bytes``: ``ANTHROPIC_MAX_IMAGE_BASE64_BYTES`` (an image stored under a
      higher limit is left out with a note);
    - ``documents_searchable``: ``CHATAPP_TOOLS`` (a project document left out can still be
      searched by Claude, and its note says so).
    """

    max_image_base64_bytes: int
    documents_searchable: bool
