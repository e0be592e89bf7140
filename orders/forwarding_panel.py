"""What a forwarding panel shows (reads only, no call to Instantly): one owned domain's last
known forwarding and the form to change it. The order page's template tag shows one per domain
the order bought; the actions are in `forwarding_views`."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from orders import forwarding
from orders.lifecycle import BOUGHT_STATUSES
from orders.models import Order, Workspace


@dataclass
class Panel:
    """Everything the panel partial shows for one domain."""

    domain: str
    state: forwarding.ForwardingState
    form: forwarding.ForwardingForm
    url: str
    next: str
    on_order: bool = False
    setting_up: bool = False
    problem: forwarding.ForwardingProblem | None = None
    notice: str = ""

    @property
    def key(self) -> str:
        # Bought domains are one label and a TLD, so this is unique on a page.
        return "fwd-" + self.domain.replace(".", "--")


def panel_form(
    domain: str, state: forwarding.ForwardingState, data: object = None
) -> forwarding.ForwardingForm:
    """The panel's form; its field ids carry the domain, so several panels share a page."""
    key = "fwd-" + domain.replace(".", "--")
    initial = {
        "forwarding_domain": state.forwarding_domain,
        "forwarding_mode": state.forwarding_mode or "redirect",
    }
    return forwarding.ForwardingForm(
        data, domain=domain, initial=initial, auto_id=f"{key}-%s"
    )


def panel_for(
    *,
    workspace: Workspace,
    domain: str,
    next_url: str = "",
    order: Order | None = None,
) -> Panel:
    """A panel showing the last known forwarding (no call to Instantly)."""
    state = forwarding.forwarding_known(workspace=workspace, domain=domain)
    url = reverse(
        "orders:forwarding", kwargs={"slug": workspace.slug, "domain": domain}
    )
    return Panel(
        domain=domain,
        state=state,
        form=panel_form(domain, state),
        url=url,
        next=next_url or url,
        on_order=order is not None,
        setting_up=order is not None and order.status in {"placed", "provisioning"},
    )


def order_panels(order: Order) -> list[Panel]:
    """One panel per domain the order bought and the workspace still owns."""
    if (
        order.order_type not in forwarding.BUYING_TYPES
        or order.status not in BOUGHT_STATUSES
    ):
        return []
    panels = []
    seen = set()
    for domain in order.items.values_list("domain", flat=True):
        if domain in seen:
            continue
        seen.add(domain)
        try:
            name = forwarding.owned_domain(workspace=order.workspace, domain=domain)
        except forwarding.DomainNotOwned:
            continue
        panels.append(
            panel_for(
                workspace=order.workspace,
                domain=name,
                next_url=order.get_absolute_url(),
                order=order,
            )
        )
    return panels
