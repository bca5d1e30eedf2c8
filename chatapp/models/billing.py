"""Usage records of every call, the day's sums, monthly budgets, spend and reservations."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Value
from django.db.models.functions import Coalesce

from chatapp.models.catalog import ClaudeModel
from chatapp.models.conversations import Conversation, Message
from chatapp.models.usage import UsageFields


class CallPurpose(models.TextChoices):
    REPLY = "reply", "Reply"
    TITLE = "title", "Title"
    TOKEN_COUNT = "token_count", "Token count"
    SUMMARY = "summary", "Summary of earlier turns"
    ROUTING = "routing", "Model routing"
    BATCH = "batch", "Batch job item"


class UsageRecord(UsageFields):
    """One call that reached Claude, priced when its usage arrived.

    Kept when its conversation is deleted: spend does not disappear with the chat.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records"
    )
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage_records"
    )
    purpose = models.CharField(max_length=20, choices=CallPurpose.choices)
    model = models.CharField(max_length=100)
    request_id = models.CharField(max_length=100, blank=True)
    is_batch = models.BooleanField(default=False)
    web_search_requests = models.PositiveIntegerField(default=0)
    # Priced with the call, like cost_usd, so the cost review only has to add them up: the
    # cached tokens at the plain input price minus what they cost, and the batch discount.
    cache_savings_usd = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True
    )
    batch_savings_usd = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="usage_user_time"),
            models.Index(fields=["created_at"], name="usage_time"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} on {self.model} for {self.user_id}"


class Budget(models.Model):
    """A monthly spending limit in USD: one per user, and one without a user for everyone
    who has none of their own. Without either, spending is not limited."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="budget",
        help_text="Leave empty for the default that applies to everyone else",
    )
    monthly_usd = models.DecimalField(
        "monthly budget (USD)",
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0))],
    )

    class Meta:
        constraints = [
            # A NULL user is the default; several NULLs would pass a plain unique constraint.
            models.UniqueConstraint(
                Coalesce("user", Value(0)),
                name="one_budget_per_user_and_one_default",
                violation_error_message="There is already a budget for this user "
                "(or already a default budget).",
            )
        ]

    def __str__(self) -> str:
        who = self.user.get_username() if self.user_id else "everyone (default)"
        return f"${self.monthly_usd} a month for {who}"


class MonthlySpend(models.Model):
    """A user's spend and open reservations in one calendar month (UTC).

    The row budget checks are made against: a reservation is one conditional UPDATE of it,
    so concurrent requests cannot together pass the budget.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="monthly_spend"
    )
    month = models.DateField(help_text="The first day of the month")
    spent_usd = models.DecimalField(max_digits=16, decimal_places=8, default=Decimal(0))
    reserved_usd = models.DecimalField(max_digits=16, decimal_places=8, default=Decimal(0))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "month"], name="one_spend_row_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.month:%Y-%m}: ${self.spent_usd}"


class BudgetReservation(models.Model):
    """The worst-case cost of a call in flight, held against the budget until it settles."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    month = models.DateField()
    amount_usd = models.DecimalField(max_digits=14, decimal_places=8)
    created_at = models.DateTimeField(auto_now_add=True)
    # A batch job's reservation lives as long as the job (a day or more, across restarts):
    # it shrinks as its documents are answered, never freed as stale or at start-up.
    batch_job = models.OneToOneField(
        "BatchJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="reservation"
    )

    # The groups whose whole-group budget this reservation is also held against (issue 21):
    # kept with it, so it is given back to the same groups if membership changes meanwhile.
    group_ids = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"${self.amount_usd} held for {self.user_id}"


class GroupPolicy(models.Model):
    """What a group's members may spend and which models they may use (issue 21).

    ``monthly_limit_usd`` caps the group as a whole (its ``GroupMonthlySpend``);
    ``per_member_limit_usd`` caps each member's own month, beside their own (or the default)
    budget. Empty ``allowed_models``: every model. A member of several groups is held to
    every limit, and may use a model only if each of their groups with a list allows it.
    """

    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE, related_name="policy")
    monthly_limit_usd = models.DecimalField(
        "monthly budget for the whole group (USD)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Empty: the group as a whole is not limited",
    )
    per_member_limit_usd = models.DecimalField(
        "monthly budget per member (USD)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Empty: members are limited only by their own (or the default) budget",
    )
    allowed_models = models.ManyToManyField(
        ClaudeModel, blank=True, related_name="+", help_text="None chosen: every model"
    )

    class Meta:
        verbose_name = "group policy"
        verbose_name_plural = "group policies"

    def __str__(self) -> str:
        return f"Policy of {self.group}"


class GroupMonthlySpend(models.Model):
    """A group's spend and open reservations in one calendar month (UTC), for its
    whole-group budget: a reservation is one conditional UPDATE of it, like MonthlySpend."""

    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The first day of the month")
    spent_usd = models.DecimalField(max_digits=16, decimal_places=8, default=Decimal(0))
    reserved_usd = models.DecimalField(max_digits=16, decimal_places=8, default=Decimal(0))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "month"], name="one_group_spend_per_month")
        ]

    def __str__(self) -> str:
        return f"group {self.group_id} in {self.month:%Y-%m}: ${self.spent_usd}"


class DailyUsage(models.Model):
    """Usage records added up per UTC day and per everything the cost review groups by.

    Kept as each call is recorded (``accounting.record_call``), so the review reads a few
    thousand rows instead of every call. ``band_floor``: the largest price-band threshold
    the call's whole prompt exceeded, so tiered prices can be applied to the sums.
    """

    day = models.DateField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=100)
    purpose = models.CharField(max_length=20, choices=CallPurpose.choices)
    is_batch = models.BooleanField(default=False)
    band_floor = models.PositiveIntegerField(default=0)
    # Calls to a model without a price have a row of their own, whose cost stays NULL.
    priced = models.BooleanField(default=True)
    requests = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_5m_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_1h_tokens = models.PositiveBigIntegerField(default=0)
    cache_read_tokens = models.PositiveBigIntegerField(default=0)
    web_search_requests = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    cache_savings_usd = models.DecimalField(max_digits=18, decimal_places=8, default=Decimal(0))
    batch_savings_usd = models.DecimalField(max_digits=18, decimal_places=8, default=Decimal(0))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "user", "model", "purpose", "is_batch", "band_floor", "priced"],
                name="one_daily_usage_row",
            )
        ]
        verbose_name_plural = "daily usage"

    def __str__(self) -> str:
        return f"{self.day} {self.user_id} {self.model}"
