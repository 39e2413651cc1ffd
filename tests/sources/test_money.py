"""MRR rule: items x quantities, intervals, tiers, discounts, statuses, zero/three-decimal currencies, periods."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from segsync import store
from segsync.build import build_accounts
from sources import schemas
from tests.sources.rawdata import product_accounts, project_config, utc, write

AS_OF = utc(2026, 6, 15, 12)
PERIOD_END = utc(2026, 7, 1)


def price(pid, amount, interval="month", count=1, currency="usd", **extra):
    return {"id": pid, "currency": currency, "unit_amount": amount, "billing_scheme": "per_unit",
            "recurring_interval": interval, "recurring_interval_count": count, "recurring_usage_type": "licensed",
            "product_name": f"plan {pid}", **extra}


def tier(up_to, unit, flat=0):
    return {"up_to": up_to, "unit_amount": unit, "flat_amount": flat}


PRICES = [
    price("p_m", 1000), price("p_y", 120000, "year"), price("p_w", 700, "week"), price("p_d", 100, "day"),
    price("p_q", 3000, "month", 3),
    price("p_grad", None, billing_scheme="tiered", tiers_mode="graduated",
          tiers=[tier(5, 1000), tier(10, 800), tier(None, 500, 2000)]),
    price("p_vol", None, billing_scheme="tiered", tiers_mode="volume", tiers=[tier(10, 1000), tier(None, 700, 500)]),
    price("p_meter", 5, recurring_usage_type="metered"),
    price("p_jpy", 5000, currency="jpy"), price("p_kwd", 12345, currency="kwd"),
    price("p_tierless", None, billing_scheme="tiered", tiers_mode="volume", tiers=None),
]


def sub(sid, account, status="active", currency="usd", **extra):
    return {"id": sid, "customer_id": f"cus_{account}", "status": status, "currency": currency,
            "created": utc(2026, 1, 1), "start_date": utc(2026, 1, 1), "cancel_at_period_end": False, **extra}


def item(iid, sid, pid, qty=1, period_end=PERIOD_END):
    return {"id": iid, "subscription_id": sid, "price_id": pid, "quantity": qty, "current_period_end": period_end,
            "created": utc(2026, 1, 1)}


@pytest.fixture
def built(warehouse):
    con = store.connect(warehouse)
    accounts = [f"A{i}" for i in range(1, 11)]
    product_accounts(con, [{"account_id": a, "domain": f"{a.lower()}.example.com"} for a in accounts])
    write(con, schemas.STRIPE_CUSTOMER, [{"id": f"cus_{a}", "account_id": a, "created": utc(2026, 1, 1)}
                                         for a in accounts])
    write(con, schemas.STRIPE_PRICE, PRICES)
    minus_two = timezone(timedelta(hours=-2))
    write(con, schemas.STRIPE_SUBSCRIPTION, [
        sub("s1", "A1"), sub("s2", "A2", "past_due"), sub("s3", "A3"), sub("s3t", "A3", "trialing"),
        sub("s4", "A4", cancel_at_period_end=True), sub("s5", "A5", currency="jpy"), sub("s6", "A6", currency="kwd"),
        sub("s7a", "A7", "canceled", ended_at=utc(2026, 3, 1)), sub("s7b", "A7", "incomplete"),
        sub("s7c", "A7", "unpaid"), sub("s7d", "A7", "paused"),
        sub("s8", "A8", current_period_end=utc(2026, 6, 25, 10)),
        sub("s9a", "A9"), sub("s9b", "A9", currency="jpy"), sub("s10", "A10"),
    ])
    write(con, schemas.STRIPE_SUBSCRIPTION_ITEM, [
        item("i1a", "s1", "p_m", 3), item("i1b", "s1", "p_y", 1, utc(2026, 6, 20, 23, 30)),
        item("i1c", "s1", "p_meter", 1),
        item("i2", "s2", "p_w", 1), item("i3", "s3", "p_grad", 12), item("i3t", "s3t", "p_m", 5),
        item("i4", "s4", "p_vol", 12, datetime(2026, 6, 30, 23, 30, tzinfo=minus_two)),
        item("i5", "s5", "p_jpy", 2), item("i6", "s6", "p_kwd", 1),
        item("i7a", "s7a", "p_m"), item("i7b", "s7b", "p_m"), item("i7c", "s7c", "p_m"), item("i7d", "s7d", "p_m"),
        item("i8", "s8", "p_d", 1, None), item("i9a", "s9a", "p_m"), item("i9b", "s9b", "p_jpy"),
        item("i10", "s10", "p_q", 2), item("i10b", "s10", "p_tierless", 3),
    ])
    write(con, schemas.STRIPE_DISCOUNT, [
        {"id": "di_2", "subscription_id": "s2", "customer_id": "cus_A2", "percent_off": 25.0, "duration": "forever",
         "start": utc(2026, 1, 1)},
        {"id": "di_3", "subscription_id": "s3", "customer_id": "cus_A3", "amount_off": 1500, "currency": "usd",
         "duration": "repeating", "duration_in_months": 6, "start": utc(2026, 1, 1), "end": utc(2026, 7, 1)},
        {"id": "di_4a", "subscription_id": "s4", "customer_id": "cus_A4", "percent_off": 50.0, "duration": "repeating",
         "duration_in_months": 5, "start": utc(2026, 1, 1), "end": utc(2026, 6, 1)},
        {"id": "di_4b", "subscription_id": "s4", "customer_id": "cus_A4", "percent_off": 100.0, "duration": "once",
         "start": utc(2026, 6, 1)},
        {"id": "di_8", "subscription_id": None, "customer_id": "cus_A8", "amount_off": 5000, "currency": "usd",
         "duration": "forever", "start": utc(2026, 1, 1)},
    ])
    config = project_config(money={"reporting_currency": "USD", "rates": {"JPY": 0.0067}})
    result = build_accounts(con, config, as_of=AS_OF, run_id="money")
    yield con, result
    con.close()


def row(con, account_id):
    cursor = con.execute("SELECT * FROM accounts WHERE account_id = ?", [account_id])
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone()))


def test_items_quantities_and_intervals_sum_to_monthly_minor_units(built):
    con, _ = built
    a1 = row(con, "A1")
    assert (a1["mrr_minor"], a1["mrr"], a1["currency"]) == (13000, 130.0, "USD")  # 3 x 1000 + 120000 / 12
    assert a1["renewal_date"] == date(2026, 6, 20)  # earliest item period end
    assert a1["billing_interval"] == "year" and a1["seats"] == 4
    assert row(con, "A10")["mrr_minor"] == 2000  # 2 x 3000 every 3 months; the tier-less item is listed, not priced
    assert built[1].data_issues["unpriced_item"] == 1
    assert row(con, "A8")["mrr_minor"] == 0  # day price 100 x 365/12 minus 5000 per day: never below zero


def test_week_price_with_forever_discount_and_past_due(built):
    a2 = row(built[0], "A2")
    assert a2["mrr_minor"] == 2275  # 700 x 52 / 12 = 3033.33, x 0.75
    assert (a2["subscription_status"], a2["is_delinquent"]) == ("past_due", True)


def test_graduated_tiers_with_repeating_discount_and_trial_not_counted(built):
    a3 = row(built[0], "A3")
    assert a3["mrr_minor"] == 10500  # 5x1000 + 5x800 + 2x500 + 2000 flat - 1500 off
    assert (a3["subscription_status"], a3["is_trialing"]) == ("active", True)
    assert a3["seats"] == 17  # 12 counted + 5 trialing seats
    assert a3["plan_tier"] == "plan p_grad"  # the newest counting subscription's plan, before any trial's


def test_volume_tiers_ignore_expired_and_once_discounts_cancel_at_period_end(built):
    a4 = row(built[0], "A4")
    assert a4["mrr_minor"] == 8900  # 12 x 700 + 500 flat
    assert a4["cancels_at"] == utc(2026, 7, 1, 1, 30)
    assert a4["renewal_date"] == date(2026, 7, 1)  # 23:30 at UTC-2 is the next day in UTC


def test_zero_and_three_decimal_currencies_and_reporting_rates(built):
    con, result = built
    a5, a6 = row(con, "A5"), row(con, "A6")
    assert (a5["mrr_minor"], a5["mrr"], a5["currency"], a5["mrr_reporting"]) == (10000, 10000.0, "JPY", 67.0)
    assert (a6["mrr_minor"], a6["mrr"], a6["currency"], a6["mrr_reporting"]) == (12345, 12.345, "KWD", None)
    a9 = row(con, "A9")
    assert (a9["mrr_minor"], a9["mrr"], a9["currency"], a9["mrr_reporting"]) == (None, None, None, 43.5)
    assert result.data_issues["mixed_currency"] == 1
    assert result.data_issues["missing_fx_rate"] == 1


def test_non_counting_statuses_and_flags(built):
    con, result = built
    a7 = row(con, "A7")
    assert (a7["mrr_minor"], a7["subscription_status"], a7["is_delinquent"]) == (0, "unpaid", True)
    assert a7["renewal_date"] is None and a7["cancels_at"] is None
    assert result.data_issues["metered_price_excluded"] == 1
    issue = con.execute("SELECT record_id, action FROM data_issues WHERE rule = 'metered_price_excluded'").fetchone()
    assert issue == ("i1c", "excluded from MRR")


def test_period_end_from_legacy_top_level_field(built):
    a8 = row(built[0], "A8")
    assert a8["renewal_date"] == date(2026, 6, 25)
    assert a8["active_subscriptions"] == 1
