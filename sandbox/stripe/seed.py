"""Builds the Stripe emulator's seeded records from a dataset in DuckDB SQL (customers, subscriptions, invoices)."""
from __future__ import annotations

import json

import duckdb
import pyarrow as pa

from sandbox.datasets import MIX_MACRO, Dataset
from sandbox.stripe.catalog import (COUPONS, SCHEMAS, TIERED_USD, TIERS, coupon_rows, price_id, price_rows,
                                    product_rows, to_table)

# Deterministic quirks, by account row index i or subscription row index r (documented in README.md).
FREEMAIL_EVERY, FREEMAIL_AT = 50, 7  # customer email on gmail.com and no metadata
SHARED_DOMAIN_EVERY, SHARED_DOMAIN_AT = 1000, 1  # customer of account i uses the domain of account i - 1
NO_SALESFORCE_EVERY, NO_SALESFORCE_AT = 5, 4  # metadata without salesforce_id
SHORT_SALESFORCE_EVERY, SHORT_SALESFORCE_AT = 7, 3  # salesforce_id in its 15-character form
DELETED_EVERY, DELETED_AT = 250, 100  # an extra, deleted customer for the account
STATUS_EVERY = 50  # r % 50: 1 past_due, 2 unpaid, 3 paused, 4 incomplete, 6 incomplete_expired (if ended)
ALT_PRICE_EVERY = 40  # r % 40: 3 EUR, 7 GBP, 11 JPY, 13 quarterly, 17 tiered
CANCEL_AT_PERIOD_END_EVERY, CANCEL_AT_PERIOD_END_AT = 20, 9
DISCOUNT_EVERY = 12  # r % 12 == 0 with r % 36 choosing the coupon (0 once, 12 repeating, 24 forever)
ADDON_EVERY = 10  # r % 10: 4 metered API calls item, 6 priority support item (USD monthly only)
DRAFT_INVOICE_AT = 8  # r % 50 == 8 and active: the latest invoice is still a draft


def _values(rows: list[tuple]) -> str:
    return ", ".join("(" + ", ".join("NULL" if v is None else repr(v) for v in row) + ")" for row in rows)


def build_tables(dataset: Dataset) -> dict[str, pa.Table]:
    """Arrow tables per object type (schemas of sandbox.stripe.catalog.SCHEMAS, `_seq` excluded)."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(MIX_MACRO)
    accounts = dataset.accounts.append_column("_i", pa.array(range(dataset.accounts.num_rows), pa.int64()))
    subscriptions = dataset.subscriptions.append_column(
        "_r", pa.array(range(dataset.subscriptions.num_rows), pa.int64()))
    con.register("acc", accounts)
    con.register("subs", subscriptions)
    prices = [(r["lookup_key"], r["id"], r["product"], r["currency"], r["unit_amount"], r["billing_scheme"],
               json.loads(r["recurring"])["interval"], json.loads(r["recurring"])["interval_count"])
              for r in price_rows()]
    con.execute(f"CREATE TABLE price_keys(key VARCHAR, id VARCHAR, product VARCHAR, currency VARCHAR, "
                f"unit_amount BIGINT, scheme VARCHAR, interval VARCHAR, interval_count INTEGER); "
                f"INSERT INTO price_keys VALUES {_values(prices)}")
    tiered = [(tier, *TIERED_USD[tier]) for tier in TIERS]
    con.execute(f"CREATE TABLE tier_steps(tier VARCHAR, t1 BIGINT, t2 BIGINT, t3 BIGINT); "
                f"INSERT INTO tier_steps VALUES {_values(tiered)}")
    coupons = [(c["id"], c["percent_off"], c["amount_off"], c["duration"]) for c in COUPONS]
    con.execute(f"CREATE TABLE coupons(id VARCHAR, percent_off DOUBLE, amount_off BIGINT, duration VARCHAR); "
                f"INSERT INTO coupons VALUES {_values(coupons)}")
    today = dataset.today
    con.execute(CUSTOMERS_SQL)
    con.execute(SUBSCRIPTIONS_SQL.replace("$today::DATE", f"DATE '{today.isoformat()}'"))
    con.execute(INVOICES_SQL)
    tables = {
        "customer": con.sql("SELECT * EXCLUDE (_account_id) FROM customers ORDER BY id").to_arrow_table(),
        "subscription": con.sql(SUBSCRIPTION_RECORDS_SQL).to_arrow_table(),
        "invoice": con.sql("SELECT * FROM invoices").to_arrow_table(),
        "product": to_table("product", product_rows()),
        "price": to_table("price", price_rows()),
        "coupon": to_table("coupon", coupon_rows()),
    }
    con.close()
    return {kind: table.select([f.name for f in SCHEMAS[kind] if f.name != "_seq"]) for kind, table in tables.items()}


CUSTOMERS_SQL = f"""
CREATE TABLE customers AS
WITH base AS (
  SELECT *, lag(domain) OVER (ORDER BY _i) AS previous_domain,
         'cus_' || printf('%06x%08d', mix(_i, 301) % 16777216, _i) AS id,
         epoch(signup_date::TIMESTAMP)::BIGINT + mix(_i, 302) % 86400 AS created
  FROM acc
)
SELECT id, created,
       CASE WHEN _i % {FREEMAIL_EVERY} = {FREEMAIL_AT}
              THEN regexp_replace(lower(name), '[^a-z0-9]+', '', 'g') || '@gmail.com'
            WHEN _i % {SHARED_DOMAIN_EVERY} = {SHARED_DOMAIN_AT} AND previous_domain IS NOT NULL
              THEN 'finance@' || previous_domain
            ELSE 'billing@' || domain END AS email,
       name, NULL::VARCHAR AS description,
       CASE WHEN _i % {FREEMAIL_EVERY} = {FREEMAIL_AT}
              OR (_i % {SHARED_DOMAIN_EVERY} = {SHARED_DOMAIN_AT} AND previous_domain IS NOT NULL) THEN '{{}}'
            WHEN _i % {NO_SALESFORCE_EVERY} = {NO_SALESFORCE_AT} THEN json_object('account_id', account_id)::VARCHAR
            ELSE json_object('account_id', account_id, 'salesforce_id',
                   CASE WHEN _i % {SHORT_SALESFORCE_EVERY} = {SHORT_SALESFORCE_AT} THEN left(salesforce_id, 15)
                        ELSE salesforce_id END)::VARCHAR END AS metadata,
       false AS deleted, 'usd' AS currency, false AS delinquent,
       upper(printf('%08X', mix(_i, 304)))[1:8] AS invoice_prefix, account_id AS _account_id
