"""The Stripe emulator's catalogue: record schemas, products, prices per plan tier and interval, coupons."""
from __future__ import annotations

import json

import pyarrow as pa

S, I, B, F = pa.string(), pa.int64(), pa.bool_(), pa.float64()


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([("id", S), ("created", I), *fields, ("_seq", I)])


SCHEMAS: dict[str, pa.Schema] = {
    "customer": _schema(("email", S), ("name", S), ("description", S), ("metadata", S), ("deleted", B),
                        ("currency", S), ("delinquent", B), ("invoice_prefix", S)),
    "product": _schema(("name", S), ("description", S), ("active", B), ("metadata", S), ("default_price", S),
                       ("updated", I), ("unit_label", S)),
    "price": _schema(("product", S), ("currency", S), ("unit_amount", I), ("billing_scheme", S), ("tiers_mode", S),
                     ("tiers", S), ("recurring", S), ("type", S), ("nickname", S), ("lookup_key", S), ("active", B),
                     ("metadata", S)),
    "coupon": _schema(("name", S), ("percent_off", F), ("amount_off", I), ("currency", S), ("duration", S),
                      ("duration_in_months", I), ("metadata", S)),
    "subscription": _schema(("customer", S), ("status", S), ("currency", S), ("start_date", I),
                            ("billing_cycle_anchor", I), ("ended_at", I), ("canceled_at", I), ("cancel_at", I),
                            ("cancel_at_period_end", B), ("trial_start", I), ("trial_end", I), ("items", S),
                            ("discount", S), ("latest_invoice", S), ("metadata", S), ("collection_method", S)),
    "invoice": _schema(("customer", S), ("subscription", S), ("status", S), ("currency", S), ("amount_due", I),
                       ("amount_paid", I), ("amount_remaining", I), ("subtotal", I), ("total", I),
                       ("period_start", I), ("period_end", I), ("number", S), ("lines", S), ("discount", S),
                       ("customer_email", S), ("customer_name", S), ("billing_reason", S), ("metadata", S)),
    "event": _schema(("type", S), ("data", S), ("api_version", S)),
    "webhook_endpoint": _schema(("url", S), ("enabled_events", S), ("secret", S), ("status", S),
                                ("description", S), ("metadata", S)),
}

TIERS = ("Basic", "Pro", "Enterprise")
# USD cents per seat per month; annual prices charge ten months.
MONTHLY_USD = {"Basic": 1900, "Pro": 4900, "Enterprise": 19900}
ALT_PRICES = {  # (currency, unit amount per seat per month in the currency's minor unit or yen)
    "eur": {"Basic": 1700, "Pro": 4500, "Enterprise": 18500},
    "gbp": {"Basic": 1500, "Pro": 3900, "Enterprise": 15900},
    "jpy": {"Basic": 2800, "Pro": 7400, "Enterprise": 29800},  # zero-decimal: whole yen
}
QUARTERLY_USD = {"Basic": 5400, "Pro": 13900, "Enterprise": 56700}
TIERED_USD = {  # volume tiers per seat per month: up to 10 seats, up to 50, beyond
    "Basic": (1900, 1700, 1500), "Pro": (4900, 4400, 3900), "Enterprise": (19900, 17900, 15900)}
METERED_USD_PER_CALL = 2  # cents per 1,000 API calls, billed in arrears
SUPPORT_ADDON_USD = 50000  # Priority support, flat monthly
CATALOG_CREATED = 1_600_000_000  # 2020-09-13, before every seeded customer

PRODUCT_IDS = {"Basic": "prod_SegBasic0001", "Pro": "prod_SegPro000001", "Enterprise": "prod_SegEnterpr01",
               "api_calls": "prod_SegApiCalls1", "support": "prod_SegSupport01"}


def price_id(key: str) -> str:
    return "price_Seg" + "".join(ch for ch in key.title() if ch.isalnum())


def _recurring(interval: str, count: int = 1, usage_type: str = "licensed", meter: str | None = None) -> str:
    return json.dumps({"interval": interval, "interval_count": count, "meter": meter, "usage_type": usage_type,
                       "trial_period_days": None})


