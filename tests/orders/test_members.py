"""The members page (workspace admins): add, invite, change role and limit, remove; the last
admin rule; who may use it. Through the test client, htmx and plain branches."""

from __future__ import annotations

import json
import re
import threading
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connection, transaction
from django.urls import reverse

from orders import members
from orders.models import Membership, OrderStatus, Role
from tests.conftest import require_service
from tests.factories import MembershipFactory, UserFactory
from tests.integration.support import TaskQueue, submitted_order

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def admin_client(client, ws_admin):
    client.force_login(ws_admin)
    return client


def page_url(workspace):
    return reverse("orders:members", args=[workspace.slug])


def change_url(membership):
    return reverse(
        "orders:member_change", args=[membership.workspace.slug, membership.pk]
    )


def remove_url(membership):
    return reverse(
        "orders:member_remove", args=[membership.workspace.slug, membership.pk]
    )


def change_data(membership, role, limit=""):
    return {f"m{membership.pk}-role": role, f"m{membership.pk}-approval_limit": limit}


def membership_of(user, workspace):
    return Membership.objects.get(user=user, workspace=workspace)


# --- who may use it ----------------------------------------------------------------------


def test_admin_sees_every_member_and_the_nav_link(
    admin_client, workspace, operator, lead
):
    response = admin_client.get(page_url(workspace))

    html = response.content.decode()
    assert "<html" in html
    for user in (operator, lead):
        assert f'id="member-{membership_of(user, workspace).pk}"' in html
    assert f'href="{page_url(workspace)}">Members</a>' in html
    assert 'value="500.00"' in html  # the lead's limit, ready to edit


@pytest.mark.parametrize("role", ["operator", "lead"])
def test_operator_and_lead_get_403_everywhere_and_no_nav_link(
    client, workspace, ws_admin, role
):
    member = MembershipFactory(workspace=workspace, role=role).user
    target = membership_of(ws_admin, workspace)
    client.force_login(member)

    responses = [
        client.get(page_url(workspace)),
        client.post(
            page_url(workspace),
            {"username_or_email": member.username, "role": "admin", "action": "add"},
        ),
        client.post(change_url(target), change_data(target, "operator")),
        client.get(remove_url(target)),
        client.post(remove_url(target)),
    ]
    dashboard = client.get(reverse("orders:dashboard", args=[workspace.slug]))

    assert [r.status_code for r in responses] == [403] * 5
    assert "Workspace admin" in responses[0].content.decode()
    assert f'href="{page_url(workspace)}"' not in dashboard.content.decode()
    target.refresh_from_db()
    assert target.role == Role.ADMIN
    assert membership_of(member, workspace).role == role


def test_another_workspace_and_its_members_answer_404(
    admin_client, workspace, other_workspace
):
    foreign = MembershipFactory(workspace=other_workspace, role="admin")
    MembershipFactory(workspace=other_workspace, role="admin")
    # The foreign membership's pk under this workspace's own URL.
    under_mine = reverse("orders:member_change", args=[workspace.slug, foreign.pk])
    remove_under_mine = reverse(
        "orders:member_remove", args=[workspace.slug, foreign.pk]
    )

    assert admin_client.get(page_url(other_workspace)).status_code == 404
    assert (
        admin_client.post(under_mine, change_data(foreign, "operator")).status_code
        == 404
    )
    assert admin_client.post(remove_under_mine).status_code == 404
    assert admin_client.get(remove_under_mine).status_code == 404
    foreign.refresh_from_db()
    assert foreign.role == Role.ADMIN


# --- add an existing account -----------------------------------------------------------


def test_add_existing_user_plain_redirects_with_a_message(admin_client, workspace):
    newcomer = UserFactory(username="nina")

    response = admin_client.post(
        page_url(workspace),
        {
            "username_or_email": "nina",
            "role": "lead",
            "approval_limit": "250",
            "action": "add",
        },
        follow=True,
    )

    assert response.redirect_chain == [(page_url(workspace), 302)]
    assert "Added nina as Lead." in response.content.decode()
    membership = membership_of(newcomer, workspace)
    assert (membership.role, membership.approval_limit) == ("lead", Decimal("250.00"))


