from __future__ import annotations

from django.urls import URLPattern, path, re_path

from sandbox import api, forwarding

app_name = "sandbox"

# Mounted at /sandbox/, so the API base is /sandbox/api/v2 like https://api.instantly.ai/api/v2.
urlpatterns: list[URLPattern] = [
    path("api/v2/dfy-email-account-orders", api.dfy_orders, name="dfy-orders"),
    path(
        "api/v2/dfy-email-account-orders/domains/similar",
        api.domains_similar_view,
        name="domains-similar",
    ),
    path(
        "api/v2/dfy-email-account-orders/domains/check",
        api.domains_check_view,
        name="domains-check",
    ),
    path(
        "api/v2/dfy-email-account-orders/domains/pre-warmed-up-list",
        api.prewarmed_list_view,
        name="prewarmed-list",
    ),
    path(
        "api/v2/dfy-email-account-orders/accounts",
        api.accounts_list_view,
        name="accounts-list",
    ),
    path(
        "api/v2/dfy-email-account-orders/accounts/cancel",
        api.accounts_cancel_view,
        name="accounts-cancel",
    ),
    path(
        "api/v2/workspaces/current",
        api.workspace_current_view,
        name="workspace-current",
    ),
    path(
        "api/v2/domains/<str:domain>/forwarding",
        forwarding.forwarding_view,
        name="domain-forwarding",
    ),
    path("api/v2/accounts", api.sending_accounts_view, name="sending-accounts"),
    path(
        "api/v2/accounts/<str:email>",
        api.sending_account_view,
        name="sending-account",
    ),
    re_path(r"^api/v2(?P<rest>/.*)?$", api.not_found_view, name="not-found"),
]
