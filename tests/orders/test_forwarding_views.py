"""Issue #11 item 2 through the portal: the forwarding panel of a delivered domain on the order
page and in the owned-domains list, against the in-process sandbox. Set, change to stealth and
remove, each recorded in the order's timeline; 409/422/502/429 explained; bad input kept."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from orders import fulfilment, workflow
from orders.models import OrderEvent, OrderStatus, RemoteDomain
from sandbox.models import DomainOrder
from sandbox.switches import switches_set
from tests.factories import OrderFactory
from tests.integration.support import JANE, JOHN, TaskQueue, submitted_order

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def placed(
    workspace, operator, lead, remote, monkeypatch, django_capture_on_commit_callbacks
):
    queue = TaskQueue(monkeypatch)
    order = submitted_order(
        workspace, operator, items=[("acme-mail.com", 1, [JANE, JOHN])]
    )
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)
    queue.drain(django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    return order


@pytest.fixture
def delivered(placed, workspace, remote, django_capture_on_commit_callbacks):
    """Instantly has finished setting the domain up and the portal has seen it."""
    switches_set(workspace=remote.sandbox, provisioning_delay_seconds=0)
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment.fulfilment_poll_workspace(workspace=workspace)
    placed.refresh_from_db()
    assert placed.status == OrderStatus.READY
    return placed


def url(workspace, domain="acme-mail.com"):
    return reverse(
        "orders:forwarding", kwargs={"slug": workspace.slug, "domain": domain}
    )


def timeline(client, order):
    page = client.get(order.get_absolute_url()).content.decode()
    section = page[page.index('id="timeline"') :]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))


def forwarding_events(order):
    return list(
        OrderEvent.objects.filter(
            order=order, kind__startswith="forwarding"
        ).values_list(
            "kind",
            "detail__forwarding_domain",
            "detail__forwarding_mode",
            "actor__username",
        )
    )


def test_set_change_to_stealth_and_remove_on_a_delivered_domain(
    operator_client, workspace, delivered, remote
):
    order_url = delivered.get_absolute_url()
    page = operator_client.get(order_url).content.decode()
    assert 'id="fwd-acme-mail--com"' in page

    # Set (no JavaScript): post/redirect/get back to the order page.
    response = operator_client.post(
        url(workspace),
        {
            "action": "set",
            "forwarding_domain": "https://Acme.com/",
            "forwarding_mode": "redirect",
            "next": order_url,
            "on_order": "1",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == order_url
    # Change to stealth (htmx): the panel comes back, and the timeline out of band.
    response = operator_client.post(
        url(workspace),
        {
            "action": "set",
            "forwarding_domain": "acme.com",
            "forwarding_mode": "stealth",
            "next": order_url,
            "on_order": "1",
        },
        headers=HX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Saved at Instantly: acme-mail.com forwards to acme.com (stealth)." in html
    assert 'id="timeline" hx-swap-oob="true"' in html
    assert html.count("Domain forwarding set") == 2
    stealth = DomainOrder.objects.get(domain="acme-mail.com")
    assert (stealth.forwarding_domain, stealth.forwarding_mode) == (
        "acme.com",
        "stealth",
    )
    # Remove.
    response = operator_client.post(
        url(workspace),
        {"action": "remove", "next": order_url, "on_order": "1"},
        headers=HX,
    )
    assert (
        "Removed at Instantly: acme-mail.com does not forward."
        in response.content.decode()
    )

    gone = DomainOrder.objects.get(domain="acme-mail.com")
    assert (gone.forwarding_domain, gone.forwarding_mode) == ("", "")
    mirror = RemoteDomain.objects.get(workspace=workspace, domain="acme-mail.com")
    assert (mirror.forwarding_domain, mirror.forwarding_mode) == ("", "")
    assert forwarding_events(delivered) == [
        ("forwarding_set", "acme.com", "redirect", "olivia"),
        ("forwarding_set", "acme.com", "stealth", "olivia"),
        ("forwarding_removed", "", "", "olivia"),
    ]
    shown = timeline(operator_client, delivered)
    assert (
        "Domain forwarding set by olivia: acme-mail.com → acme.com (redirect)" in shown
    )
    assert (
        "Domain forwarding set by olivia: acme-mail.com → acme.com (stealth), was acme.com (redirect)"
        in shown
    )
    assert (
        "Domain forwarding removed by olivia: acme-mail.com no longer forwards (was acme.com)"
        in shown
    )
    assert remote.requests("/forwarding") == 3
    delivered.refresh_from_db()
    assert delivered.status == OrderStatus.READY


def test_409_while_the_domain_is_being_set_up_is_explained_and_keeps_the_input(
    operator_client, workspace, placed, remote
):
    response = operator_client.post(
        url(workspace),
        {
            "action": "set",
            "forwarding_domain": "brand.com",
            "forwarding_mode": "stealth",
            "on_order": "1",
        },
        headers=HX,
    )
    html = response.content.decode()

    assert "Instantly is still setting up acme-mail.com" in html
    assert "try again once the domain is ready" in html
    assert 'value="brand.com"' in html
    assert re.search(r'<input[^>]*value="stealth"[^>]*checked', html)
    assert 'id="timeline"' not in html
    assert forwarding_events(placed) == []
    assert DomainOrder.objects.get(domain="acme-mail.com").forwarding_domain == ""


@pytest.mark.parametrize(
    ("switch", "words"),
    [
        (
            "forwarding_unsupported",
            "Instantly does not support forwarding for acme-mail.com. Nothing changed.",
        ),
        (
            "forwarding_apply_fails",
            "Instantly could not apply the change, so nothing changed. Try again later.",
        ),
    ],
)
def test_422_and_502_are_explained_and_nothing_is_recorded(
    operator_client, workspace, delivered, remote, switch, words
):
    switches_set(workspace=remote.sandbox, **{switch: True})

    response = operator_client.post(
        url(workspace),
        {
            "action": "set",
            "forwarding_domain": "brand.com",
            "forwarding_mode": "redirect",
        },
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert words in html
    assert 'value="brand.com"' in html
    assert forwarding_events(delivered) == []
    assert RemoteDomain.objects.get(domain="acme-mail.com").forwarding_domain == ""


def test_the_eleventh_change_in_a_minute_says_how_long_to_wait(
    operator_client, workspace, delivered, remote
):
    for n in range(10):
        operator_client.post(
            url(workspace),
            {
                "action": "set",
                "forwarding_domain": f"b{n}.com",
                "forwarding_mode": "redirect",
            },
            headers=HX,
        )

    html = operator_client.post(
        url(workspace), {"action": "remove"}, headers=HX
    ).content.decode()

    assert re.search(
        r"Instantly allows 10 forwarding changes a minute and 60 an hour for this workspace\. "
        r"Nothing changed; try again in \d+ seconds\.",
        html,
    )
    assert remote.requests("/forwarding") == 10
    assert DomainOrder.objects.get(domain="acme-mail.com").forwarding_domain == "b9.com"
    assert len(forwarding_events(delivered)) == 10


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("not a domain", "“not a domain” is not a domain name like mycompany.com"),
        ("acme-mail.com", "acme-mail.com cannot forward to itself."),
        ("", "This field is required."),
    ],
)
def test_bad_input_names_the_field_keeps_it_and_sends_nothing(
    operator_client, workspace, delivered, remote, typed, error
):
    response = operator_client.post(
        url(workspace),
        {"action": "set", "forwarding_domain": typed, "forwarding_mode": "redirect"},
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert error in html
    assert "Forward to" in html
    if typed:
        assert f'value="{typed}"' in html
    assert remote.requests("/forwarding") == 0


def test_read_from_instantly_refreshes_the_last_known_state(
    operator_client, workspace, delivered, remote
):
    DomainOrder.objects.filter(domain="acme-mail.com").update(
        forwarding_domain="elsewhere.org", forwarding_mode="stealth"
    )

    before = operator_client.get(url(workspace)).content.decode()
    after = operator_client.post(
        url(workspace), {"action": "read"}, headers=HX
    ).content.decode()

    assert "elsewhere.org" not in before
    assert (
        "Read from Instantly: acme-mail.com forwards to elsewhere.org (stealth)."
        in after
    )
    assert RemoteDomain.objects.get(domain="acme-mail.com").forwarding_mode == "stealth"
    assert forwarding_events(delivered) == []


def test_the_owned_domains_list_offers_the_panel(
    operator_client, workspace, operator, delivered
):
    draft = OrderFactory(
        workspace=workspace, requester=operator, order_type="extra_accounts"
    )
    RemoteDomain.objects.filter(domain="acme-mail.com").update(
        forwarding_domain="acme.com", forwarding_mode="stealth"
    )

    html = operator_client.get(
        reverse("orders:owned", kwargs={"slug": workspace.slug, "pk": draft.pk}),
        headers=HX,
    ).content.decode()
    panel = operator_client.get(url(workspace), headers=HX).content.decode()

    assert "Forwarding: acme.com (stealth)" in html
    assert f'hx-get="{url(workspace)}"' in html
    assert f'href="{url(workspace)}?next=' in html
    assert 'id="fwd-acme-mail--com"' in panel
    assert "<html" not in panel


def test_domains_the_workspace_does_not_own_answer_404(
    operator_client, workspace, other_workspace, delivered
):
    assert operator_client.get(url(workspace, "nobody-owns.com")).status_code == 404
    assert operator_client.get(url(other_workspace)).status_code == 404
    assert (
        operator_client.post(
            url(workspace, "globex.com"), {"action": "remove"}
        ).status_code
        == 404
    )


def test_anonymous_visitors_are_sent_to_log_in(client, workspace, delivered):
    response = client.post(url(workspace), {"action": "remove"})

    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert forwarding_events(delivered) == []


def test_orders_that_bought_nothing_show_no_panel(
    operator_client, workspace, operator, remote
):
    order = submitted_order(workspace, operator)

    assert (
        'id="forwarding"'
        not in operator_client.get(order.get_absolute_url()).content.decode()
    )


def test_a_domain_the_mirror_has_not_listed_yet_is_remembered_after_a_change(
    operator_client, workspace, delivered, remote
):
    RemoteDomain.objects.filter(workspace=workspace).delete()
    before = operator_client.get(url(workspace)).content.decode()

    operator_client.post(
        url(workspace),
        {
            "action": "set",
            "forwarding_domain": "acme.com",
            "forwarding_mode": "stealth",
        },
    )
    after = operator_client.get(url(workspace)).content.decode()

    assert "(as ordered; not read from Instantly yet)" in before
    mirror = RemoteDomain.objects.get(workspace=workspace, domain="acme-mail.com")
    assert (mirror.forwarding_domain, mirror.forwarding_mode) == ("acme.com", "stealth")
    assert "Forwards to <strong>acme.com</strong>" in after
    assert [e[0] for e in forwarding_events(delivered)] == ["forwarding_set"]


def test_a_domain_no_one_can_own_in_the_url_is_a_404_not_a_500(
    operator_client, workspace
):
    for raw in ("bad%00name.com", "a" * 300 + ".com"):
        response = operator_client.get(f"/w/{workspace.slug}/domains/{raw}/forwarding/")

        assert response.status_code == 404
