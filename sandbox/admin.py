"""The sandbox's control panel: plans, cards, prices, stock and fault switches.

Keys are issued with `manage.py sandbox_key` (or sandbox.services), never here: the admin
only ever shows a key's last 4 characters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts
    from django.utils.functional import _StrOrPromise

from sandbox.models import (
    Charge,
    DfyAccount,
    DomainOrder,
    PreWarmedDomain,
    RequestLog,
    RestrictedKeyword,
    SandboxKey,
    SandboxSettings,
    SandboxWorkspace,
    TakenDomain,
)
from sandbox.switches import account_health_clear, account_health_set

KNOB_FIELDSETS: list[tuple[_StrOrPromise | None, _FieldOpts]] = [
    (
        "Prices",
        {
            "fields": [
                "domain_price_per_year",
                "google_price_per_month",
                "airmail_price_per_month",
                "prewarmed_price_per_month",
                "microsoft_price_per_domain_per_month",
            ]
        },
    ),
    (
        "Promotion",
        {"fields": ["free_domains", "free_domain_count", "discount_percent"]},
    ),
    (
        "Faults and timing",
        {
            "fields": [
                "latency_ms",
                "burst_429_remaining",
                "error_5xx_rate",
                "error_5xx_remaining",
                "timeout_after_record",
                "timeout_without_record",
                "timeout_after_record_seconds",
                "payment_failure_reason",
                "unavailable_providers",
                "empty_prewarmed_stock",
                "provisioning_delay_seconds",
                "enforce_rate_limits",
                "forwarding_unsupported",
                "forwarding_apply_fails",
            ]
        },
    ),
]


@admin.register(SandboxSettings)
class SandboxSettingsAdmin(admin.ModelAdmin[SandboxSettings]):
    """One row. Blank fields fall back to the built-in defaults of sandbox/rules.py."""

    fieldsets = KNOB_FIELDSETS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not SandboxSettings.objects.exists()

    def has_delete_permission(
        self, request: HttpRequest, obj: SandboxSettings | None = None
    ) -> bool:
        return False


class SandboxKeyInline(admin.TabularInline[SandboxKey, SandboxWorkspace]):
    model = SandboxKey
    extra = 0
    fields = ["name", "masked", "scopes", "created_at", "revoked_at"]
    readonly_fields = ["masked", "created_at"]

    @admin.display(description="Key")
    def masked(self, obj: SandboxKey) -> str:
        return f"····{obj.last4}"

    def has_add_permission(
        self, request: HttpRequest, obj: SandboxWorkspace | None = None
    ) -> bool:
        return False


@admin.register(SandboxWorkspace)
class SandboxWorkspaceAdmin(admin.ModelAdmin[SandboxWorkspace]):
    """Blank price or switch fields here mean "use the global settings"."""

    list_display = [
        "name",
        "id",
        "plan_active",
        "has_payment_method",
        "external_ref",
        "created_at",
    ]
    list_filter = ["plan_active", "has_payment_method"]
    search_fields = ["name", "external_ref", "id"]
    readonly_fields = ["id", "owner_id", "created_at", "updated_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "id",
                    "owner_id",
                    "external_ref",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        (
            "Plan and card",
            {
                "fields": [
                    "plan_active",
                    "has_payment_method",
                    "card_brand",
                    "card_last4",
                    "card_name",
                ]
            },
        ),
        *KNOB_FIELDSETS,
    ]
    inlines = [SandboxKeyInline]


@admin.register(SandboxKey)
class SandboxKeyAdmin(admin.ModelAdmin[SandboxKey]):
    list_display = ["__str__", "workspace", "scopes", "created_at", "revoked_at"]
    list_select_related = ["workspace"]
    search_fields = ["name", "last4", "workspace__name"]
    fields = ["workspace", "name", "last4", "scopes", "created_at", "revoked_at"]
    readonly_fields = ["workspace", "last4", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(TakenDomain)
class TakenDomainAdmin(admin.ModelAdmin[TakenDomain]):
    list_display = ["domain", "workspace", "created_at"]
    search_fields = ["domain"]
    list_select_related = ["workspace"]
    raw_id_fields = ["workspace"]


@admin.register(RestrictedKeyword)
class RestrictedKeywordAdmin(admin.ModelAdmin[RestrictedKeyword]):
    search_fields = ["keyword"]


@admin.register(PreWarmedDomain)
class PreWarmedDomainAdmin(admin.ModelAdmin[PreWarmedDomain]):
    list_display = ["domain", "account_type", "mailbox_count", "created_at"]
    list_filter = ["account_type"]
    search_fields = ["domain"]


_M = TypeVar("_M", bound=Model)


class ReadOnlyAdmin(admin.ModelAdmin[_M]):
    """Rows the API writes; staff look, the API stays the only writer. Not deletable either,
    as in the portal's admin: charges are money, and the request log is the record the
    "exactly one real order POST" checks count."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: _M | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: _M | None = None
    ) -> bool:
        return False


