"""Stripe emulator through stripe-python: list paging, filters, expand[], auth, parameter errors, rate limit, faults."""
from __future__ import annotations

import httpx
import pytest
import stripe

from segsync.clients.stripe import make_stripe
from tests.contract.sandbox.stripe_helpers import list_all, plain, seeded_client


@pytest.fixture
def client(stripe_sandbox):
    return seeded_client(stripe_sandbox)


def test_limit_default_max_and_list_envelope(client, stripe_sandbox):
    page = client.v1.customers.list()
    assert len(page.data) == 10 and page.has_more is True and page.url == "/v1/customers"
    assert len(client.v1.customers.list(params={"limit": 100}).data) == 100
    for bad in (0, 101):
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.customers.list(params={"limit": bad})
        assert info.value.http_status == 400 and info.value.param == "limit"
        assert info.value.code == "parameter_invalid_integer"
    assert [e.records for e in stripe_sandbox["stripe"].log.entries()[:2]] == [10, 100]


def test_starting_after_and_ending_before_walk_newest_first(client):
    everything = [c["id"] for c in list_all(client, "/v1/customers")]
    assert len(everything) == len(set(everything)) == 500
    created = [c["created"] for c in list_all(client, "/v1/customers")]
    assert created == sorted(created, reverse=True)
    first = client.v1.customers.list(params={"limit": 3})
    second = client.v1.customers.list(params={"limit": 3, "starting_after": first.data[-1].id})
    assert [c.id for c in first.data + second.data] == everything[:6]
    back = client.v1.customers.list(params={"limit": 2, "ending_before": second.data[0].id})
    assert [c.id for c in back.data] == everything[1:3] and back.has_more is True
    start = client.v1.customers.list(params={"limit": 5, "ending_before": everything[2]})
    assert [c.id for c in start.data] == everything[:2] and start.has_more is False
    last = client.v1.customers.list(params={"limit": 5, "starting_after": everything[-3]})
    assert [c.id for c in last.data] == everything[-2:] and last.has_more is False
    assert [c.id for c in client.v1.customers.list(params={"limit": 100}).auto_paging_iter()] == everything
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.list(params={"starting_after": "cus_unknown"})
    assert (info.value.http_status, info.value.code, info.value.param) == (400, "resource_missing", "starting_after")


def test_created_filters(client):
    everything = list_all(client, "/v1/customers")
    pivot = sorted(c["created"] for c in everything)[250]
    newer = list_all(client, "/v1/customers", created={"gte": pivot})
    older = list_all(client, "/v1/customers", created={"lt": pivot})
    assert len(newer) + len(older) == 500
    assert all(c["created"] >= pivot for c in newer) and all(c["created"] < pivot for c in older)
    exact = client.v1.customers.list(params={"created": pivot})
    assert [c.created for c in exact.data] == [pivot] * len(exact.data) and exact.data
    window = list_all(client, "/v1/subscriptions", status="all", created={"gt": pivot, "lte": pivot + 30 * 86400})
    assert window and all(pivot < s["created"] <= pivot + 30 * 86400 for s in window)


def test_expand_paths_on_lists_and_objects(client):
    page = client.v1.subscriptions.list(params={"limit": 3, "expand": ["data.customer", "data.items.data.price",
                                                                       "data.latest_invoice"]})
    for sub in page.data:
        assert sub.customer.object == "customer" and sub.customer.email
        assert sub["items"].data[0].price.object == "price"
        assert sub.latest_invoice.object == "invoice"
        assert sub.latest_invoice.parent.subscription_details.subscription == sub.id
    product = client.v1.subscriptions.retrieve(page.data[0].id, params={"expand": ["items.data.price.product"]})
    assert product["items"].data[0].price.product.object == "product"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.list(params={"expand": ["data.items.data.price.product"]})
    assert "more than 4 levels" in info.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.retrieve(page.data[0].customer.id, params={"expand": ["email"]})
    assert "cannot be expanded (email)" in info.value.user_message
    invoice = client.v1.invoices.retrieve(page.data[0].latest_invoice.id,
                                          params={"expand": ["customer"]})
    assert invoice.customer.id == page.data[0].customer.id


def test_unknown_parameters_and_bad_values(client):
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.list(params={"colour": "blue"})
    assert (info.value.code, info.value.param) == ("parameter_unknown", "colour")
    assert "Received unknown parameter: colour" in info.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.list(params={"status": "sleeping"})
    assert info.value.param == "status" and "Invalid status" in info.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.list(params={"created": {"gte": "yesterday"}})
    assert (info.value.code, info.value.param) == ("parameter_invalid_integer", "created[gte]")


def test_authentication(stripe_sandbox):
    env = stripe_sandbox.env()
    wrong = make_stripe({**env, "STRIPE_API_KEY": "sk_test_wrongwrongwrong1234"})
    with pytest.raises(stripe.AuthenticationError) as info:
        wrong.v1.customers.list()
    assert info.value.http_status == 401
    assert "Invalid API Key provided: sk_test_****1234" in info.value.user_message
    assert "wrongwrongwrong" not in info.value.user_message
    missing = httpx.get(f"{env['STRIPE_API_BASE']}/v1/customers", trust_env=False)
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "invalid_request_error"
    basic = httpx.get(f"{env['STRIPE_API_BASE']}/v1/customers", auth=(env["STRIPE_API_KEY"], ""), trust_env=False)
    assert basic.status_code == 200 and basic.json()["object"] == "list"


def test_rate_limit_returns_429_rate_limit(client, stripe_sandbox):
    stripe_sandbox["stripe"].configure({"rate_limit_per_second": 3})
    outcomes = []
    for _ in range(6):
        try:
            client.v1.products.list()
            outcomes.append(200)
        except stripe.RateLimitError as exc:
            outcomes.append(exc.http_status)
            assert exc.json_body["error"]["code"] == "rate_limit"
    assert outcomes[:3] == [200, 200, 200] and 429 in outcomes[3:]
    statuses = [e.status for e in stripe_sandbox["stripe"].log.entries()]
    assert statuses.count(429) == outcomes.count(429)


def test_injected_faults_use_stripe_error_shape(client, stripe_sandbox):
    stripe_sandbox["stripe"].faults.add({"path": "^/v1/products", "status": 503, "times": 1})
    with pytest.raises(stripe.APIError) as info:
        client.v1.products.list()
    assert info.value.http_status == 503 and info.value.json_body["error"]["type"] == "api_error"
    assert len(client.v1.products.list().data) == 5
    stripe_sandbox["stripe"].faults.add({"path": "^/v1/prices", "status": 429, "retry_after": 2, "times": 1})
    with pytest.raises(stripe.RateLimitError) as limited:
        client.v1.prices.list()
    assert limited.value.headers["retry-after"] == "2" and limited.value.json_body["error"]["code"] == "rate_limit"


def test_request_log_counts_records(client, stripe_sandbox):
    client.v1.subscriptions.list(params={"limit": 7})
    client.v1.customers.retrieve(client.v1.customers.list(params={"limit": 1}).data[0].id)
    entries = [(e.method, e.path, e.status, e.records) for e in stripe_sandbox["stripe"].log.entries()]
    assert entries[0] == ("GET", "/v1/subscriptions", 200, 7)
    assert entries[1] == ("GET", "/v1/customers", 200, 1)
    assert entries[2][1].startswith("/v1/customers/cus_") and entries[2][3] == 1
    assert plain(client.v1.coupons.list())["url"] == "/v1/coupons"
