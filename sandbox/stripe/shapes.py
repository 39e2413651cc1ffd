"""Renders stored records as Stripe API objects in the shape of API version 2026-10-28.endive (expandable ids)."""
from __future__ import annotations

API_VERSION = "2026-10-28.endive"
_ADDRESS = {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}


def customer(r: dict) -> dict:
    if r.get("deleted"):
        return {"id": r["id"], "object": "customer", "deleted": True}
    return {
        "id": r["id"], "object": "customer", "address": dict(_ADDRESS), "balance": 0, "created": r["created"],
        "currency": r.get("currency"), "default_source": None, "delinquent": bool(r.get("delinquent")),
        "description": r.get("description"), "discount": None, "email": r.get("email"),
        "invoice_prefix": r.get("invoice_prefix"),
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                             "rendering_options": None},
        "livemode": False, "metadata": r.get("metadata") or {}, "name": r.get("name"), "next_invoice_sequence": 2,
        "phone": None, "preferred_locales": [], "shipping": None, "tax_exempt": "none", "test_clock": None,
        "customer_account": None,
    }


def product(r: dict) -> dict:
    return {
        "id": r["id"], "object": "product", "active": r["active"], "created": r["created"],
        "default_price": r.get("default_price"), "description": r.get("description"), "images": [],
        "livemode": False, "marketing_features": [], "metadata": r.get("metadata") or {}, "name": r["name"],
        "package_dimensions": None, "shippable": None, "statement_descriptor": None, "tax_code": None,
        "unit_label": r.get("unit_label"), "updated": r.get("updated") or r["created"], "url": None,
        "type": "service",
    }


def price(r: dict, *, include_tiers: bool = False) -> dict:
    amount = r.get("unit_amount") if r.get("billing_scheme") != "tiered" else None
    shaped = {
        "id": r["id"], "object": "price", "active": r["active"], "billing_scheme": r["billing_scheme"],
        "created": r["created"], "currency": r["currency"], "custom_unit_amount": None, "livemode": False,
        "lookup_key": r.get("lookup_key"), "metadata": r.get("metadata") or {}, "nickname": r.get("nickname"),
        "product": r["product"], "recurring": r.get("recurring"), "tax_behavior": "unspecified",
        "tiers_mode": r.get("tiers_mode"), "transform_quantity": None, "type": r["type"],
        "unit_amount": amount, "unit_amount_decimal": None if amount is None else str(amount),
    }
    if include_tiers and r.get("tiers") is not None:
        shaped["tiers"] = r["tiers"]
    return shaped


def coupon(r: dict) -> dict:
    return {
        "id": r["id"], "object": "coupon", "amount_off": r.get("amount_off"), "created": r["created"],
        "currency": r.get("currency"), "duration": r["duration"], "duration_in_months": r.get("duration_in_months"),
        "livemode": False, "max_redemptions": None, "metadata": r.get("metadata") or {}, "name": r.get("name"),
        "percent_off": r.get("percent_off"), "redeem_by": None, "times_redeemed": 0, "valid": True,
    }


def discount(d: dict, *, customer_id: str, subscription_id: str | None) -> dict:
    return {
        "id": d["id"], "object": "discount", "checkout_session": None, "customer": customer_id, "end": d.get("end"),
        "invoice": None, "invoice_item": None, "promotion_code": None, "start": d["start"],
        "subscription": subscription_id, "subscription_item": None,
        "source": {"coupon": d["coupon"], "type": "coupon"}, "customer_account": None,
    }


def plan_from_price(p: dict) -> dict:
    recurring = p.get("recurring") or {}
    return {
        "id": p["id"], "object": "plan", "active": p["active"], "amount": p.get("unit_amount"),
        "amount_decimal": p.get("unit_amount_decimal"), "billing_scheme": p["billing_scheme"],
        "created": p["created"], "currency": p["currency"], "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"), "livemode": False, "metadata": p.get("metadata") or {},
        "meter": recurring.get("meter"), "nickname": p.get("nickname"), "product": p["product"],
        "tiers_mode": p.get("tiers_mode"), "transform_usage": None, "trial_period_days": None,
        "usage_type": recurring.get("usage_type"),
    }


def subscription_item(item: dict, subscription_id: str, price_obj: dict) -> dict:
    return {
        "id": item["id"], "object": "subscription_item", "billing_thresholds": None, "created": item["created"],
        "current_period_end": item["current_period_end"], "current_period_start": item["current_period_start"],
        "discounts": [], "metadata": {}, "plan": plan_from_price(price_obj), "price": price_obj,
        "quantity": item.get("quantity"), "subscription": subscription_id, "tax_rates": [],
    }


def subscription(r: dict, items: list[dict]) -> dict:
    sub_discount = r.get("discount")
    status = r["status"]
    return {
        "id": r["id"], "object": "subscription", "application": None, "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": r["billing_cycle_anchor"], "billing_cycle_anchor_config": None,
        "billing_mode": {"type": "flexible", "flexible": {"proration_discounts": "included"}},
        "billing_thresholds": None, "cancel_at": r.get("cancel_at"),
        "cancel_at_period_end": bool(r.get("cancel_at_period_end")), "canceled_at": r.get("canceled_at"),
        "cancellation_details": {"comment": None, "feedback": None,
                                 "reason": "cancellation_requested" if r.get("canceled_at") else None},
        "collection_method": r.get("collection_method") or "charge_automatically", "created": r["created"],
        "currency": r["currency"], "customer": r["customer"], "customer_account": None, "days_until_due": None,
        "default_payment_method": None, "default_source": None, "default_tax_rates": [], "description": None,
        "discounts": [sub_discount["id"]] if sub_discount else [], "ended_at": r.get("ended_at"),
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {"object": "list", "data": items, "has_more": False,
                  "url": f"/v1/subscription_items?subscription={r['id']}"},
        "latest_invoice": r.get("latest_invoice"), "livemode": False, "managed_payments": None,
        "metadata": r.get("metadata") or {}, "next_pending_invoice_item_invoice": None, "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                             "save_default_payment_method": "off"},
        "pending_invoice_item_interval": None, "pending_setup_intent": None, "pending_update": None,
        "schedule": None, "start_date": r["start_date"], "status": status, "test_clock": None,
        "transfer_data": None, "trial_end": r.get("trial_end"),
        "trial_settings": {"end_behavior": {"missing_payment_method": "pause" if status == "paused"
                                            else "create_invoice"}},
        "trial_start": r.get("trial_start"), "billing_schedules": [],
    }


