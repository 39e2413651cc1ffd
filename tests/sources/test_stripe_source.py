"""Stripe source: paging, embedded items with has_more, deleted customers, legacy fields, and the sandbox contract."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from segsync import store
from segsync.build import build_accounts
from sources import ingest, stripe_billing
from tests.sources.rawdata import product_accounts, project_config, utc

T0 = 1_780_000_000  # 2026-05-28


class FakeStripe:
    """Answers raw_request GETs from in-memory objects with Stripe's list paging (limit, starting_after, has_more)."""

    def __init__(self, objects: dict[str, list[dict]], items: dict[str, list[dict]], single: dict[str, dict]):
        self.objects, self.items, self.single, self.calls = objects, items, single, []

    def raw_request(self, method, path, **params):
        self.calls.append((path, params))
        if path in self.single:
            return SimpleNamespace(data=self.single[path])
        data = self.items[params["subscription"]] if path == "/v1/subscription_items" else self.objects.get(path, [])
        start = 0
        if "starting_after" in params:
            start = [o["id"] for o in data].index(params["starting_after"]) + 1
        page = data[start:start + params["limit"]]
        return SimpleNamespace(data={"object": "list", "data": page, "has_more": start + params["limit"] < len(data)})


def price(pid, amount, interval="month"):
    return {"id": pid, "object": "price", "currency": "usd", "unit_amount": amount, "billing_scheme": "per_unit",
            "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"}, "product": "prod_1",
            "metadata": {}, "created": T0}


def item(iid, pid, qty, period_end=T0 + 30 * 86400):
    return {"id": iid, "object": "subscription_item", "price": price(pid, 1000), "quantity": qty, "created": T0,
            "current_period_start": T0, "current_period_end": period_end}


@pytest.fixture
def fake():
    many_items = [item(f"si_{n:03d}", "price_seat", 1) for n in range(25)]
    subs = [
        {"id": "sub_many", "object": "subscription", "customer": "cus_1", "status": "active", "currency": "usd",
         "created": T0, "start_date": T0, "items": {"object": "list", "data": many_items[:10], "has_more": True},
         "discounts": [{"id": "di_new", "source": {"coupon": "FOREVER10", "type": "coupon"}, "start": T0, "end": None,
                        "customer": "cus_1", "subscription": "sub_many"}], "metadata": {}},
        {"id": "sub_legacy", "object": "subscription", "customer": "cus_1", "status": "active", "currency": "usd",
         "created": T0, "start_date": T0, "current_period_end": T0 + 10 * 86400,
         "items": {"object": "list", "data": [{**item("si_legacy", "price_seat", 2), "current_period_end": None}],
                   "has_more": False},
         "discount": {"id": "di_old", "coupon": {"id": "ONCE50", "percent_off": 50.0, "duration": "once"},
                      "start": T0, "customer": "cus_1"}, "metadata": {}},
        {"id": "sub_orphan", "object": "subscription", "customer": "cus_gone", "status": "canceled",
         "currency": "usd", "created": T0, "start_date": T0, "ended_at": T0 + 86400,
         "items": {"object": "list", "data": [], "has_more": False}, "metadata": {}},
    ]
    objects = {
        "/v1/products": [{"id": "prod_1", "name": "Pro plan", "metadata": {"plan_tier": "Pro"}}],
        "/v1/coupons": [{"id": "FOREVER10", "percent_off": 10.0, "duration": "forever"}],
        "/v1/prices": [price("price_seat", 1000)],
        "/v1/customers": [{"id": "cus_1", "object": "customer", "email": "a@acme.com", "metadata": {"account_id": "A1"},
                           "created": T0, "currency": "usd"},
                          {"id": "cus_del", "object": "customer", "deleted": True}],
        "/v1/subscriptions": subs,
        "/v1/invoices": [{"id": "in_1", "customer": "cus_1", "status": "paid", "currency": "usd", "amount_due": 100,
                          "created": T0, "parent": {"subscription_details": {"subscription": "sub_many"}}}],
    }
    single = {"/v1/customers/cus_gone": {"id": "cus_gone", "object": "customer", "deleted": True}}
    return FakeStripe(objects, {"sub_many": many_items}, single)