def test_add_by_email_over_htmx_answers_the_panel(admin_client, workspace):
    newcomer = UserFactory(username="nina", email="Nina@Example.test")

    response = admin_client.post(
        page_url(workspace),
        {"username_or_email": "nina@example.test", "role": "operator", "action": "add"},
        headers=HX,
    )

    html = response.content.decode()
    membership = membership_of(newcomer, workspace)
    assert "<html" not in html
    assert html.strip().startswith('<div id="members-panel"')
    assert f'id="member-{membership.pk}"' in html
    assert "Added nina as Operator." in html
    assert response["HX-Trigger"] == json.dumps({"memberAdded": {"id": membership.pk}})
    assert len(mail.outbox) == 0


def test_add_unknown_user_keeps_the_input_and_says_to_invite(admin_client, workspace):
    for headers in ({}, HX):
        response = admin_client.post(
            page_url(workspace),
            {"username_or_email": "ghost", "role": "lead", "action": "add"},
            headers=headers,
        )

        html = response.content.decode()
        assert response.status_code == 200
        assert "No active account has the username or email “ghost”" in html
        assert "use Invite by email" in html
        assert 'value="ghost"' in html
    assert Membership.objects.filter(workspace=workspace).count() == 1


def test_add_existing_member_twice_is_refused(admin_client, workspace, lead):
    response = admin_client.post(
        page_url(workspace),
        {"username_or_email": "leo", "role": "admin", "action": "add"},
    )

    assert response.status_code == 200
    assert "leo is already a member of Acme (Lead)." in response.content.decode()
    assert membership_of(lead, workspace).role == Role.LEAD


def test_add_refuses_negative_limit_and_limit_on_an_operator(admin_client, workspace):
    UserFactory(username="nina")

    negative = admin_client.post(
        page_url(workspace),
        {
            "username_or_email": "nina",
            "role": "lead",
            "approval_limit": "-5",
            "action": "add",
        },
    )
    operator_limit = admin_client.post(
        page_url(workspace),
        {
            "username_or_email": "nina",
            "role": "operator",
            "approval_limit": "100",
            "action": "add",
        },
    )

    assert "The approval limit cannot be negative" in negative.content.decode()
    assert "Operators do not approve orders" in operator_limit.content.decode()
    assert not Membership.objects.filter(user__username="nina").exists()


# --- invite by email ----------------------------------------------------------------------


def test_invite_sends_one_email_whose_link_sets_a_password_and_logs_in(
    client, ws_admin, workspace, settings, django_capture_on_commit_callbacks, caplog
):
    settings.DFY_SITE_URL = "https://portal.example.test"
    client.force_login(ws_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            page_url(workspace),
            {
                "username_or_email": "newbie@example.test",
                "role": "lead",
                "approval_limit": "75",
                "action": "invite",
            },
            follow=True,
        )

    assert "Invited newbie@example.test" in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["newbie@example.test"]
    assert "Acme" in message.subject
    link = re.search(r"https://portal\.example\.test/reset/\S+", message.body).group(0)
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert token not in caplog.text  # the link is a secret: never logged
    invitee = membership_of(
        Membership.objects.get(user__email="newbie@example.test").user, workspace
    )
    assert invitee.role == Role.LEAD
    assert invitee.approval_limit == Decimal("75.00")
    assert not invitee.user.has_usable_password()
    assert "Invited" in client.get(page_url(workspace)).content.decode()

    client.logout()
    form_page = client.get(urlsplit(link).path, follow=True)
    assert "Choose your password" in form_page.content.decode()
    assert "newbie@example.test" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Quiet-Lantern-93", "new_password2": "Quiet-Lantern-93"},
        follow=True,
    )
    assert "Password set" in done.content.decode()
    login = client.post(
        reverse("login"),
        {"username": "newbie@example.test", "password": "Quiet-Lantern-93"},
        follow=True,
    )
    assert login.redirect_chain[-1][0] == reverse(
        "orders:dashboard", args=[workspace.slug]
    )
    assert login.context["user"].username == "newbie@example.test"
    # The link worked once.
    client.logout()
    again = client.get(urlsplit(link).path, follow=True)
    assert "This link no longer works" in again.content.decode()


