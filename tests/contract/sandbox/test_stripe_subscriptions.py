"""Stripe emulator through stripe-python: subscriptions (statuses, items, periods, discounts) and invoices."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pyarrow.compute as pc
import pytest

from sandbox.datasets import load_dataset
from tests.contract.sandbox.stripe_helpers import TODAY, list_all, plain, seeded_client

ALL_STATUSES = {"active": 3502, "trialing": 700, "canceled": 472, "paused": 82, "incomplete": 80, "past_due": 79,
                "unpaid": 71, "incomplete_expired": 14}


@pytest.fixture
def client(stripe_sandbox):
    return seeded_client(stripe_sandbox)


def _all(client, **params) -> list[dict]:
    return list_all(client, "/v1/subscriptions", **params)


def test_every_status_and_the_default_filter(client):
    everything = _all(client, status="all")
    assert Counter(s["status"] for s in everything) == ALL_STATUSES
    default = _all(client)
    assert len(default) == 5000 - ALL_STATUSES["canceled"]
    assert "canceled" not in {s["status"] for s in default}
    assert len(_all(client, status="ended")) == ALL_STATUSES["canceled"] + ALL_STATUSES["incomplete_expired"]
    assert len(_all(client, status="past_due")) == 79


def test_subscriptions_follow_the_dataset(client):
    raven = load_dataset({"dataset": "ravenstack", "today": TODAY.isoformat()})
    rows = {r["subscription_id"]: r for r in raven.subscriptions.to_pylist()}
    today_ts = int(datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=timezone.utc).timestamp())
    subs = _all(client, status="all")
    assert {s["metadata"]["product_subscription_id"] for s in subs} == set(rows)
    for sub in subs:
        row = rows[sub["metadata"]["product_subscription_id"]]
        base = sub["items"]["data"][0]
        assert base["quantity"] == row["seats"]
        assert base["price"]["lookup_key"].split(":")[0] == row["plan_tier"]
        if row["end_date"] is None:
            assert sub["status"] not in ("canceled", "incomplete_expired") and sub["ended_at"] is None
            assert (sub["status"] == "trialing") == row["is_trial"]
            assert base["current_period_start"] <= today_ts + 86400 < base["current_period_end"] + 86400
        else:
            assert sub["status"] in ("canceled", "incomplete_expired")
            assert datetime.fromtimestamp(sub["ended_at"], timezone.utc).date() == row["end_date"]
            assert sub["canceled_at"] <= sub["ended_at"]
        if sub["status"] != "trialing" and base["price"]["lookup_key"].endswith(":year"):
            assert base["current_period_end"] - base["current_period_start"] in (365 * 86400, 366 * 86400)


def test_trials_cancel_at_period_end_and_several_items(client):
    subs = _all(client, status="all")
    trialing = [s for s in subs if s["status"] == "trialing"]
    assert len(trialing) == 700
    assert all(s["trial_start"] == s["start_date"] and s["trial_end"] == s["items"]["data"][0]["current_period_end"]
               for s in trialing)
    ending = [s for s in subs if s["cancel_at_period_end"]]
    assert len(ending) == 206 and all(s["status"] == "active" for s in ending)
    assert all(s["cancel_at"] == s["items"]["data"][0]["current_period_end"] for s in ending)
    multi = [s for s in subs if len(s["items"]["data"]) == 2]
    assert len(multi) == 444
    addons = Counter(s["items"]["data"][1]["price"]["lookup_key"] for s in multi)
    assert set(addons) == {"api_calls:metered", "support:month"}
    metered_id = next(s["id"] for s in multi if s["items"]["data"][1]["price"]["lookup_key"] == "api_calls:metered")
    metered = client.v1.subscriptions.retrieve(metered_id)
    assert metered["items"].data[1].quantity is None
    assert metered["items"].data[1].price.recurring.usage_type == "metered"
    assert plain(metered)["items"]["url"] == f"/v1/subscription_items?subscription={metered.id}"
    listed = client.v1.subscription_items.list(params={"subscription": metered.id})
    assert [i.id for i in listed.data] == [i.id for i in metered["items"].data] and listed.has_more is False


def test_discounts_expand_to_coupons(client):
    subs = _all(client, status="all", expand=["data.discounts"])
    discounted = [s for s in subs if s["discounts"]]
    assert len(discounted) == 348
    coupons = Counter(d["source"]["coupon"] for s in discounted for d in s["discounts"])
    assert sum(coupons.values()) == 348 and set(coupons) == {"SEGSYNC10ONCE", "SEGSYNC25X3", "SEGSYNC5USD"}
    sample_id = next(s["id"] for s in discounted if s["discounts"][0]["source"]["coupon"] == "SEGSYNC25X3")
    sample = client.v1.subscriptions.retrieve(sample_id, params={"expand": ["discounts"]})
    assert sample.discounts[0].subscription == sample.id and sample.discounts[0].customer == sample.customer
    assert sample.discounts[0].end is not None
    deep = client.v1.subscriptions.retrieve(sample.id, params={"expand": ["discounts.source.coupon"]})
    coupon = deep.discounts[0].source.coupon
    assert (coupon.id, coupon.percent_off, coupon.duration, coupon.duration_in_months) == (
        "SEGSYNC25X3", 25.0, "repeating", 3)
    forever = client.v1.coupons.retrieve("SEGSYNC5USD")
    assert (forever.amount_off, forever.currency, forever.duration) == (500, "usd", "forever")
    once = client.v1.coupons.retrieve("SEGSYNC10ONCE")
    assert (once.percent_off, once.duration) == (10.0, "once")


def test_invoices_link_their_subscription_in_the_current_shape(client):
    invoices = list_all(client, "/v1/invoices")
    assert len(invoices) == 4514
    assert Counter(i["status"] for i in invoices) == {"paid": 4217, "open": 159, "uncollectible": 71, "draft": 67}
    sample = client.v1.invoices.retrieve(next(i["id"] for i in invoices if i["status"] == "paid"
                                              and i["amount_paid"] > 0 and len(i["lines"]["data"]) == 2))
    assert "subscription" not in plain(sample)
    sub_id = sample.parent.subscription_details.subscription
    assert sample.parent.type == "subscription_details"
    sub = client.v1.subscriptions.retrieve(sub_id, params={"expand": ["latest_invoice", "customer"]})
    assert sub.latest_invoice.id == sample.id and sub.customer.id == sample.customer
    lines = sample.lines.data
    assert sum(line.amount for line in lines) == sample.subtotal
    first = lines[0]
    assert first.parent.subscription_item_details.subscription == sub_id
    assert first.pricing.price_details.price == sub["items"].data[0].price.id
    assert first.quantity == sub["items"].data[0].quantity
    assert sample.amount_remaining == 0 and sample.total == sample.amount_due == sample.amount_paid
    by_sub = client.v1.invoices.list(params={"subscription": sub_id})
    assert [i.id for i in by_sub.data] == [sample.id]
    assert len(client.v1.invoices.list(params={"status": "draft", "limit": 100}).data) == 67
    page = client.v1.invoices.line_items.list(sample.id, params={"limit": 1})
    assert [line.id for line in page.data] == [first.id] and page.has_more is True
    rest = client.v1.invoices.line_items.list(sample.id, params={"limit": 1, "starting_after": first.id})
    assert [line.id for line in rest.data] == [lines[1].id] and rest.has_more is False


def test_amounts_follow_seats_prices_and_discounts(client):
    subs = {s["id"]: s for s in _all(client)}
    invoices = list_all(client, "/v1/invoices")
    tiers = {p["id"]: p["tiers"] for p in list_all(client, "/v1/prices", expand=["data.tiers"])}
    checked = 0
    for invoice in invoices:
        sub = subs[invoice["parent"]["subscription_details"]["subscription"]]
        if sub["status"] == "trialing":
            assert invoice["total"] == 0
            continue
        expected = 0
        for item in sub["items"]["data"]:
            price = item["price"]
            if price["recurring"]["usage_type"] == "metered":
                continue
            if price["billing_scheme"] == "tiered":
                unit = next(t["unit_amount"] for t in tiers[price["id"]]
                            if t["up_to"] is None or item["quantity"] <= t["up_to"])
                expected += unit * item["quantity"]
            else:
                expected += price["unit_amount"] * item["quantity"]
        assert invoice["subtotal"] == expected, invoice["id"]
        discount = invoice["total_discount_amounts"]
        assert invoice["total"] == expected - (discount[0]["amount"] if discount else 0)
        checked += 1
    assert checked == 4514 - 700
    raven = load_dataset({"dataset": "ravenstack", "today": TODAY.isoformat()})
    running = raven.subscriptions.filter(pc.is_null(raven.subscriptions.column("end_date")))
    assert running.num_rows == len(invoices)
