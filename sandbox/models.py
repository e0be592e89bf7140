"""The sandbox's "remote" state: Instantly workspaces, keys, stock, placed orders and mailboxes.

Everything lives in the database so web and worker processes see one remote. Sandbox
workspaces are not the portal's workspaces: a portal workspace reaches its sandbox
workspace only through an API key, exactly as it would reach Instantly.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Self

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from sandbox.rules import (
    DEFAULT_KNOBS,
    PREWARMED_TLDS,
    AccountStatus,
    Provider,
    WarmupStatus,
)

PROVIDER_CHOICES = [(int(p), p.name.title()) for p in Provider]
ACCOUNT_STATUS_CHOICES = [
    (int(s), f"{int(s)}: {s.name.replace('_', ' ').lower()}") for s in AccountStatus
]
WARMUP_STATUS_CHOICES = [
    (int(s), f"{int(s)}: {s.name.replace('_', ' ').lower()}") for s in WarmupStatus
]


class PaymentFailure(models.TextChoices):
    INHERIT = "", "(inherit / none)"
    NONE = "none", "No failure"
    METHOD_NOT_SUPPORTED = (
        "payment_method_not_supported",
        "Payment method not supported",
    )
    AUTHENTICATION_REQUIRED = "authentication_required", "Authentication required"
    CARD_EXPIRED = "card_expired", "Card expired"
    GENERIC_DECLINE = "generic_decline", "Generic decline"


class Knobs(models.Model):
    """Prices, promotions and fault switches.

    On the global row a blank field means the built-in default (rules.DEFAULT_KNOBS); on a
    workspace it means "use the global value". The two *_remaining counters are separate on
    each row and are used up one request at a time, the workspace's first.
    """

    domain_price_per_year = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    google_price_per_month = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    airmail_price_per_month = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    prewarmed_price_per_month = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Per pre-warmed Google/AirMail mailbox.",
    )
    microsoft_price_per_domain_per_month = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    free_domains = models.JSONField(
        null=True,
        blank=True,
        help_text='Promotion: domain names priced 0, e.g. ["acme.com"].',
    )
    free_domain_count = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Promotion: the first N priced domains of each order are free.",
    )
    discount_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="Promotion: percentage taken off the amount due now.",
    )
    latency_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Added to every response."
    )
    burst_429_remaining = models.PositiveIntegerField(
        default=0, help_text="The next N requests get 429."
    )
    error_5xx_rate = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
        help_text="Share of requests (0-1) answered 500.",
    )
    error_5xx_remaining = models.PositiveIntegerField(
        default=0, help_text="The next N requests get 500."
    )
    timeout_after_record = models.BooleanField(
        null=True,
        blank=True,
        help_text="Real order POSTs: record the order, then hold the answer back.",
    )
    timeout_without_record = models.BooleanField(
        null=True,
        blank=True,
        help_text="Real order POSTs: record nothing, wait, then answer 504.",
    )
    timeout_after_record_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text="How long both timeout switches hold the answer.",
    )
    payment_failure_reason = models.CharField(
        max_length=40, blank=True, choices=PaymentFailure
    )
    unavailable_providers = models.JSONField(
        null=True,
        blank=True,
        help_text="Providers not for sale right now, e.g. [2] for AirMail.",
    )
    empty_prewarmed_stock = models.BooleanField(null=True, blank=True)
    provisioning_delay_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Mailbox passwords stay empty this long after the order.",
    )
    enforce_rate_limits = models.BooleanField(null=True, blank=True)
    forwarding_unsupported = models.BooleanField(
        null=True,
        blank=True,
        help_text="Forwarding PUTs answer 422: not supported for the domain.",
    )
    forwarding_apply_fails = models.BooleanField(
        null=True,
        blank=True,
        help_text="Forwarding PUTs and DELETEs answer 502 and change nothing.",
    )

    class Meta:
        abstract = True


class SandboxSettings(Knobs):
    """The global row (pk 1): defaults for every sandbox workspace."""

    class Meta:
        verbose_name = "global settings and switches"
        verbose_name_plural = "global settings and switches"

    def __str__(self) -> str:
        return "Global sandbox settings"

    @classmethod
    def load(cls) -> SandboxSettings:
        row, _ = cls.objects.get_or_create(pk=1, defaults=dict(DEFAULT_KNOBS))
        return row


class SandboxWorkspace(Knobs):
    """An Instantly workspace as the sandbox sees it: plan, card, and its own overrides."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    external_ref = models.CharField(
        max_length=120,
        blank=True,
        help_text="Who created it, e.g. portal:demo; makes seeding idempotent.",
    )
    owner_id = models.UUIDField(default=uuid.uuid4, editable=False)
    plan_active = models.BooleanField(
        default=True, help_text="Off: every DFY call answers 402."
    )
    has_payment_method = models.BooleanField(
        default=True,
        help_text="Off: no default payment method. Simulations show no card; real orders "
        "answer checkout_required with a cart_order_id and record nothing.",
    )
    card_brand = models.CharField(max_length=30, blank=True, default="Visa")
    card_last4 = models.CharField(max_length=4, blank=True, default="4242")
    card_name = models.CharField(max_length=100, blank=True, default="Sandbox User")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_ref"],
                condition=~Q(external_ref=""),
                name="sandbox_ws_unique_external_ref",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SandboxKey(models.Model):
    """An API key. Only its SHA-256 and last 4 characters are stored."""

    workspace = models.ForeignKey(
        SandboxWorkspace, on_delete=models.CASCADE, related_name="keys"
    )
    name = models.CharField(max_length=80, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    scopes = models.JSONField(
        default=list, help_text='e.g. ["all:all"] or ["dfy_email_account_orders:read"]'
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name or 'key'} ····{self.last4}"

    def allows(self, resource: str, action: str) -> bool:
        """Instantly's rule: resource:action, resource:all, all:action or all:all."""
        granted = set(self.scopes) if isinstance(self.scopes, list) else set()
        return bool(
            granted
            & {f"{resource}:{action}", f"{resource}:all", f"all:{action}", "all:all"}
        )


class TakenDomain(models.Model):
    """Domains that cannot be registered any more: seeded ones and every domain ordered here."""

    domain = models.CharField(max_length=253, unique=True)
    workspace = models.ForeignKey(
        SandboxWorkspace,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class RestrictedKeyword(models.Model):
    keyword = models.CharField(
        max_length=63, unique=True, help_text="Lower case letters and digits."
    )

    class Meta:
        ordering = ["keyword"]

    def __str__(self) -> str:
        return self.keyword


class PreWarmedDomain(models.Model):
    """Stock shared by all sandbox workspaces; a row disappears once bought."""

    domain = models.CharField(max_length=253, unique=True)
    account_type = models.PositiveSmallIntegerField(
        choices=PROVIDER_CHOICES, default=Provider.GOOGLE
    )
    mailbox_count = models.PositiveSmallIntegerField(default=3)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    *[("domain__endswith", f".{tld}") for tld in PREWARMED_TLDS],
                    _connector=Q.OR,
                ),
                name="sandbox_prewarmed_tld",
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def extension(self) -> str:
        return self.domain.rsplit(".", 1)[-1]


class DomainOrderQuerySet(models.QuerySet["DomainOrder"]):
    def active(self) -> Self:
        return self.filter(timestamp_cancelled__isnull=True)


class DomainOrder(models.Model):
    """A placed order row, one per domain: the published DFYEmailAccountOrder object."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        SandboxWorkspace, on_delete=models.CASCADE, related_name="domain_orders"
    )
    domain = models.CharField(max_length=253, unique=True)
    email_provider = models.PositiveSmallIntegerField(choices=PROVIDER_CHOICES)
    forwarding_domain = models.CharField(max_length=253, blank=True)
    forwarding_mode = models.CharField(
        max_length=10,
        blank=True,
        choices=[("redirect", "redirect"), ("stealth", "stealth")],
    )
    is_pre_warmed_up = models.BooleanField(default=False)
    timestamp_created = models.DateTimeField()
    timestamp_cancelled = models.DateTimeField(null=True, blank=True)

    objects = DomainOrderQuerySet.as_manager()

    class Meta:
        ordering = ["timestamp_created", "id"]
        indexes = [
            models.Index(
                fields=["workspace", "timestamp_created", "id"],
                name="sandbox_order_page",
            )
        ]

    def __str__(self) -> str:
        return self.domain


class DfyAccountQuerySet(models.QuerySet["DfyAccount"]):
    def active(self) -> Self:
        return self.filter(timestamp_cancelled__isnull=True)


class DfyAccount(models.Model):
    """One ordered mailbox. The password is fake; it is shown only once provisioning is over."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        SandboxWorkspace, on_delete=models.CASCADE, related_name="accounts"
    )
    order = models.ForeignKey(
        DomainOrder, on_delete=models.CASCADE, related_name="accounts"
    )
    domain = models.CharField(max_length=253)
    email = models.CharField(max_length=320)
    email_provider = models.PositiveSmallIntegerField(choices=PROVIDER_CHOICES)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    is_pre_warmed_up = models.BooleanField(default=False)
    password = models.CharField(max_length=64, editable=False)
    timestamp_created = models.DateTimeField()
    timestamp_cancelled = models.DateTimeField(null=True, blank=True)
    # Health switches (sandbox.switches.account_health_set): null is the natural state that
    # the accounts API computes from the clock (sandbox/sending_accounts.py).
    status_override = models.SmallIntegerField(
        null=True, blank=True, choices=ACCOUNT_STATUS_CHOICES
    )
    warmup_status_override = models.SmallIntegerField(
        null=True, blank=True, choices=WARMUP_STATUS_CHOICES
    )
    health_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = DfyAccountQuerySet.as_manager()

    class Meta:
        ordering = ["timestamp_created", "id"]
        verbose_name = "DFY account"
        indexes = [
            models.Index(
                fields=["workspace", "timestamp_created", "id"],
                name="sandbox_account_page",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=Q(timestamp_cancelled__isnull=True),
                name="sandbox_account_active_email",
            ),
        ]

    def __str__(self) -> str:
        return self.email


