"""Workspaces and who may act in them: the approval policy, members and their roles, and the
workspace's Instantly key (the active one and a pasted one waiting for its verification)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Self

from django.conf import settings
from django.db import models
from django.db.models import Q

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

    # Not a column: the workspace's Instantly key as read together with the request's
    # membership (`access.workspace_view(with_key=True)`, for the views that ask Instantly
    # for a quote on every edit), in a 1-tuple so that "read: no key" differs from "not
    # read". Only `instantly_keys.instantly_client_for` uses it; anything else reads the key.
    key_read_with_membership: tuple[InstantlyKey | None] | None = None

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