def invoice_line(line: dict, invoice_id: str, subscription_id: str | None) -> dict:
    return {
        "id": line["id"], "object": "line_item", "amount": line["amount"], "currency": line["currency"],
        "description": None, "discount_amounts": [], "discountable": True, "discounts": [],
        "invoice": invoice_id, "livemode": False, "metadata": {},
        "parent": {"type": "subscription_item_details", "invoice_item_details": None,
                   "subscription_item_details": {"invoice_item": None, "proration": False,
                                                 "proration_details": {"credited_items": None},
                                                 "subscription": subscription_id,
                                                 "subscription_item": line["subscription_item"]}},
        "period": {"end": line["period_end"], "start": line["period_start"]},
        "pretax_credit_amounts": [],
        "pricing": {"type": "price_details", "price_details": {"price": line["price"], "product": line["product"]},
                    "unit_amount_decimal": None if line.get("unit_amount") is None else str(line["unit_amount"])},
        "quantity": line.get("quantity"), "quantity_decimal": None if line.get("quantity") is None
        else str(line["quantity"]), "subtotal": line["amount"], "taxes": [], "subscription": subscription_id,
    }


def invoice(r: dict, lines: dict) -> dict:
    status = r["status"]
    paid = status == "paid"
    applied = r.get("discount")
    return {
        "id": r["id"], "object": "invoice", "account_country": "US", "account_name": "segsync sandbox",
        "account_tax_ids": None, "amount_due": r["amount_due"], "amount_overpaid": 0, "amount_paid": r["amount_paid"],
        "amount_remaining": r["amount_remaining"], "amount_shipping": 0, "application": None,
        "attempt_count": 0 if status == "draft" else 1, "attempted": status != "draft",
        "auto_advance": status in ("draft", "open"),
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None, "provider": None,
                          "status": None},
        "automatically_finalizes_at": r["created"] + 3600 if status == "draft" else None,
        "billing_reason": r.get("billing_reason"), "collection_method": "charge_automatically",
        "created": r["created"], "currency": r["currency"], "custom_fields": None, "customer": r["customer"],
        "customer_account": None, "customer_address": None, "customer_email": r.get("customer_email"),
        "customer_name": r.get("customer_name"), "customer_phone": None, "customer_shipping": None,
        "customer_tax_exempt": "none", "customer_tax_ids": [], "default_payment_method": None,
        "default_source": None, "default_tax_rates": [], "description": None,
        "discounts": [f"di_{r['id'][3:]}"] if applied else [], "due_date": None,
        "effective_at": None if status == "draft" else r["created"], "ending_balance": None if status == "draft" else 0,
        "footer": None, "from_invoice": None, "hosted_invoice_url": None, "invoice_pdf": None,
        "issuer": {"type": "self"}, "last_finalization_error": None, "latest_revision": None, "lines": lines,
        "livemode": False, "metadata": r.get("metadata") or {},
        "next_payment_attempt": None if paid or status in ("draft", "uncollectible") else r["created"] + 3 * 86400,
        "number": r.get("number"), "on_behalf_of": None,
        "parent": {"type": "subscription_details", "quote_details": None,
                   "subscription_details": {"metadata": {}, "subscription": r.get("subscription")}},
        "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
        "period_end": r["period_end"], "period_start": r["period_start"], "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0, "receipt_number": None, "rendering": None, "shipping_cost": None,
        "shipping_details": None, "starting_balance": 0, "statement_descriptor": None, "status": status,
        "status_transitions": {"finalized_at": None if status == "draft" else r["created"],
                               "marked_uncollectible_at": r["created"] + 30 * 86400 if status == "uncollectible"
                               else None,
                               "paid_at": r["created"] if paid else None, "voided_at": None},
        "subtotal": r["subtotal"], "subtotal_excluding_tax": r["subtotal"], "test_clock": None,
        "total": r["total"],
        "total_discount_amounts": [{"amount": applied["amount"], "discount": f"di_{r['id'][3:]}"}] if applied else [],
        "total_excluding_tax": r["total"], "total_pretax_credit_amounts": [], "total_taxes": [],
        "webhooks_delivered_at": r["created"],
    }


def event(r: dict) -> dict:
    return {
        "id": r["id"], "object": "event", "api_version": r.get("api_version") or API_VERSION,
        "context": None, "created": r["created"], "data": r["data"], "livemode": False, "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None}, "type": r["type"],
    }


def webhook_endpoint(r: dict, *, with_secret: bool = False) -> dict:
    shaped = {
        "id": r["id"], "object": "webhook_endpoint", "api_version": API_VERSION, "application": None,
        "created": r["created"], "description": r.get("description"), "enabled_events": r["enabled_events"],
        "livemode": False, "metadata": r.get("metadata") or {}, "status": r.get("status") or "enabled",
        "url": r["url"],
    }
    if with_secret:
        shaped["secret"] = r["secret"]
    return shaped
