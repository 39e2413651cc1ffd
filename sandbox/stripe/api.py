"""HTTP routes of the Stripe emulator (/v1/...) and its admin extras (/__sandbox/stripe/...)."""
from __future__ import annotations

import copy
import time

import pyarrow.compute as pc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox.stripe import shapes
from sandbox.stripe.params import (LIST_PARAMS, StripeError, all_of, as_bool, check_unknown, decode_params,
                                   expand_paths, list_limit, range_filter)

SUBSCRIPTION_STATUSES = {"active", "canceled", "ended", "incomplete", "incomplete_expired", "past_due", "paused",
                         "trialing", "unpaid", "all"}
INVOICE_STATUSES = {"draft", "open", "paid", "uncollectible", "void"}
LIST_PATHS = {"customer": "/v1/customers", "product": "/v1/products", "price": "/v1/prices",
              "coupon": "/v1/coupons", "subscription": "/v1/subscriptions", "invoice": "/v1/invoices",
              "event": "/v1/events", "webhook_endpoint": "/v1/webhook_endpoints"}


def _eq(params: dict, name: str) -> pc.Expression | None:
    return pc.field(name) == params[name] if name in params else None


def _bool_eq(params: dict, name: str) -> pc.Expression | None:
    return pc.field(name) == as_bool(name, params[name]) if name in params else None


def _filters(kind: str, params: dict) -> tuple[pc.Expression | None, set[str]]:
    """The Arrow filter for a list call and the parameter names the endpoint accepts."""
    created = range_filter(params, "created")
    if kind == "customer":
        return all_of(pc.field("deleted") == False, _eq(params, "email"), created), {"email", "created"}  # noqa: E712
    if kind == "product":
        return all_of(_bool_eq(params, "active"), created), {"active", "created"}
    if kind == "price":
        lookup = params.get("lookup_keys")
        keys = pc.field("lookup_key").isin(lookup if isinstance(lookup, list) else [lookup]) if lookup else None
        recurring = params.get("recurring") or {}
        interval = (pc.match_substring(pc.field("recurring"), f'"interval": "{recurring["interval"]}"')
                    if isinstance(recurring, dict) and "interval" in recurring else None)
        return (all_of(_bool_eq(params, "active"), _eq(params, "product"), _eq(params, "currency"),
                       _eq(params, "type"), keys, interval, created),
                {"active", "product", "currency", "type", "lookup_keys", "recurring", "created"})
    if kind == "coupon":
        return created, {"created"}
    if kind == "subscription":
        status = params.get("status")
        if status is not None and status not in SUBSCRIPTION_STATUSES:
            raise StripeError(400, f"Invalid status: must be one of {', '.join(sorted(SUBSCRIPTION_STATUSES))}",
                              param="status")
        if status is None:
            status_filter = pc.field("status") != "canceled"
        elif status == "all":
            status_filter = None
        elif status == "ended":
            status_filter = pc.field("status").isin(["canceled", "incomplete_expired"])
        else:
            status_filter = pc.field("status") == status
        price = (pc.match_substring(pc.field("items"), f'"price":"{params["price"]}"')
                 if "price" in params else None)
        return (all_of(status_filter, _eq(params, "customer"), price, created),
                {"status", "customer", "price", "created", "collection_method"})
    if kind == "invoice":
        if "status" in params and params["status"] not in INVOICE_STATUSES:
            raise StripeError(400, f"Invalid status: must be one of {', '.join(sorted(INVOICE_STATUSES))}",
                              param="status")
        return (all_of(_eq(params, "customer"), _eq(params, "subscription"), _eq(params, "status"), created),
                {"customer", "subscription", "status", "created"})
    if kind == "event":
        event_type = params.get("type")
        type_filter = None
        if event_type and event_type.endswith("*"):
            type_filter = pc.starts_with(pc.field("type"), event_type[:-1])
        elif event_type:
            type_filter = pc.field("type") == event_type
        types = params.get("types")
        types_filter = pc.field("type").isin(types if isinstance(types, list) else [types]) if types else None
        return all_of(type_filter, types_filter, created), {"type", "types", "created", "delivery_success"}
    if kind == "webhook_endpoint":
        return pc.field("status") != "deleted", set()
    return None, set()


