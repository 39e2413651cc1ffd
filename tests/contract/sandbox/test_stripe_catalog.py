"""Stripe emulator through stripe-python: customers (incl. deleted), products, prices, and Stripe's object shapes."""
from __future__ import annotations

import pytest
import stripe

from sandbox.datasets import load_dataset
from tests.contract.sandbox.stripe_helpers import TODAY, fixture, plain, seeded_client, shape_problems


@pytest.fixture
def client(stripe_sandbox):
    return seeded_client(stripe_sandbox)


def test_customers_carry_account_metadata_and_the_identity_quirks(client):
    customers = [plain(c) for c in client.v1.customers.list(params={"limit": 100}).auto_paging_iter()]
    assert len(customers) == 500  # the two deleted customers are not listed
    with_account = [c for c in customers if "account_id" in c["metadata"]]
    with_salesforce = [c for c in customers if "salesforce_id" in c["metadata"]]
    assert (len(with_account), len(with_salesforce)) == (489, 389)
    assert sum(1 for c in with_salesforce if len(c["metadata"]["salesforce_id"]) == 15) == 56
    freemail = [c for c in customers if c["email"].endswith("@gmail.com")]
    assert len(freemail) == 10 and all(c["metadata"] == {} for c in freemail)
    shared = [c for c in customers if c["email"].endswith("@company-0.example.com")]
    assert sorted(c["email"] for c in shared) == ["billing@company-0.example.com", "finance@company-0.example.com"]
    first = next(c for c in shared if c["email"].startswith("billing@"))
    assert first["metadata"] == {"account_id": "A-2e4581", "salesforce_id": "0015g0000000000AAA"}
    assert first["name"] == "Company_0" and first["object"] == "customer" and first["livemode"] is False


def test_email_filter_is_exact(client):
    found = client.v1.customers.list(params={"email": "billing@company-5.example.com"})
    assert [c.name for c in found.data] == ["Company_5"]
    assert client.v1.customers.list(params={"email": "BILLING@company-5.example.com"}).data == []


def test_deleted_customers_return_only_id_object_deleted(client, stripe_sandbox):
    deleted_events = client.v1.events.list(params={"type": "customer.deleted"}).data
    accounts = load_dataset({"dataset": "ravenstack", "today": TODAY.isoformat()}).accounts
    expected = {accounts.column("account_id")[i].as_py() for i in (100, 350)}  # account rows 100 and 350
    assert {e.data.object.metadata["account_id"] for e in deleted_events} == expected
    listed = {c.id for c in client.v1.customers.list(params={"limit": 100}).auto_paging_iter()}
    for event in deleted_events:
        customer = client.v1.customers.retrieve(event.data.object.id)
        assert plain(customer) == {"id": event.data.object.id, "object": "customer", "deleted": True}
        assert customer.id not in listed


def test_retrieve_customer_and_missing_one(client):
    first = client.v1.customers.list(params={"limit": 1}).data[0]
    again = client.v1.customers.retrieve(first.id)
    assert plain(again) == plain(first)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.retrieve("cus_doesnotexist")
    assert info.value.http_status == 404
    assert info.value.code == "resource_missing" and info.value.param == "id"
    assert "No such customer: 'cus_doesnotexist'" in info.value.user_message


def test_products_and_prices(client):
    products = {p.name: p for p in client.v1.products.list(params={"limit": 100}).data}
    assert sorted(products) == ["API calls", "Basic plan", "Enterprise plan", "Priority support", "Pro plan"]
    prices = {p.lookup_key: p for p in client.v1.prices.list(params={"limit": 100}).auto_paging_iter()}
    assert len(prices) == 23
    monthly, annual = prices["Pro:month"], prices["Pro:year"]
    assert (monthly.unit_amount, monthly.currency, monthly.recurring.interval, monthly.recurring.interval_count) == (
        4900, "usd", "month", 1)
    assert (annual.unit_amount, annual.recurring.interval) == (49000, "year")
    quarterly = prices["Basic:quarter"]
    assert (quarterly.recurring.interval, quarterly.recurring.interval_count, quarterly.unit_amount) == ("month", 3,
                                                                                                         5400)
    jpy = prices["Enterprise:jpy"]
    assert (jpy.currency, jpy.unit_amount, str(jpy.unit_amount_decimal)) == ("jpy", 29800, "29800")  # whole yen
    metered = prices["api_calls:metered"]
    assert (metered.recurring.usage_type, metered.recurring.meter, metered.unit_amount) == (
        "metered", "mtr_SegApiCalls0001", 2)
    tiered = prices["Pro:tiered"]
    assert (tiered.billing_scheme, tiered.tiers_mode, tiered.unit_amount) == ("tiered", "volume", None)
    assert "tiers" not in plain(tiered)
    with_tiers = client.v1.prices.retrieve(tiered.id, params={"expand": ["tiers"]})
    assert [(t.up_to, t.unit_amount) for t in with_tiers.tiers] == [(10, 4900), (50, 4400), (None, 3900)]
    expanded = client.v1.prices.retrieve(monthly.id, params={"expand": ["product"]})
    assert expanded.product.name == "Pro plan"
    assert [p.lookup_key for p in client.v1.prices.list(params={"currency": "jpy"}).data] == [
        "Enterprise:jpy", "Pro:jpy", "Basic:jpy"]
    assert len(client.v1.prices.list(params={"product": products["Pro plan"].id, "limit": 100}).data) == 7
    assert {p.lookup_key for p in client.v1.prices.list(params={"recurring": {"interval": "year"}}).data} == {
        "Basic:year", "Pro:year", "Enterprise:year"}


@pytest.mark.parametrize("name, path, model", [
    ("customer", "/v1/customers", stripe.Customer),
    ("product", "/v1/products", stripe.Product),
    ("price", "/v1/prices", stripe.Price),
    ("coupon", "/v1/coupons", stripe.Coupon),
    ("subscription", "/v1/subscriptions", stripe.Subscription),
    ("invoice", "/v1/invoices", stripe.Invoice),
    ("event", "/v1/events", stripe.Event),
])
def test_objects_match_stripe_fixtures(client, name, path, model):
    service = {"customer": client.v1.customers, "product": client.v1.products, "price": client.v1.prices,
               "coupon": client.v1.coupons, "subscription": client.v1.subscriptions,
               "invoice": client.v1.invoices, "event": client.v1.events}[name]
    for obj in service.list(params={"limit": 100}).data:
        data = plain(obj)
        assert shape_problems(data, fixture(name), model) == [], data["id"]
        if name == "subscription":
            item = data["items"]["data"][0]
            assert shape_problems(item, fixture("subscription_item"), stripe.SubscriptionItem) == []
            assert shape_problems(item["plan"], fixture("plan"), stripe.Plan) == []
        if name == "invoice":
            line = data["lines"]["data"][0]
            assert shape_problems(line, fixture("line_item"), stripe.InvoiceLineItem) == []
    deleted = plain(client.v1.customers.retrieve(client.v1.events.list(params={"type": "customer.deleted"})
                                                 .data[0].data.object.id))
    assert set(deleted) == set(fixture("deleted_customer"))