FROM base
UNION ALL
SELECT 'cus_' || printf('%06x%08d', mix(_i, 305) % 16777216, 90000000 + _i), 
       epoch(signup_date::TIMESTAMP)::BIGINT + mix(_i, 306) % 86400 - 86400,
       'billing@' || domain, name, 'duplicate created by mistake', json_object('account_id', account_id)::VARCHAR,
       true, 'usd', false, upper(printf('%08X', mix(_i, 307)))[1:8], NULL
FROM acc WHERE _i % {DELETED_EVERY} = {DELETED_AT}
"""

SUBSCRIPTIONS_SQL = f"""
CREATE TABLE sub_base AS
WITH s AS (
  SELECT subs.*, c.id AS customer, c.email AS customer_email, c.name AS customer_name,
         CASE WHEN _r % {ALT_PRICE_EVERY} = 3 THEN subs.plan_tier || ':eur'
              WHEN _r % {ALT_PRICE_EVERY} = 7 THEN subs.plan_tier || ':gbp'
              WHEN _r % {ALT_PRICE_EVERY} = 11 THEN subs.plan_tier || ':jpy'
              WHEN _r % {ALT_PRICE_EVERY} = 13 THEN subs.plan_tier || ':quarter'
              WHEN _r % {ALT_PRICE_EVERY} = 17 THEN subs.plan_tier || ':tiered'
              WHEN subs.billing_frequency = 'annual' THEN subs.plan_tier || ':year'
              ELSE subs.plan_tier || ':month' END AS price_key,
         mix(_r, 310) % 86400 AS anchor_secs
  FROM subs JOIN customers c ON c._account_id = subs.account_id
), st AS (
  SELECT s.*, p.id AS price, p.product, p.currency, p.unit_amount, p.scheme, p.interval, p.interval_count,
         CASE WHEN p.interval = 'year' THEN 12 * p.interval_count ELSE p.interval_count END AS months,
         CASE WHEN s.end_date IS NOT NULL THEN
                CASE WHEN _r % {STATUS_EVERY} = 6 THEN 'incomplete_expired' ELSE 'canceled' END
              WHEN s.is_trial THEN 'trialing'
              WHEN _r % {STATUS_EVERY} = 1 THEN 'past_due'
              WHEN _r % {STATUS_EVERY} = 2 THEN 'unpaid'
              WHEN _r % {STATUS_EVERY} = 3 THEN 'paused'
              WHEN _r % {STATUS_EVERY} = 4 THEN 'incomplete'
              ELSE 'active' END AS status
  FROM s JOIN price_keys p ON p.key = s.price_key
), periods AS (
  SELECT st.*,
         CASE WHEN status IN ('canceled', 'incomplete_expired') THEN greatest(end_date - 1, start_date)
              ELSE $today::DATE END AS ref_day,
  FROM st
), anchored AS (
  SELECT periods.*,
         (date_diff('month', start_date, ref_day) // months) * months AS k0
  FROM periods
), bounded AS (
  SELECT anchored.*,
         CASE WHEN (start_date + to_months(k0::INTEGER))::DATE > ref_day THEN k0 - months ELSE k0 END AS k
  FROM anchored
)
SELECT bounded.*,
       'sub_' || printf('%06x%08d', mix(_r, 311) % 16777216, _r) AS id,
       epoch(start_date::TIMESTAMP)::BIGINT + anchor_secs AS start_ts,
       CASE WHEN status = 'trialing' THEN epoch(start_date::TIMESTAMP)::BIGINT + anchor_secs
            ELSE epoch((start_date + to_months(k::INTEGER))::TIMESTAMP)::BIGINT + anchor_secs END AS period_start,
       CASE WHEN status = 'trialing' THEN epoch(($today::DATE + (1 + _r % 14)::INTEGER)::TIMESTAMP)::BIGINT + anchor_secs
            ELSE epoch((start_date + to_months((k + months)::INTEGER))::TIMESTAMP)::BIGINT + anchor_secs
            END AS period_end,
       k = 0 AS first_period,
       CASE WHEN status IN ('active', 'trialing', 'past_due') AND _r % {DISCOUNT_EVERY} = 0 THEN
              CASE WHEN _r % 36 = 0 THEN '{COUPONS[0]["id"]}' WHEN _r % 36 = 12 THEN '{COUPONS[1]["id"]}'
                   WHEN currency = 'usd' THEN '{COUPONS[2]["id"]}' ELSE '{COUPONS[1]["id"]}' END
            END AS coupon,
       price_key = plan_tier || ':month' AND status NOT IN ('canceled', 'incomplete_expired')
         AND _r % {ADDON_EVERY} = 4 AS has_metered,
       price_key = plan_tier || ':month' AND status NOT IN ('canceled', 'incomplete_expired')
         AND _r % {ADDON_EVERY} = 6 AS has_support
FROM bounded;

CREATE TABLE sub_items AS
SELECT b.id AS subscription, b._r, 0 AS pos, 'si_' || printf('%06x%08d', mix(b._r, 312) % 16777216, b._r) AS item_id,
       b.price, b.product, b.seats AS quantity, b.unit_amount, b.scheme, b.plan_tier, b.price_key,
       b.start_ts AS created, b.period_start, b.period_end
FROM sub_base b
UNION ALL
SELECT b.id, b._r, 1, 'si_' || printf('%06x%08d', mix(b._r, 313) % 16777216, b._r), '{price_id("api_calls:metered")}',
       'prod_SegApiCalls1', NULL, NULL, 'per_unit', b.plan_tier, 'api_calls:metered', b.start_ts + 60,
       b.period_start, b.period_end
FROM sub_base b WHERE has_metered
UNION ALL
SELECT b.id, b._r, 1, 'si_' || printf('%06x%08d', mix(b._r, 314) % 16777216, b._r), '{price_id("support:month")}',
       'prod_SegSupport01', 1, (SELECT unit_amount FROM price_keys WHERE key = 'support:month'), 'per_unit',
       b.plan_tier, 'support:month', b.start_ts + 60, b.period_start, b.period_end
FROM sub_base b WHERE has_support;
"""

INVOICES_SQL = """
CREATE TABLE item_amounts AS
SELECT i.*,
       CASE WHEN i.price_key = 'api_calls:metered' THEN 0
            WHEN i.scheme = 'tiered' THEN i.quantity * CASE WHEN i.quantity <= 10 THEN t.t1
                                                            WHEN i.quantity <= 50 THEN t.t2 ELSE t.t3 END
            ELSE i.quantity * i.unit_amount END AS line_amount,
       CASE WHEN i.scheme = 'tiered' THEN CASE WHEN i.quantity <= 10 THEN t.t1
                                               WHEN i.quantity <= 50 THEN t.t2 ELSE t.t3 END
            ELSE i.unit_amount END AS line_unit_amount
FROM sub_items i LEFT JOIN tier_steps t ON t.tier = i.plan_tier;

CREATE TABLE invoices AS
WITH billed AS (
  SELECT b.*, 'in_' || printf('%06x%08d', mix(b._r, 315) % 16777216, b._r) AS invoice_id,
         CASE WHEN b.status = 'trialing' THEN 0 ELSE (SELECT sum(a.line_amount) FROM item_amounts a
                                                       WHERE a.subscription = b.id) END::BIGINT AS subtotal,
         c.percent_off, c.amount_off, c.duration AS coupon_duration
  FROM sub_base b LEFT JOIN coupons c ON c.id = b.coupon
  WHERE b.status NOT IN ('canceled', 'incomplete_expired')
), totals AS (
  SELECT billed.*,
         CASE WHEN coupon IS NULL OR (coupon_duration = 'once' AND NOT first_period) THEN 0
              WHEN percent_off IS NOT NULL THEN round(subtotal * percent_off / 100)::BIGINT
              ELSE least(amount_off, subtotal) END AS discount_amount
  FROM billed
)
SELECT t.invoice_id AS id, t.period_start AS created, t.customer, t.id AS subscription,
       CASE WHEN t.status IN ('active', 'trialing', 'paused') AND t._r % 50 = 8 AND t.status = 'active' THEN 'draft'
            WHEN t.status IN ('active', 'trialing', 'paused') THEN 'paid'
            WHEN t.status = 'unpaid' THEN 'uncollectible'
            ELSE 'open' END AS status,
       t.currency, t.subtotal - t.discount_amount AS amount_due,
       CASE WHEN t.status IN ('active', 'trialing', 'paused') AND NOT (t._r % 50 = 8 AND t.status = 'active')
            THEN t.subtotal - t.discount_amount ELSE 0 END AS amount_paid,
       CASE WHEN t.status IN ('active', 'trialing', 'paused') AND NOT (t._r % 50 = 8 AND t.status = 'active')
            THEN 0 ELSE t.subtotal - t.discount_amount END AS amount_remaining,
       t.subtotal, t.subtotal - t.discount_amount AS total, t.period_start, t.period_start AS period_end,
       CASE WHEN t._r % 50 = 8 AND t.status = 'active' THEN NULL
            ELSE upper(printf('%08X', t._r)) || '-0001' END AS number,
       (SELECT to_json(list(json_object(
           'id', 'il_' || substr(a.item_id, 4), 'amount', CASE WHEN t.status = 'trialing' THEN 0 ELSE a.line_amount END,
           'currency', t.currency, 'quantity', a.quantity, 'price', a.price, 'product', a.product,
           'unit_amount', a.line_unit_amount, 'subscription_item', a.item_id,
           'period_start', a.period_start, 'period_end', a.period_end) ORDER BY a.pos))
        FROM item_amounts a WHERE a.subscription = t.id)::VARCHAR AS lines,
       CASE WHEN t.discount_amount > 0 THEN json_object('coupon', t.coupon, 'amount', t.discount_amount)::VARCHAR
            END AS discount,
       t.customer_email, t.customer_name,
       CASE WHEN t.first_period THEN 'subscription_create' ELSE 'subscription_cycle' END AS billing_reason,
       '{}' AS metadata
FROM totals t
ORDER BY t._r
"""

SUBSCRIPTION_RECORDS_SQL = """
SELECT b.id, b.start_ts AS created, b.customer, b.status, b.currency, b.start_ts AS start_date,
       b.start_ts AS billing_cycle_anchor,
       CASE WHEN b.status IN ('canceled', 'incomplete_expired') THEN epoch(b.end_date::TIMESTAMP)::BIGINT + b.anchor_secs
            END AS ended_at,
       CASE WHEN b.status IN ('canceled', 'incomplete_expired')
            THEN epoch(b.end_date::TIMESTAMP)::BIGINT + b.anchor_secs - (b._r % 3) * 86400 END AS canceled_at,
       CASE WHEN b.status = 'active' AND b._r % 20 = 9 THEN b.period_end END AS cancel_at,
       b.status = 'active' AND b._r % 20 = 9 AS cancel_at_period_end,
       CASE WHEN b.is_trial THEN b.start_ts END AS trial_start,
       CASE WHEN b.status = 'trialing' THEN b.period_end
            WHEN b.is_trial THEN least(b.start_ts + 14 * 86400,
                                       coalesce(epoch(b.end_date::TIMESTAMP)::BIGINT + b.anchor_secs, b.start_ts + 14 * 86400))
            END AS trial_end,
       (SELECT to_json(list(json_object('id', i.item_id, 'price', i.price, 'quantity', i.quantity,
                                        'created', i.created, 'current_period_start', i.period_start,
                                        'current_period_end', i.period_end) ORDER BY i.pos))
        FROM sub_items i WHERE i.subscription = b.id)::VARCHAR AS items,
       CASE WHEN b.coupon IS NOT NULL THEN json_object(
              'id', 'di_' || substr(b.id, 5), 'coupon', b.coupon, 'start', b.start_ts,
              'end', CASE WHEN b.coupon = 'SEGSYNC25X3' THEN epoch((to_timestamp(b.start_ts) + INTERVAL 3 MONTH))::BIGINT
                     END)::VARCHAR END AS discount,
       inv.id AS latest_invoice,
       json_object('product_subscription_id', b.subscription_id)::VARCHAR AS metadata,
       'charge_automatically' AS collection_method
FROM sub_base b LEFT JOIN invoices inv ON inv.subscription = b.id
ORDER BY b._r
"""
