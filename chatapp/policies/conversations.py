"""The conversation defaults from settings: the one place CHATAPP_DEFAULT_MODEL is read (the
model used when none is chosen: a new conversation, a batch job, an estimate, an import naming
an unknown model, a project's documents; what Auto is compared with)."""

from django.conf import settings

from chatapp.conversations.policy import ConversationDefaults


def conversation_defaults() -> ConversationDefaults:
    return ConversationDefaults(
        model=settings.CHATAPP_DEFAULT_MODEL,
        max_output_tokens=settings.CHATAPP_MAX_OUTPUT_TOKENS,
    )


def default_model_id() -> str:
    """The catalog id of the model used when none is chosen, for edges that need only it."""
    return conversation_defaults().model
