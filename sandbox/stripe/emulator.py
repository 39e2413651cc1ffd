"""The Stripe emulator: state (columnar collections), rendering with expand[], events and signed webhook deliveries."""
from __future__ import annotations

import calendar
import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from datetime import datetime, timezone

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from sandbox.common import Emulator
from sandbox.stripe import shapes
from sandbox.stripe.catalog import SCHEMAS
from sandbox.stripe.params import StripeError
from sandbox.stripe.store import Collection

API_KEY = "sk_test_51SegsyncSandboxKey0000000000000000"
DEFAULT_RATE_LIMIT_PER_SECOND = 100  # Stripe's documented live-mode allowance for read operations
EMBEDDED_LIST_LIMIT = 10  # invoice lines embedded in an invoice; the rest via /v1/invoices/{id}/lines
KIND_BY_PREFIX = {"cus": "customer", "prod": "product", "price": "price", "sub": "subscription", "in": "invoice",
                  "evt": "event", "we": "webhook_endpoint"}


def interval_months(recurring: dict) -> int:
    count = recurring.get("interval_count") or 1
    if recurring["interval"] == "year":
        return 12 * count
    if recurring["interval"] == "month":
        return count
    raise ValueError(f"price interval {recurring['interval']!r}: the emulator bills month and year intervals")