def price_rows() -> list[dict]:
    """Every price: tier x {month, year, eur, gbp, jpy, quarter, tiered}, the metered API-calls price, support."""
    rows = []

    def add(key, product, currency, unit_amount, recurring, nickname, scheme="per_unit", tiers=None):
        rows.append({"id": price_id(key), "created": CATALOG_CREATED + len(rows), "product": product,
                     "currency": currency, "unit_amount": unit_amount, "billing_scheme": scheme,
                     "tiers_mode": "volume" if tiers else None, "tiers": json.dumps(tiers) if tiers else None,
                     "recurring": recurring, "type": "recurring", "nickname": nickname, "lookup_key": key,
                     "active": True, "metadata": json.dumps({"segsync_key": key})})

    for tier in TIERS:
        product = PRODUCT_IDS[tier]
        add(f"{tier}:month", product, "usd", MONTHLY_USD[tier], _recurring("month"), f"{tier} monthly")
        add(f"{tier}:year", product, "usd", MONTHLY_USD[tier] * 10, _recurring("year"), f"{tier} annual")
        for currency, amounts in ALT_PRICES.items():
            add(f"{tier}:{currency}", product, currency, amounts[tier], _recurring("month"),
                f"{tier} monthly ({currency.upper()})")
        add(f"{tier}:quarter", product, "usd", QUARTERLY_USD[tier], _recurring("month", 3), f"{tier} quarterly")
        first, second, rest = TIERED_USD[tier]
        tiers = [{"flat_amount": None, "flat_amount_decimal": None, "unit_amount": first,
                  "unit_amount_decimal": str(first), "up_to": 10},
                 {"flat_amount": None, "flat_amount_decimal": None, "unit_amount": second,
                  "unit_amount_decimal": str(second), "up_to": 50},
                 {"flat_amount": None, "flat_amount_decimal": None, "unit_amount": rest,
                  "unit_amount_decimal": str(rest), "up_to": None}]
        add(f"{tier}:tiered", product, "usd", None, _recurring("month"), f"{tier} monthly (volume)", "tiered", tiers)
    add("api_calls:metered", PRODUCT_IDS["api_calls"], "usd", METERED_USD_PER_CALL,
        _recurring("month", 1, "metered", "mtr_SegApiCalls0001"), "API calls (per 1,000)")
    add("support:month", PRODUCT_IDS["support"], "usd", SUPPORT_ADDON_USD, _recurring("month"), "Priority support")
    return rows


def product_rows() -> list[dict]:
    names = {"Basic": "Basic plan", "Pro": "Pro plan", "Enterprise": "Enterprise plan", "api_calls": "API calls",
             "support": "Priority support"}
    defaults = {"Basic": "Basic:month", "Pro": "Pro:month", "Enterprise": "Enterprise:month",
                "api_calls": "api_calls:metered", "support": "support:month"}
    return [{"id": PRODUCT_IDS[key], "created": CATALOG_CREATED + i, "name": name, "description": None,
             "active": True, "metadata": json.dumps({"plan_tier": key} if key in TIERS else {}),
             "default_price": price_id(defaults[key]), "updated": CATALOG_CREATED + i,
             "unit_label": "seat" if key in TIERS else None}
            for i, (key, name) in enumerate(names.items())]


COUPONS = [
    {"id": "SEGSYNC10ONCE", "name": "10% off first invoice", "percent_off": 10.0, "amount_off": None,
     "currency": None, "duration": "once", "duration_in_months": None},
    {"id": "SEGSYNC25X3", "name": "25% off for 3 months", "percent_off": 25.0, "amount_off": None,
     "currency": None, "duration": "repeating", "duration_in_months": 3},
    {"id": "SEGSYNC5USD", "name": "$5 off forever", "percent_off": None, "amount_off": 500, "currency": "usd",
     "duration": "forever", "duration_in_months": None},
]


def coupon_rows() -> list[dict]:
    return [{**c, "created": CATALOG_CREATED + i, "metadata": "{}"} for i, c in enumerate(COUPONS)]


def to_table(kind: str, rows: list[dict]) -> pa.Table:
    schema = SCHEMAS[kind]
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema)
