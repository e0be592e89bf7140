"""Four-eyes is about people (issue #9): nobody approves, re-approves or re-submits an order
whose quote they submitted or whose contents they edited since it was last decided; only its
submitter or a lead may take a waiting request back for editing.

Through the test client against the real views, on PostgreSQL. The remote is the in-process
sandbox, which counts real order POSTs; placement runs from the recorded task queue, except in
the last test, where a real Celery worker on Redis places the order.
"""

from __future__ import annotations

import re
from decimal import Decimal
from importlib import import_module

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from orders.models import Order, OrderEdit, OrderStatus
from sandbox.models import real_order_posts
from sandbox.switches import switches_set
from tests.conftest import require_service
from tests.factories import MembershipFactory, UserFactory
from tests.integration.support import JANE, JOHN, live_sandbox_remote
from tests.integration.test_money_path import wait_for

# Four-eyes rules are database-neutral: these run on SQLite too (the mutation runs use it)
# and on PostgreSQL in CI.
pytestmark = [pytest.mark.django_db]
HX = {"HX-Request": "true"}
ACME = [("acme-mail.com", [JANE, JOHN])]
ACME_AND_MORE = [("acme-mail.com", [JANE, JOHN]), ("acme-send.com", [JANE])]


@pytest.fixture
def lina(workspace):
    """A second lead without an approval limit."""
    return MembershipFactory(
        workspace=workspace, role="lead", user=UserFactory(username="lina")
    ).user


@pytest.fixture
def otto(workspace):
    """A second operator."""
    return MembershipFactory(
        workspace=workspace, role="operator", user=UserFactory(username="otto")
    ).user


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name, order, **kwargs) -> str:
    return reverse(f"orders:{name}", args=[order.workspace.slug, order.pk], **kwargs)


def create(user, workspace) -> Order:
    response = as_user(user).post(
        reverse("orders:new", args=[workspace.slug]),
        {"order_type": "dfy", "title": "Q3"},
    )
    assert response.status_code == 302
    return Order.objects.get(requester=user, title="Q3")


def build(user, order, items) -> None:
    """One autosave of the builder, as typing sends it; the view saves and quotes."""
    order.refresh_from_db()
    data = {"version": str(order.version), "order_type": "dfy", "title": order.title}
    for i, (domain, mailboxes) in enumerate(items):
        data |= {
            f"item-{i}-domain": domain,
            f"item-{i}-provider": "1",
            f"item-{i}-forwarding": "",
        }
        for j, (first, last, prefix) in enumerate(mailboxes):
            data |= {
                f"item-{i}-mb-{j}-first": first,
                f"item-{i}-mb-{j}-last": last,
                f"item-{i}-mb-{j}-prefix": prefix,
            }
    response = as_user(user).post(url("build", order), data, headers=HX)
    assert response.status_code == 200


