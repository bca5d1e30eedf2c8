"""Recorded usage for the cost review's tests, priced by the real accounting."""

from datetime import UTC, datetime
from decimal import Decimal

from chatapp.billing import daily_usage
from chatapp.billing.accounting import record_call
from chatapp.claude.types import Usage
from chatapp.models import Budget, UsageRecord
from tests.factories import make_conversation, make_user


def call(user, model, usage, *, when, batch=False, conversation=None, purpose="reply"):
    """A call recorded as the app records it, then moved back in time (and the daily sums
    rebuilt from the records, as after an import)."""
    record = record_call(user_id=user.pk, purpose=purpose, model_id=model, usage=usage,
                         batch=batch, conversation_id=conversation.pk if conversation else None)
    UsageRecord.objects.filter(pk=record.pk).update(created_at=when)
    daily_usage.rebuild()
    return record


def make_team():
    """Alice: a plain Sonnet call and a cached one; Bob: a Haiku batch item and an unpriced
    call; Carol: a call in October only."""
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    Budget.objects.create(user=None, monthly_usd=Decimal("10"))
    Budget.objects.create(user=bob, monthly_usd=Decimal("0.01"))
    chat = make_conversation(alice, title="Plans")
    # 2000 × $3 + 500 × $15, per million: $0.0135
    call(alice, "claude-sonnet-4-6", Usage(input_tokens=2000, output_tokens=500),
         when=datetime(2026, 11, 3, 9, tzinfo=UTC), conversation=chat)
    # 100 × $3 + 10,000 read × $0.30 + 100 × $15: $0.0048; caching saved 10,000 × ($3 − $0.30)
    call(alice, "claude-sonnet-4-6",
         Usage(input_tokens=100, cache_read_tokens=10_000, output_tokens=100),
         when=datetime(2026, 11, 4, 23, 59, tzinfo=UTC), conversation=chat)
    # (1000 × $1 + 1000 × $5) × 0.5: $0.003, and the batch discount saved as much
    call(bob, "claude-haiku-4-5", Usage(input_tokens=1000, output_tokens=1000),
         when=datetime(2026, 11, 4, 10, tzinfo=UTC), batch=True)
    call(bob, "claude-mystery", Usage(input_tokens=5, output_tokens=5),
         when=datetime(2026, 11, 5, 10, tzinfo=UTC))
    call(carol, "claude-opus-4-7", Usage(input_tokens=1000, output_tokens=1000),
         when=datetime(2026, 10, 31, 23, 59, tzinfo=UTC))
    return alice, bob, carol
