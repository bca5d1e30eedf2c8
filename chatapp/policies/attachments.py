"""The attachments package's policies, from settings (called by the edges, per request)."""

from django.conf import settings

from chatapp.attachments.policy import PromptPolicy, UploadPolicy
from chatapp.policies.conversations import default_model_id
from chatapp.policies.safety import content_policy


def upload_policy() -> UploadPolicy:
    return UploadPolicy(
        max_upload_bytes=settings.CHATAPP_MAX_UPLOAD_BYTES,
        max_upload_mb=settings.CHATAPP_MAX_UPLOAD_MB,
        max_image_base64_bytes=settings.ANTHROPIC_MAX_IMAGE_BASE64_BYTES,
        content=content_policy(),
        default_model=default_model_id(),
    )


def prompt_policy() -> PromptPolicy:
    return PromptPolicy(
        max_image_base64_bytes=settings.ANTHROPIC_MAX_IMAGE_BASE64_BYTES,
        documents_searchable=settings.CHATAPP_TOOLS,
    )
