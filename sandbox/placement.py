"""POST /dfy-email-account-orders: validate, quote, and (for real) charge and record an order.

Business-rule failures are not HTTP errors: the answer is a 200 with order_placed false, the
validation lists filled, and one order_error chosen by rules.ORDER_ERROR_PRECEDENCE. The
checks themselves are in `sandbox/order_evaluation.py`; this module answers and records.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from sandbox.models import (
    Charge,
    DfyAccount,
    DomainOrder,
    PreWarmedDomain,
    SandboxWorkspace,
    TakenDomain,
)
from sandbox.order_evaluation import Evaluation, Planned, evaluate, parse_items
from sandbox.pricing import PricedLine, Quote, quote
from sandbox.switches import Effective
from sandbox.timestamps import now_ms


def _sorted_ids(count: int) -> list[uuid.UUID]:
    # Rows of one order share a timestamp and lists sort on (timestamp, id): ascending ids
    # keep them in request order.
    return sorted(uuid.uuid4() for _ in range(count))


def _record(workspace: SandboxWorkspace, evaluation: Evaluation, price: Quote) -> None:
    """Write a valid real order: domain rows, mailboxes, the taken registry, stock, the charge."""
    now = now_ms()
    prewarmed = evaluation.order_type == "pre_warmed_up"
    fresh = [plan for plan in evaluation.planned if plan.existing_order is None]
    new_orders = {
        plan.line.domain: DomainOrder(
            id=pk,
            workspace=workspace,
            domain=plan.line.domain,
            email_provider=plan.line.provider,
            forwarding_domain=plan.item.forwarding_domain,
            forwarding_mode="redirect" if plan.item.forwarding_domain else "",
            is_pre_warmed_up=prewarmed,
            timestamp_created=now,
        )
        for plan, pk in zip(fresh, _sorted_ids(len(fresh)), strict=True)
    }
    wanted = [
        (plan, mailbox) for plan in evaluation.planned for mailbox in plan.mailboxes
    ]
    accounts = [
        DfyAccount(
            id=pk,
            workspace=workspace,
            order=plan.existing_order or new_orders[plan.line.domain],
            domain=plan.line.domain,
            email=f"{mailbox.prefix.lower()}@{plan.line.domain}",
            email_provider=plan.line.provider,
            first_name=mailbox.first_name.strip(),
            last_name=mailbox.last_name.strip(),
            is_pre_warmed_up=prewarmed,
            password=secrets.token_urlsafe(12),
            timestamp_created=now,
        )
        for (plan, mailbox), pk in zip(wanted, _sorted_ids(len(wanted)), strict=True)
    ]
    # The unique domain columns turn a race with another workspace into an IntegrityError.
    TakenDomain.objects.bulk_create(
        [TakenDomain(domain=d, workspace=workspace) for d in new_orders]
    )
    DomainOrder.objects.bulk_create(new_orders.values())
    DfyAccount.objects.bulk_create(accounts)
    if prewarmed:
        PreWarmedDomain.objects.filter(domain__in=list(new_orders)).delete()
    if price.amount_charged > 0:
        Charge.objects.create(
            workspace=workspace,
            amount=price.amount_charged,
            domains=[p.line.domain for p in evaluation.planned],
        )


def _body(
    workspace: SandboxWorkspace,
    evaluation: Evaluation,
    price: Quote,
    *,
    simulation: bool,
    placed: bool,
    error: str | None,
    payment_failure_reason: str = "",
    cart_order_id: str = "",
) -> dict[str, Any]:
    card = workspace.has_payment_method
    body: dict[str, Any] = {
        "order_placed": placed,
        "order_is_valid": evaluation.valid,
        **evaluation.findings.as_dict(),
        "free_domains": price.free_domains,
        "number_of_domains_ordered": len(evaluation.planned),
        "number_of_accounts_ordered": sum(p.line.mailboxes for p in evaluation.planned),
        "price_per_account_per_month": price.price_per_account_per_month,
        "price_per_domain_per_month": price.price_per_domain_per_month,
        "price_per_domain_per_year": price.price_per_domain_per_year,
        "total_domains_price_per_year": price.total_domains_price_per_year,
        "total_accounts_price_per_month": price.total_accounts_price_per_month,
        "total_price_per_month": price.total_price_per_month,
        "total_price_per_year": price.total_price_per_year,
        "total_price": price.total_price,
        "total_discount": price.total_discount,
        "payment_method_last_4_digits": workspace.card_last4 if card else "",
        "payment_method_brand": workspace.card_brand if card else "",
        "payment_method_name_on_card": workspace.card_name if card else "",
        "simulation": simulation,
        "order_items": [
            _order_item(plan, priced)
            for plan, priced in zip(evaluation.planned, price.lines, strict=True)
        ],
    }
    if price.price_per_account_per_month_by_account_type is not None:
        body["price_per_account_per_month_by_account_type"] = (
            price.price_per_account_per_month_by_account_type
        )
    if error:
        body["order_error"] = error
    if payment_failure_reason:
        body["payment_failure_reason"] = payment_failure_reason
    if cart_order_id:
        # No checkout_url: Instantly returns it only to browser sessions, never to a key.
        body["checkout_required"] = True
        body["cart_order_id"] = cart_order_id
    return body


def _order_item(plan: Planned, priced: PricedLine) -> dict[str, Any]:
    item: dict[str, Any] = {
        "domain": plan.line.domain,
        "accounts": [
            {
                "email_address_prefix": m.prefix,
                "first_name": m.first_name,
                "last_name": m.last_name,
            }
            for m in plan.mailboxes
        ],
        "email_provider": int(plan.line.provider),
        "domain_price": priced.domain_price,
        "accounts_price": priced.accounts_price,
        "domain_monthly_price": priced.domain_monthly_price,
        "total_price": priced.total_price,
        "total_discount": priced.total_discount,
    }
    if plan.item.forwarding_domain:
        item["forwarding_domain"] = plan.item.forwarding_domain
    return item


def order_place(
    *, workspace: SandboxWorkspace, body: Mapping[str, Any], knobs: Effective
) -> dict[str, Any]:
    """Answer an order POST whose body passed the schema. With simulation it only reads; a
    real valid order is charged and recorded in one transaction, serialized per workspace."""
    order_type = str(body["order_type"])
    items = parse_items(body["items"])
    prewarmed = order_type == "pre_warmed_up"
    if body.get("simulation", False) is True:
        evaluation = evaluate(workspace, order_type, items, knobs)
        price = quote(
            [p.line for p in evaluation.planned], knobs.prices, prewarmed=prewarmed
        )
        return _body(
            workspace,
            evaluation,
            price,
            simulation=True,
            placed=False,
            error=evaluation.findings.order_error(),
        )
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                # Lock the workspace row so two real POSTs cannot both pass the checks.
                SandboxWorkspace.objects.select_for_update().only("pk").get(
                    pk=workspace.pk
                )
                evaluation = evaluate(workspace, order_type, items, knobs)
                price = quote(
                    [p.line for p in evaluation.planned],
                    knobs.prices,
                    prewarmed=prewarmed,
                )
                error = evaluation.findings.order_error()
                if error:
                    return _body(
                        workspace,
                        evaluation,
                        price,
                        simulation=False,
                        placed=False,
                        error=error,
                    )
                if not workspace.has_payment_method:
                    # No default card: Instantly holds the cart for a hosted checkout
                    # (2026-07). Nothing is recorded or charged; docs/instantly.md.
                    return _body(
                        workspace,
                        evaluation,
                        price,
                        simulation=False,
                        placed=False,
                        error=None,
                        cart_order_id=str(uuid.uuid4()),
                    )
                reason = knobs.payment_failure_reason
                if reason:
                    return _body(
                        workspace,
                        evaluation,
                        price,
                        simulation=False,
                        placed=False,
                        error="payment_failed",
                        payment_failure_reason=reason,
                    )
                _record(workspace, evaluation, price)
                return _body(
                    workspace,
                    evaluation,
                    price,
                    simulation=False,
                    placed=True,
                    error=None,
                )
        except IntegrityError:
            # Another workspace took a domain between our checks and our insert; checking
            # again reports it as unavailable. A second collision is a real fault.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
