"""What a reply may do, and how this process keeps its replies alive: frozen values the edges
build from settings (chatapp/policies/replies.py) and hand to ``service`` and ``registry``."""

from dataclasses import dataclass

from chatapp.attachments.policy import PromptPolicy
from chatapp.conversations.policy import ConversationDefaults
from chatapp.safety.policy import ContentPolicy


@dataclass(frozen=True)
class ProcessPolicy:
    """One server process among others. ``redis_url``: REDIS_URL ("" when this process is the
    only one: no heartbeats, the live state in memory). ``heartbeat_seconds``:
    CHATAPP_HEARTBEAT_SECONDS (a heartbeat expires after three). ``shutdown_grace_seconds``:
    CHATAPP_SHUTDOWN_GRACE_SECONDS, what running replies get when the process stops."""

    redis_url: str
    heartbeat_seconds: float
    shutdown_grace_seconds: float


@dataclass(frozen=True)
class ReplyPolicy:
    """One reply's limits, read when it starts.

    - ``coalesce_seconds``: CHATAPP_COALESCE_MS / 1000, deltas gathered into one frame;
    - ``checkpoint_seconds``: CHATAPP_CHECKPOINT_SECONDS, between the text's checkpoints;
    - ``max_recoveries``: CHATAPP_STREAM_RECOVERIES, broken streams recovered per call;
    - ``max_tool_rounds``: CHATAPP_TOOL_ROUNDS;
    - ``tools``: CHATAPP_TOOLS, our tools offered at all;
    - ``web_search``: CHATAPP_SERVER_TOOLS with a real ANTHROPIC_API_KEY;
    - ``keep_messages``: CHATAPP_COMPACTION_KEEP_MESSAGES, the last messages never summarised;
    - ``router_confirm``: CHATAPP_ROUTER_CONFIRM, Auto asks the cheapest model when unsure;
    - ``defaults``: the conversation defaults (CHATAPP_DEFAULT_MODEL, CHATAPP_MAX_OUTPUT_TOKENS);
    - ``process``: Redis, heartbeats and the shutdown grace of this process;
    - ``prompt``: how its sent attachments join the request (image sizes, searchable documents);
    - ``content``: the content checks its final text goes through.
    """

    coalesce_seconds: float
    checkpoint_seconds: float
    max_recoveries: int
    max_tool_rounds: int
    tools: bool
    web_search: bool
    keep_messages: int
    router_confirm: bool
    defaults: ConversationDefaults
    process: ProcessPolicy
    prompt: PromptPolicy
    content: ContentPolicy
