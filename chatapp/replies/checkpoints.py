"""What a reply's checkpoint keeps besides its text: the usage known so far, so that a reply
whose process died is still billed (issue 24 item 7).

The relay checkpoints on a timer (chatapp/replies/service.py ``_checkpoint``); each checkpoint
stores,
in the same write as the text, the calls of the reply that reached Claude: finished ones as
the API reported them, the one streaming with its input usage from ``message_start`` and its
output estimated from the characters so far. It is kept in the reply's ``options`` under
``CHECKPOINT_USAGE`` (a JSON field it already has: no migration) and dropped by the final
write. A reply that never gets its final write (``kill -9``, a failed final write) is ended by
``end_orphan``, which records those calls as usage records marked estimated, priced, in the
user's month, and shows their sum on the reply with ``cost_breakdown["estimated"]`` (and
``options["cost_estimated"]``, which the page reads: its footer shows "≈ $… (estimate)").
Synchronous: call through ``database_sync_to_async``.
"""

import functools
import json
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from chatapp.billing import accounting
from chatapp.claude.prompt import user_content
from chatapp.claude.types import Usage
from chatapp.models import CallPurpose, Message, MessageStatus, UsageRecord

CHECKPOINT_USAGE = "checkpoint_usage"
COST_ESTIMATED = "cost_estimated"


def snapshot(calls: list[tuple[Usage, str]], *, continuing: bool) -> dict[str, Any] | None:
    """The checkpoint's record of ``calls`` ((usage, request id) each), or None if none."""
    if not calls:
        return None
    return {
        "continuing": continuing,  # the reply already holds the billed usage of its first run
        "calls": [{**usage.as_dict(), "thinking_tokens": usage.thinking_tokens,
                   "web_search_requests": usage.web_search_requests,
                   "estimated": usage.estimated, "request_id": request_id}
                  for usage, request_id in calls],
    }


# The snapshot goes into the reply's ``options`` by the database, in the checkpoint's UPDATE:
# no read of the row first (issue 18: a checkpoint was a locked read and a write, every couple
# of seconds for every streaming reply).
_SET_SNAPSHOT = {
    "sqlite": f"json_set({{column}}, '$.{CHECKPOINT_USAGE}', json(%s))",
    "postgresql": f"jsonb_set({{column}}, '{{{{{CHECKPOINT_USAGE}}}}}', (%s)::jsonb)",
}


@functools.cache
def _checkpoint_sql(with_usage: bool) -> str:
    """The checkpoint's statement, written once: compiled through the ORM (a JSON field, a
    custom expression) it cost ~1.5 ms of Python, every 2 s of every streaming reply."""
    quote, meta = connection.ops.quote_name, Message._meta
    column = {name: quote(meta.get_field(name).column)
              for name in ("content", "updated_at", "options", "status")}
    sets = f"{column['content']} = %s, {column['updated_at']} = %s"
    if with_usage:
        options = _SET_SNAPSHOT[connection.vendor].format(column=column["options"])
        sets += f", {column['options']} = {options}"
    return (f"UPDATE {quote(meta.db_table)} SET {sets} "
            f"WHERE {quote(meta.pk.column)} = %s AND {column['status']} = %s")


def save_checkpoint(reply_id: int, text: str, usage: dict[str, Any] | None) -> None:
    """The text so far and, in the same write, the usage known so far: one conditional
    UPDATE, which changes nothing once the reply has ended (or was deleted)."""
    fields = Message._meta
    params = [
        fields.get_field("content").get_db_prep_save(user_content(text), connection),
        fields.get_field("updated_at").get_db_prep_save(timezone.now(), connection),
    ]
    if usage is not None:
        params.append(json.dumps(usage))
    params += [reply_id, MessageStatus.STREAMING.value]
    with connection.cursor() as cursor:
        cursor.execute(_checkpoint_sql(usage is not None), params)


def without_snapshot(options: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if key != CHECKPOINT_USAGE}


def bill_reply(
    reply: Message, records: list[UsageRecord], usages: list[Usage], *, adding: bool
) -> None:
    """The reply shows the sum of its calls (and, when continued, of its earlier ones too):
    usage, cost (unpriced if any call is) and the breakdown by price category."""
    usage = sum(usages, Usage())
    costs = [record.cost_usd for record in records]
    breakdowns = [record.cost_breakdown for record in records]
    adding = adding and bool(reply.cost_breakdown)  # an earlier run that reached Claude
    if adding:
        usage = usage + Usage(**{name: getattr(reply, name) for name in Usage().as_dict()})
        costs.append(reply.cost_usd)
        breakdowns.append(reply.cost_breakdown)
    for name, value in usage.as_dict().items():
        setattr(reply, name, value)
    reply.cost_usd = None if None in costs else sum(costs, Decimal(0))
    combined: dict[str, Any] = {}
    for breakdown in breakdowns:
        for key, value in breakdown.items():
            if isinstance(value, str):
                combined[key] = str(Decimal(combined.get(key, "0")) + Decimal(value))
            elif isinstance(value, int) and not isinstance(value, bool) and key != "calls":
                combined[key] = combined.get(key, 0) + value  # e.g. thinking_tokens
            elif isinstance(value, bool):
                combined[key] = combined.get(key, False) or value  # e.g. estimated
            elif key != "calls":
                combined[key] = value
    combined["calls"] = len(records) + (reply.cost_breakdown.get("calls", 1) if adding else 0)
    reply.cost_breakdown = combined


def _bill_snapshot(reply: Message) -> None:
    """Record the calls of the reply's last checkpoint, as estimates, and show their sum."""
    kept = reply.options.get(CHECKPOINT_USAGE)
    reply.options = without_snapshot(reply.options)
    if not kept or not kept.get("calls"):
        return
    usages, records = [], []
    for call in kept["calls"]:
        usage = Usage(**{name: int(call.get(name, 0)) for name in (
            *Usage().as_dict(), "thinking_tokens", "web_search_requests")}, estimated=True)
        usages.append(usage)
        records.append(accounting.record_call(
            user_id=reply.conversation.owner_id, purpose=CallPurpose.REPLY, model_id=reply.model,
            usage=usage, request_id=call.get("request_id", ""),
            conversation_id=reply.conversation_id, message_id=reply.pk, estimated=True,
        ))
    bill_reply(reply, records, usages, adding=bool(kept.get("continuing")))
    # For the page (options reach it with the reply): the footer shows the cost as "≈".
    reply.options = {**reply.options, COST_ESTIMATED: True}


@transaction.atomic
def end_orphan(
    message_id: int, *, status: str, error_code: str, error_message: str,
    text: str | None = None,
) -> Message | None:
    """End a reply nobody is writing any more (its process died, or its final write failed):
    ``status`` with the error given, ``text`` (fresher than the checkpoint's) if any, and the
    checkpoint's usage billed as an estimate. None if it is no longer streaming."""
    reply = (
        Message.objects.select_for_update(of=("self",)).select_related("conversation")
        .filter(pk=message_id, status=MessageStatus.STREAMING).first()
    )
    if reply is None:
        return None
    reply.status, reply.error_code, reply.error_message = status, error_code, error_message
    if text:
        reply.content = user_content(text)
    _bill_snapshot(reply)
    reply.updated_at = timezone.now()
    reply.save()
    return reply
