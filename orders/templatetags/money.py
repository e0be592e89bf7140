"""Amounts of money in templates: `{{ amount|dollars }}` writes 1,234.50.

Equal to `floatformat:"2g"` for the portal's single (English) locale, without its locale
lookups, which cost a measurable share of the quote panel's rendering on every keystroke
(docs/performance.md, "Quote overhead"). Rounds half up to the cent, as `floatformat` and
`orders/quotes.py` do.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()

CENT = Decimal("0.01")


@register.filter(is_safe=True)
def dollars(value: object) -> str:
    """Two decimals with thousands separators; "" for what is not a number (as floatformat)."""
    if value is None or value == "":
        return ""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"
    except (InvalidOperation, ValueError):
        return ""
