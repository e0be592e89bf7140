"""The order: its type, the queryset every read goes through (scoped to a workspace), and the
order row itself. Its statuses and the sets of them live in orders/lifecycle.py."""

from __future__ import annotations

from typing import Any, Literal, Self

from django.conf import settings
from django.db import models
from django.urls import reverse

from orders.lifecycle import (
    AWAITING_DECISION_STATUSES,
    BUDGET_STATUSES,
    CANCELLABLE_STATUSES,
    EDITABLE_STATUSES,
    FULFILMENT_STATUSES,
    IN_FLIGHT_STATUSES,
    LIVE_STATUSES,
    OrderHealth,
    OrderStatus,
)
from orders.models.sqlite_dates import prefix_datetimes
from orders.models.workspaces import Workspace

__all__ = [
    "AWAITING_DECISION_STATUSES",
    "BUDGET_STATUSES",
    "CANCELLABLE_STATUSES",
    "EDITABLE_STATUSES",
    "FULFILMENT_STATUSES",
    "IN_FLIGHT_STATUSES",
    "LIVE_STATUSES",
    "Order",
    "OrderHealth",
    "OrderQuerySet",
    "OrderStatus",
    "OrderType",
    "quote_frozen",
]


class OrderType(models.TextChoices):
    DFY = "dfy", "New domains (DFY)"
    PRE_WARMED_UP = "pre_warmed_up", "Pre-warmed domains"
    EXTRA_ACCOUNTS = "extra_accounts", "Extra mailboxes on owned domains"


class OrderQuerySet(models.QuerySet["Order"]):
    def datetimes(
        self,
        field_name: str,
        kind: Literal["year", "month", "week", "day", "hour", "minute", "second"],
        order: Literal["ASC", "DESC"] = "ASC",
        tzinfo: Any = None,
    ) -> Any:
        """Django's, except on SQLite, where the admin list's date links read the stored
        text's prefix (`sqlite_dates`: Django's truncation there is a Python call per row)."""
        if tzinfo is None:
            fast = prefix_datetimes(self, field_name, kind, order)
            if fast is not None:
                return fast
        return super().datetimes(field_name, kind, order, tzinfo)

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
    # The approved quote's two figures the history and the admin sort by, copied so that a
    # sort reads one index instead of joining every order to its quote (growth,
    # docs/performance.md). Written only with `approved_quote`, by `quote_frozen`.
    approved_due_now = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, editable=False
    )
    approved_per_month = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, editable=False
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
    # After delivery (issue 15): folded from the mailboxes' health by the health follower.
    health = models.CharField(
        max_length=16, choices=OrderHealth, default=OrderHealth.UNKNOWN, blank=True
    )
    health_checked_at = models.DateTimeField(null=True, blank=True)
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
        # The history's search indexes (trigrams over titles and domains) exist on PostgreSQL
        # only and live in migration 0014, not here: SQLite has no such index.
        indexes = [
            models.Index(fields=["workspace", "status"], name="order_ws_status"),
            # The sorts by price: the admin's across workspaces here; the history's per
            # workspace, unpriced orders last, are PostgreSQL-only (migration 0020).
            models.Index(fields=["approved_due_now", "id"], name="order_due_id"),
            models.Index(fields=["approved_per_month", "id"], name="order_month_id"),
            # The dashboard's attention count and list: the few delivered orders whose
            # mailboxes are in trouble, without reading the bought ones (issue 15).
            models.Index(
                fields=["workspace"],
                condition=models.Q(health="attention"),
                name="order_ws_health_attention",
            ),
            # The history's default sort in full, the id breaking ties: a page, or the ids of a
            # deep one, is read off the index in order instead of sorting the workspace.
            models.Index(
                fields=["workspace", "-created_at", "-id"], name="order_ws_created_id"
            ),
            # Someone's first order in a workspace as requester or approver is one step into
            # these (the history's people filters: history.workspace_people); the same
            # filters then read only their orders, by date.
            models.Index(
                fields=["workspace", "requester", "created_at"],
                name="order_ws_requester",
            ),
            models.Index(
                fields=["workspace", "approver", "created_at"], name="order_ws_approver"
            ),
            # The admin's date hierarchy across workspaces: first and last day at the ends of
            # an index instead of a scan.
            models.Index(fields=["created_at"], name="order_created"),
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


def quote_frozen(quote: Any) -> dict[str, Any]:
    """The fields that change with the approved quote (a Quote, or None to clear it): the
    `changes` of every transition that sets it."""
    return {
        "approved_quote": quote,
        "approved_due_now": None if quote is None else quote.due_now,
        "approved_per_month": None if quote is None else quote.per_month,
    }
