"""MRR per subscription and per account from the Stripe raw tables (the rule is documented in docs/accounts.md)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from segsync.build.sqlrun import run_script
from segsync.errors import InputError, Problem

# ISO 4217 currencies Stripe treats as zero-decimal and three-decimal (amounts are in minor units).
ZERO_DECIMAL = ("BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
                "XAF", "XOF", "XPF")
THREE_DECIMAL = ("BHD", "JOD", "KWD", "OMR", "TND")
COUNTING_STATUSES = ("active", "past_due")
# Lower is more telling when an account has several subscriptions.
STATUS_ORDER = ("active", "past_due", "trialing", "unpaid", "paused", "incomplete", "canceled", "incomplete_expired")


def load_money_settings(con: duckdb.DuckDBPyConnection, money: Mapping[str, Any]) -> None:
    """Temp tables: currency exponents, FX rates to the reporting currency, status order."""
    problems = []
    reporting = str(money.get("reporting_currency") or "USD").upper()
    rates = money.get("rates") or {}
    if not isinstance(rates, Mapping):
        problems.append(Problem("segsync.yaml", "must be a mapping of currency -> rate", path="money.rates",
                                value=rates, expected="e.g. {EUR: 1.08}"))
        rates = {}
    clean: dict[str, float] = {reporting: 1.0}
    for currency, rate in rates.items():
        try:
            value = float(rate)
            if value <= 0:
                raise ValueError
            clean[str(currency).upper()] = value
        except (TypeError, ValueError):
            problems.append(Problem("segsync.yaml", "not a positive number", path=f"money.rates.{currency}",
                                    value=rate, expected="units of the reporting currency per unit"))
    if problems:
        raise InputError(problems)
    con.execute("CREATE OR REPLACE TEMP TABLE money_exponent (currency VARCHAR, exponent INTEGER)")
    con.executemany("INSERT INTO money_exponent VALUES (?, ?)",
                    [[c, 0] for c in ZERO_DECIMAL] + [[c, 3] for c in THREE_DECIMAL])
    con.execute("CREATE OR REPLACE TEMP TABLE money_rate (currency VARCHAR, rate DOUBLE)")
    con.executemany("INSERT INTO money_rate VALUES (?, ?)", [[c, r] for c, r in clean.items()])
    con.execute("CREATE OR REPLACE TEMP TABLE money_status_order (status VARCHAR, ord INTEGER)")
    con.executemany("INSERT INTO money_status_order VALUES (?, ?)", [[s, i] for i, s in enumerate(STATUS_ORDER)])


SUBSCRIPTION_MRR = r"""
CREATE OR REPLACE TEMP TABLE money_tiers AS
SELECT id AS price_id, generate_subscripts(tiers, 1) AS pos, unnest(tiers) AS tier
FROM raw_stripe_price WHERE billing_scheme = 'tiered';

CREATE OR REPLACE TEMP TABLE money_tiers_ranged AS
SELECT price_id, pos, tier.up_to AS up_to, coalesce(tier.unit_amount, 0) AS unit_amount,
       coalesce(tier.flat_amount, 0) AS flat_amount,
       coalesce(lag(tier.up_to) OVER (PARTITION BY price_id ORDER BY pos), 0) AS from_qty
FROM money_tiers;

CREATE OR REPLACE TEMP TABLE money_items AS
SELECT i.id AS item_id, i.subscription_id, i.price_id, coalesce(i.quantity, 1) AS quantity,
       p.currency AS price_currency, p.billing_scheme, p.tiers_mode, p.recurring_interval,
       coalesce(p.recurring_interval_count, 1) AS interval_count,
       coalesce(p.recurring_usage_type, 'licensed') AS usage_type, p.unit_amount,
       coalesce(p.plan_tier, p.product_name, p.nickname, p.lookup_key) AS plan_name,
       p.plan_tier IS NOT NULL AS is_plan,
       i.current_period_end, p.id IS NULL AS price_missing
FROM raw_stripe_subscription_item i LEFT JOIN raw_stripe_price p ON p.id = i.price_id;

