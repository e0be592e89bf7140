"""What the portal learns from Instantly about domains and mailboxes, and what it asks of it in
the background: availability checks of pasted lists, cancellations of mailboxes, and the
mirror of Instantly's list endpoints."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orders.models.items import Provider
from orders.models.order import Order
from orders.models.workspaces import Workspace


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
    # The lease of the run working on the check (orders/finders.py): renewed with every saved
    # batch; a check whose lease ran out lost its worker and is resumed by the sweep. The name
    # is older than the lease (it held the end of a rate-limit wait); renaming needs a migration.
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


class CancellationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Cancelling at Instantly"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class CancellationRun(models.Model):
    """One confirmed cancellation of an order's mailboxes, sent to Instantly by a worker, never
    in a request: the cancel call is irreversible, so it runs at most once per run (claimed
    queued → running by one conditional UPDATE). The order page polls it until it ends."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="cancellation_runs"
    )
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="cancellation_runs"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # What the person confirmed: the addresses (lower case) and the domains they end.
    emails = models.JSONField(default=list)
    domains_cancelled = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=10, choices=CancellationStatus, default=CancellationStatus.QUEUED
    )
    # {email: "cancelled" | "not_cancelled" | "unknown"}
    results = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Cancellation of {self.total} mailbox{'es' if self.total != 1 else ''}"

    @property
    def total(self) -> int:
        return len(self.emails)

    @property
    def cancelled(self) -> int:
        return sum(1 for result in self.results.values() if result == "cancelled")

    @property
    def is_finished(self) -> bool:
        return self.status in {CancellationStatus.DONE, CancellationStatus.FAILED}


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


class PollCursor(models.Model):
    """Where the fulfilment poll resumes Instantly's two lists for this workspace (both list
    oldest first): the cursor of the page holding the oldest item the poll still waits for,
    so a poll reads the pages of what is in flight, not the workspace's whole history.
    Cursors are opaque strings Instantly issued; blank means "from the start"."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="poll_cursor"
    )
    # The limiter bucket of the key that was issued the cursors (a hash of key and base URL):
    # another key or remote may read a cursor differently, so its first poll starts over.
    issued_to = models.CharField(max_length=64, blank=True)
    orders_after = models.CharField(max_length=300, blank=True)
    accounts_after = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Poll cursors of workspace {self.workspace_id}"