def test_invite_of_an_invalid_address_creates_nobody(
    admin_client, workspace, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            page_url(workspace),
            {
                "username_or_email": "not an email",
                "role": "operator",
                "action": "invite",
            },
            headers=HX,
        )

    html = response.content.decode()
    assert "Enter a valid email address to invite someone" in html
    assert 'value="not an email"' in html
    assert len(mail.outbox) == 0
    assert not Membership.objects.filter(user__username="not an email").exists()


def test_service_refuses_an_invalid_address_too(ws_admin, workspace):
    with pytest.raises(members.MemberError, match="is not a valid email address"):
        members.member_invite(
            workspace=workspace,
            by=ws_admin,
            email="nobody@",
            role=Role.OPERATOR,
            approval_limit=None,
        )


def test_invite_of_an_account_in_use_adds_it_without_email(
    admin_client, workspace, django_capture_on_commit_callbacks
):
    existing = UserFactory(username="nina", email="nina@example.test")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            page_url(workspace),
            {
                "username_or_email": "nina@example.test",
                "role": "operator",
                "action": "invite",
            },
            follow=True,
        )

    assert "already has an account: added without an email" in response.content.decode()
    assert membership_of(existing, workspace).role == Role.OPERATOR
    assert len(mail.outbox) == 0


# --- change role and limit -----------------------------------------------------------------


def test_change_over_htmx_swaps_the_row(admin_client, workspace, operator):
    membership = membership_of(operator, workspace)

    response = admin_client.post(
        change_url(membership), change_data(membership, "lead", "120.50"), headers=HX
    )

    html = response.content.decode()
    assert "<html" not in html
    assert html.strip().startswith(f'<tr id="member-{membership.pk}"')
    assert "olivia is Lead and may approve up to $120.50." in html
    assert response["HX-Trigger"] == json.dumps(
        {"memberChanged": {"id": membership.pk}}
    )
    membership.refresh_from_db()
    assert (membership.role, membership.approval_limit) == ("lead", Decimal("120.50"))


def test_change_plain_redirects_with_a_message(admin_client, workspace, lead):
    membership = membership_of(lead, workspace)

    response = admin_client.post(
        change_url(membership), change_data(membership, "lead", ""), follow=True
    )

    assert response.redirect_chain == [(page_url(workspace), 302)]
    assert "leo is Lead and may approve any amount." in response.content.decode()
    membership.refresh_from_db()
    assert membership.approval_limit is None


def test_change_refuses_negative_and_operator_limits_keeping_the_input(
    admin_client, workspace, lead, operator
):
    lead_m, op_m = membership_of(lead, workspace), membership_of(operator, workspace)

    negative = admin_client.post(
        change_url(lead_m), change_data(lead_m, "lead", "-1"), headers=HX
    )
    on_operator = admin_client.post(
        change_url(op_m), change_data(op_m, "operator", "40")
    )

    assert "The approval limit cannot be negative" in negative.content.decode()
    assert 'value="-1"' in negative.content.decode()
    assert negative.content.decode().strip().startswith(f'<tr id="member-{lead_m.pk}"')
    assert on_operator.status_code == 200
    assert "<html" in on_operator.content.decode()
    assert "Operators do not approve orders" in on_operator.content.decode()
    assert 'value="40"' in on_operator.content.decode()
    lead_m.refresh_from_db()
    op_m.refresh_from_db()
    assert lead_m.approval_limit == Decimal("500.00")
    assert op_m.approval_limit is None


def test_demoting_a_lead_drops_the_limit_left_in_the_field(
    admin_client, workspace, lead
):
    membership = membership_of(lead, workspace)

    admin_client.post(
        change_url(membership), change_data(membership, "operator", "500.00")
    )

    membership.refresh_from_db()
    assert (membership.role, membership.approval_limit) == ("operator", None)