-- amount per billing period, in minor units, before interval normalisation
CREATE OR REPLACE TEMP TABLE money_item_amounts AS
WITH graduated AS (
    SELECT m.item_id, sum(CASE WHEN units > 0 THEN units * unit_amount + flat_amount ELSE 0 END) AS amount
    FROM (SELECT m.item_id, t.unit_amount, t.flat_amount,
                 greatest(0, least(m.quantity, coalesce(t.up_to, m.quantity)) - t.from_qty) AS units
          FROM money_items m JOIN money_tiers_ranged t ON t.price_id = m.price_id
          WHERE m.billing_scheme = 'tiered' AND coalesce(m.tiers_mode, 'graduated') = 'graduated') m
    GROUP BY m.item_id
), volume AS (
    SELECT m.item_id, arg_min(m.quantity * t.unit_amount + t.flat_amount, t.pos) AS amount
    FROM money_items m JOIN money_tiers_ranged t ON t.price_id = m.price_id
    WHERE m.billing_scheme = 'tiered' AND m.tiers_mode = 'volume' AND (t.up_to IS NULL OR m.quantity <= t.up_to)
    GROUP BY m.item_id
)
SELECT m.*,
       CASE WHEN m.usage_type = 'metered' OR m.price_missing THEN NULL
            WHEN m.billing_scheme = 'tiered' THEN coalesce(g.amount, v.amount)
            ELSE m.quantity * m.unit_amount END AS period_amount,
       CASE m.recurring_interval
            WHEN 'month' THEN 1.0 / m.interval_count
            WHEN 'year' THEN 1.0 / (12 * m.interval_count)
            WHEN 'week' THEN 52.0 / (12 * m.interval_count)
            WHEN 'day' THEN 365.0 / (12 * m.interval_count) END AS monthly_factor
FROM money_items m LEFT JOIN graduated g USING (item_id) LEFT JOIN volume v USING (item_id);

CREATE OR REPLACE TEMP TABLE money_subscriptions AS
WITH items AS (
    SELECT subscription_id,
           sum(CAST(period_amount * monthly_factor AS DECIMAL(38, 12))) AS gross_monthly,
           min(current_period_end) AS item_period_end,
           sum(CASE WHEN usage_type <> 'metered' THEN quantity END) AS seats,
           count(*) FILTER (WHERE usage_type = 'metered') AS metered_items,
           arg_max(recurring_interval, (coalesce(period_amount * monthly_factor, -1), item_id)) AS billing_interval,
           arg_max(interval_count, (coalesce(period_amount * monthly_factor, -1), item_id)) AS interval_count,
           arg_max(monthly_factor, (coalesce(period_amount * monthly_factor, -1), item_id)) AS main_factor,
           arg_max(plan_name, (is_plan, coalesce(period_amount * monthly_factor, -1), item_id)) AS plan_name
    FROM money_item_amounts GROUP BY subscription_id
), discounts AS (
    -- subscription discounts, else the customer's, `once` never counts, `repeating` until its end
    SELECT s.id AS subscription_id,
           product(1 - coalesce(d.percent_off, 0) / 100.0) AS percent_factor,
           sum(CASE WHEN d.amount_off IS NOT NULL AND upper(d.currency) = upper(s.currency) THEN d.amount_off END)
               AS amount_off,
           count(*) FILTER (WHERE d.amount_off IS NOT NULL AND upper(d.currency) <> upper(s.currency)) AS foreign_amount_off
    FROM raw_stripe_subscription s
    JOIN raw_stripe_discount d
      ON (d.subscription_id = s.id)
      OR (d.subscription_id IS NULL AND d.customer_id = s.customer_id
          AND NOT EXISTS (SELECT 1 FROM raw_stripe_discount x WHERE x.subscription_id = s.id))
    WHERE d.duration IN ('forever', 'repeating') AND coalesce(d.start, $as_of) <= $as_of
      AND (d.duration = 'forever' OR d."end" IS NULL OR d."end" > $as_of)
    GROUP BY s.id
)
SELECT s.id AS subscription_id, s.customer_id, s.status, upper(s.currency) AS currency, s.start_date, s.created,
       s.ended_at, s.trial_end, s.cancel_at_period_end,
       coalesce(i.item_period_end, s.current_period_end) AS period_end,
       i.item_period_end IS NULL AND s.current_period_end IS NOT NULL AS period_from_legacy_field,
       s.status IN ('active', 'past_due') AND (s.ended_at IS NULL OR s.ended_at > $as_of) AS counts,
       coalesce(s.cancel_at, CASE WHEN s.cancel_at_period_end THEN coalesce(i.item_period_end, s.current_period_end) END)
           AS cancels_at,
       i.gross_monthly, i.seats, i.metered_items, i.billing_interval, i.interval_count, i.plan_name,
       coalesce(d.percent_factor, 1) AS percent_factor, coalesce(d.amount_off, 0) AS amount_off,
       coalesce(d.foreign_amount_off, 0) AS foreign_amount_off,
       CAST(greatest(0, coalesce(i.gross_monthly, 0) * coalesce(d.percent_factor, 1)
                        - coalesce(d.amount_off, 0) * coalesce(i.main_factor, 1)) AS DECIMAL(38, 12)) AS mrr_exact
