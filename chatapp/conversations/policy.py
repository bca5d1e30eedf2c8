"""What a conversation gets when it does not say: the deployment's defaults, handed in by the
edge (chatapp/policies/conversations.py builds them from settings)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ConversationDefaults:
    """``model``: CHATAPP_DEFAULT_MODEL, the catalog id used when none is chosen (a new
    conversation, a batch job, an estimate, an import naming an unknown model; what Auto is
    compared with). ``max_output_tokens``: CHATAPP_MAX_OUTPUT_TOKENS, what a reply may write
    when its conversation does not say (within the model's limit)."""

    model: str
    max_output_tokens: int
