"""One billed side call: a title, a summary of earlier turns, Auto's check of its choice.

Every call that reaches Claude is paid for like a reply: its worst case is reserved against
the user's monthly budget before it is sent (refused: ``UpstreamError("budget_exceeded")``,
nothing sent), the reservation is released if the call fails, and once it returns the caller
records it (``record``) in the same transaction that keeps what it produced, which settles the
reservation. Side calls are never streamed: ``claude/messages.complete``.
"""

from dataclasses import dataclass

from channels.db import database_sync_to_async

from chatapp.billing import accounting, reservations
from chatapp.claude import messages as claude_messages
from chatapp.claude.types import Completion
from chatapp.models import CallPurpose


@dataclass
class SideCall:
    """A side call that returned: what it produced and what it holds against the budget."""

    user_id: int
    purpose: CallPurpose
    completion: Completion
    budget: reservations.CallBudget


async def ask(
    user_id: int, purpose: CallPurpose, request: dict, *, subject: str = "This reply"
) -> SideCall:
    """Reserve, then send ``request``; on any failure the reservation is released and the
    error raised (``UpstreamError`` for the API's and the budget's refusals)."""
    budget = reservations.CallBudget(user_id, subject=subject)
    await budget.before_call(request)
    try:
        completion = await claude_messages.complete(request)
    except BaseException:
        await database_sync_to_async(budget.release_all)()
        raise
    return SideCall(user_id, purpose, completion, budget)


def record(
    call: SideCall, *, conversation_id: int | None = None, message_id: int | None = None
) -> None:
    """Bill the call and settle its reservation. Synchronous: inside the caller's transaction,
    with what the call produced."""
    call.budget.release_all()
    accounting.record_call(
        user_id=call.user_id,
        purpose=call.purpose,
        model_id=call.completion.model,
        usage=call.completion.usage,
        request_id=call.completion.request_id,
        conversation_id=conversation_id,
        message_id=message_id,
        group_ids=call.budget.group_ids,
    )


async def release(call: SideCall | None) -> None:
    """Give back what a call holds when what it produced cannot be kept."""
    if call is not None:
        await database_sync_to_async(call.budget.release_all)()
