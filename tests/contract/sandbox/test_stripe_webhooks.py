"""Stripe emulator through stripe-python: writes raise events, the events list, signed webhook deliveries."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import stripe

from tests.contract.sandbox.stripe_helpers import seeded_client


class Receiver:
    """A local webhook endpoint recording (body, Stripe-Signature) of each delivery."""

    def __init__(self):
        self.received: list[tuple[bytes, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stripe/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[bytes, str]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.server.shutdown()


@pytest.fixture
def client(stripe_sandbox):
    return seeded_client(stripe_sandbox)


def test_signed_deliveries_verify_with_construct_event(client, receiver, stripe_sandbox):
    endpoint = client.v1.webhook_endpoints.create(params={"url": receiver.url,
                                                          "enabled_events": ["customer.subscription.updated"]})
    assert endpoint.secret.startswith("whsec_") and endpoint.status == "enabled"
    sub = client.v1.subscriptions.list(params={"status": "active", "limit": 1}).data[0]
    assert sub.cancel_at_period_end is False
    updated = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert updated.cancel_at == updated["items"].data[0].current_period_end
    client.v1.customers.update(sub.customer, params={"metadata": {"tier": "gold"}})  # not subscribed to
    [(body, signature)] = receiver.wait_for(1)
    event = stripe.Webhook.construct_event(body.decode(), signature, endpoint.secret)
    assert event.type == "customer.subscription.updated"
    assert event.data.object.id == sub.id and event.data.object.cancel_at_period_end is True
    assert event.data.previous_attributes.to_dict() == {"cancel_at_period_end": False, "cancel_at": None}
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.decode(), signature, "whsec_not_the_secret")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.decode().replace("true", "false", 1), signature, endpoint.secret)
    time.sleep(0.2)
    assert len(receiver.received) == 1
    deliveries = httpx.get(f"{stripe_sandbox.env()['STRIPE_API_BASE']}/__sandbox/stripe/deliveries",
                           trust_env=False).json()
    assert [(d["type"], d["status"]) for d in deliveries] == [("customer.subscription.updated", 200)]


def test_admin_registered_endpoint_receives_every_event(client, receiver, stripe_sandbox):
    base = stripe_sandbox.env()["STRIPE_API_BASE"]
    registered = httpx.post(f"{base}/__sandbox/stripe/webhook_endpoints",
                            json={"url": receiver.url, "secret": "whsec_test_fixed_secret"}, trust_env=False).json()
    assert registered["secret"] == "whsec_test_fixed_secret" and registered["enabled_events"] == ["*"]
    created = client.v1.customers.create(params={"email": "new@newco.example.com", "metadata": {"account_id": "A-new"}})
    client.v1.customers.update(created.id, params={"email": "ops@newco.example.com"})
    client.v1.customers.delete(created.id)
    sub = client.v1.subscriptions.list(params={"status": "trialing", "limit": 1}).data[0]
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled" and canceled.ended_at is not None
    received = receiver.wait_for(4)
    events = [stripe.Webhook.construct_event(body.decode(), sig, "whsec_test_fixed_secret") for body, sig in received]
    assert sorted(e.type for e in events) == sorted(["customer.created", "customer.updated", "customer.deleted",
                                                     "customer.subscription.deleted"])
    updated = next(e for e in events if e.type == "customer.updated")
    assert updated.data.previous_attributes.to_dict() == {"email": "new@newco.example.com"}
    assert client.v1.customers.retrieve(created.id).to_dict() == {"id": created.id, "object": "customer",
                                                                  "deleted": True}
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.cancel(sub.id)
    assert info.value.http_status == 400


def test_events_list_filters_and_pages(client):
    seeded = client.v1.events.list()
    assert [e.type for e in seeded.data] == ["customer.deleted", "customer.deleted"]
    first = client.v1.customers.list(params={"limit": 3}).data
    for customer in first:
        client.v1.customers.update(customer.id, params={"metadata": {"segsync_touch": "1"}})
    updates = client.v1.events.list(params={"type": "customer.updated"})
    assert [e.data.object.id for e in updates.data] == [c.id for c in reversed(first)]
    assert all(e.api_version == "2026-10-28.endive" for e in updates.data)
    page = client.v1.events.list(params={"types": ["customer.updated", "customer.deleted"], "limit": 2})
    assert len(page.data) == 2 and page.has_more is True
    wildcard = client.v1.events.list(params={"type": "customer.*", "limit": 100})
    assert len(wildcard.data) == 5
    recent = client.v1.events.list(params={"created": {"gte": updates.data[-1].created}, "limit": 100})
    assert {e.id for e in updates.data} <= {e.id for e in recent.data}
    assert client.v1.events.retrieve(updates.data[0].id).id == updates.data[0].id
    touched = client.v1.customers.retrieve(first[0].id)
    assert touched.metadata["segsync_touch"] == "1" and touched.metadata["account_id"]


def test_simulated_renewal_and_failed_payment(client, receiver, stripe_sandbox):
    base = stripe_sandbox.env()["STRIPE_API_BASE"]
    httpx.post(f"{base}/__sandbox/stripe/webhook_endpoints", json={"url": receiver.url, "secret": "whsec_renewals"},
               trust_env=False)
    sub = client.v1.subscriptions.retrieve(
        client.v1.subscriptions.list(params={"status": "active", "price": "price_SegProMonth", "limit": 1}).data[0].id)
    item = sub["items"].data[0]
    renewed = httpx.post(f"{base}/__sandbox/stripe/simulate", json={"action": "renew", "subscription": sub.id},
                         trust_env=False)
    assert renewed.status_code == 200
    after = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    new_item = after["items"].data[0]
    assert new_item.current_period_start == item.current_period_end
    assert 28 * 86400 <= new_item.current_period_end - new_item.current_period_start <= 31 * 86400
    invoice = after.latest_invoice
    assert invoice.id != sub.latest_invoice and invoice.status == "paid"
    assert invoice.amount_paid == item.quantity * 4900 == invoice.total
    assert invoice.parent.subscription_details.subscription == sub.id
    failed = httpx.post(f"{base}/__sandbox/stripe/simulate", json={"action": "payment_failed", "subscription": sub.id},
                        trust_env=False).json()
    assert failed["subscription"]["status"] == "past_due" and failed["invoice"]["status"] == "open"
    assert failed["invoice"]["amount_remaining"] == item.quantity * 4900
    events = [stripe.Webhook.construct_event(body.decode(), sig, "whsec_renewals") for body, sig in receiver.wait_for(4)]
    assert sorted(e.type for e in events) == ["customer.subscription.updated", "customer.subscription.updated",
                                              "invoice.paid", "invoice.payment_failed"]  # deliveries run in parallel
    listed = client.v1.events.list(params={"types": ["invoice.paid", "invoice.payment_failed"]}).data
    assert [e.type for e in listed] == ["invoice.payment_failed", "invoice.paid"]  # the events list is ordered
    status_changes = [e.data.previous_attributes.status for e in events if e.type == "customer.subscription.updated"]
    assert sorted(status_changes) == ["active", "active"]
    canceled = client.v1.subscriptions.list(params={"status": "canceled", "limit": 1}).data[0]
    refused = httpx.post(f"{base}/__sandbox/stripe/simulate", json={"action": "renew", "subscription": canceled.id},
                         trust_env=False)
    assert refused.status_code == 400 and "is canceled" in refused.json()["error"]["message"]


def test_webhook_endpoints_list_and_delete(client, receiver):
    endpoint = client.v1.webhook_endpoints.create(params={"url": receiver.url, "enabled_events": ["*"]})
    listed = client.v1.webhook_endpoints.list()
    assert [e.id for e in listed.data] == [endpoint.id] and "secret" not in listed.data[0].to_dict()
    deleted = client.v1.webhook_endpoints.delete(endpoint.id)
    assert deleted.deleted is True and client.v1.webhook_endpoints.list().data == []
    client.v1.customers.update(client.v1.customers.list(params={"limit": 1}).data[0].id,
                               params={"metadata": {"after_delete": "1"}})
    time.sleep(0.3)
    assert receiver.received == []
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.webhook_endpoints.delete(endpoint.id)
    assert info.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.webhook_endpoints.create(params={"url": receiver.url})
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "enabled_events")