def list_objects(emulator, kind: str, params: dict, request: Request) -> dict:
    expression, accepted = _filters(kind, params)
    check_unknown(params, accepted | LIST_PARAMS)
    limit = list_limit(params)
    collection = emulator.collections[kind]
    cursors = {}
    for name in ("starting_after", "ending_before"):
        if params.get(name):
            key = collection.sort_key(params[name])
            if key is None:
                raise StripeError(400, f"No such {kind}: '{params[name]}'", code="resource_missing", param=name)
            cursors[name] = key
    if len(cursors) == 2:
        raise StripeError(400, "You may only specify one of these parameters: ending_before, starting_after.",
                          code="parameters_exclusive", param="ending_before")
    page = collection.page(collection.view(expression), limit, **cursors)
    data = [emulator.render(kind, record) for record in collection.get_many(page.ids)]
    request.state.records = len(data)
    return {"object": "list", "data": data, "has_more": page.has_more, "url": LIST_PATHS[kind]}


def _apply_expand(emulator, obj: dict, params: dict) -> dict:
    for path in expand_paths(params):
        emulator.expand(obj, path)
    return obj


async def _params(request: Request) -> dict:
    if request.method in ("POST", "DELETE"):
        body = (await request.body()).decode()
        merged = "&".join(part for part in (request.url.query, body) if part)
        return decode_params(merged)
    return decode_params(request.url.query)