def add_months(timestamp: int, months: int) -> int:
    """The same day and time `months` later (clamped to the month's last day), as Stripe's billing anchor does."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def line_amount(price: dict, quantity: int | None) -> int:
    """Amount for a licensed item: per-unit price, or the volume tier the quantity falls in."""
    quantity = quantity or 0
    if price["billing_scheme"] == "tiered":
        tier = next(t for t in price["tiers"] if t["up_to"] is None or quantity <= t["up_to"])
        return tier["unit_amount"] * quantity + (tier.get("flat_amount") or 0)
    return price["unit_amount"] * quantity


def sign_payload(payload: str, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header value for a webhook body (HMAC-SHA256 of "<t>.<payload>")."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class StripeEmulator(Emulator):
    name = "stripe"

    def reset(self) -> None:
        self.collections = {kind: Collection(kind, schema) for kind, schema in SCHEMAS.items()}
        self.deliveries: list[dict] = []
        self._hits: deque[float] = deque()
        self._counter = 0
        self._price_cache: dict[str, dict] = {}

    # -- seeding and admin ------------------------------------------------------------------------
    def seed(self, dataset) -> dict:
        from sandbox.stripe.seed import build_tables

        tables = build_tables(dataset)
        for kind, table in tables.items():
            self.collections[kind].load(table)
        deleted = [r for r in tables["customer"].filter(tables["customer"].column("deleted")).to_pylist()]
        for row in deleted:
            self.record_event("customer.deleted", shapes.customer({**row, "deleted": False,
                                                                  "metadata": json.loads(row["metadata"])}))
        return {kind: len(self.collections[kind]) for kind in ("customer", "product", "price", "coupon",
                                                               "subscription", "invoice", "event")}

    def dump(self) -> dict:
        return {"counts": {kind: len(c) for kind, c in self.collections.items()},
                "webhook_endpoints": [shapes.webhook_endpoint(self.collections["webhook_endpoint"].get(i))
                                      for i in self.collections["webhook_endpoint"].table().column("id").to_pylist()],
                "deliveries": list(self.deliveries), "settings": dict(self.settings)}

    def env(self, base_url: str) -> dict[str, str]:
        return {"STRIPE_API_BASE": base_url, "STRIPE_API_KEY": API_KEY}

    def error_response(self, status, code, message, retry_after) -> Response:
        error_type = "api_error" if status >= 500 else "invalid_request_error"
        if status == 429 and code is None:
            code = "rate_limit"
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
        body = {"error": {k: v for k, v in {"type": error_type, "code": code,
                                            "message": message or "injected fault"}.items() if v is not None}}
        return JSONResponse(body, status_code=status, headers=headers)

    def add_routes(self, app: FastAPI) -> None:
        from sandbox.stripe.api import add_api_routes

        add_api_routes(app, self)

    # -- request gates ----------------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> None:
        if not authorization:
            raise StripeError(401, "You did not provide an API key. You need to provide your API key in the "
                                   "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")
        scheme, _, value = authorization.partition(" ")
        key = value.strip()
        if scheme.lower() == "basic":
            import base64

            try:
                key = base64.b64decode(key).decode().partition(":")[0]
            except ValueError:
                key = ""
        elif scheme.lower() != "bearer":
            key = ""
        if key != API_KEY:
            shown = (key[:8] + "*" * 4 + key[-4:]) if len(key) > 12 else "****"
            raise StripeError(401, f"Invalid API Key provided: {shown}")

    def check_rate(self) -> None:
        limit = self.settings.get("rate_limit_per_second", DEFAULT_RATE_LIMIT_PER_SECOND)
        if not limit:
            return
        now = time.monotonic()
        with self.lock:
            while self._hits and self._hits[0] <= now - 1.0:
                self._hits.popleft()
            if len(self._hits) >= limit:
                raise StripeError(429, "Request rate limit exceeded. Learn more about rate limits here "
                                       "https://stripe.com/docs/rate-limits.", code="rate_limit")
            self._hits.append(now)

    # -- reading ----------------------------------------------------------------------------------
    def record(self, kind: str, record_id: str) -> dict:
        found = self.collections[kind].get(record_id)
        if found is None:
            raise StripeError(404, f"No such {kind}: '{record_id}'", code="resource_missing", param="id")
        return found

    def render(self, kind: str, record: dict) -> dict:
        if kind == "customer":
            return shapes.customer(record)
        if kind == "product":
            return shapes.product(record)
        if kind == "price":
            return shapes.price(record)
        if kind == "coupon":
            return shapes.coupon(record)
        if kind == "subscription":
            items = [shapes.subscription_item(item, record["id"], self.render_price(item["price"]))
                     for item in record["items"]]
            return shapes.subscription(record, items)
        if kind == "invoice":
            lines = self.invoice_lines(record)
            embedded = {"object": "list", "data": lines[:EMBEDDED_LIST_LIMIT],
                        "has_more": len(lines) > EMBEDDED_LIST_LIMIT,
                        "url": f"/v1/invoices/{record['id']}/lines"}
            return shapes.invoice(record, embedded)
        if kind == "event":
            return shapes.event(record)
        if kind == "webhook_endpoint":
            return shapes.webhook_endpoint(record)
        raise ValueError(f"unknown Stripe object kind {kind!r}")

    def render_price(self, price_id: str) -> dict:
        """Prices are few and rarely change: rendered once and copied."""
        cached = self._price_cache.get(price_id)
        if cached is None:
            cached = self._price_cache[price_id] = shapes.price(self.record("price", price_id))
        return copy.deepcopy(cached)

    def invoice_lines(self, record: dict) -> list[dict]:
        return [shapes.invoice_line(line, record["id"], record.get("subscription")) for line in record["lines"]]

    def discount_object(self, owner: dict) -> dict:
        if owner.get("object") == "subscription":
            record = self.record("subscription", owner["id"])
            return shapes.discount(record["discount"], customer_id=record["customer"], subscription_id=record["id"])
        record = self.record("invoice", owner["id"])
        sub = self.record("subscription", record["subscription"])
        return shapes.discount(sub["discount"], customer_id=record["customer"], subscription_id=sub["id"])

    # -- expand[] ---------------------------------------------------------------------------------
    def expand(self, obj: dict, path: str) -> None:
        self._expand(obj, path.split("."), obj.get("object", ""), path)

    def _expand(self, obj: dict, parts: list[str], context: str, full: str) -> None:
        head, rest = parts[0], parts[1:]
        if obj.get("object") == "list":
            if head != "data":
                raise StripeError(400, f"This property cannot be expanded ({head}).", param="expand")
            for item in obj["data"]:
                if rest:
                    self._expand(item, rest, item.get("object", ""), full)
            return
        key = (context, head)
        if key == ("price", "tiers"):  # an includable property: absent unless asked for
            obj["tiers"] = self.record("price", obj["id"]).get("tiers")
            return
        if head not in obj:
            raise StripeError(400, f"This property cannot be expanded ({head}).", param="expand")
        value = obj[head]
        if key in EXPANDABLE:
            target = EXPANDABLE[key]
            if target == "discount":
                if isinstance(value, list):
                    obj[head] = [self.discount_object(obj) if isinstance(v, str) else v for v in value]
            elif isinstance(value, str):
                obj[head] = self.render(target, self.record(target, value))
        elif key not in TRAVERSABLE:
            raise StripeError(400, f"This property cannot be expanded ({head}).", param="expand")
        if rest:
            child = obj[head]
            children = child if isinstance(child, list) else [child]
            for item in children:
                if isinstance(item, dict):
                    child_context = item.get("object") or f"{context}.{head}"
                    self._expand(item, rest, child_context, full)

    # -- simulated billing (admin) ------------------------------------------------------------------
    def simulate_renewal(self, subscription_id: str, *, paid: bool) -> dict:
        """Bill the next period now: items move one interval on, a new invoice is paid (or left open), events fire.

        A failed payment leaves the subscription past_due, as Stripe does after a failed renewal charge.
        """
        sub = self.record("subscription", subscription_id)
        if sub["status"] not in ("active", "trialing", "past_due"):
            raise StripeError(400, f"Subscription {subscription_id} is {sub['status']}; only active, trialing or "
                                   f"past_due subscriptions renew", param="subscription")
        before = self.render("subscription", sub)
        items, lines, subtotal = [], [], 0
        for item in sub["items"]:
            price = self.record("price", item["price"])
            start = item["current_period_end"]
            end = add_months(start, interval_months(price["recurring"]))
            amount = 0 if price["recurring"]["usage_type"] == "metered" else line_amount(price, item["quantity"])
            items.append({**item, "current_period_start": start, "current_period_end": end})
            subtotal += amount
            lines.append({"id": self.next_id("il"), "amount": amount, "currency": price["currency"],
                          "quantity": item.get("quantity"), "price": price["id"], "product": price["product"],
                          "unit_amount": price.get("unit_amount"), "subscription_item": item["id"],
                          "period_start": start, "period_end": end})
        period_start = items[0]["current_period_start"]
        invoice = self.collections["invoice"].put({
            "id": self.next_id("in"), "created": int(time.time()), "customer": sub["customer"],
            "subscription": subscription_id, "status": "paid" if paid else "open", "currency": sub["currency"],
            "amount_due": subtotal, "amount_paid": subtotal if paid else 0,
            "amount_remaining": 0 if paid else subtotal, "subtotal": subtotal, "total": subtotal,
            "period_start": period_start, "period_end": period_start, "number": None, "lines": lines,
            "discount": None, "customer_email": None, "customer_name": None, "billing_reason": "subscription_cycle",
            "metadata": {}})
        status = "active" if paid else "past_due"
        changes = {"items": items, "latest_invoice": invoice["id"], "status": status}
        if sub["status"] == "trialing":
            changes["trial_end"] = sub["trial_end"]
        record = self.collections["subscription"].put({"id": subscription_id, **changes})
        invoice_obj = self.render("invoice", invoice)
        self.record_event("invoice.paid" if paid else "invoice.payment_failed", invoice_obj)
        sub_obj = self.render("subscription", record)
        self.record_event("customer.subscription.updated", sub_obj,
                          {"status": before["status"], "latest_invoice": before["latest_invoice"]})
        return {"subscription": sub_obj, "invoice": invoice_obj}

    # -- writes, events and webhooks --------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_Seg{int(time.time() * 1000):013d}{self._counter:06d}"

    def record_event(self, event_type: str, obj: dict, previous: dict | None = None) -> dict:
        data = {"object": obj}
        if previous:
            data["previous_attributes"] = previous
        record = self.collections["event"].put({"id": self.next_id("evt"), "created": int(time.time()),
                                                "type": event_type, "data": data,
                                                "api_version": shapes.API_VERSION})
        self._deliver(shapes.event(record))
        return record

    def add_webhook_endpoint(self, url: str, enabled_events: list[str], secret: str | None = None,
                             description: str | None = None) -> dict:
        record = {"id": self.next_id("we"), "created": int(time.time()), "url": url,
                  "enabled_events": enabled_events or ["*"], "status": "enabled", "description": description,
                  "secret": secret or "whsec_" + secrets.token_hex(16), "metadata": {}}
        return self.collections["webhook_endpoint"].put(record)

    def _deliver(self, event: dict) -> None:
        endpoints = self.collections["webhook_endpoint"]
        targets = [endpoints.get(i) for i in endpoints.table().column("id").to_pylist()]
        targets = [t for t in targets if t["status"] == "enabled"
                   and ("*" in t["enabled_events"] or event["type"] in t["enabled_events"])]
        if not targets:
            return
        payload = json.dumps(event)
        for target in targets:
            delivery = {"event": event["id"], "type": event["type"], "endpoint": target["id"], "url": target["url"],
                        "status": None, "error": None}
            self.deliveries.append(delivery)
            threading.Thread(target=self._post, args=(delivery, payload, target["secret"]), daemon=True).start()

    @staticmethod
    def _post(delivery: dict, payload: str, secret: str) -> None:
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                   "Stripe-Signature": sign_payload(payload, secret, int(time.time()))}
        try:
            response = httpx.post(delivery["url"], content=payload, headers=headers, timeout=10, trust_env=False)
            delivery["status"] = response.status_code
        except httpx.HTTPError as exc:
            delivery["error"] = f"{type(exc).__name__}: {exc}"


# (object or nested context, field) -> object kind the id expands into.
EXPANDABLE = {
    ("subscription", "customer"): "customer", ("subscription", "latest_invoice"): "invoice",
    ("subscription", "discounts"): "discount", ("invoice", "customer"): "customer",
    ("invoice", "subscription"): "subscription", ("invoice", "discounts"): "discount",
    ("price", "product"): "product", ("subscription_item", "price"): "price", ("plan", "product"): "product",
    ("discount.source", "coupon"): "coupon", ("line_item.pricing.price_details", "price"): "price",
    ("line_item.pricing.price_details", "product"): "product",
}
# Fields that are objects already and may be walked through on the way to an expandable field.
TRAVERSABLE = {("subscription", "items"), ("invoice", "lines"), ("discount", "source"), ("line_item", "pricing"),
               ("line_item.pricing", "price_details"), ("subscription_item", "plan"), ("event", "data")}
