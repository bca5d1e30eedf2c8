"""Fill the database with realistic usage for load tests of the cost review.

    python manage.py generate_usage --messages 1000000 --users 200 --days 30

Creates users ``load-user-N``, conversations of 20 messages (a question, then a priced reply
with its usage record), and a title call per conversation, spread evenly over the last
``--days`` days; then adds them to the budgets' ledger and rebuilds the daily sums. Models,
cache use and batch share are drawn like a team's traffic; about one call in a hundred is to
a model without a price. Costs are priced with the catalog in force, exactly as live calls
are. Deterministic for a given ``--seed``.
"""

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from chatapp.billing import budgets, daily_usage, limits
from chatapp.billing.accounting import usage_fields
from chatapp.billing.prices import rates_in_force
from chatapp.claude.pricing import batch_savings, cache_savings, pick_band, price_usage
from chatapp.claude.types import Usage
from chatapp.models import (
    CallPurpose,
    Conversation,
    Message,
    MessageStatus,
    Role,
    UsageRecord,
)

MESSAGES_PER_CONVERSATION = 20
# (model, share of replies): mostly Sonnet, some Haiku and Opus, a little unpriced.
MODEL_MIX = (
    ("claude-sonnet-4-6", 55),
    ("claude-haiku-4-5", 20),
    ("claude-opus-4-7", 12),
    ("claude-haiku-5-5", 8),
    ("claude-sonnet-5", 4),
    ("claude-legacy-unpriced", 1),
)
TITLE_MODEL = "claude-haiku-5-5"


@contextmanager
def _keeping_timestamps(*models) -> Iterator[None]:
    """``auto_now_add`` would stamp every row with now; the load spreads over days."""
    fields = [f for m in models for f in m._meta.concrete_fields if getattr(f, "auto_now_add", 0)]
    auto_now = [f for m in models for f in m._meta.concrete_fields if getattr(f, "auto_now", 0)]
    for field in fields:
        field.auto_now_add = False
    for field in auto_now:
        field.auto_now = False
    try:
        yield
    finally:
        for field in fields:
            field.auto_now_add = True
        for field in auto_now:
            field.auto_now = True


class Pricer:
    """Price like ``accounting.record_call`` does, with each model's rates looked up once."""

    def __init__(self) -> None:
        self._bands: dict[str, list] = {}
        self.months: dict[tuple[int, object], Decimal] = {}  # (user, month) → spend

    def count(self, record: UsageRecord) -> None:
        if record.cost_usd is not None:
            key = (record.user_id, limits.month_of(record.created_at))
            self.months[key] = self.months.get(key, Decimal(0)) + record.cost_usd

    def fields(self, model: str, usage: Usage, batch: bool) -> dict:
        if model not in self._bands:
            self._bands[model] = rates_in_force(model)
        bands = self._bands[model]
        if not bands:
            return {**usage_fields(usage, None), "cache_savings_usd": None,
                    "batch_savings_usd": None}
        rates = pick_band(bands, usage.prompt_tokens)
        return {
            **usage_fields(usage, price_usage(usage, rates, batch=batch)),
            "cache_savings_usd": cache_savings(usage, rates, batch=batch),
            "batch_savings_usd": batch_savings(usage, rates, batch=batch),
        }


def _usage(rng: random.Random, turn: int) -> Usage:
    """A reply's usage: the history is read from the cache once a conversation is going."""
    history = turn * rng.randint(300, 900)
    fresh = rng.randint(20, 3000)
    long_prompt = rng.random() < 0.02  # a large document now and then
    if long_prompt:
        fresh += rng.randint(90_000, 150_000)
    written = fresh if rng.random() < 0.8 else 0
    one_hour = rng.random() < 0.15
    return Usage(
        input_tokens=fresh - written + rng.randint(1, 5),
        output_tokens=rng.randint(50, 1500),
        cache_write_5m_tokens=0 if one_hour else written,
        cache_write_1h_tokens=written if one_hour else 0,
        cache_read_tokens=history if rng.random() < 0.9 else 0,
    )


def _pick_model(rng: random.Random) -> str:
    return rng.choices([m for m, _ in MODEL_MIX], weights=[w for _, w in MODEL_MIX])[0]