@admin.register(DomainOrder)
class DomainOrderAdmin(ReadOnlyAdmin[DomainOrder]):
    list_display = [
        "domain",
        "workspace",
        "email_provider",
        "is_pre_warmed_up",
        "timestamp_created",
        "timestamp_cancelled",
    ]
    list_filter = ["email_provider", "is_pre_warmed_up"]
    list_select_related = ["workspace"]
    search_fields = ["domain", "workspace__name"]
    date_hierarchy = "timestamp_created"


def _health_action(
    name: str,
    description: str,
    *,
    status: int | None = None,
    warmup_status: int | None = None,
) -> Callable[[Any, HttpRequest, QuerySet[DfyAccount]], None]:
    """An admin action that sets (or, given neither value, clears) the accounts API's health
    switches of the selected mailboxes."""

    def action(
        modeladmin: DfyAccountAdmin,
        request: HttpRequest,
        queryset: QuerySet[DfyAccount],
    ) -> None:
        chosen = list(queryset.values_list("email", flat=True))
        if status is None and warmup_status is None:
            changed = account_health_clear(emails=chosen)
        else:
            changed = account_health_set(
                emails=chosen, status=status, warmup_status=warmup_status
            )
        modeladmin.message_user(request, f"{changed} mailbox(es) changed.")

    action.__name__ = name
    return admin.action(description=description)(action)


@admin.register(DfyAccount)
class DfyAccountAdmin(ReadOnlyAdmin[DfyAccount]):
    """Mailboxes are the API's rows; the actions flip what the accounts API reports for
    them (sandbox.switches.account_health_set), nothing else."""

    list_display = [
        "email",
        "workspace",
        "email_provider",
        "status_override",
        "warmup_status_override",
        "timestamp_created",
        "timestamp_cancelled",
    ]
    list_filter = [
        "email_provider",
        "is_pre_warmed_up",
        "status_override",
        "warmup_status_override",
    ]
    list_select_related = ["workspace"]
    search_fields = ["email", "domain"]
    exclude = ["password"]
    actions = [
        _health_action("disconnect", "Accounts API: disconnect (status -1)", status=-1),
        _health_action(
            "soft_bounce", "Accounts API: soft bounce error (status -2)", status=-2
        ),
        _health_action(
            "sending_error", "Accounts API: sending error (status -3)", status=-3
        ),
        _health_action("pause", "Accounts API: pause (status 2)", status=2),
        _health_action(
            "pause_warmup", "Accounts API: pause warmup (warmup 0)", warmup_status=0
        ),
        _health_action(
            "ban_warmup", "Accounts API: warmup banned (warmup -1)", warmup_status=-1
        ),
        _health_action("clear_health", "Accounts API: clear the health switches"),
    ]


@admin.register(Charge)
class ChargeAdmin(ReadOnlyAdmin[Charge]):
    list_display = ["created_at", "workspace", "amount", "domains"]
    list_select_related = ["workspace"]


@admin.register(RequestLog)
class RequestLogAdmin(ReadOnlyAdmin[RequestLog]):
    list_display = [
        "created_at",
        "method",
        "path",
        "status_code",
        "real_order",
        "order_placed",
        "workspace",
    ]
    list_filter = ["real_order", "order_placed", "status_code", "method"]
    list_select_related = ["workspace"]
    search_fields = ["path"]
