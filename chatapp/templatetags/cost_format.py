"""How the cost review writes money, token counts and shares."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def usd(amount: Decimal | None) -> str:
    """Dollars to the cent, or to a hundredth of a cent below a dollar (single calls cost
    fractions of a cent); None is "unpriced", never $0."""
    if amount is None:
        return "unpriced"
    sign = "-" if amount < 0 else ""
    if amount and abs(amount) < 1:
        return f"{sign}${abs(amount):.4f}"
    return f"{sign}${abs(amount):,.2f}"


@register.filter
def tokens(count: int | None) -> str:
    return f"{count or 0:,}"


@register.filter
def percent(share: Decimal | float | None) -> str:
    return "—" if share is None else f"{float(share) * 100:.0f}%"