class Command(BaseCommand):
    help = "Generate users, conversations, messages and priced usage for load tests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--messages", type=int, default=1_000_000,
                            help="messages to create (half questions, half priced replies)")
        parser.add_argument("--users", type=int, default=200)
        parser.add_argument("--days", type=int, default=30, help="spread over the last N days")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--chunk", type=int, default=200,
                            help="conversations written per transaction")

    def handle(self, *args, **options) -> None:
        rng = random.Random(options["seed"])
        users = self._users(options["users"])
        conversations = max(1, options["messages"] // MESSAGES_PER_CONVERSATION)
        now = timezone.now()
        span = timedelta(days=options["days"]).total_seconds()
        pricer = Pricer()
        with _keeping_timestamps(Conversation, Message, UsageRecord):
            for first in range(0, conversations, options["chunk"]):
                count = min(options["chunk"], conversations - first)
                starts = [now - timedelta(seconds=rng.random() * span) for _ in range(count)]
                self._write_chunk(rng, pricer, users, starts)
                done = first + count
                if done % (options["chunk"] * 25) == 0 or done == conversations:
                    self.stdout.write(f"{done * MESSAGES_PER_CONVERSATION:,} messages")
        for (user_id, month), spent in pricer.months.items():  # the budgets' ledger
            budgets.add_spend(user_id, spent, datetime.combine(month, time(), tzinfo=UTC))
        rows = daily_usage.rebuild()  # bulk_create bypassed record_call's daily sums
        self.stdout.write(f"{rows:,} daily usage rows")
        self.stdout.write(self.style.SUCCESS(
            f"Created {conversations * MESSAGES_PER_CONVERSATION:,} messages in "
            f"{conversations:,} conversations for {len(users)} users."
        ))

    def _users(self, count: int) -> list:
        user_model = get_user_model()
        names = [f"load-user-{n}" for n in range(1, count + 1)]
        existing = set(user_model.objects.filter(username__in=names).values_list(
            "username", flat=True))
        user_model.objects.bulk_create(
            user_model(username=name, password="!") for name in names if name not in existing
        )
        return list(user_model.objects.filter(username__in=names))

    @transaction.atomic
    def _write_chunk(self, rng: random.Random, pricer: Pricer, users: list, starts: list) -> None:
        conversations = Conversation.objects.bulk_create(
            Conversation(owner=rng.choice(users), title=f"Load test {rng.randrange(10**6)}",
                         model=_pick_model(rng), created_at=at, updated_at=at)
            for at in starts
        )
        questions, replies = [], []
        for conversation in conversations:
            for turn in range(MESSAGES_PER_CONVERSATION // 2):
                at = conversation.created_at + timedelta(minutes=2 * turn)
                questions.append(Message(
                    conversation=conversation, role=Role.USER, created_at=at, updated_at=at,
                    content=[{"type": "text", "text": "A question"}]))
        Message.objects.bulk_create(questions)
        records = []
        for index, question in enumerate(questions):
            conversation = question.conversation
            batch = rng.random() < 0.03
            usage = _usage(rng, index % (MESSAGES_PER_CONVERSATION // 2))
            priced = pricer.fields(conversation.model, usage, batch)
            at = question.created_at + timedelta(seconds=rng.randint(2, 60))
            replies.append(Message(
                conversation=conversation, role=Role.ASSISTANT, status=MessageStatus.COMPLETE,
                model=conversation.model, reply_to=question, created_at=at, updated_at=at,
                content=[{"type": "text", "text": "An answer"}], stop_reason="end_turn",
                **{k: v for k, v in priced.items() if not k.endswith("savings_usd")}))
            records.append((conversation, at, usage, batch, priced))
        Message.objects.bulk_create(replies)
        records = UsageRecord.objects.bulk_create(
            [UsageRecord(user_id=conversation.owner_id, conversation=conversation, message=reply,
                         purpose=CallPurpose.REPLY, model=conversation.model, is_batch=batch,
                         created_at=at, **priced)
             for reply, (conversation, at, _, batch, priced) in zip(replies, records, strict=True)]
            + [self._title(pricer, c) for c in conversations]
        )
        for record in records:
            pricer.count(record)

    def _title(self, pricer: Pricer, conversation: Conversation) -> UsageRecord:
        usage = Usage(input_tokens=400, output_tokens=8)
        at = conversation.created_at + timedelta(seconds=70)
        return UsageRecord(user_id=conversation.owner_id, conversation=conversation,
                           purpose=CallPurpose.TITLE, model=TITLE_MODEL, created_at=at,
                           **pricer.fields(TITLE_MODEL, usage, False))

