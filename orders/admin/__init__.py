"""Django admin: where staff review every workspace's order history (docs/architecture.md).

Orders, their quotes, events and every other record about them are view-only here for
everyone, superusers included: every change to an order goes through a service that writes
an OrderEvent, and money is what Instantly quoted, so nothing in the admin may edit or delete
either. Staff act through the order list's actions, which queue the same tasks the portal
runs and never wait on Instantly in the request.

Importing the modules registers their pages: workspaces.py (workspaces, members, keys),
order_pages.py and order_actions.py (orders), records.py (quotes, events, edits, snapshots,
notification deliveries), burns.py (burned domains, issue 16), planning.py (order templates
and personas, issue 16).
"""

from __future__ import annotations

from orders.admin import burns, planning, records, workspaces
from orders.admin.common import ViewOnlyMixin
from orders.admin.order_pages import MAILBOX_TABLE_LIMIT, OrderAdmin

__all__ = [
    "MAILBOX_TABLE_LIMIT",
    "OrderAdmin",
    "ViewOnlyMixin",
    "burns",
    "planning",
    "records",
    "workspaces",
]
