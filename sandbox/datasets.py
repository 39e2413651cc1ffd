"""Seed datasets for the sandboxes: RavenStack (public CSVs) or synthetic, with dates shifted so the last day is today."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from segsync.sfid import duckdb_macros

RAVENSTACK_DIR = Path(__file__).parent / "data" / "ravenstack"

# Raw table -> (CSV column, DuckDB type), in the RavenStack files' order. Synthetic data has the same shape.
RAW_COLUMNS: dict[str, dict[str, str]] = {
    "accounts": {"account_id": "VARCHAR", "account_name": "VARCHAR", "industry": "VARCHAR", "country": "VARCHAR",
                 "signup_date": "DATE", "referral_source": "VARCHAR", "plan_tier": "VARCHAR", "seats": "BIGINT",
                 "is_trial": "BOOLEAN", "churn_flag": "BOOLEAN"},
    "subscriptions": {"subscription_id": "VARCHAR", "account_id": "VARCHAR", "start_date": "DATE",
                      "end_date": "DATE", "plan_tier": "VARCHAR", "seats": "BIGINT", "mrr_amount": "BIGINT",
                      "arr_amount": "BIGINT", "is_trial": "BOOLEAN", "upgrade_flag": "BOOLEAN",
                      "downgrade_flag": "BOOLEAN", "churn_flag": "BOOLEAN", "billing_frequency": "VARCHAR",
                      "auto_renew_flag": "BOOLEAN"},
    "feature_usage": {"usage_id": "VARCHAR", "subscription_id": "VARCHAR", "usage_date": "DATE",
                      "feature_name": "VARCHAR", "usage_count": "BIGINT", "usage_duration_secs": "BIGINT",
                      "error_count": "BIGINT", "is_beta_feature": "BOOLEAN"},
    "support_tickets": {"ticket_id": "VARCHAR", "account_id": "VARCHAR", "submitted_at": "DATE",
                        "closed_at": "TIMESTAMP", "resolution_time_hours": "DOUBLE", "priority": "VARCHAR",
                        "first_response_time_minutes": "BIGINT", "satisfaction_score": "DOUBLE",
                        "escalation_flag": "BOOLEAN"},
    "churn_events": {"churn_event_id": "VARCHAR", "account_id": "VARCHAR", "churn_date": "DATE",
                     "reason_code": "VARCHAR", "refund_amount_usd": "DOUBLE", "preceding_upgrade_flag": "BOOLEAN",
                     "preceding_downgrade_flag": "BOOLEAN", "is_reactivation": "BOOLEAN",
                     "feedback_text": "VARCHAR"},
}
# Every date/timestamp column, shifted by the same number of days.
DATE_COLUMNS = {"accounts": ["signup_date"], "subscriptions": ["start_date", "end_date"],
                "feature_usage": ["usage_date"], "support_tickets": ["submitted_at", "closed_at"],
                "churn_events": ["churn_date"]}

FIRST_NAMES = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger",
               "Radia", "Tim", "Hedy", "Donald", "Katherine", "John", "Sophie", "Guido", "Anita", "Bjarne",
               "Joan", "Niklaus", "Karen", "Leslie", "Shafi", "Whitfield", "Mary", "Vint", "Adele", "Robin",
               "Lynn", "Fernando", "Carol", "Ivan", "Jean", "Yukihiro", "Elena", "Rasmus", "Priya", "Tomas"]
LAST_NAMES = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen",
              "Dijkstra", "Perlman", "Berners", "Lamarr", "Knuth", "Johnson", "Backus", "Wilson", "Rossum",
              "Borg", "Stroustrup", "Clarke", "Wirth", "Jones", "Lamport", "Goldwasser", "Diffie", "Kenneth",
              "Cerf", "Goldberg", "Milner", "Conway", "Corbato", "Shaw", "Sutherland", "Sammet", "Matsumoto",
              "Garcia", "Lerdorf", "Patel", "Novak"]
TITLES = ["CEO", "CTO", "VP Engineering", "Head of Operations", "Product Manager", "Data Analyst",
          "Customer Success Manager", "Finance Director", "IT Administrator", "Marketing Manager"]

# Contacts: account index i gets a copy of the previous account's first contact email on its last contact when
# i % DUPLICATE_EVERY is DUPLICATE_EXACT (same text) or DUPLICATE_UPPER (upper-cased); every UPPER_EVERY-th account's
# first contact is written as First.Last@domain.
DUPLICATE_EVERY, DUPLICATE_EXACT, DUPLICATE_UPPER = 250, 17, 117
UPPER_EVERY, UPPER_AT = 40, 9
HUBSPOT_COMPANY_BASE = 5_000_000_000
HUBSPOT_CONTACT_BASE = 7_000_000_000


@dataclass(frozen=True)
class Dataset:
    """One seed set: pyarrow tables with the columns listed in docs/architecture.md."""

    name: str
    accounts: pa.Table
    contacts: pa.Table
    subscriptions: pa.Table
    feature_usage: pa.Table
    support_tickets: pa.Table
    churn_events: pa.Table
    shift_days: int
    today: date

    def counts(self) -> dict[str, int]:
        return {t: getattr(self, t).num_rows for t in TABLES}


TABLES = ("accounts", "contacts", "subscriptions", "feature_usage", "support_tickets", "churn_events")

CACHE_SIZE = 3
_cache: dict[str, Dataset] = {}
_cache_lock = threading.Lock()


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def _parse_today(spec: dict) -> date:
    value = spec.get("today")
    if value is None:
        return utc_today()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"dataset spec field 'today': got {value!r}; expected a date YYYY-MM-DD") from exc


def _positive_int(spec: dict, key: str, default: int | None) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (key == "accounts" and value < 1):
        raise ValueError(f"dataset spec field {key!r}: got {value!r}; expected a positive whole number")
    return value


def load_dataset(spec: dict) -> Dataset:
    """The dataset for a spec such as {"dataset": "ravenstack"} or {"dataset": "synthetic", "accounts": N, "seed": S}.

    Cached in-process per (spec, resolved today).
    """
    if not isinstance(spec, dict):
        raise ValueError(f"dataset spec: got {spec!r}; expected an object with a 'dataset' field")
    kind = spec.get("dataset", "ravenstack")
    today = _parse_today(spec)
    if kind == "ravenstack":
        key_spec = {"dataset": "ravenstack"}
    elif kind == "synthetic":
        key_spec = {"dataset": "synthetic", "accounts": _positive_int(spec, "accounts", None),
                    "seed": _positive_int(spec, "seed", 7)}
    else:
        raise ValueError(f"dataset spec field 'dataset': got {kind!r}; expected 'ravenstack' or 'synthetic'")
    key = json.dumps({**key_spec, "today": today.isoformat()}, sort_keys=True)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        dataset = _build(key_spec, today)
        while len(_cache) >= CACHE_SIZE:  # a 100k-account set is ~1 GB: keep only the latest few
            _cache.pop(next(iter(_cache)))
        _cache[key] = dataset
        return dataset


def _connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(duckdb_macros())
    con.execute(MIX_MACRO)
    return con


# A fast, version-stable integer hash (two affine rounds mod a prime with xor-shifts): mix(i, salt) in [0, 2^32).
MIX_MACRO = """
CREATE OR REPLACE MACRO mix_round(x) AS xor(x, x >> 15);
CREATE OR REPLACE MACRO mix(i, salt) AS
  mix_round((mix_round((i::BIGINT * 2654435761 + salt::BIGINT * 40503 + 1) % 4294967291) * 1103515245 + 12345)
            % 4294967291);
