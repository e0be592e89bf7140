"""The portal's domain: workspaces and who may act in them, keys, orders and their audit trail.

Money is Decimal everywhere. Single-row predicates live here; writes with side effects live
in the feature modules (docs/architecture.md); statuses, their sets and event kinds in
`orders/lifecycle.py`, re-exported here.

Modules: `workspaces` (policy, members and roles, Instantly keys), `order` (types, the
queryset, the order), `items` (providers, items, mailboxes), `quote`, `audit` (events,
edits, undo snapshots), `remote` (availability checks, cancellation runs, the mirror of
Instantly's lists), `notifications` (delivery attempts), `tallies` (the dashboard's running
summaries), `renewals` (cancellations scheduled before a renewal), `planning` (personas,
order templates, burned domains). Import from the package:
the names below are its interface.
"""

from __future__ import annotations

# In the order of the former single module: the order Django registers the models in, and so
# lists, dumps and serializes them in.
# isort: off
from orders.models.workspaces import (
    ApprovalPolicy,
    Workspace,
    Role,
    ROLE_RANK,
    MembershipQuerySet,
    Membership,
    KeyStatus,
    KeyDisplay,
    InstantlyKey,
    PendingKeyStatus,
    PendingInstantlyKey,
)
from orders.models.order import (
    OrderType,
    OrderStatus,
    OrderHealth,
    EDITABLE_STATUSES,
    IN_FLIGHT_STATUSES,
    AWAITING_DECISION_STATUSES,
    FULFILMENT_STATUSES,
    BUDGET_STATUSES,
    LIVE_STATUSES,
    CANCELLABLE_STATUSES,
    OrderQuerySet,
    Order,
)
from orders.models.items import (
    Provider,
    OrderItem,
    MailboxStatus,
    Mailbox,
)
from orders.lifecycle import MailboxHealth
from orders.models.quote import (
    Quote,
)
from orders.models.audit import (
    OrderEvent,
    OrderEdit,
    DraftSnapshot,
)
from orders.models.remote import (
    CheckStatus,
    DomainCheck,
    CancellationStatus,
    CancellationRun,
    ForwardingMode,
    RemoteDomain,
    RemoteAccount,
)
from orders.models.notifications import (
    NotificationChannel,
    DeliveryStatus,
    NotificationDelivery,
)
from orders.models.tallies import (
    MailboxState,
    MailboxTally,
    BoughtTally,
    PlacedShare,
    SpendTally,
)
from orders.models.renewals import (
    OPEN_SCHEDULE_STATUSES,
    RUNNABLE_SCHEDULE_STATUSES,
    ScheduleStatus,
    ScheduledCancellation,
)
from orders.models.planning import (
    Persona,
    OrderTemplate,
    BurnReason,
    DomainBurn,
)
# isort: on

__all__ = [
    "AWAITING_DECISION_STATUSES",
    "ApprovalPolicy",
    "BUDGET_STATUSES",
    "BoughtTally",
    "BurnReason",
    "CANCELLABLE_STATUSES",
    "CancellationRun",
    "CancellationStatus",
    "CheckStatus",
    "DeliveryStatus",
    "DomainBurn",
    "DomainCheck",
    "DraftSnapshot",
    "EDITABLE_STATUSES",
    "FULFILMENT_STATUSES",
    "ForwardingMode",
    "IN_FLIGHT_STATUSES",
    "InstantlyKey",
    "KeyDisplay",
    "KeyStatus",
    "LIVE_STATUSES",
    "Mailbox",
    "MailboxHealth",
    "MailboxState",
    "MailboxStatus",
    "MailboxTally",
    "Membership",
    "MembershipQuerySet",
    "NotificationChannel",
    "NotificationDelivery",
    "OPEN_SCHEDULE_STATUSES",
    "Order",
    "OrderEdit",
    "OrderEvent",
    "OrderHealth",
    "OrderItem",
    "OrderQuerySet",
    "OrderStatus",
    "OrderTemplate",
    "OrderType",
    "PendingInstantlyKey",
    "PendingKeyStatus",
    "Persona",
    "PlacedShare",
    "Provider",
    "Quote",
    "ROLE_RANK",
    "RemoteAccount",
    "RUNNABLE_SCHEDULE_STATUSES",
    "RemoteDomain",
    "Role",
    "SpendTally",
    "ScheduleStatus",
    "ScheduledCancellation",
    "Workspace",
]
