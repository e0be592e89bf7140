"""`drafts.draft_read` (one query, the quote endpoint's read of the draft) gives exactly what
`drafts.draft_items` gives (two model queries), and so the same payload and fingerprint: a
quote priced from one must be current for the other (approval compares fingerprints)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders import drafts
from orders.payload import fingerprint, order_payload
from orders.rules import DraftItem, DraftMailbox

pytestmark = pytest.mark.django_db

names = st.text(alphabet="abcdeé -'", min_size=0, max_size=6)
mailbox = st.builds(DraftMailbox, names, names, st.text(alphabet="abc.", max_size=5))
item = st.builds(
    DraftItem,
    st.text(alphabet="abc-", min_size=1, max_size=6).map(lambda s: f"{s}.com"),
    st.sampled_from([1, 2, 3]),
    st.sampled_from(["", "fwd.com"]),
    st.lists(mailbox, max_size=4).map(tuple),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    items=st.lists(item, max_size=5),
    order_type=st.sampled_from(["dfy", "pre_warmed_up", "extra_accounts"]),
)
def test_draft_read_equals_the_model_read(
    workspace, operator, items, order_type
) -> None:  # type: ignore[no-untyped-def]
    order = drafts.order_draft_create(
        workspace=workspace, by=operator, order_type=order_type
    )
    order = drafts.order_draft_save(
        order=order, by=operator, version=order.version, items=items
    )
    with CaptureQueriesContext(connection) as ctx:
        read = drafts.draft_read(order)
    assert len(ctx.captured_queries) == 1
    assert read == drafts.draft_items(order) == list(items)
    assert fingerprint(order_payload(order, read)) == fingerprint(order_payload(order))
