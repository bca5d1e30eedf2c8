"""A reply's policy and this process's from settings (the socket, the estimate endpoint, the
launcher and the server call these per connection, request or start)."""

from django.conf import settings

from chatapp.policies.attachments import prompt_policy
from chatapp.policies.conversations import conversation_defaults
from chatapp.policies.safety import content_policy
from chatapp.replies.policy import ProcessPolicy, ReplyPolicy


def process_policy() -> ProcessPolicy:
    return ProcessPolicy(
        redis_url=settings.REDIS_URL,
        heartbeat_seconds=settings.CHATAPP_HEARTBEAT_SECONDS,
        shutdown_grace_seconds=settings.CHATAPP_SHUTDOWN_GRACE_SECONDS,
    )


def reply_policy() -> ReplyPolicy:
    return ReplyPolicy(
        coalesce_seconds=settings.CHATAPP_COALESCE_MS / 1000,
        checkpoint_seconds=settings.CHATAPP_CHECKPOINT_SECONDS,
        max_recoveries=settings.CHATAPP_STREAM_RECOVERIES,
        max_tool_rounds=settings.CHATAPP_TOOL_ROUNDS,
        tools=settings.CHATAPP_TOOLS,
        web_search=bool(settings.CHATAPP_SERVER_TOOLS and settings.ANTHROPIC_API_KEY),
        keep_messages=settings.CHATAPP_COMPACTION_KEEP_MESSAGES,
        router_confirm=settings.CHATAPP_ROUTER_CONFIRM,
        defaults=conversation_defaults(),
        process=process_policy(),
        prompt=prompt_policy(),
        content=content_policy(),
    )