"""


def _build(key_spec: dict, today: date) -> Dataset:
    con = _connection()
    if key_spec["dataset"] == "ravenstack":
        load_ravenstack_raw(con)
        name = "ravenstack"
    else:
        from sandbox.synthetic import generate_raw

        generate_raw(con, key_spec["accounts"], key_spec["seed"])
        name = f"synthetic-{key_spec['accounts']}-{key_spec['seed']}"
    shift_days = shift_to_today(con, today)
    derive(con)
    tables = {t: con.sql(f"SELECT * FROM {t} ORDER BY _ord").to_arrow_table().drop(["_ord"])
              for t in TABLES}
    con.close()
    return Dataset(name=name, shift_days=shift_days, today=today, **tables)


def load_ravenstack_raw(con: duckdb.DuckDBPyConnection) -> None:
    """Read the RavenStack CSVs as they are (quirks kept) into raw_<table> with explicit types and file order."""
    for table, columns in RAW_COLUMNS.items():
        path = RAVENSTACK_DIR / f"ravenstack_{table}.csv"
        if not path.exists():
            raise FileNotFoundError(f"RavenStack file {path} is missing; expected the CSVs under {RAVENSTACK_DIR}")
        types = ", ".join(f"'{c}': '{t}'" for c, t in columns.items())
        con.execute(f"CREATE OR REPLACE TABLE raw_{table} AS SELECT *, row_number() OVER () - 1 AS _ord "
                    f"FROM read_csv(?, header = true, columns = {{{types}}}, "
                    f"timestampformat = '%Y-%m-%d %H:%M:%S', dateformat = '%Y-%m-%d')", [str(path)])


def shift_to_today(con: duckdb.DuckDBPyConnection, today: date) -> int:
    """Move every date/timestamp by the same number of days so that the latest day in the data is `today`."""
    parts = [f"SELECT max({c})::DATE AS d FROM raw_{t}" for t, cols in DATE_COLUMNS.items() for c in cols]
    last_day = con.execute(f"SELECT max(d) FROM ({' UNION ALL '.join(parts)})").fetchone()[0]
    shift = (today - last_day).days
    for table, cols in DATE_COLUMNS.items():
        for col in cols:
            con.execute(f"UPDATE raw_{table} SET {col} = {col} + to_days(?::INTEGER)", [shift])
    return shift


def derive(con: duckdb.DuckDBPyConnection) -> None:
    """Add domains, CRM ids, the usage→account link and deterministic contacts (the raw quirks are left alone)."""
    first = ", ".join(f"'{n}'" for n in FIRST_NAMES)
    last = ", ".join(f"'{n}'" for n in LAST_NAMES)
    titles = ", ".join(f"'{n}'" for n in TITLES)
    con.execute(f"""