class Charge(models.Model):
    """What a real order cost the workspace's card."""

    workspace = models.ForeignKey(
        SandboxWorkspace, on_delete=models.CASCADE, related_name="charges"
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    domains = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"${self.amount} for {len(self.domains)} domain(s)"


class RequestLogQuerySet(models.QuerySet["RequestLog"]):
    def real_orders(self) -> Self:
        """POSTs to /dfy-email-account-orders whose body did not ask for a simulation."""
        return self.filter(real_order=True)

    def placed(self) -> Self:
        return self.filter(order_placed=True)

    def for_workspace(self, workspace: SandboxWorkspace | None) -> Self:
        return self if workspace is None else self.filter(workspace=workspace)


class RequestLog(models.Model):
    """One row per API request, written before any held-back answer is sent."""

    workspace = models.ForeignKey(
        SandboxWorkspace,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="requests",
    )
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    real_order = models.BooleanField(default=False)
    order_placed = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = RequestLogQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["real_order", "workspace"], name="sandbox_log_real_orders"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status_code}"


def real_order_posts(workspace: SandboxWorkspace | None = None) -> int:
    """How many real (non-simulation) order POSTs reached the sandbox, whatever their answer."""
    return RequestLog.objects.real_orders().for_workspace(workspace).count()


class RateCounter(models.Model):
    """Requests per fixed time window; see sandbox/ratelimit.py."""

    workspace = models.ForeignKey(
        SandboxWorkspace, on_delete=models.CASCADE, related_name="+"
    )
    bucket = models.CharField(max_length=20)
    slot = models.BigIntegerField(
        help_text="Window number: epoch seconds // window length."
    )
    expires_at = models.BigIntegerField(help_text="Epoch seconds when the window ends.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "bucket", "slot"],
                name="sandbox_ratecounter_window",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bucket}@{self.slot}: {self.count}"
