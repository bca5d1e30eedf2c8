"""The usage and cost columns every priced call keeps (a reply, a usage record, a batch item)."""


from django.db import models


class UsageFields(models.Model):
    """Token counts as the API reports them, split the way they are priced."""

    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_write_5m_tokens = models.PositiveIntegerField(default=0)
    cache_write_1h_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    # None means "no price known for this model": unpriced, never silently zero.
    cost_usd = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    cost_breakdown = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True
