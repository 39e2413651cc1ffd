"""Synthetic seed data in the RavenStack shape, generated in DuckDB SQL from a seed (same seed, same rows)."""
from __future__ import annotations

import duckdb

# The synthetic calendar, like RavenStack's; sandbox.datasets shifts it so the last day is today.
BASE_FIRST = "2023-01-01"
BASE_LAST = "2024-12-31"
SUBSCRIPTIONS_PER_ACCOUNT_MAX = 5  # 1..5 per account, about 3 on average
USAGE_ROWS_PER_ACCOUNT = 20
TICKETS_PER_ACCOUNT = 4
CHURN_EVENTS_PER_5_ACCOUNTS = 6
TIER_PRICE = {"Basic": 19, "Pro": 49, "Enterprise": 199}  # USD per seat per month

ADJECTIVES = ["Blue", "Bright", "Swift", "Quiet", "Bold", "Silver", "Northern", "Clever", "Lucky", "Prime",
              "Green", "Rapid", "Solid", "Open", "Vivid", "Calm"]
NOUNS = ["Harbor", "Rocket", "Orchard", "Summit", "Pixel", "Atlas", "Beacon", "Canyon", "Falcon", "Meadow",
         "Quartz", "River", "Signal", "Tundra", "Vertex", "Willow"]


