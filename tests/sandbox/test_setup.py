"""Ways in: the sandbox_key command, the demo key, switches_set and the admin."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from orders.demo import ensure_demo_key
from orders.models import InstantlyKey
from sandbox.models import (
    Charge,
    DfyAccount,
    DomainOrder,
    Knobs,
    PaymentFailure,
    PreWarmedDomain,
    RequestLog,
    RestrictedKeyword,
    SandboxKey,
    SandboxSettings,
    SandboxWorkspace,
    TakenDomain,
)
from sandbox.rules import DEFAULT_KNOBS, PAYMENT_FAILURE_REASONS
from sandbox.services import key_hash
from sandbox.switches import COUNTERS, effective, switches_set
from tests.factories import WorkspaceFactory
from tests.sandbox.conftest import ORDERS, item

pytestmark = pytest.mark.django_db


def run_sandbox_key(*args):
    out = StringIO()
    call_command("sandbox_key", *args, stdout=out)
    return out.getvalue()


def test_sandbox_key_prints_only_a_working_key(anonymous):
    output = run_sandbox_key("--scopes", "all:all")

    key = output.strip()
    assert output == f"{key}\n"
    assert key.startswith("sbx_")
    assert SandboxKey.objects.get().key_hash == key_hash(key)
    assert (
        anonymous.get(ORDERS, headers={"Authorization": f"Bearer {key}"}).status_code
        == 200
    )


def test_sandbox_key_options(anonymous):
    key = run_sandbox_key(
        "--workspace",
        "Broke",
        "--scopes",
        "dfy_email_account_orders:read,workspaces:read",
        "--no-plan",
        "--no-payment-method",
    ).strip()

    workspace = SandboxWorkspace.objects.get(name="Broke")
    assert (workspace.plan_active, workspace.has_payment_method) == (False, False)
    assert SandboxKey.objects.get().scopes == [
        "dfy_email_account_orders:read",
        "workspaces:read",
    ]
    assert (
        anonymous.get(ORDERS, headers={"Authorization": f"Bearer {key}"}).status_code
        == 402
    )


def test_sandbox_key_reuses_a_named_workspace():
    run_sandbox_key("--workspace", "Team")
    run_sandbox_key("--workspace", "Team", "--scopes", "all:read")

    assert SandboxWorkspace.objects.count() == 1
    assert SandboxKey.objects.count() == 2


def test_sandbox_key_refuses_bad_scopes():
    with pytest.raises(CommandError, match="Not a scope"):
        run_sandbox_key("--scopes", "everything")


def test_ensure_demo_key_is_idempotent(settings):
    settings.INSTANTLY_SANDBOX_BASE_URL = "http://testserver/sandbox/api/v2"
    workspace = WorkspaceFactory(name="Demo", slug="demo")

    ensure_demo_key(workspace)
    ensure_demo_key(workspace)

    sandbox_workspace = SandboxWorkspace.objects.get(external_ref="portal:demo")
    assert (
        sandbox_workspace.plan_active,
        sandbox_workspace.card_brand,
        sandbox_workspace.card_last4,
    ) == (True, "Visa", "4242")
    assert SandboxKey.objects.get().scopes == ["all:all"]
    stored = InstantlyKey.objects.get(workspace=workspace)
    assert stored.base_url == "http://testserver/sandbox/api/v2"
    assert stored.label == "Sandbox"
    assert SandboxKey.objects.get().key_hash == key_hash(stored.reveal())
    assert PreWarmedDomain.objects.count() == 5
    assert TakenDomain.objects.filter(domain="example.com").exists()


def test_demo_key_answers_through_the_api(anonymous, settings):
    workspace = WorkspaceFactory(slug="demo")
    ensure_demo_key(workspace)
    secret = InstantlyKey.objects.get(workspace=workspace).reveal()

    response = anonymous.post(
        f"{ORDERS}/domains/pre-warmed-up-list",
        json={},
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 200
    assert len(response.json()["domains"]) == 5


def test_demo_key_leaves_an_existing_portal_key_alone():
    workspace = WorkspaceFactory(slug="demo")
    from orders.instantly_keys import instantly_key_save

    instantly_key_save(
        workspace=workspace,
        by=None,
        secret="live-key-1234",
        label="Live",
        base_url="https://api.instantly.ai/api/v2",
    )

    ensure_demo_key(workspace)

    assert InstantlyKey.objects.get(workspace=workspace).label == "Live"
    assert not SandboxKey.objects.exists()


def test_switches_set_refuses_unknown_names():
    with pytest.raises(TypeError, match="latency"):
        switches_set(latencyms=5)


def test_every_knob_has_a_default_and_an_effective_value():
    fields = {f.name for f in Knobs._meta.get_fields()}

    assert fields == set(DEFAULT_KNOBS) | {"payment_failure_reason"} | set(COUNTERS)
    assert {c.value for c in PaymentFailure} - {"", "none"} == set(
        PAYMENT_FAILURE_REASONS
    )
    assert effective(None).prices.domain_per_year == 15


def test_global_settings_row_starts_with_the_published_prices():
    row = SandboxSettings.load()

    assert (
        row.domain_price_per_year,
        row.google_price_per_month,
        row.prewarmed_price_per_month,
    ) == (15, 5, 10)
    assert row.microsoft_price_per_domain_per_month == 20
    assert row.provisioning_delay_seconds == 120


def test_restricted_keywords_are_seeded():
    assert {
        "google",
        "microsoft",
        "amazon",
        "apple",
        "paypal",
        "equifax",
        "instantly",
        "facebook",
        "netflix",
    } <= set(RestrictedKeyword.objects.values_list("keyword", flat=True))


@pytest.mark.parametrize(
    "model",
    [
        SandboxSettings,
        SandboxWorkspace,
        SandboxKey,
        TakenDomain,
        RestrictedKeyword,
        PreWarmedDomain,
        DomainOrder,
        DfyAccount,
        Charge,
        RequestLog,
    ],
)
def test_admin_pages_open_and_never_show_a_clear_key(
    admin_client, sandbox, stock, model
):
    sandbox.order([item("fresh.com", 1)])
    SandboxSettings.load()
    opts = model._meta

    changelist = admin_client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    )
    change = admin_client.get(
        reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change",
            args=[model.objects.first().pk],
        )
    )

    assert changelist.status_code == 200
    assert change.status_code == 200
    for page in (changelist, change):
        assert sandbox.key not in page.content.decode()
        assert SandboxKey.objects.get().key_hash not in page.content.decode()
