"""Content flags: review a finished reply, keep what was found, count it per user.

``review_reply`` runs inside the reply's final write (``replies/final_write.finish``, one
transaction); ``review_upload_text`` when an uploaded document is stored
(``attachments/intake.store``, off the event loop); ``flagged_message_counts`` is the
selector the cost review shows per user. What to do about a finding is the deployment's
``ContentPolicy`` (``policy.py``), passed in.
"""

from datetime import datetime
from typing import Any

from django.db.models import Count

from chatapp.models import ContentFlag, FlagAction, Message
from chatapp.safety import content_checks
from chatapp.safety.policy import ContentPolicy

MAX_EXCERPT_CHARS = 500


def _excerpt(flag: content_checks.Flag, policy: ContentPolicy) -> str:
    # Text that was redacted or withheld is kept only where the deployment asked for it.
    hidden = flag.action != FlagAction.FLAG
    if hidden and not policy.keep_originals:
        return ""
    return flag.finding.text[:MAX_EXCERPT_CHARS]


def review_reply(
    reply: Message, content: list[dict[str, Any]], policy: ContentPolicy
) -> list[dict[str, Any]]:
    """Check a reply's final content; store its flags; return the content to keep and show.

    Sets ``reply.flag_summary`` (and ``original_content`` when kept) without saving: the
    caller saves the reply in the same transaction.
    """
    review = content_checks.review(content, policy.actions, phone_region=policy.phone_region)
    if reply.flag_summary:  # written once already (a finish that ran twice): start over
        reply.content_flags.all().delete()
    reply.flag_summary = review.summary()
    if review.changed and policy.keep_originals:
        reply.original_content = content
    ContentFlag.objects.bulk_create(
        ContentFlag(
            message=reply,
            category=flag.finding.category,
            kind=flag.finding.kind,
            action=flag.action,
            excerpt=_excerpt(flag, policy),
        )
        for flag in review.flags
    )
    return review.content


def review_upload_text(text: str, policy: ContentPolicy) -> list[dict[str, Any]]:
    """The flag summary of an uploaded document's text: flagged only, never changed."""
    if not text:
        return []
    actions = {
        kind: action if action == content_checks.OFF else FlagAction.FLAG
        for kind, action in policy.actions.items()
    }
    review = content_checks.review(
        [{"type": "text", "text": text}], actions, phone_region=policy.phone_region
    )
    return review.summary()


def flagged_message_counts(
    start: datetime | None = None, end: datetime | None = None
) -> dict[int, dict[str, int]]:
    """Per user id: how many of their messages were flagged, per category.

    ``{user_id: {"personal_data": 2, "dangerous_code": 1}}``; users without flags are absent.
    Counts cover messages that still exist (deleting a conversation deletes its flags).
    """
    rows = ContentFlag.objects.all()
    if start is not None:
        rows = rows.filter(created_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lt=end)
    counts: dict[int, dict[str, int]] = {}
    for row in (
        rows.values("message__conversation__owner", "category")
        .annotate(messages=Count("message", distinct=True))
        .order_by()
    ):
        owner = row["message__conversation__owner"]
        counts.setdefault(owner, {})[row["category"]] = row["messages"]
    return counts
