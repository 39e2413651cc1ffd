"""Stripe source: customers, subscriptions (all statuses) with items and discounts, prices, invoices; fully paged."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import duckdb

from segsync.errors import RemoteError
from segsync.redact import redact
from segsync.retry import call_with_retry, classify, error_for
from sources.common import BatchWriter, Cursor, coerce, parse_timestamp, record_issues, reset_issues
from sources.schemas import (STRIPE_CUSTOMER, STRIPE_DISCOUNT, STRIPE_INVOICE, STRIPE_PRICE, STRIPE_SUBSCRIPTION,
                             STRIPE_SUBSCRIPTION_ITEM)

SOURCE = "stripe"
PAGE_LIMIT = 100  # the API's maximum page size


def _stripe_error(exc: Exception) -> RemoteError:
    status = getattr(exc, "http_status", None)
    code = getattr(exc, "code", None)
    headers = getattr(exc, "headers", None) or {}
    retry_after = headers.get("retry-after") or headers.get("Retry-After")
    if status is None:  # connection problems never reached the API
        return error_for(classify(503, None), redact(f"Stripe unreachable: {exc}"), status=None)
    return error_for(classify(status, code), redact(f"Stripe {status} {code or ''}: {getattr(exc, 'user_message', None) or exc}"),
                     status=status, code=code, retry_after=float(retry_after) if retry_after else None)


class Client:
    """StripeClient calls with the shared retry policy and a request count."""

    def __init__(self, stripe_client) -> None:
        self.stripe = stripe_client
        self.requests = 0

    def call(self, fn: Callable[[], Any]) -> Any:
        import stripe

        def attempt():
            self.requests += 1
            try:
                return fn()
            except stripe.StripeError as exc:
                raise _stripe_error(exc) from None

        return call_with_retry(attempt)

    def get(self, path: str, params: Mapping[str, Any]) -> dict:
        """One GET through the official client's raw_request: parsed JSON, without building StripeObjects
        (object construction costs far more than the HTTP call on large lists)."""
        return self.call(lambda: self.stripe.raw_request("get", path, **dict(params)).data)

    def pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[dict]]:
        """Every page of a list endpoint (limit / starting_after / has_more), as plain dicts."""
        params = {"limit": PAGE_LIMIT, **params}
        while True:
            page = self.get(path, params)
            data = page.get("data") or []
            yield data
            if not page.get("has_more") or not data:
                return
            params["starting_after"] = data[-1]["id"]


def _ts(value) -> datetime | None:
    return parse_timestamp(value) if value is not None else None


def _tiers(price: Mapping) -> list[dict] | None:
    tiers = price.get("tiers")
    if not tiers:
        return None
    return [{"up_to": t.get("up_to") if t.get("up_to") not in ("inf", None) else None,
             "unit_amount": coerce(t.get("unit_amount_decimal") or t.get("unit_amount"), "DECIMAL(38,12)"),
             "flat_amount": coerce(t.get("flat_amount_decimal") or t.get("flat_amount"), "DECIMAL(38,12)")}
            for t in tiers]


def price_row(price: Mapping, products: Mapping[str, Mapping], plan_key: str) -> dict:
    recurring = price.get("recurring") or {}
    product = price.get("product")
    product_obj = product if isinstance(product, Mapping) else products.get(product or "", {})
    metadata = price.get("metadata") or {}
    return {
        "id": price["id"], "product_id": product_obj.get("id") or product, "product_name": product_obj.get("name"),
        "nickname": price.get("nickname"), "lookup_key": price.get("lookup_key"),
        "currency": (price.get("currency") or "").upper() or None,
        "unit_amount": coerce(price.get("unit_amount_decimal") or price.get("unit_amount"), "DECIMAL(38,12)"),
        "billing_scheme": price.get("billing_scheme"), "tiers_mode": price.get("tiers_mode"), "tiers": _tiers(price),
        "recurring_interval": recurring.get("interval"), "recurring_interval_count": recurring.get("interval_count"),
        "recurring_usage_type": recurring.get("usage_type"), "active": price.get("active"),
        "plan_tier": metadata.get(plan_key) or (product_obj.get("metadata") or {}).get(plan_key),
        "metadata": json.dumps(metadata, sort_keys=True), "created": _ts(price.get("created")),
    }


def customer_row(customer: Mapping, account_key: str, salesforce_key: str) -> dict | None:
    """A customer as a raw row; None for a deleted customer (the API returns only {id, deleted})."""
    if customer.get("deleted"):
        return None
    metadata = customer.get("metadata") or {}
    return {
        "id": customer["id"], "email": customer.get("email"), "name": customer.get("name"),
        "currency": (customer.get("currency") or "").upper() or None, "delinquent": customer.get("delinquent"),
        "account_id": metadata.get(account_key), "salesforce_account_id": metadata.get(salesforce_key),
        "metadata": json.dumps(metadata, sort_keys=True), "created": _ts(customer.get("created")),
    }


def _discount_row(discount: Mapping, coupons: Mapping[str, Mapping], subscription_id: str | None,
                  customer_id: str | None) -> dict:
    """A discount in the current shape (source.coupon is an id) or the legacy one (coupon object)."""
    coupon = discount.get("coupon")
    source = discount.get("source") or {}
    if not isinstance(coupon, Mapping):
        coupon_id = coupon or source.get("coupon")
        coupon = source.get("coupon") if isinstance(source.get("coupon"), Mapping) else coupons.get(coupon_id, {})
        coupon = {"id": coupon_id, **coupon}
    return {
        "id": discount["id"], "subscription_id": discount.get("subscription") or subscription_id,
        "customer_id": discount.get("customer") or customer_id, "coupon_id": coupon.get("id"),
        "percent_off": coupon.get("percent_off"), "amount_off": coupon.get("amount_off"),
        "currency": (coupon.get("currency") or "").upper() or None, "duration": coupon.get("duration"),
        "duration_in_months": coupon.get("duration_in_months"), "start": _ts(discount.get("start")),
        "end": _ts(discount.get("end")),
    }


def subscription_rows(sub: Mapping, coupons: Mapping[str, Mapping]) -> tuple[dict, list[Mapping], list[dict]]:
    """(subscription row, embedded items, discount rows); legacy top-level period fields are kept when present."""
    customer = sub.get("customer")
    customer_id = customer.get("id") if isinstance(customer, Mapping) else customer
    row = {
        "id": sub["id"], "customer_id": customer_id, "status": sub.get("status"),
        "currency": (sub.get("currency") or "").upper() or None, "created": _ts(sub.get("created")),
        "start_date": _ts(sub.get("start_date")), "current_period_start": _ts(sub.get("current_period_start")),
        "current_period_end": _ts(sub.get("current_period_end")),
        "cancel_at_period_end": sub.get("cancel_at_period_end"), "cancel_at": _ts(sub.get("cancel_at")),
        "canceled_at": _ts(sub.get("canceled_at")), "ended_at": _ts(sub.get("ended_at")),
        "trial_start": _ts(sub.get("trial_start")), "trial_end": _ts(sub.get("trial_end")),
        "collection_method": sub.get("collection_method"), "metadata": json.dumps(sub.get("metadata") or {},
                                                                                  sort_keys=True),
    }
    discounts = [d for d in (sub.get("discounts") or []) if isinstance(d, Mapping)]
    legacy = sub.get("discount")
    if isinstance(legacy, Mapping) and not any(d.get("id") == legacy.get("id") for d in discounts):
        discounts.append(legacy)
    discount_rows = [_discount_row(d, coupons, sub["id"], customer_id) for d in discounts]
    items = (sub.get("items") or {})
    return row, list(items.get("data") or []), discount_rows


def item_row(item: Mapping, subscription_id: str) -> dict:
    price = item.get("price") or {}
    return {
        "id": item["id"], "subscription_id": item.get("subscription") or subscription_id,
        "price_id": price.get("id") if isinstance(price, Mapping) else price, "quantity": item.get("quantity"),
        "current_period_start": _ts(item.get("current_period_start")),
        "current_period_end": _ts(item.get("current_period_end")), "created": _ts(item.get("created")),
    }


def invoice_row(invoice: Mapping) -> dict:
    subscription = invoice.get("subscription")
    if subscription is None:  # current API: parent.subscription_details.subscription
        details = ((invoice.get("parent") or {}).get("subscription_details") or {})
        subscription = details.get("subscription")
    if isinstance(subscription, Mapping):
        subscription = subscription.get("id")
    customer = invoice.get("customer")
    return {
        "id": invoice["id"], "customer_id": customer.get("id") if isinstance(customer, Mapping) else customer,
        "subscription_id": subscription, "status": invoice.get("status"),
        "currency": (invoice.get("currency") or "").upper() or None, "amount_due": invoice.get("amount_due"),
        "amount_paid": invoice.get("amount_paid"), "amount_remaining": invoice.get("amount_remaining"),
        "created": _ts(invoice.get("created")), "due_date": _ts(invoice.get("due_date")),
        "period_start": _ts(invoice.get("period_start")), "period_end": _ts(invoice.get("period_end")),
    }


def run(con: duckdb.DuckDBPyConnection, section: Mapping[str, Any], env: Mapping[str, str], *, run_id: str,
        full: bool = True, client_factory: Callable[[Mapping[str, str]], Any] | None = None):
    """Ingest entry point: Stripe lists have no reliable change filter, so every run reads them fully and sweeps."""
    from segsync.clients.stripe import make_stripe
    from sources import IngestResult

    client = Client((client_factory or make_stripe)(env))
    account_key = str(section.get("account_id_metadata_key") or "account_id")
    salesforce_key = str(section.get("salesforce_id_metadata_key") or "salesforce_id")
    plan_key = str(section.get("plan_tier_metadata_key") or "plan_tier")
    reset_issues(con, SOURCE)
    writers = {t.name: BatchWriter(con, t, SOURCE, run_id) for t in (
        STRIPE_PRICE, STRIPE_CUSTOMER, STRIPE_SUBSCRIPTION, STRIPE_SUBSCRIPTION_ITEM, STRIPE_DISCOUNT, STRIPE_INVOICE)}

    products = {p["id"]: p for page in client.pages("/v1/products", {}) for p in page}
    coupons = {c["id"]: c for page in client.pages("/v1/coupons", {}) for c in page}
    issues = []
    for page in client.pages("/v1/prices", {}):
        prices = [_with_tiers(client, p, issues) for p in page]
        writers[STRIPE_PRICE.name].add([price_row(p, products, plan_key) for p in prices])

    seen_customers: set[str] = set()
    for page in client.pages("/v1/customers", {}):
        rows = []
        for customer in page:
            row = customer_row(customer, account_key, salesforce_key)
            if row is None:
                issues.append(("deleted_customer_skipped", customer["id"], "customer is deleted in Stripe", "skipped"))
                continue
            seen_customers.add(row["id"])
            rows.append(row)
        writers[STRIPE_CUSTOMER.name].add(rows)

    missing_customers: set[str] = set()
    for page in client.pages("/v1/subscriptions", {"status": "all", "expand": ["data.discounts"]}):
        subs, items, discounts = [], [], []
        for sub in page:
            row, embedded, discount_rows = subscription_rows(sub, coupons)
            subs.append(row)
            discounts.extend(discount_rows)
            items.extend(item_row(i, sub["id"]) for i in embedded)
            if (sub.get("items") or {}).get("has_more"):
                items.extend(item_row(i, sub["id"]) for i in _remaining_items(client, sub["id"], embedded))
            if row["customer_id"] and row["customer_id"] not in seen_customers:
                missing_customers.add(row["customer_id"])
        writers[STRIPE_SUBSCRIPTION.name].add(subs)
        writers[STRIPE_SUBSCRIPTION_ITEM.name].add(items)
        writers[STRIPE_DISCOUNT.name].add(discounts)
    for customer_id in sorted(missing_customers):
        customer = client.get(f"/v1/customers/{customer_id}", {})
        if customer.get("deleted"):
            issues.append(("deleted_customer_skipped", customer_id,
                           "subscriptions reference a deleted customer; they are left out of MRR", "skipped"))
        else:
            writers[STRIPE_CUSTOMER.name].add([customer_row(customer, account_key, salesforce_key)])

    for page in client.pages("/v1/invoices", {}):
        writers[STRIPE_INVOICE.name].add([invoice_row(i) for i in page])

    done = Cursor(datetime.now(timezone.utc).isoformat())
    for writer in writers.values():
        writer.flush()
        writer.sweep(cursor=done, cursor_object=writer.table.name)
    record_issues(con, run_id, SOURCE, issues)
    return IngestResult(SOURCE, {name: w.written for name, w in writers.items()}, client.requests, done.value,
                        len(issues), run_id)


def _with_tiers(client: Client, price: dict, issues: list) -> dict:
    """Tiered prices carry `tiers` only when expanded: read each one with expand[]=tiers (few prices are tiered).

    A tier table the API will not return is flagged (the price's items are then left out of MRR), not fatal.
    """
    if price.get("billing_scheme") != "tiered" or price.get("tiers"):
        return price
    try:
        return client.get(f"/v1/prices/{price['id']}", {"expand": ["tiers"]})
    except RemoteError as exc:
        if exc.status != 400:
            raise
        issues.append(("price_tiers_unavailable", price["id"], f"tiers could not be read: {exc}", "price not priced"))
        return price


def _remaining_items(client: Client, subscription_id: str, embedded: list[Mapping]) -> Iterator[dict]:
    """Items beyond the embedded first page (`items.has_more`), read from /v1/subscription_items."""
    params = {"subscription": subscription_id}
    if embedded:
        params["starting_after"] = embedded[-1]["id"]
    for page in client.pages("/v1/subscription_items", params):
        yield from page