FROM raw_stripe_subscription s
LEFT JOIN items i ON i.subscription_id = s.id
LEFT JOIN discounts d ON d.subscription_id = s.id;
"""

ACCOUNT_MONEY = r"""
CREATE OR REPLACE TEMP TABLE money_accounts AS
WITH subs AS (
    SELECT c.account_id, s.*, coalesce(o.ord, 99) AS status_ord
    FROM money_subscriptions s
    JOIN id_match c ON c.source = 'stripe' AND c.status = 'matched' AND c.record_id = s.customer_id
    LEFT JOIN money_status_order o ON o.status = s.status
), per_account AS (
    SELECT account_id,
           count(DISTINCT currency) FILTER (WHERE counts) AS currencies,
           sum(mrr_exact) FILTER (WHERE counts) AS mrr_exact,
           coalesce(min(currency) FILTER (WHERE counts), arg_min(currency, (status_ord, -epoch_us(created)))) AS currency,
           arg_min(status, (status_ord, -epoch_us(created))) AS subscription_status,
           bool_or(status = 'trialing') AS is_trialing,
           bool_or(status IN ('past_due', 'unpaid')) AS has_delinquent_subscription,
           min(cancels_at) FILTER (WHERE counts) AS cancels_at,
           min(period_end) FILTER (WHERE counts) AS renewal_at,
           sum(seats) FILTER (WHERE counts OR status = 'trialing') AS seats,
           -- the current plan: the newest counting subscription, else the newest trialing one
           arg_max(billing_interval, (counts, status = 'trialing', coalesce(start_date, created), subscription_id))
               FILTER (WHERE billing_interval IS NOT NULL) AS billing_interval,
           arg_max(interval_count, (counts, status = 'trialing', coalesce(start_date, created), subscription_id))
               FILTER (WHERE billing_interval IS NOT NULL) AS billing_interval_count,
           arg_max(plan_name, (counts, status = 'trialing', coalesce(start_date, created), subscription_id))
               FILTER (WHERE plan_name IS NOT NULL) AS plan_tier,
           count(*) FILTER (WHERE counts) AS counting_subscriptions
    FROM subs GROUP BY account_id
), customers AS (
    SELECT m.account_id, bool_or(coalesce(c.delinquent, false)) AS customer_delinquent,
           arg_max(upper(c.currency), c.created) AS customer_currency
    FROM raw_stripe_customer c JOIN id_match m ON m.source = 'stripe' AND m.status = 'matched' AND m.record_id = c.id
    GROUP BY m.account_id
)
SELECT a.account_id, a.subscription_status, coalesce(a.is_trialing, false) AS is_trialing,
       coalesce(a.has_delinquent_subscription, false) OR coalesce(c.customer_delinquent, false) AS is_delinquent,
       a.cancels_at, a.renewal_at, a.seats, a.billing_interval, a.billing_interval_count, a.plan_tier,
       coalesce(a.counting_subscriptions, 0) AS counting_subscriptions,
       CASE WHEN a.currencies > 1 THEN NULL ELSE coalesce(a.currency, c.customer_currency) END AS currency,
       CASE WHEN a.currencies > 1 THEN NULL ELSE round(coalesce(a.mrr_exact, 0))::BIGINT END AS mrr_minor,
       coalesce(a.currencies, 0) > 1 AS mixed_currency
FROM per_account a FULL JOIN customers c USING (account_id);

-- reporting currency: each subscription converted with an explicit rate, never summed across currencies otherwise
CREATE OR REPLACE TEMP TABLE money_reporting AS
SELECT c.account_id,
       CASE WHEN bool_and(r.rate IS NOT NULL)
            THEN sum(CAST(s.mrr_exact / pow(10, coalesce(e.exponent, 2)) * r.rate AS DECIMAL(38, 12))) END
           AS mrr_reporting,
       list(DISTINCT s.currency) FILTER (WHERE r.rate IS NULL) AS missing_rates
FROM money_subscriptions s
JOIN id_match c ON c.source = 'stripe' AND c.status = 'matched' AND c.record_id = s.customer_id
LEFT JOIN money_rate r ON r.currency = s.currency
LEFT JOIN money_exponent e ON e.currency = s.currency
WHERE s.counts GROUP BY c.account_id;
"""


def build_money(con: duckdb.DuckDBPyConnection, money: Mapping[str, Any], as_of) -> None:
    """Temp tables money_subscriptions (per subscription) and money_accounts / money_reporting (per account)."""
    load_money_settings(con, money)
    run_script(con, SUBSCRIPTION_MRR + ";" + ACCOUNT_MONEY, {"as_of": as_of})
