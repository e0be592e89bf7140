"""A believable order history generated in bulk, for the demo (`seed_history`), the history
benchmark (10,000 orders / 200,000 mailboxes on PostgreSQL, `generate_orders`) and tests.

- `plans`: what each order will be (status, type, domains, mailboxes, people, price), drawn
  from a seeded random generator before anything is written;
- `generator`: writes orders, items, mailboxes, quotes (Decimal prices as Instantly quotes
  them) and, through `events`, their timelines, with bulk_create: 200,000 mailboxes take
  seconds, not minutes;
- `vocabulary`: the words names and titles are made of; `team`: who owns the orders.
"""

from __future__ import annotations

from orders.history_generator.generator import GenerateResult as GenerateResult
from orders.history_generator.generator import attempt_id as attempt_id
from orders.history_generator.generator import (
    explicit_timestamps as explicit_timestamps,
)
from orders.history_generator.generator import orders_generate as orders_generate
from orders.history_generator.team import workspace_team as workspace_team
