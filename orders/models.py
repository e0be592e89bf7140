"""The portal's domain: workspaces and who may act in them, keys, orders and their audit trail.

Money is Decimal everywhere. Single-row predicates live here; writes with side effects live
in `orders/services.py`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Self

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class ApprovalPolicy(models.TextChoices):
    ALWAYS = "always", "Every order needs approval"
    ABOVE_AMOUNT = "above_amount", "Orders above an amount need approval"
    NEVER = "never", "No approval (auto-approve)"


class Workspace(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    approval_policy = models.CharField(
        max_length=20, choices=ApprovalPolicy, default=ApprovalPolicy.ALWAYS
    )
    approval_threshold = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Due-now amount above which approval is needed.",
    )
    allow_self_approval = models.BooleanField(
        default=False, help_text="Let a lead approve their own order (four-eyes off)."
    )
    monthly_budget = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Recurring monthly spend that approval may not exceed.",
    )
    webhook_url = models.URLField(blank=True)
    # Signs every webhook delivery (docs/webhooks.md); Fernet-encrypted like the API key.
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    webhook_secret_created_at = models.DateTimeField(
        null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="workspace_threshold_with_policy",
                condition=~Q(approval_policy="above_amount")
                | Q(approval_threshold__isnull=False),
                violation_error_message="An approval threshold is required for this policy.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OPERATOR = "operator", "Operator"
    LEAD = "lead", "Lead"
    ADMIN = "admin", "Workspace admin"


ROLE_RANK = {Role.OPERATOR: 1, Role.LEAD: 2, Role.ADMIN: 3}


class MembershipQuerySet(models.QuerySet["Membership"]):
    def for_user(self, user: AbstractBaseUser | AnonymousUser) -> Self:
        if not user.is_authenticated:
            return self.none()
        return self.filter(user=user).select_related("workspace")


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role, default=Role.OPERATOR)
    approval_limit = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Largest due-now amount this lead may approve; empty = unlimited.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["workspace__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "workspace"], name="membership_unique_user_workspace"
            ),
            models.CheckConstraint(
                name="membership_limit_not_negative",
                condition=Q(approval_limit__isnull=True) | Q(approval_limit__gte=0),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"

    def has_role(self, role: Role) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[role]

    @property
    def is_lead(self) -> bool:
        return self.has_role(Role.LEAD)

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)

    def may_approve_amount(self, amount: Decimal) -> bool:
        return self.is_lead and (
            self.approval_limit is None or amount <= self.approval_limit
        )


class KeyStatus(models.TextChoices):
    UNVERIFIED = "unverified", "Not verified yet"
    OK = "ok", "Working"
    INVALID = "invalid", "Invalid or revoked key"
    MISSING_SCOPE = "missing_scope", "Key lacks the DFY order scopes"
    NO_PLAN = "no_plan", "Workspace has no active plan"
    UNREACHABLE = "unreachable", "Instantly could not be reached"


class KeyDisplay:
    """What the pages show of a stored key (active or pending): never more than the last 4."""

    last4: str
    base_url: str

    @property
    def masked(self) -> str:
        return f"····{self.last4}"

    @property
    def is_sandbox(self) -> bool:
        return "/sandbox/" in self.base_url


class InstantlyKey(KeyDisplay, models.Model):
    """A workspace's Instantly API key. The secret is stored encrypted and never shown again."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="instantly_key"
    )
    label = models.CharField(max_length=80, blank=True)
    secret_encrypted = models.TextField(editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    base_url = models.URLField(max_length=300)
    status = models.CharField(
        max_length=20, choices=KeyStatus, default=KeyStatus.UNVERIFIED
    )
    status_detail = models.CharField(max_length=300, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.label or 'Instantly key'} ····{self.last4}"

    def __repr__(self) -> str:
        # Never let the ciphertext (or anything derived from it) into a traceback or log.
        return f"<InstantlyKey {self.pk} ····{self.last4}>"

    def reveal(self) -> str:
        """The clear secret, for the Instantly client only."""
        from orders.crypto import decrypt

        return decrypt(self.secret_encrypted)


class PendingKeyStatus(models.TextChoices):
    VERIFYING = "verifying", "Being verified"
    ACCEPTED = "accepted", "Verified and now in use"
    REFUSED = "refused", "Refused"


class PendingInstantlyKey(KeyDisplay, models.Model):
    """A pasted key waiting for its verification (docs/security.md). It replaces the active
    `InstantlyKey` only once Instantly accepts it, so a wrong paste never breaks quoting. One
    row per workspace: the latest attempt; its secret is erased once the attempt ends."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="pending_instantly_key"
    )
    label = models.CharField(max_length=80, blank=True)
    secret_encrypted = models.TextField(editable=False, blank=True)
    last4 = models.CharField(max_length=4, editable=False)
    base_url = models.URLField(max_length=300)
    status = models.CharField(
        max_length=20, choices=PendingKeyStatus, default=PendingKeyStatus.VERIFYING
    )
    # What Instantly said about the key (a KeyStatus value), once it has answered.
    outcome = models.CharField(max_length=20, choices=KeyStatus, blank=True)
    status_detail = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.label or 'New Instantly key'} ····{self.last4}"

    def __repr__(self) -> str:
        return f"<PendingInstantlyKey {self.pk} ····{self.last4} {self.status}>"

    @property
    def is_verifying(self) -> bool:
        return self.status == PendingKeyStatus.VERIFYING

    def reveal(self) -> str:
        """The clear secret, for the Instantly client only."""
        from orders.crypto import decrypt

        return decrypt(self.secret_encrypted)


class OrderType(models.TextChoices):
    DFY = "dfy", "New domains (DFY)"
    PRE_WARMED_UP = "pre_warmed_up", "Pre-warmed domains"
    EXTRA_ACCOUNTS = "extra_accounts", "Extra mailboxes on owned domains"


class OrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Waiting for approval"
    REJECTED = "rejected", "Rejected"
    APPROVED = "approved", "Approved, queued"
    NEEDS_REAPPROVAL = "needs_reapproval", "Price changed, needs re-approval"
    SUBMITTING = "submitting", "Submitting to Instantly"
    PLACED = "placed", "Placed"
    PROVISIONING = "provisioning", "Provisioning mailboxes"
    READY = "ready", "Ready"
    FAILED = "failed", "Refused by Instantly"
    # No default card at Instantly: the order waits until a person pays or adds one there,
    # then tries again (docs/lifecycle-bounds.md). Nothing was bought.
    AWAITING_CHECKOUT = "awaiting_checkout", "Awaiting payment at Instantly"
    UNKNOWN = "unknown", "Outcome unknown, reconciling"
    NEEDS_ATTENTION = "needs_attention", "Needs attention"
    PARTIALLY_CANCELLED = "partially_cancelled", "Partially cancelled"
    CANCELLED = "cancelled", "Cancelled"


EDITABLE_STATUSES = frozenset({OrderStatus.DRAFT, OrderStatus.REJECTED})
IN_FLIGHT_STATUSES = frozenset(
    {
        OrderStatus.SUBMITTING,
        OrderStatus.UNKNOWN,
        OrderStatus.PLACED,
        OrderStatus.PROVISIONING,
    }
)


AWAITING_DECISION_STATUSES = frozenset(
    {OrderStatus.PENDING_APPROVAL, OrderStatus.NEEDS_REAPPROVAL}
)
FULFILMENT_STATUSES = frozenset({OrderStatus.PLACED, OrderStatus.PROVISIONING})
# Everything that is (or may be) bought and not cancelled: the budget counts these.
BUDGET_STATUSES = frozenset(
    {
        OrderStatus.APPROVED,
        OrderStatus.AWAITING_CHECKOUT,
        OrderStatus.SUBMITTING,
        OrderStatus.UNKNOWN,
        OrderStatus.NEEDS_ATTENTION,
        OrderStatus.PLACED,
        OrderStatus.PROVISIONING,
        OrderStatus.READY,
        OrderStatus.PARTIALLY_CANCELLED,
    }
)
# The order page polls while one of these may still change without anyone clicking.
LIVE_STATUSES = frozenset(
    {
        OrderStatus.APPROVED,
        OrderStatus.SUBMITTING,
        OrderStatus.UNKNOWN,
        OrderStatus.PLACED,
        OrderStatus.PROVISIONING,
    }
)
CANCELLABLE_STATUSES = frozenset(
    {
        OrderStatus.PLACED,
        OrderStatus.PROVISIONING,
        OrderStatus.READY,
        OrderStatus.PARTIALLY_CANCELLED,
    }
)


class Provider(models.IntegerChoices):
    GOOGLE = 1, "Google"
    AIRMAIL = 2, "AirMail"
    MICROSOFT = 3, "Microsoft"


class OrderQuerySet(models.QuerySet["Order"]):
    def in_workspace(self, workspace: Workspace) -> Self:
        """The one entry point for reading orders: everything is scoped to a workspace."""
        return self.filter(workspace=workspace)

    def pending_approval(self) -> Self:
        return self.filter(status=OrderStatus.PENDING_APPROVAL)

    def in_flight(self) -> Self:
        return self.filter(status__in=IN_FLIGHT_STATUSES)

    def awaiting_decision(self) -> Self:
        """Requests a lead must decide: new ones and those whose price changed at re-quote."""
        return self.filter(status__in=AWAITING_DECISION_STATUSES)

    def committed_spend(self) -> Self:
        """Orders whose recurring cost counts against the monthly budget."""
        return self.filter(status__in=BUDGET_STATUSES)

    def being_fulfilled(self) -> Self:
        """Orders the fulfilment poll follows: placed and not yet fully provisioned."""
        return self.filter(status__in=FULFILMENT_STATUSES)


class Order(models.Model):
    workspace = models.ForeignKey(
        Workspace, on_delete=models.PROTECT, related_name="orders"
    )
    order_type = models.CharField(
        max_length=20, choices=OrderType, default=OrderType.DFY
    )
    status = models.CharField(
        max_length=24, choices=OrderStatus, default=OrderStatus.DRAFT
    )
    title = models.CharField(max_length=120, blank=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="requested_orders",
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approved_orders",
    )
    approved_quote = models.ForeignKey(
        "Quote", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Bumped on every edit of the draft: a save carrying an older version is refused, so two
    # tabs on one draft cannot silently overwrite each other.
    version = models.PositiveIntegerField(default=1)
    submission_attempt_id = models.UUIDField(null=True, blank=True, editable=False)
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    placement_response = models.TextField(
        blank=True, help_text="Instantly's raw answer to the real order."
    )
    # Reconciliation of an unknown outcome: how many times the list endpoints were read.
    reconcile_checks = models.PositiveIntegerField(default=0)
    attention_reason = models.TextField(blank=True)
    last_progress_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)
    # Who approved or rejected (`approver` is set only by an approval).
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The difference the worker found at re-quote: {"field": [approved, now], ...}.
    drift = models.JSONField(default=dict, blank=True)
    # Instantly's definitive refusal in its own terms: order_error, lists, HTTP status.
    refusal = models.JSONField(default=dict, blank=True)
    # What reconciliation found on the list endpoints: found / missing domains or mailboxes.
    reconcile_evidence = models.JSONField(default=dict, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    # When the sweeper may start the next reconciliation check (backoff); null means now.
    next_reconcile_at = models.DateTimeField(null=True, blank=True)
    # When a person was last told that the current status outlived its bound; "told once"
    # means this is later than the moment the order entered that status.
    overdue_notified_at = models.DateTimeField(null=True, blank=True)
    # Claims given back because nothing was sent (429, connect error, re-quote unreachable).
    placement_tries = models.PositiveIntegerField(default=0)
    provisioning_at = models.DateTimeField(null=True, blank=True)
    stuck_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # Who froze the current quote for approval: four-eyes keeps them from approving it.
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["workspace", "status"], name="order_ws_status"),
            models.Index(fields=["workspace", "-created_at"], name="order_ws_created"),
            # The sweeper and the fulfilment poll look across workspaces by status.
            models.Index(fields=["status", "updated_at"], name="order_status_updated"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse(
            "orders:detail", kwargs={"slug": self.workspace.slug, "pk": self.pk}
        )

    @property
    def display_name(self) -> str:
        """The one name pages, emails, exports and admin use for the order."""
        return self.title.strip() or f"Untitled order #{self.pk}"

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES

    @property
    def is_live(self) -> bool:
        """Still changing by itself (worker, reconciliation, provisioning): pages poll."""
        return self.status in LIVE_STATUSES

    @property
    def awaits_decision(self) -> bool:
        return self.status in AWAITING_DECISION_STATUSES

    def can_cancel(self) -> bool:
        return self.status in CANCELLABLE_STATUSES


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    domain = models.CharField(max_length=253)
    provider = models.PositiveSmallIntegerField(
        choices=Provider, default=Provider.GOOGLE
    )
    forwarding_domain = models.CharField(max_length=253, blank=True)
    position = models.PositiveIntegerField(default=0)

    # No uniqueness constraint on (order, domain): a draft must be able to hold what the user
    # typed, duplicates included; the local rules and Instantly's simulation flag them.
    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.domain


class MailboxStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    PROVISIONING = "provisioning", "Provisioning"
    READY = "ready", "Ready"
    CANCELLED = "cancelled", "Cancelled"


class Mailbox(models.Model):
    item = models.ForeignKey(
        OrderItem, on_delete=models.CASCADE, related_name="mailboxes"
    )
    email_prefix = models.CharField(max_length=64)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    remote_id = models.CharField(max_length=100, blank=True, db_index=True)
    status = models.CharField(
        max_length=20, choices=MailboxStatus, default=MailboxStatus.REQUESTED
    )
    provisioning_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    # Duplicate prefixes are allowed in a draft for the same reason as duplicate domains.
    class Meta:
        ordering = ["position", "pk"]
        # The dashboard counts mailboxes by status per order; with this the count reads the
        # index only, not 200,000 rows.
        indexes = [models.Index(fields=["item", "status"], name="mailbox_item_status")]

    def __str__(self) -> str:
        return self.email

    @property
    def email(self) -> str:
        return f"{self.email_prefix}@{self.item.domain}"


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


EVENT_LABELS = {
    "created": "Draft created",
    "revised": "Revised after rejection",
    "reopened": "Reopened for editing",
    "submitted": "Submitted for approval",
    "auto_approved": "Approved automatically (workspace policy)",
    "auto_approval_blocked": "Auto-approval blocked by the monthly budget",
    "approved": "Approved",
    "rejected": "Rejected",
    "claimed": "Worker claimed the order",
    "claim_released": "Nothing was sent; will try again",
    "requote_drift": "Instantly's price or answer changed; nothing bought",
    "place_request": "Order sent to Instantly",
    "placed": "Placed at Instantly",
    "failed": "Refused by Instantly",
    "awaiting_checkout": "Instantly needs a payment method first; nothing bought",
    "checkout_reminder": "Still awaiting payment at Instantly: reminded",
    "outcome_unknown": "Instantly's answer was lost",
    "stranded": "Worker stopped during placement",
    "reconcile_check": "Checked Instantly's lists",
    "approval_reminder": "Still waiting for a decision: approvers reminded",
    "reconciled_placed": "Found at Instantly: placed",
    "needs_attention": "Needs a person",
    "marked_placed": "Marked placed by hand",
    "resubmitted": "Re-submitted as a new attempt",
    "provisioning": "Mailboxes being set up",
    "ready": "Every mailbox ready",
    "partially_cancelled": "Some mailboxes cancelled at Instantly",
    "cancelled": "Cancelled",
    "stuck": "No progress: flagged as stuck",
    "cancel_request": "Cancellation sent to Instantly",
    "cancel_failed": "Cancellation refused",
    "mailboxes_cancelled": "Mailboxes cancelled",
    "forwarding_set": "Domain forwarding set",
    "forwarding_removed": "Domain forwarding removed",
}


class OrderEvent(models.Model):
    """Append-only audit row: every transition and every remote call that can spend money."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(max_length=40)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}→{self.to_status}"

    @property
    def label(self) -> str:
        return EVENT_LABELS.get(self.kind, self.kind.replace("_", " ").capitalize())

    @property
    def changes_status(self) -> bool:
        return bool(self.to_status) and self.to_status != self.from_status

    @property
    def to_status_label(self) -> str:
        try:
            return str(OrderStatus(self.to_status).label)
        except ValueError:
            return self.to_status


class OrderEdit(models.Model):
    """Append-only: who changed a draft's contents, and the version their save produced.

    The four-eyes rule reads these: nobody approves contents they changed since the order was
    last decided (docs/security.md)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="edits")
    version = models.PositiveIntegerField()
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(
                fields=["order", "created_at"], name="order_edit_order_created"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.version} by {self.editor_id}"


class DraftSnapshot(models.Model):
    """The draft's items as they were just before a destructive builder action (remove,
    replace, clear), so "Undo" can bring them back as a new version.

    Written by the same transaction as the destructive save; a few recent ones are kept per
    order. `items` is the DraftItem list as JSON: domain, provider, forwarding domain and the
    mailboxes' first name, last name and prefix."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="snapshots")
    version = models.PositiveIntegerField()  # the version these items were saved as
    # What the action did, e.g. "Removed acme.com and its 2 mailboxes".
    label = models.CharField(max_length=200)
    items = models.JSONField()
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["order", "-id"], name="draft_snapshot_order")]

    def __str__(self) -> str:
        return f"{self.label} (v{self.version})"


class CheckStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Checking"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DomainCheck(models.Model):
    """One availability check of a pasted list, run in the background in batches of 50 under
    Instantly's domains/check limit; its progress is what the builder polls."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="domain_checks"
    )
    order = models.ForeignKey(
        Order,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="domain_checks",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    domains = models.JSONField(default=list)
    # {domain: {"state": "available" | "taken" | "restricted" | "unsupported_tld" | "invalid", "keyword": str}}
    results = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=CheckStatus, default=CheckStatus.QUEUED
    )
    waiting_until = models.DateTimeField(null=True, blank=True)
    wait_reason = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Check of {len(self.domains)} domains"

    @property
    def total(self) -> int:
        return len(self.domains)

    @property
    def checked(self) -> int:
        return len(self.results)

    @property
    def is_finished(self) -> bool:
        return self.status in {CheckStatus.DONE, CheckStatus.FAILED}


class ForwardingMode(models.TextChoices):
    REDIRECT = "redirect", "Redirect (the address changes)"
    STEALTH = "stealth", "Stealth (the address stays)"


class RemoteDomain(models.Model):
    """Mirror of a domain Instantly reports as ordered by this workspace (list endpoints)."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="remote_domains"
    )
    domain = models.CharField(max_length=253)
    provider = models.PositiveSmallIntegerField(choices=Provider, null=True, blank=True)
    forwarding_domain = models.CharField(max_length=253, blank=True)
    forwarding_mode = models.CharField(
        max_length=10, blank=True, choices=ForwardingMode
    )
    is_pre_warmed_up = models.BooleanField(default=False)
    created_remote_at = models.DateTimeField(null=True, blank=True)
    cancelled_remote_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "domain"], name="remotedomain_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.domain