def test_service_refuses_a_limit_on_an_operator(ws_admin, workspace, lead):
    with pytest.raises(members.MemberError, match="Operators do not approve orders"):
        members.member_change(
            membership=membership_of(lead, workspace),
            by=ws_admin,
            role=Role.OPERATOR,
            approval_limit=Decimal("10"),
        )
    with pytest.raises(members.MemberError, match="cannot be negative"):
        members.member_change(
            membership=membership_of(lead, workspace),
            by=ws_admin,
            role=Role.LEAD,
            approval_limit=Decimal("-0.01"),
        )


# --- the last admin ----------------------------------------------------------------------


def test_last_admin_cannot_be_demoted_either_way(admin_client, ws_admin, workspace):
    membership = membership_of(ws_admin, workspace)

    htmx = admin_client.post(
        change_url(membership), change_data(membership, "lead"), headers=HX
    )
    plain = admin_client.post(
        change_url(membership), change_data(membership, "operator")
    )

    for response in (htmx, plain):
        assert response.status_code == 200
        assert (
            "ada is the last workspace admin of Acme: make someone else an admin first."
            in response.content.decode()
        )
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_last_admin_cannot_be_removed_either_way(admin_client, ws_admin, workspace):
    membership = membership_of(ws_admin, workspace)

    htmx = admin_client.post(remove_url(membership), headers=HX)
    plain = admin_client.post(remove_url(membership), follow=True)

    assert htmx.content.decode().strip().startswith(f'<tr id="member-{membership.pk}"')
    assert "is the last workspace admin of Acme and cannot be removed" in (
        htmx.content.decode()
    )
    assert "is the last workspace admin of Acme and cannot be removed" in (
        plain.content.decode()
    )
    assert Membership.objects.filter(pk=membership.pk, role="admin").exists()


def test_of_two_admins_one_may_step_down_then_the_other_may_not(
    client, ws_admin, workspace
):
    second = MembershipFactory(
        workspace=workspace, role="admin", user=UserFactory(username="bea")
    )
    first = membership_of(ws_admin, workspace)
    client.force_login(ws_admin)

    stepped_down = client.post(
        change_url(first), change_data(first, "lead"), follow=True
    )
    client.force_login(second.user)
    refused = client.post(change_url(second), change_data(second, "operator"))

    # ada is no longer an admin: she lands on the dashboard, not a 403.
    assert stepped_down.redirect_chain == [
        (reverse("orders:dashboard", args=[workspace.slug]), 302)
    ]
    assert "ada is Lead" in stepped_down.content.decode()
    assert "bea is the last workspace admin" in refused.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.role, second.role) == ("lead", "admin")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(workspace):
    require_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "set DATABASE_URL=postgres://... (the last-admin rule relies on row locks)",
    )
    ada = MembershipFactory(workspace=workspace, role="admin")
    bea = MembershipFactory(workspace=workspace, role="admin")
    first_changed, second_started = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def demote_ada() -> None:
        try:
            # The outer transaction holds ada's demotion (and its locks) uncommitted while
            # bea's demotion starts: without the locks, bea's would read two admins too.
            with transaction.atomic():
                members.member_change(
                    membership=ada, by=bea.user, role=Role.LEAD, approval_limit=None
                )
                first_changed.set()
                second_started.wait(10)
                time.sleep(
                    0.5
                )  # give the second a chance to run ahead if it is not blocked
            outcome["ada"] = "demoted"
        finally:
            connection.close()

    def demote_bea() -> None:
        first_changed.wait(10)
        second_started.set()
        try:
            members.member_change(
                membership=bea, by=ada.user, role=Role.LEAD, approval_limit=None
            )
            outcome["bea"] = "demoted"
        except members.MemberError as exc:
            outcome["bea"] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=demote_ada), threading.Thread(target=demote_bea)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert outcome["ada"] == "demoted"
    assert "is the last workspace admin" in str(outcome["bea"])
    assert list(
        Membership.objects.filter(workspace=workspace, role="admin").values_list(
            "pk", flat=True
        )
    ) == [bea.pk]