CREATE OR REPLACE TABLE accounts AS
SELECT account_id, account_name AS name,
       trim(regexp_replace(lower(account_name), '[^a-z0-9]+', '-', 'g'), '-') || '.example.com' AS domain,
       industry, country, signup_date, referral_source, plan_tier, seats, is_trial, churn_flag,
       sfid_make('001', _ord) AS salesforce_id, ({HUBSPOT_COMPANY_BASE} + _ord + 1)::VARCHAR AS hubspot_id, _ord
FROM raw_accounts;

CREATE OR REPLACE TABLE subscriptions AS SELECT * FROM raw_subscriptions;

CREATE OR REPLACE TABLE feature_usage AS
SELECT u.usage_id, u.subscription_id, s.account_id, u.usage_date, u.feature_name, u.usage_count,
       u.usage_duration_secs, u.error_count, u.is_beta_feature, u._ord
FROM raw_feature_usage u LEFT JOIN raw_subscriptions s USING (subscription_id);

CREATE OR REPLACE TABLE support_tickets AS SELECT * FROM raw_support_tickets;
CREATE OR REPLACE TABLE churn_events AS SELECT * FROM raw_churn_events;

CREATE OR REPLACE TEMP TABLE contact_slots AS
SELECT a._ord AS account_ord, a.account_id, a.domain, k, (mix(a._ord, 11) % 4 + 2)::INTEGER AS n_contacts,
       ([{first}])[((mix(a._ord, 12) + k) % {len(FIRST_NAMES)})::INTEGER + 1] AS first_name,
       ([{last}])[((mix(a._ord, 13) + k * 7) % {len(LAST_NAMES)})::INTEGER + 1] AS last_name,
       ([{titles}])[((mix(a._ord, 14) + k * 3) % {len(TITLES)})::INTEGER + 1] AS title
FROM accounts a, LATERAL (SELECT unnest(range((mix(a._ord, 11) % 4 + 2)::BIGINT)) AS k);

CREATE OR REPLACE TEMP TABLE contact_emails AS
SELECT *, CASE WHEN k = 0 AND account_ord % {UPPER_EVERY} = {UPPER_AT}
               THEN first_name || '.' || last_name || '@' || domain
               ELSE lower(first_name || '.' || last_name) || '@' || domain END AS own_email
FROM contact_slots;

CREATE OR REPLACE TABLE contacts AS
WITH numbered AS (
  SELECT c.*, p.own_email AS previous_email, row_number() OVER (ORDER BY c.account_ord, c.k) - 1 AS n
  FROM contact_emails c
  LEFT JOIN contact_emails p ON p.account_ord = c.account_ord - 1 AND p.k = 0
)
SELECT printf('CT-%07d', n) AS contact_id, account_id,
       CASE WHEN k = n_contacts - 1 AND account_ord > 0 AND account_ord % {DUPLICATE_EVERY} = {DUPLICATE_EXACT}
              THEN previous_email
            WHEN k = n_contacts - 1 AND account_ord > 0 AND account_ord % {DUPLICATE_EVERY} = {DUPLICATE_UPPER}
              THEN upper(previous_email)
            ELSE own_email END AS email,
       first_name, last_name, title, sfid_make('003', n) AS salesforce_id,
       ({HUBSPOT_CONTACT_BASE} + n + 1)::VARCHAR AS hubspot_id, n AS _ord
FROM numbered;
""")


def write_product_db(dataset: Dataset, url: str) -> dict[str, int]:
    """Write the product database (see sandbox.product_db.write_product_db)."""
    from sandbox.product_db import write_product_db as write

    return write(dataset, url)