class RemoteAccount(models.Model):
    """Mirror of a mailbox Instantly reports for this workspace. The password is never stored;
    only whether it was non-empty (Instantly's one readiness signal)."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="remote_accounts"
    )
    remote_id = models.CharField(max_length=100)
    email = models.CharField(max_length=320)
    domain = models.CharField(max_length=253)
    provider = models.PositiveSmallIntegerField(choices=Provider)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    is_pre_warmed_up = models.BooleanField(default=False)
    is_ready = models.BooleanField(default=False)
    created_remote_at = models.DateTimeField(null=True, blank=True)
    cancelled_remote_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "remote_id"], name="remoteaccount_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "email"], name="remoteaccount_email")
        ]

    def __str__(self) -> str:
        return self.email


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Failed, will retry"
    FAILED = "failed", "Failed, given up"


class NotificationDelivery(models.Model):
    """One attempt at delivering one notification event over one channel (docs/webhooks.md).

    Append-only apart from the attempt's own outcome; the event id is what makes a redelivered
    task message harmless and what receivers de-duplicate on."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="notification_deliveries"
    )
    order = models.ForeignKey(
        "Order", on_delete=models.CASCADE, related_name="notification_deliveries"
    )
    event = models.CharField(max_length=40)
    channel = models.CharField(max_length=10, choices=NotificationChannel)
    event_id = models.UUIDField()
    attempt = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus, default=DeliveryStatus.SENDING
    )
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Written by the portal, never copied from a remote answer: no URL, no header, no secret.
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "channel", "attempt"],
                name="notificationdelivery_unique_attempt",
            ),
        ]
        indexes = [
            models.Index(
                fields=["workspace", "-created_at"], name="notifdelivery_recent"
            ),
            models.Index(fields=["event_id", "channel"], name="notifdelivery_event"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.event} #{self.attempt} ({self.status})"