# --- remove --------------------------------------------------------------------------------


def test_remove_asks_first_without_js_then_removes(admin_client, workspace, operator):
    membership = membership_of(operator, workspace)

    confirm = admin_client.get(remove_url(membership))
    removed = admin_client.post(remove_url(membership), follow=True)

    assert "Remove olivia?" in confirm.content.decode()
    assert f'action="{remove_url(membership)}"' in confirm.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists() is False
    assert removed.redirect_chain == [(page_url(workspace), 302)]
    assert "Removed olivia from Acme." in removed.content.decode()


def test_remove_over_htmx_empties_the_row_and_announces_it(
    admin_client, workspace, operator
):
    membership = membership_of(operator, workspace)

    response = admin_client.post(remove_url(membership), headers=HX)

    html = response.content.decode()
    assert "<tr" not in html
    assert '<div id="members-notice" aria-live="polite" hx-swap-oob="true">' in html
    assert "Removed olivia from Acme." in html
    assert response["HX-Trigger"] == json.dumps(
        {"memberRemoved": {"id": membership.pk}}
    )
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_row_offers_remove_with_hx_confirm_and_a_plain_link(
    admin_client, workspace, operator
):
    membership = membership_of(operator, workspace)

    html = admin_client.get(page_url(workspace)).content.decode()

    assert f'href="{remove_url(membership)}" hx-post="{remove_url(membership)}"' in html
    assert 'hx-confirm="Remove olivia from Acme? They lose access at once."' in html


# --- changes take effect on approval rights -------------------------------------------------


def test_role_and_limit_changes_decide_who_may_approve(
    client, workspace, ws_admin, operator, remote, monkeypatch
):
    TaskQueue(monkeypatch)  # an approval's placement is recorded, never sent
    pending = submitted_order(workspace, operator)  # $25.00 due now
    mia = MembershipFactory(
        workspace=workspace, role="operator", user=UserFactory(username="mia")
    )
    approve = reverse("orders:approve", args=[workspace.slug, pending.pk])

    def as_admin(role, limit=""):
        client.force_login(ws_admin)
        client.post(change_url(mia), change_data(mia, role, limit))
        client.force_login(mia.user)

    as_admin("operator")
    as_operator = client.post(approve, headers=HX)
    as_admin("lead", "10")
    over_limit = client.post(approve, headers=HX)
    pending.refresh_from_db()
    status_after_refusal = pending.status
    as_admin("lead", "30")
    within_limit = client.post(approve, headers=HX)

    assert as_operator.status_code == 403
    assert (
        "$25.00 is above your approval limit of $10.00." in over_limit.content.decode()
    )
    assert status_after_refusal == OrderStatus.PENDING_APPROVAL
    assert "approved: it is being placed" in within_limit.content.decode()
    pending.refresh_from_db()
    assert pending.status == OrderStatus.APPROVED
    assert pending.approver == mia.user


def test_an_admin_who_removes_themself_leaves_the_workspace(
    client, ws_admin, workspace
):
    MembershipFactory(workspace=workspace, role="admin")
    own = membership_of(ws_admin, workspace)
    client.force_login(ws_admin)

    response = client.post(remove_url(own), headers=HX)

    assert response["HX-Redirect"] == reverse("home")
    assert not Membership.objects.filter(pk=own.pk).exists()
    assert client.get(page_url(workspace)).status_code == 404


def test_page_queries_do_not_grow_with_the_member_count(admin_client, workspace):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(db) as captured:
            assert admin_client.get(page_url(workspace)).status_code == 200
        return len(captured)

    MembershipFactory(workspace=workspace, role="lead")
    queries()  # the first visit also records the workspace in the session
    few = queries()
    MembershipFactory.create_batch(10, workspace=workspace, role="operator")
    many = queries()

    assert many == few