def add_api_routes(app: FastAPI, emulator) -> None:
    @app.exception_handler(StripeError)
    async def stripe_error(request: Request, exc: StripeError):
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    async def gate(request: Request) -> dict:
        emulator.authenticate(request.headers.get("authorization"))
        emulator.check_rate()
        return await _params(request)

    def add_list_and_retrieve(kind: str, path: str) -> None:
        async def list_route(request: Request):
            params = await gate(request)
            with emulator.lock:
                result = list_objects(emulator, kind, params, request)
                return _apply_expand(emulator, result, params)

        async def retrieve_route(request: Request, object_id: str):
            params = await gate(request)
            check_unknown(params, {"expand"})
            with emulator.lock:
                record = emulator.record(kind, object_id)
                request.state.records = 1
                return _apply_expand(emulator, emulator.render(kind, record), params)

        app.add_api_route(path, list_route, methods=["GET"], name=f"list_{kind}")
        app.add_api_route(path + "/{object_id}", retrieve_route, methods=["GET"], name=f"retrieve_{kind}")

    for kind, path in LIST_PATHS.items():
        if kind != "webhook_endpoint":
            add_list_and_retrieve(kind, path)

    @app.get("/v1/subscription_items")
    async def list_subscription_items(request: Request):
        params = await gate(request)
        check_unknown(params, {"subscription"} | LIST_PARAMS)
        if "subscription" not in params:
            raise StripeError(400, "Missing required param: subscription.", code="parameter_missing",
                              param="subscription")
        with emulator.lock:
            sub = emulator.render("subscription", emulator.record("subscription", params["subscription"]))
            return _apply_expand(emulator, _page_embedded(sub["items"]["data"], params, "si",
                                                          f"/v1/subscription_items", request), params)

    @app.get("/v1/invoices/{invoice_id}/lines")
    async def list_invoice_lines(request: Request, invoice_id: str):
        params = await gate(request)
        check_unknown(params, LIST_PARAMS)
        with emulator.lock:
            lines = emulator.invoice_lines(emulator.record("invoice", invoice_id))
            return _apply_expand(emulator, _page_embedded(lines, params, "il", f"/v1/invoices/{invoice_id}/lines",
                                                          request), params)

    @app.post("/v1/customers")
    async def create_customer(request: Request):
        params = await gate(request)
        check_unknown(params, {"email", "name", "description", "metadata", "expand"})
        with emulator.lock:
            record = emulator.collections["customer"].put({
                "id": emulator.next_id("cus"), "created": int(time.time()), "email": params.get("email"),
                "name": params.get("name"), "description": params.get("description"),
                "metadata": _metadata(params), "deleted": False, "currency": None, "delinquent": False,
                "invoice_prefix": "SEG" + str(len(emulator.collections["customer"]))})
            obj = emulator.render("customer", record)
            emulator.record_event("customer.created", obj)
            request.state.records = 1
            return _apply_expand(emulator, copy.deepcopy(obj), params)

    @app.post("/v1/customers/{customer_id}")
    async def update_customer(request: Request, customer_id: str):
        params = await gate(request)
        check_unknown(params, {"email", "name", "description", "metadata", "expand"})
        with emulator.lock:
            current = _live(emulator, "customer", customer_id)
            before = emulator.render("customer", current)
            changes = {k: params[k] for k in ("email", "name", "description") if k in params}
            if "metadata" in params:
                changes["metadata"] = _merge_metadata(current.get("metadata") or {}, params["metadata"])
            record = emulator.collections["customer"].put({"id": customer_id, **changes})
            obj = emulator.render("customer", record)
            emulator.record_event("customer.updated", obj, {k: before[k] for k in changes})
            request.state.records = 1
            return _apply_expand(emulator, copy.deepcopy(obj), params)

    @app.delete("/v1/customers/{customer_id}")
    async def delete_customer(request: Request, customer_id: str):
        await gate(request)
        with emulator.lock:
            current = _live(emulator, "customer", customer_id)
            before = emulator.render("customer", current)
            emulator.collections["customer"].put({"id": customer_id, "deleted": True})
            emulator.record_event("customer.deleted", before)
            request.state.records = 1
            return shapes.customer({"id": customer_id, "deleted": True})

    @app.post("/v1/subscriptions/{subscription_id}")
    async def update_subscription(request: Request, subscription_id: str):
        params = await gate(request)
        check_unknown(params, {"cancel_at_period_end", "metadata", "expand"})
        with emulator.lock:
            current = emulator.record("subscription", subscription_id)
            if current["status"] in ("canceled", "incomplete_expired"):
                raise StripeError(400, "A canceled subscription can only update its cancellation_details and "
                                       "metadata.", param="cancel_at_period_end")
            before = emulator.render("subscription", current)
            changes: dict = {}
            if "cancel_at_period_end" in params:
                flag = as_bool("cancel_at_period_end", params["cancel_at_period_end"])
                period_end = max(item["current_period_end"] for item in current["items"])
                changes.update(cancel_at_period_end=flag, cancel_at=period_end if flag else None)
            if "metadata" in params:
                changes["metadata"] = _merge_metadata(current.get("metadata") or {}, params["metadata"])
            record = emulator.collections["subscription"].put({"id": subscription_id, **changes})
            obj = emulator.render("subscription", record)
            emulator.record_event("customer.subscription.updated", obj, {k: before[k] for k in changes})
            request.state.records = 1
            return _apply_expand(emulator, copy.deepcopy(obj), params)

    @app.delete("/v1/subscriptions/{subscription_id}")
    async def cancel_subscription(request: Request, subscription_id: str):
        params = await gate(request)
        check_unknown(params, {"expand", "invoice_now", "prorate"})
        with emulator.lock:
            current = emulator.record("subscription", subscription_id)
            if current["status"] in ("canceled", "incomplete_expired"):
                raise StripeError(400, f"This subscription has already been canceled: {subscription_id}",
                                  param="subscription")
            now = int(time.time())
            record = emulator.collections["subscription"].put({"id": subscription_id, "status": "canceled",
                                                               "canceled_at": now, "ended_at": now,
                                                               "cancel_at_period_end": False, "cancel_at": None})
            obj = emulator.render("subscription", record)
            emulator.record_event("customer.subscription.deleted", obj)
            request.state.records = 1
            return _apply_expand(emulator, copy.deepcopy(obj), params)

    @app.post("/v1/webhook_endpoints")
    async def create_webhook_endpoint(request: Request):
        params = await gate(request)
        check_unknown(params, {"url", "enabled_events", "description", "api_version", "metadata", "expand"})
        for required in ("url", "enabled_events"):
            if not params.get(required):
                raise StripeError(400, f"Missing required param: {required}.", code="parameter_missing",
                                  param=required)
        events = params["enabled_events"]
        with emulator.lock:
            record = emulator.add_webhook_endpoint(params["url"], events if isinstance(events, list) else [events],
                                                   description=params.get("description"))
            return shapes.webhook_endpoint(record, with_secret=True)

    @app.get("/v1/webhook_endpoints")
    async def list_webhook_endpoints(request: Request):
        params = await gate(request)
        with emulator.lock:
            return list_objects(emulator, "webhook_endpoint", params, request)

    @app.delete("/v1/webhook_endpoints/{endpoint_id}")
    async def delete_webhook_endpoint(request: Request, endpoint_id: str):
        await gate(request)
        with emulator.lock:
            if emulator.record("webhook_endpoint", endpoint_id)["status"] == "deleted":
                raise StripeError(404, f"No such webhook_endpoint: '{endpoint_id}'", code="resource_missing",
                                  param="id")
            emulator.collections["webhook_endpoint"].put({"id": endpoint_id, "status": "deleted"})
            return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}

    @app.post("/__sandbox/stripe/webhook_endpoints")
    async def admin_webhook_endpoint(spec: dict):
        with emulator.lock:
            record = emulator.add_webhook_endpoint(spec["url"], spec.get("enabled_events") or ["*"],
                                                   secret=spec.get("secret"))
        return shapes.webhook_endpoint(record, with_secret=True)

    @app.post("/__sandbox/stripe/simulate")
    async def admin_simulate(spec: dict):
        action, subscription_id = spec.get("action"), spec.get("subscription")
        if action not in ("renew", "payment_failed") or not subscription_id:
            raise StripeError(400, f"simulate: got action={action!r}, subscription={subscription_id!r}; expected "
                                   f"action 'renew' or 'payment_failed' and a subscription id", param="action")
        with emulator.lock:
            return emulator.simulate_renewal(subscription_id, paid=action == "renew")

    @app.get("/__sandbox/stripe/deliveries")
    async def admin_deliveries():
        return list(emulator.deliveries)