def test_embedded_items_beyond_the_first_page_are_followed(fake, warehouse, monkeypatch):
    monkeypatch.setattr(stripe_billing, "PAGE_LIMIT", 10)
    con = store.connect(warehouse)
    result = stripe_billing.run(con, {"account_id_metadata_key": "account_id"}, {}, run_id="r1",
                                client_factory=lambda env: fake)
    assert result.tables["raw_stripe_subscription_item"] == 26
    follow = [p for path, p in fake.calls if path == "/v1/subscription_items"]
    assert [p.get("starting_after") for p in follow] == ["si_009", "si_019"]
    assert result.tables["raw_stripe_customer"] == 1 and result.issues == 2
    issues = con.execute("SELECT rule, record_id FROM ingest_issues ORDER BY record_id").fetchall()
    assert issues == [("deleted_customer_skipped", "cus_del"), ("deleted_customer_skipped", "cus_gone")]
    assert con.execute("SELECT subscription_id FROM raw_stripe_invoice").fetchone()[0] == "sub_many"
    discounts = con.execute("SELECT id, coupon_id, percent_off, duration FROM raw_stripe_discount ORDER BY id").fetchall()
    assert discounts == [("di_new", "FOREVER10", 10.0, "forever"), ("di_old", "ONCE50", 50.0, "once")]
    assert con.execute("SELECT plan_tier, product_name FROM raw_stripe_price").fetchone() == ("Pro", "Pro plan")

    product_accounts(con, [{"account_id": "A1", "domain": "acme.com"}])
    build_accounts(con, project_config(), as_of=utc(2026, 6, 1))
    row = con.execute("SELECT mrr_minor, renewal_date, plan_tier, seats FROM accounts").fetchone()
    # 25 seats x 1000 x 0.9 (forever) + 2 x 1000 (once-only discount ignored); renewal from the legacy field
    assert row == (22500 + 2000, utc(2026, 6, 7).date(), "Pro", 27)
    assert con.execute("SELECT count(*) FROM data_issues WHERE rule = 'orphan_subscription'").fetchone()[0] == 1


def test_sandbox_contract_full_read(stripe_sandbox, warehouse):
    from sandbox.datasets import load_dataset

    emulator = stripe_sandbox["stripe"]
    with emulator.lock:
        seeded = emulator.seed(load_dataset({"dataset": "ravenstack", "today": "2026-12-01"}))
    emulator.log.clear()
    con = store.connect(warehouse)
    config = project_config()
    result = ingest(con, config, stripe_sandbox.env(), source="stripe")
    live_customers = con.execute("SELECT count(*) FROM raw_stripe_customer").fetchone()[0]
    assert live_customers == seeded["customer"] - 2  # the two deleted customers are never listed
    assert result.tables["raw_stripe_subscription"] == seeded["subscription"]
    assert result.tables["raw_stripe_invoice"] == seeded["invoice"]
    assert result.tables["raw_stripe_price"] == seeded["price"]
    statuses = dict(con.execute("SELECT status, count(*) FROM raw_stripe_subscription GROUP BY 1").fetchall())
    assert set(statuses) >= {"active", "past_due", "trialing", "canceled", "unpaid", "paused", "incomplete"}
    legacy = con.execute("SELECT count(*) FROM raw_stripe_subscription WHERE current_period_end IS NOT NULL").fetchone()[0]
    assert legacy == 0  # the pinned API version carries periods on the items only
    assert con.execute("SELECT count(*) FROM raw_stripe_subscription_item WHERE current_period_end IS NULL").fetchone()[0] == 0
    lists = [e for e in emulator.log.entries() if e.path == "/v1/subscriptions"]
    assert len(lists) == -(-seeded["subscription"] // 100) and all("status=all" in e.query for e in lists)
