"""Money as the app writes it: one rule per place. The protocol's decimal strings
(``format_usd``) and CSV cells (``csv_usd``) both keep every stored place: costs are kept to 8
places (``UsageFields``), so nothing is rounded away and what is shown adds up."""

from decimal import Decimal


def format_usd(amount: Decimal | None) -> str | None:
    """The protocol's representation: a decimal string, or None when unpriced."""
    if amount is None:
        return None
    return format(amount.normalize(), "f") if amount else "0"


CSV_PLACES = Decimal("0.00000001")  # the places every cost is stored with (``UsageFields``)


def csv_usd(amount: Decimal | None) -> str:
    """Money in a CSV, one rule for every column and file: dollars to 8 places, the places
    costs are stored with (exact: nothing rounded away, so the cells add up to the totals),
    never an exponent (a database sum can come back as ``0E-18``); empty when unpriced."""
    if amount is None:
        return ""
    value = Decimal(amount).quantize(CSV_PLACES)
    return f"{value.copy_abs() if value.is_zero() else value:f}"  # no "-0.00000000"


def dollars(amount: Decimal) -> str:
    """An amount in a sentence a person reads: to the cent, or to a hundredth of a cent below
    one cent (a single call costs less)."""
    return f"${amount:,.2f}" if amount >= Decimal("0.01") or amount == 0 else f"${amount:.4f}"
