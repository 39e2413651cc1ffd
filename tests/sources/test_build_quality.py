"""Build over hand-made raw tables: usage windows, tickets, UTC, measures, and every data-quality rule counted."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from segsync import store
from segsync.build import REQUIRED_COLUMNS, build_accounts
from sources import schemas
from sources.common import record_issues
from tests.sources.rawdata import product_accounts, product_table, project_config, utc, write

AS_OF = datetime(2026, 6, 15, 23, 0, tzinfo=timezone(timedelta(hours=5)))  # 18:00 UTC on 15 June


def usage(uid, account, day, feature, count, sub="S1", beta=False):
    return {"usage_id": uid, "account_id": account, "usage_date": day, "feature_name": feature, "usage_count": count,
            "usage_duration_secs": 60 * count, "error_count": 0, "is_beta_feature": beta, "subscription_id": sub}


@pytest.fixture
def built(warehouse):
    con = store.connect(warehouse)
    product_accounts(con, [
        {"account_id": "Q1", "country": "UK", "churn_flag": True, "domain": "q1.example.com"},
        {"account_id": "Q2", "country": "us ", "churn_flag": False, "domain": "q2.example.com"},
        {"account_id": "Q3", "country": "Germany", "domain": "q3.example.com"},
        {"account_id": "Q4", "name": "Old name", "updated_at": utc(2026, 1, 1), "domain": "q4.example.com"},
        {"account_id": "Q4", "name": "New name", "updated_at": utc(2026, 2, 1), "domain": "q4.example.com"},
    ])
    write(con, product_table("feature_usage"), [
        usage("u1", "Q1", date(2026, 6, 15), "feature_1", 5),
        usage("u2", "Q1", date(2026, 5, 17), "feature_2", 3),
        usage("u3", "Q1", date(2026, 5, 16), "feature_3", 7),
        usage("u1", "Q1", date(2026, 6, 14), "feature_1", 9),
        usage("u5", "Q1", date(2026, 6, 16), "feature_4", 1),
        usage("u6", "ZZ", date(2026, 6, 10), "feature_1", 1),
        usage("u7", "Q2", date(2026, 6, 1), "feature_20", 2, sub="S2", beta=True),
        usage("u8", "Q2", date(2026, 6, 2), "feature_1", -4, sub="S2"),
    ])
    write(con, product_table("subscriptions"), [
        {"subscription_id": "S1", "account_id": "Q1", "start_date": date(2026, 1, 1)},
        {"subscription_id": "S2", "account_id": "Q2", "start_date": date(2026, 6, 5)},
    ])
    write(con, product_table("support_tickets"), [
        {"ticket_id": "t1", "account_id": "Q1", "submitted_at": utc(2026, 6, 1), "satisfaction_score": None},
        {"ticket_id": "t2", "account_id": "Q1", "submitted_at": utc(2026, 5, 1), "closed_at": utc(2026, 6, 16, 1),
         "satisfaction_score": 4.0},
        {"ticket_id": "t3", "account_id": "Q1", "submitted_at": utc(2026, 5, 1), "closed_at": utc(2026, 6, 10),
         "satisfaction_score": 2.0},
        {"ticket_id": "t4", "account_id": "ZZ", "submitted_at": utc(2026, 5, 1), "satisfaction_score": 5.0},
    ])
    write(con, product_table("churn_events"), [
        {"churn_event_id": "c1", "account_id": "Q2", "churn_date": date(2026, 3, 1)}])
    write(con, schemas.STRIPE_CUSTOMER, [{"id": "cus_Q1", "account_id": "Q1"}, {"id": "cus_Q2", "account_id": "Q2"}])
    write(con, schemas.STRIPE_PRICE, [{"id": "p_m", "currency": "usd", "unit_amount": 1000, "billing_scheme": "per_unit",
                                       "recurring_interval": "month", "recurring_interval_count": 1}])
    write(con, schemas.STRIPE_SUBSCRIPTION, [
        {"id": "sq1a", "customer_id": "cus_Q1", "status": "active", "currency": "usd", "start_date": utc(2026, 1, 1)},
        {"id": "sq1b", "customer_id": "cus_Q1", "status": "active", "currency": "usd", "start_date": utc(2026, 2, 1)},
        {"id": "sq2", "customer_id": "cus_Q2", "status": "canceled", "currency": "usd", "start_date": utc(2026, 1, 1),
         "ended_at": utc(2026, 4, 1)},
        {"id": "s_orphan", "customer_id": "cus_deleted", "status": "active", "currency": "usd"},
    ])
    write(con, schemas.STRIPE_SUBSCRIPTION_ITEM, [
        {"id": "iq1a", "subscription_id": "sq1a", "price_id": "p_m", "quantity": 1, "current_period_end": utc(2026, 7, 1)},
        {"id": "iq1b", "subscription_id": "sq1b", "price_id": "p_gone", "quantity": 1},
    ])
    record_issues(con, "ingest-1", "stripe", [("deleted_customer_skipped", "cus_deleted", "customer is deleted",
                                                "skipped")])
    result = build_accounts(con, project_config(), as_of=AS_OF, run_id="quality")
    yield con, result
    con.close()


def row(con, account_id):
    cursor = con.execute("SELECT * FROM accounts WHERE account_id = ?", [account_id])
    return dict(zip([d[0] for d in cursor.description], cursor.fetchone()))


def test_every_quirk_is_counted_per_rule(built):
    _, result = built
    assert result.data_issues == {
        "contradicting_churn_flags": 2, "country_alias": 1, "deleted_customer_skipped": 1, "duplicate_account_id": 1,
        "duplicate_usage_id": 1, "empty_csat": 1, "invalid_country": 1, "malformed_usage": 1, "orphan_subscription": 1,
        "orphan_subscription_item": 1, "orphan_ticket": 1, "orphan_usage": 1, "overlapping_subscriptions": 1,
        "usage_before_subscription_start": 1,
    }
    assert (result.accounts, result.account_daily_usage) == (4, 5)


def test_usage_windows_tickets_and_measures(built):
    con, _ = built
    q1 = row(con, "Q1")
    assert (q1["usage_30d"], q1["usage_prev_30d"], q1["usage_change_pct"]) == (8, 7, 14.3)
    assert q1["last_activity_at"] == utc(2026, 6, 15) and q1["days_since_last_activity"] == 0
    assert (q1["key_features_used_30d"], q1["beta_features_used_30d"]) == (2, 0)
    assert (q1["open_tickets"], q1["avg_csat"]) == (2, 3.0)
    assert q1["seats"] == 2  # Stripe quantities win over the product database (10)
    assert (q1["adoption_score"], q1["seat_utilisation"], q1["health_score"]) == (40.0, 1.0, 60.8)
    assert (q1["country"], q1["mrr_minor"], q1["as_of_date"]) == ("GB", 1000, date(2026, 6, 15))
    q2 = row(con, "Q2")
    assert (q2["usage_30d"], q2["beta_features_used_30d"], q2["country"], q2["subscription_status"]) == (
        2, 1, "US", "canceled")


def test_missing_values_stay_null_never_epoch(built):
    con, _ = built
    q3 = row(con, "Q3")
    assert q3["country"] is None
    for column in ("renewal_date", "last_activity_at", "days_since_last_activity", "cancels_at", "avg_csat",
                   "usage_change_pct", "subscription_status"):
        assert q3[column] is None, column
    epoch = con.execute("SELECT count(*) FROM accounts WHERE renewal_date = DATE '1970-01-01' "
                        "OR last_activity_at = TIMESTAMPTZ '1970-01-01 00:00:00+00'").fetchone()[0]
    assert epoch == 0
    assert row(con, "Q4")["account_name"] == "New name"


def test_accounts_have_every_contract_column_and_utc_types(built):
    con, _ = built
    columns = store.table_columns(con, "accounts")
    assert [c for c in REQUIRED_COLUMNS if c not in columns] == []
    assert columns["last_activity_at"] == "TIMESTAMP WITH TIME ZONE" and columns["renewal_date"] == "DATE"
    assert columns["cancels_at"] == "TIMESTAMP WITH TIME ZONE" and columns["mrr_minor"] == "BIGINT"
    assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"


def test_rebuild_is_identical(built):
    con, _ = built
    before = con.execute("SELECT * FROM accounts ORDER BY account_id").fetchall()
    build_accounts(con, project_config(), as_of=AS_OF, run_id="again")
    assert con.execute("SELECT * FROM accounts ORDER BY account_id").fetchall() == before
