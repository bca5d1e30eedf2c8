"""Budgets, the monthly spend ledger, and what caching and batching saved on each call.

Existing usage records are priced for their savings at the rates in force when they were
made, and each user's months are added up into the ledger.
"""

from decimal import Decimal

import django.core.validators
import django.db.models.deletion
import django.db.models.functions.comparison
from django.conf import settings
from django.db import migrations, models


def _bands(price_model, model_id, at):
    from chatapp.claude.pricing import PriceRates

    latest = (
        price_model.objects.filter(model_id=model_id, effective_from__lte=at)
        .order_by("-effective_from").values_list("effective_from", flat=True).first()
    )
    rows = price_model.objects.filter(model_id=model_id, effective_from=latest) if latest else []
    return [
        PriceRates(
            input=r.input_per_mtok, output=r.output_per_mtok,
            cache_write_5m=r.cache_write_5m_per_mtok, cache_write_1h=r.cache_write_1h_per_mtok,
            cache_read=r.cache_read_per_mtok, batch_multiplier=r.batch_multiplier,
            web_search_per_thousand=r.web_search_per_thousand,
            prompt_tokens_above=r.prompt_tokens_above,
        )
        for r in rows
    ]


def backfill(apps, schema_editor):
    from chatapp.claude.pricing import batch_savings, cache_savings, pick_band
    from chatapp.claude.types import Usage

    UsageRecord = apps.get_model("chatapp", "UsageRecord")
    ModelPrice = apps.get_model("chatapp", "ModelPrice")
    MonthlySpend = apps.get_model("chatapp", "MonthlySpend")
    months = {}
    for record in UsageRecord.objects.filter(cost_usd__isnull=False).iterator():
        usage = Usage(
            input_tokens=record.input_tokens, output_tokens=record.output_tokens,
            cache_write_5m_tokens=record.cache_write_5m_tokens,
            cache_write_1h_tokens=record.cache_write_1h_tokens,
            cache_read_tokens=record.cache_read_tokens,
        )
        bands = _bands(ModelPrice, record.model, record.created_at)
        if bands:
            rates = pick_band(bands, usage.prompt_tokens)
            record.cache_savings_usd = cache_savings(usage, rates, batch=record.is_batch)
            record.batch_savings_usd = batch_savings(usage, rates, batch=record.is_batch)
            record.save(update_fields=["cache_savings_usd", "batch_savings_usd"])
        key = (record.user_id, record.created_at.date().replace(day=1))
        months[key] = months.get(key, 0) + record.cost_usd
    MonthlySpend.objects.bulk_create(
        MonthlySpend(user_id=user_id, month=month, spent_usd=spent)
        for (user_id, month), spent in months.items()
    )


class Migration(migrations.Migration):

    dependencies = [
        ('chatapp', '0004_content_flags'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='usagerecord',
            name='batch_savings_usd',
            field=models.DecimalField(blank=True, decimal_places=8, max_digits=14, null=True),
        ),
        migrations.AddField(
            model_name='usagerecord',
            name='cache_savings_usd',
            field=models.DecimalField(blank=True, decimal_places=8, max_digits=14, null=True),
        ),
        migrations.AddField(
            model_name='usagerecord',
            name='web_search_requests',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.CreateModel(
            name='BudgetReservation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField()),
                ('amount_usd', models.DecimalField(decimal_places=8, max_digits=14)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.CreateModel(
            name='Budget',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('monthly_usd', models.DecimalField(decimal_places=2, max_digits=12, validators=[django.core.validators.MinValueValidator(Decimal('0'))], verbose_name='monthly budget (USD)')),
                ('user', models.OneToOneField(blank=True, help_text='Leave empty for the default that applies to everyone else', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='budget', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(django.db.models.functions.comparison.Coalesce('user', models.Value(0)), name='one_budget_per_user_and_one_default', violation_error_message='There is already a budget for this user (or already a default budget).')],
            },
        ),
        migrations.CreateModel(
            name='MonthlySpend',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField(help_text='The first day of the month')),
                ('spent_usd', models.DecimalField(decimal_places=8, default=Decimal('0'), max_digits=16)),
                ('reserved_usd', models.DecimalField(decimal_places=8, default=Decimal('0'), max_digits=16)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='monthly_spend', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('user', 'month'), name='one_spend_row_per_month')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