def submit(user, order) -> None:
    as_user(user).post(url("quote", order))
    order.refresh_from_db()
    response = as_user(user).post(
        url("submit", order),
        {"version": order.version, "fingerprint": order.quotes.first().fingerprint},
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_APPROVAL, order.status


def approve(user, order, capture):
    """The inbox's approve button (htmx): the card comes back with the outcome."""
    with capture(execute=True):
        return as_user(user).post(
            url("approve", order),
            {"quote": order.approved_quote_id, "comment": ""},
            headers=HX,
        )


def reject(user, order) -> None:
    response = as_user(user).post(url("reject", order), {"comment": "Too many"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.REJECTED


def reopen(user, order):
    return as_user(user).post(url("detail", order), {"reopen": "1"})


def place(queue, capture) -> None:
    queue.drain(capture)


def status_of(order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


def refused(response, *reasons: str) -> None:
    html = response.content.decode()
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    for reason in reasons:
        assert reason in html, html
    assert "Four-eyes rule: a lead who neither submitted nor edited it" in html


# --- Approval -------------------------------------------------------------------------------


def test_lead_who_fills_and_submits_anothers_draft_cannot_approve_it(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    order = create(operator, workspace)
    build(lead, order, ACME)
    submit(lead, order)

    response = approve(lead, order, django_capture_on_commit_callbacks)
    place(queue, django_capture_on_commit_callbacks)

    refused(response, "You submitted this order.", "You edited this order (version 2).")
    assert status_of(order) == OrderStatus.PENDING_APPROVAL
    assert not order.events.filter(kind="approved").exists()
    assert remote.real_posts() == 0


def test_lead_who_reopens_edits_and_resubmits_a_request_cannot_approve_it(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    order = create(operator, workspace)
    build(operator, order, ACME)
    submit(operator, order)

    assert reopen(lead, order).status_code == 302
    build(lead, order, ACME_AND_MORE)
    submit(lead, order)
    response = approve(lead, order, django_capture_on_commit_callbacks)
    place(queue, django_capture_on_commit_callbacks)

    refused(response, "You submitted this order.", "You edited this order (version 4).")
    assert status_of(order) == OrderStatus.PENDING_APPROVAL
    assert remote.real_posts() == 0
    assert list(order.edits.values_list("version", "editor__username")) == [
        (2, "olivia"),
        (4, "leo"),
    ]


def test_csv_import_makes_its_importer_an_editor(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    order = create(operator, workspace)
    build(operator, order, ACME)
    order.refresh_from_db()
    imported = as_user(lead).post(
        url("csv_import", order),
        {
            "version": order.version,
            "file": SimpleUploadedFile(
                "m.csv",
                b"domain,first_name,last_name,email_prefix\nacme-mail.com,Ann,Lee,ann\n",
                "text/csv",
            ),
        },
    )
    assert imported.status_code == 302
    submit(operator, order)

    response = approve(lead, order, django_capture_on_commit_callbacks)
    place(queue, django_capture_on_commit_callbacks)

    refused(response, "You edited this order (version 3).")
    assert "You submitted this order." not in response.content.decode()
    assert status_of(order) == OrderStatus.PENDING_APPROVAL
    assert remote.real_posts() == 0


def test_a_lead_who_neither_submitted_nor_edited_approves_even_as_the_drafts_creator(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    order = create(lead, workspace)  # the requester, and nothing more
    build(operator, order, ACME)
    submit(operator, order)

    response = approve(lead, order, django_capture_on_commit_callbacks)
    place(queue, django_capture_on_commit_callbacks)

    assert "approved: it is being placed" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    assert order.approver == lead
    assert remote.real_posts() == 1


def test_the_lead_who_rejected_then_revised_the_draft_cannot_approve_it(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    order = create(operator, workspace)
    build(operator, order, ACME)
    submit(operator, order)
    reject(lead, order)

    build(lead, order, ACME_AND_MORE)
    submit(operator, order)
    response = approve(lead, order, django_capture_on_commit_callbacks)
    place(queue, django_capture_on_commit_callbacks)

    refused(response, "You edited this order (version 3).")
    assert status_of(order) == OrderStatus.PENDING_APPROVAL
    assert remote.real_posts() == 0


def test_edits_before_the_last_decision_no_longer_count(
    workspace, operator, lead, lina, remote, queue, django_capture_on_commit_callbacks
):
    order = create(operator, workspace)
    build(lead, order, ACME)
    submit(operator, order)
    reject(lina, order)
    build(operator, order, ACME_AND_MORE)
    submit(operator, order)

    response = approve(lead, order, django_capture_on_commit_callbacks)
    place(queue, django_capture_on_commit_callbacks)

    assert "approved: it is being placed" in response.content.decode()
    assert status_of(order) == OrderStatus.PLACED
    assert remote.real_posts() == 1


def test_an_identical_save_of_a_rejected_draft_makes_nobody_an_editor(
    workspace, operator, lead, lina, remote, queue, django_capture_on_commit_callbacks
):
    order = create(operator, workspace)
    build(operator, order, ACME)
    submit(operator, order)
    reject(lina, order)
    build(lead, order, ACME)  # autosave on focus, nothing changed
    submit(operator, order)

    response = approve(lead, order, django_capture_on_commit_callbacks)

    assert "approved: it is being placed" in response.content.decode()
    assert not order.edits.filter(editor=lead).exists()


def test_self_approval_setting_turns_the_rule_off(
    workspace, lead, remote, queue, django_capture_on_commit_callbacks
):
    workspace.allow_self_approval = True
    workspace.save(update_fields=["allow_self_approval"])
    order = create(lead, workspace)
    build(lead, order, ACME)
    submit(lead, order)

    response = approve(lead, order, django_capture_on_commit_callbacks)
    place(queue, django_capture_on_commit_callbacks)

    assert "approved: it is being placed" in response.content.decode()
    assert remote.real_posts() == 1


def test_approval_pages_say_why_in_plain_words(workspace, operator, lead, remote):
    order = create(operator, workspace)
    build(lead, order, ACME)
    submit(lead, order)
    client = as_user(lead)

    inbox = client.get(reverse("orders:approvals", args=[workspace.slug]))
    detail = client.get(url("detail", order))

    card = re.search(
        rf'id="approval-{order.pk}-reasons">(.*?)</ul>', inbox.content.decode(), re.S
    )
    assert card is not None
    assert "<li>You submitted this order.</li>" in card.group(1)
    assert "<li>You edited this order (version 2).</li>" in card.group(1)
    assert re.search(r"<button[^>]*disabled[^>]*>Approve \$", inbox.content.decode())
    reasons = re.search(
        r'id="decision-reasons">(.*?)</ul>', detail.content.decode(), re.S
    )
    assert reasons is not None
    assert "You submitted this order." in reasons.group(1)
    assert "You edited this order (version 2)." in reasons.group(1)
    assert "submitted by leo" in detail.content.decode()


# --- Re-approval after drift and re-submission ----------------------------------------------


@pytest.fixture
def drifted(
    workspace, operator, lead, lina, remote, queue, django_capture_on_commit_callbacks
):
    """Filled by the operator, edited by leo, submitted by the operator, approved by lina;
    the worker's re-quote finds a new price and buys nothing."""
    order = create(operator, workspace)
    build(operator, order, ACME)
    build(lead, order, ACME_AND_MORE)
    submit(operator, order)
    approve(lina, order, django_capture_on_commit_callbacks)
    switches_set(workspace=remote.sandbox, google_price_per_month=Decimal("7"))
    place(queue, django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == OrderStatus.NEEDS_REAPPROVAL
    return order


def test_needs_reapproval_cannot_be_approved_by_its_submitter(
    drifted, workspace, operator, remote, queue, django_capture_on_commit_callbacks
):
    # The submitter is made a lead: only the four-eyes rule stands in the way.
    operator.memberships.update(role="lead")

    response = approve(operator, drifted, django_capture_on_commit_callbacks)
    place(queue, django_capture_on_commit_callbacks)

    refused(response, "You submitted this order.")
    assert status_of(drifted) == OrderStatus.NEEDS_REAPPROVAL
    assert remote.real_posts() == 0


def test_needs_reapproval_cannot_be_approved_by_an_editor_of_the_approved_contents(
    drifted, lead, remote, queue, django_capture_on_commit_callbacks
):
    response = approve(lead, drifted, django_capture_on_commit_callbacks)
    place(queue, django_capture_on_commit_callbacks)

    refused(response, "You edited this order (version 3).")
    assert status_of(drifted) == OrderStatus.NEEDS_REAPPROVAL
    assert remote.real_posts() == 0


def test_needs_reapproval_approved_by_another_lead_is_bought_once(
    drifted, lina, remote, queue, django_capture_on_commit_callbacks
):
    response = approve(lina, drifted, django_capture_on_commit_callbacks)
    place(queue, django_capture_on_commit_callbacks)

    assert "approved: it is being placed" in response.content.decode()
    assert status_of(drifted) == OrderStatus.PLACED
    assert remote.real_posts() == 1


@pytest.fixture
def failed(
    workspace, operator, lead, lina, remote, queue, django_capture_on_commit_callbacks
):
    """Filled by the operator, submitted by leo, approved by lina, refused by Instantly."""
    order = create(operator, workspace)
    build(operator, order, ACME)
    submit(lead, order)
    approve(lina, order, django_capture_on_commit_callbacks)
    switches_set(workspace=remote.sandbox, payment_failure_reason="card_expired")
    place(queue, django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED
    assert remote.real_posts() == 1
    switches_set(workspace=remote.sandbox, payment_failure_reason="")
    return order


def test_resubmit_by_the_submitter_is_refused(
    failed, lead, remote, queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(lead).post(
            url("resolve", failed), {"action": "resubmit"}, follow=True
        )
    place(queue, django_capture_on_commit_callbacks)

    html = response.content.decode()
    assert "You submitted this order." in html
    assert "a lead who neither submitted nor edited it must re-submit it" in html
    assert status_of(failed) == OrderStatus.FAILED
    assert not failed.events.filter(kind="resubmitted").exists()
    assert remote.real_posts() == 1


def test_resubmit_by_an_editor_is_refused(
    failed, operator, remote, queue, django_capture_on_commit_callbacks
):
    operator.memberships.update(role="lead")

    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(operator).post(
            url("resolve", failed), {"action": "resubmit"}, follow=True
        )
    place(queue, django_capture_on_commit_callbacks)

    assert "You edited this order (version 2)." in response.content.decode()
    assert status_of(failed) == OrderStatus.FAILED
    assert remote.real_posts() == 1


# --- Reopening a waiting request ------------------------------------------------------------


def test_an_operator_cannot_reopen_someone_elses_waiting_request(
    workspace, operator, otto, remote
):
    order = create(operator, workspace)
    build(operator, order, ACME)
    submit(operator, order)

    page = as_user(otto).get(url("detail", order))
    response = reopen(otto, order)

    assert 'name="reopen"' not in page.content.decode()
    assert response.status_code == 403
    assert (
        "only the person who submitted it or a lead can take it back for editing"
        in response.content.decode()
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_APPROVAL
    assert order.approved_quote is not None
    assert not order.events.filter(kind="reopened").exists()


def test_the_submitter_reopens_their_own_request_and_the_timeline_names_them(
    workspace, operator, lead, remote
):
    order = create(operator, workspace)
    build(operator, order, ACME)
    submit(operator, order)

    response = reopen(operator, order)
    order.refresh_from_db()
    submit(operator, order)
    page = as_user(lead).get(url("detail", order))

    assert response.status_code == 302
    assert response["Location"] == url("build", order)
    event = order.events.get(kind="reopened")
    assert event.actor == operator
    assert event.from_status == OrderStatus.PENDING_APPROVAL
    entry = re.search(rf'<li id="event-{event.pk}">(.*?)</li>', page.content.decode())
    assert entry is not None
    assert "Reopened for editing" in entry.group(1)
    assert "by olivia" in entry.group(1)


def test_a_lead_may_reopen_a_request_whose_price_changed(drifted, lina, remote):
    response = reopen(lina, drifted)

    assert response.status_code == 302
    drifted.refresh_from_db()
    assert drifted.status == OrderStatus.DRAFT
    assert drifted.events.get(kind="reopened").actor == lina


def test_edits_are_recorded_per_version_and_identical_saves_are_not(
    workspace, operator, lead, remote
):
    order = create(operator, workspace)
    build(operator, order, ACME)
    build(operator, order, ACME)
    build(lead, order, ACME_AND_MORE)

    assert list(
        OrderEdit.objects.filter(order=order).values_list("version", "editor__username")
    ) == [(2, "olivia"), (3, "leo")]


# --- With a real worker ---------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_refused_self_approval_buys_nothing_and_another_leads_approval_buys_once(
    live_server, workspace, operator, lead, lina, settings, celery_worker_process
):
    require_service(
        "Redis",
        bool(getattr(django_settings, "REDIS_URL", "")),
        "set REDIS_URL=redis://... (the worker's broker)",
    )
    remote = live_sandbox_remote(live_server, workspace, settings)
    order = create(operator, workspace)
    build(lead, order, ACME)
    submit(operator, order)

    own = as_user(lead).post(
        url("approve", order), {"quote": order.approved_quote_id}, follow=True
    )
    assert "You edited this order (version 2)." in own.content.decode()
    assert status_of(order) == OrderStatus.PENDING_APPROVAL

    as_user(lina).post(url("approve", order), {"quote": order.approved_quote_id})
    wait_for(
        lambda: status_of(order) == OrderStatus.PLACED, "placed", celery_worker_process
    )

    order.refresh_from_db()
    assert real_order_posts(remote) == 1
    assert order.approver == lina
    assert list(
        order.events.filter(kind="approved").values_list("actor__username", flat=True)
    ) == ["lina"]


def test_orders_from_before_the_change_keep_their_requester_as_editor(
    workspace, operator, lead, remote
):
    """The migration's backfill: the submitter from the "submitted" event, the requester
    standing in for the edits nobody recorded."""
    from django.apps import apps

    backfill = import_module("orders.migrations.0005_four_eyes").backfill
    order = create(lead, workspace)
    build(lead, order, ACME)
    submit(operator, order)
    OrderEdit.objects.all().delete()
    Order.objects.filter(pk=order.pk).update(submitted_by=None)

    backfill(apps, None)
    page = as_user(lead).get(reverse("orders:approvals", args=[workspace.slug]))

    order.refresh_from_db()
    assert order.submitted_by == operator
    assert list(order.edits.values_list("version", "editor__username")) == [(2, "leo")]
    assert "You edited this order (version 2)." in page.content.decode()