def _list(values: list[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def generate_raw(con: duckdb.DuckDBPyConnection, accounts: int, seed: int) -> None:
    """Create raw_accounts, raw_subscriptions, raw_feature_usage, raw_support_tickets, raw_churn_events.

    Needs the `mix(i, salt)` macro of sandbox.datasets. Keeps RavenStack's quirks in small doses: `UK` for GB,
    overlapping running subscriptions, churn flags that contradict end dates, usage before a subscription's
    start, duplicate usage ids and empty CSAT scores.
    """
    s = seed * 1000
    n = accounts
    prices = " ".join(f"WHEN '{tier}' THEN {price}" for tier, price in TIER_PRICE.items())
    con.execute(f"""
CREATE OR REPLACE TABLE raw_accounts AS
SELECT printf('A-%07d', i) AS account_id,
       {_list(ADJECTIVES)}[(mix(i, {s + 1}) % {len(ADJECTIVES)})::INTEGER + 1] || ' '
         || {_list(NOUNS)}[(mix(i, {s + 2}) % {len(NOUNS)})::INTEGER + 1] || ' ' || i AS account_name,
       ['DevTools', 'FinTech', 'Cybersecurity', 'HealthTech', 'EdTech'][(mix(i, {s + 3}) % 5)::INTEGER + 1]
         AS industry,
       CASE WHEN mix(i, {s + 4}) % 100 < 58 THEN 'US' WHEN mix(i, {s + 4}) % 100 < 70 THEN 'UK'
            WHEN mix(i, {s + 4}) % 100 < 80 THEN 'IN' WHEN mix(i, {s + 4}) % 100 < 86 THEN 'AU'
            WHEN mix(i, {s + 4}) % 100 < 91 THEN 'DE' WHEN mix(i, {s + 4}) % 100 < 96 THEN 'CA'
            ELSE 'FR' END AS country,
       DATE '{BASE_FIRST}' + (mix(i, {s + 5}) % 700)::INTEGER AS signup_date,
       ['organic', 'ads', 'event', 'partner', 'other'][(mix(i, {s + 6}) % 5)::INTEGER + 1] AS referral_source,
       CASE WHEN mix(i, {s + 7}) % 100 < 40 THEN 'Basic' WHEN mix(i, {s + 7}) % 100 < 75 THEN 'Pro'
            ELSE 'Enterprise' END AS plan_tier,
       (1 + mix(i, {s + 8}) % 50)::BIGINT AS seats,
       mix(i, {s + 9}) % 100 < 10 AS is_trial,
       mix(i, {s + 10}) % 100 < 22 AS churn_flag,
       (1 + mix(i, {s + 20}) % {SUBSCRIPTIONS_PER_ACCOUNT_MAX})::INTEGER AS _n_subs,
       i AS _ord
FROM range({n}) t(i);

CREATE OR REPLACE TABLE raw_subscriptions AS
WITH slots AS (
  SELECT a.account_id, a._ord AS account_ord, a.signup_date, a.plan_tier AS account_tier, a.seats AS account_seats,
         a.is_trial AS account_trial, a._n_subs, j, row_number() OVER (ORDER BY a._ord, j) - 1 AS r
  FROM raw_accounts a, LATERAL (SELECT unnest(range(a._n_subs)) AS j)
), dated AS (
  SELECT *, least(signup_date + (j * 120 + mix(r, {s + 21}) % 60)::INTEGER, DATE '{BASE_LAST}') AS start_date,
         CASE WHEN mix(r, {s + 22}) % 100 < 12 THEN ['Basic', 'Pro', 'Enterprise'][(mix(r, {s + 23}) % 3)::INTEGER + 1]
              ELSE account_tier END AS plan_tier,
         greatest(1, account_seats + (mix(r, {s + 24}) % 5)::INTEGER - 2)::BIGINT AS seats
  FROM slots
)
SELECT printf('S-%08d', r) AS subscription_id, account_id, start_date,
       CASE WHEN j = _n_subs - 1 AND mix(r, {s + 25}) % 100 < 85 THEN NULL
            WHEN j < _n_subs - 1 AND mix(r, {s + 25}) % 100 < 10 THEN NULL
            ELSE least(start_date + (30 + mix(r, {s + 26}) % 200)::INTEGER, DATE '{BASE_LAST}') END AS end_date,
       plan_tier, seats,
       (seats * CASE plan_tier {prices} END)::BIGINT AS mrr_amount,
       (seats * CASE plan_tier {prices} END * 12)::BIGINT AS arr_amount,
       account_trial AND j = _n_subs - 1 AS is_trial,
       mix(r, {s + 27}) % 10 = 0 AS upgrade_flag,
       mix(r, {s + 28}) % 20 = 0 AS downgrade_flag,
       mix(r, {s + 29}) % 100 < 15 AS churn_flag,
       CASE WHEN mix(r, {s + 30}) % 2 = 0 THEN 'monthly' ELSE 'annual' END AS billing_frequency,
       mix(r, {s + 31}) % 100 < 80 AS auto_renew_flag,
       r AS _ord
FROM dated;

CREATE OR REPLACE TABLE raw_feature_usage AS
WITH picks AS (
  SELECT r, (mix(r, {s + 40}) % (SELECT count(*) FROM raw_subscriptions))::BIGINT AS sub_ord
  FROM range({n * USAGE_ROWS_PER_ACCOUNT}) t(r)
)
SELECT CASE WHEN p.r % 1000 = 999 THEN printf('U-%08x', p.r - 1) ELSE printf('U-%08x', p.r) END AS usage_id,
       s.subscription_id,
       CASE WHEN mix(p.r, {s + 41}) % 200 = 0 THEN s.start_date - 7
            ELSE least(s.start_date + (mix(p.r, {s + 42}) % 365)::INTEGER, DATE '{BASE_LAST}') END AS usage_date,
       'feature_' || (1 + mix(p.r, {s + 43}) % 40) AS feature_name,
       (1 + mix(p.r, {s + 44}) % 20)::BIGINT AS usage_count,
       (mix(p.r, {s + 45}) % 6000)::BIGINT AS usage_duration_secs,
       CASE WHEN mix(p.r, {s + 46}) % 100 < 8 THEN (1 + mix(p.r, {s + 47}) % 5) ELSE 0 END::BIGINT AS error_count,
       mix(p.r, {s + 48}) % 10 = 0 AS is_beta_feature,
       p.r AS _ord
FROM picks p JOIN raw_subscriptions s ON s._ord = p.sub_ord;

CREATE OR REPLACE TABLE raw_support_tickets AS
WITH base AS (
  SELECT r, DATE '{BASE_FIRST}' + (mix(r, {s + 61}) % 726)::INTEGER AS submitted_at,
         (1 + mix(r, {s + 62}) % 72)::DOUBLE AS resolution_time_hours
  FROM range({n * TICKETS_PER_ACCOUNT}) t(r)
)
SELECT printf('T-%08d', r) AS ticket_id, printf('A-%07d', mix(r, {s + 60}) % {n}) AS account_id, submitted_at,
       submitted_at::TIMESTAMP + to_hours(resolution_time_hours::BIGINT) AS closed_at, resolution_time_hours,
       ['low', 'medium', 'high', 'urgent'][(mix(r, {s + 63}) % 4)::INTEGER + 1] AS priority,
       (5 + mix(r, {s + 64}) % 240)::BIGINT AS first_response_time_minutes,
       CASE WHEN mix(r, {s + 65}) % 100 < 40 THEN NULL ELSE (1 + mix(r, {s + 66}) % 5)::DOUBLE END
         AS satisfaction_score,
       mix(r, {s + 67}) % 100 < 5 AS escalation_flag,
       r AS _ord
FROM base;

CREATE OR REPLACE TABLE raw_churn_events AS
SELECT printf('C-%08d', r) AS churn_event_id, printf('A-%07d', mix(r, {s + 80}) % {n}) AS account_id,
       DATE '{BASE_FIRST}' + (mix(r, {s + 81}) % 731)::INTEGER AS churn_date,
       ['pricing', 'support', 'features', 'budget', 'competitor', 'unknown'][(mix(r, {s + 82}) % 6)::INTEGER + 1]
         AS reason_code,
       CASE WHEN mix(r, {s + 83}) % 100 < 60 THEN 0.0 ELSE (mix(r, {s + 84}) % 20000) / 100.0 END AS refund_amount_usd,
       mix(r, {s + 85}) % 100 < 20 AS preceding_upgrade_flag,
       mix(r, {s + 86}) % 100 < 10 AS preceding_downgrade_flag,
       mix(r, {s + 87}) % 100 < 8 AS is_reactivation,
       CASE WHEN mix(r, {s + 88}) % 2 = 0 THEN NULL
            ELSE ['too expensive', 'missing features', 'switched to competitor', 'no longer needed']
                 [(mix(r, {s + 89}) % 4)::INTEGER + 1] END AS feedback_text,
       r AS _ord
FROM range({n * CHURN_EVENTS_PER_5_ACCOUNTS // 5}) t(r);

ALTER TABLE raw_accounts DROP COLUMN _n_subs;
""")
