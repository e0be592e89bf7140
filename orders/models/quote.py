"""Quotes: Instantly's simulation answers, each bound to the exact payload it priced."""

from __future__ import annotations

import json
from decimal import Decimal

from django.db import models

from orders.models.order import Order


class Quote(models.Model):
    """An immutable simulation result, bound to the exact payload it priced."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="quotes")
    payload = models.JSONField(
        help_text="The canonical request body sent with simulation: true."
    )
    fingerprint = models.CharField(max_length=64, db_index=True)
    response_body = models.TextField(help_text="Instantly's raw simulation answer.")
    due_now = models.DecimalField(max_digits=12, decimal_places=2)
    per_month = models.DecimalField(max_digits=12, decimal_places=2)
    per_year = models.DecimalField(max_digits=12, decimal_places=2)
    discount = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    is_valid = models.BooleanField()
    order_error = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Quote {self.fingerprint[:10]} ${self.due_now}"

    @property
    def needs_checkout(self) -> bool:
        """The simulation shows no payment method at Instantly (or asks for checkout): a real
        order would wait for a payment there instead of being bought (docs/instantly.md)."""
        try:
            data = json.loads(self.response_body)
        except ValueError:
            return False
        if not isinstance(data, dict):
            return False
        return data.get("checkout_required") is True or not data.get(
            "payment_method_last_4_digits"
        )