def _live(emulator, kind: str, object_id: str) -> dict:
    record = emulator.record(kind, object_id)
    if record.get("deleted"):
        raise StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id")
    return record


def _metadata(params: dict) -> dict:
    value = params.get("metadata") or {}
    if not isinstance(value, dict):
        raise StripeError(400, "Invalid object", param="metadata")
    return {k: v for k, v in value.items() if v != ""}


def _merge_metadata(current: dict, update) -> dict:
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise StripeError(400, "Invalid object", param="metadata")
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _page_embedded(items: list[dict], params: dict, prefix: str, url: str, request: Request) -> dict:
    """Cursor paging over a small in-memory list kept in its natural order (items, invoice lines)."""
    limit = list_limit(params)
    ids = [item["id"] for item in items]
    start = 0
    if params.get("starting_after"):
        if params["starting_after"] not in ids:
            raise StripeError(400, f"No such object: '{params['starting_after']}'", code="resource_missing",
                              param="starting_after")
        start = ids.index(params["starting_after"]) + 1
    end = len(items)
    if params.get("ending_before"):
        if params["ending_before"] not in ids:
            raise StripeError(400, f"No such object: '{params['ending_before']}'", code="resource_missing",
                              param="ending_before")
        end = ids.index(params["ending_before"])
        start = max(0, end - limit)
        data = items[start:end]
        request.state.records = len(data)
        return {"object": "list", "data": data, "has_more": start > 0, "url": url}
    data = items[start:start + limit]
    request.state.records = len(data)
    return {"object": "list", "data": data, "has_more": start + limit < end, "url": url}
