"""Seed datasets: exact RavenStack counts, date shift to today, kept quirks, contacts, synthetic scale and determinism."""
from __future__ import annotations

import csv
import time
from datetime import date

import pyarrow.compute as pc
import pytest

from sandbox import datasets
from sandbox.datasets import DATE_COLUMNS, RAVENSTACK_DIR, load_dataset
from segsync.sfid import make_id, normalize

TODAY = date(2026, 12, 3)
ARCHITECTURE_COLUMNS = {
    "accounts": ["account_id", "name", "domain", "industry", "country", "signup_date", "referral_source",
                 "plan_tier", "seats", "is_trial", "churn_flag", "salesforce_id", "hubspot_id"],
    "contacts": ["contact_id", "account_id", "email", "first_name", "last_name", "title", "salesforce_id",
                 "hubspot_id"],
    "subscriptions": ["subscription_id", "account_id", "start_date", "end_date", "plan_tier", "seats", "mrr_amount",
                      "arr_amount", "is_trial", "upgrade_flag", "downgrade_flag", "churn_flag", "billing_frequency",
                      "auto_renew_flag"],
    "feature_usage": ["usage_id", "subscription_id", "account_id", "usage_date", "feature_name", "usage_count",
                      "usage_duration_secs", "error_count", "is_beta_feature"],
    "support_tickets": ["ticket_id", "account_id", "submitted_at", "closed_at", "resolution_time_hours", "priority",
                        "first_response_time_minutes", "satisfaction_score", "escalation_flag"],
    "churn_events": ["churn_event_id", "account_id", "churn_date", "reason_code", "refund_amount_usd",
                     "preceding_upgrade_flag", "preceding_downgrade_flag", "is_reactivation", "feedback_text"],
}


@pytest.fixture(scope="module")
def raven():
    return load_dataset({"dataset": "ravenstack", "today": TODAY.isoformat()})


def _csv_rows(table: str) -> list[dict]:
    with open(RAVENSTACK_DIR / f"ravenstack_{table}.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _last_day(dataset) -> date:
    days = []
    for table, columns in DATE_COLUMNS.items():
        for column in columns:
            value = pc.max(getattr(dataset, table).column(column)).as_py()
            days.append(value.date() if hasattr(value, "date") else value)
    return max(days)


def test_ravenstack_exact_counts_and_columns(raven):
    assert raven.counts() == {"accounts": 500, "contacts": 1760, "subscriptions": 5000, "feature_usage": 25000,
                              "support_tickets": 2000, "churn_events": 600}
    for table, columns in ARCHITECTURE_COLUMNS.items():
        assert getattr(raven, table).column_names == columns, table


def test_ravenstack_dates_shift_so_the_last_day_is_today(raven):
    assert raven.today == TODAY
    assert raven.shift_days == (TODAY - date(2024, 12, 31)).days == 702
    assert _last_day(raven) == TODAY
    first = raven.accounts.slice(0, 1).to_pylist()[0]
    assert first["account_id"] == "A-2e4581"
    assert first["signup_date"] == date(2024, 10, 16).fromordinal(date(2024, 10, 16).toordinal() + 702)
    ticket = raven.support_tickets.slice(0, 1).to_pylist()[0]
    assert ticket["closed_at"].isoformat() == "2025-06-29T03:00:00"  # 2023-07-28 03:00 + 702 days


def test_ravenstack_quirks_are_kept(raven):
    usage_ids = raven.feature_usage.column("usage_id")
    assert len(usage_ids) - len(pc.unique(usage_ids)) == 21
    countries = raven.accounts.column("country").to_pylist()
    assert countries.count("UK") == 58 and "GB" not in countries
    empty_csat = sum(1 for row in _csv_rows("support_tickets") if row["satisfaction_score"] == "")
    assert raven.support_tickets.column("satisfaction_score").null_count == empty_csat > 0
    running = raven.subscriptions.filter(pc.is_null(raven.subscriptions.column("end_date")))
    per_account = pc.value_counts(running.column("account_id"))
    assert max(per_account.field("counts").to_pylist()) > 1  # overlapping running subscriptions
    assert raven.feature_usage.column("account_id").null_count == 0


def test_ravenstack_identity_columns(raven):
    rows = raven.accounts.to_pylist()
    assert rows[0]["domain"] == "company-0.example.com" and rows[0]["name"] == "Company_0"
    assert [r["salesforce_id"] for r in rows[:3]] == [make_id("001", 0), make_id("001", 1), make_id("001", 2)]
    assert all(normalize(r["salesforce_id"]) == r["salesforce_id"] for r in rows)
    assert all(r["hubspot_id"].isdigit() for r in rows)
    assert len({r["hubspot_id"] for r in rows}) == 500 and len({r["domain"] for r in rows}) == 500


def test_contacts_rules(raven):
    contacts = raven.contacts.to_pylist()
    domains = {r["account_id"]: r["domain"] for r in raven.accounts.to_pylist()}
    per_account: dict[str, int] = {}
    for contact in contacts:
        per_account[contact["account_id"]] = per_account.get(contact["account_id"], 0) + 1
    assert set(per_account) == set(domains) and set(per_account.values()) <= {2, 3, 4, 5}
    assert contacts[0]["salesforce_id"] == make_id("003", 0) and contacts[0]["contact_id"] == "CT-0000000"
    foreign = [c for c in contacts if not c["email"].lower().endswith("@" + domains[c["account_id"]])]
    # accounts 17, 267 reuse the previous account's first email; 117, 367 do so upper-cased
    assert sorted(c["account_id"] for c in foreign) == sorted(
        raven.accounts.column("account_id")[i].as_py() for i in (17, 117, 267, 367))
    lowered = [c["email"].lower() for c in contacts]
    assert len(lowered) - len(set(lowered)) == 4
    assert len(set(c["email"] for c in contacts)) == len(contacts) - 2  # two duplicates differ only in case
    upper = [c for c in contacts if c["email"] != c["email"].lower()]
    assert len(upper) == 13 + 2
    assert all(c["email"].endswith(".example.com") or c["email"].endswith(".EXAMPLE.COM") for c in contacts)


def test_datasets_are_cached_and_deterministic(raven):
    assert load_dataset({"dataset": "ravenstack", "today": TODAY.isoformat()}) is raven
    rebuilt = datasets._build({"dataset": "ravenstack"}, TODAY)
    for table in ARCHITECTURE_COLUMNS:
        assert getattr(rebuilt, table).equals(getattr(raven, table)), table


def test_synthetic_shape_counts_and_determinism():
    spec = {"dataset": "synthetic", "accounts": 2000, "seed": 3, "today": TODAY.isoformat()}
    first = load_dataset(spec)
    again = datasets._build({"dataset": "synthetic", "accounts": 2000, "seed": 3}, TODAY)
    other = load_dataset({**spec, "seed": 4})
    counts = first.counts()
    assert (counts["accounts"], counts["feature_usage"], counts["support_tickets"], counts["churn_events"]) == (
        2000, 40000, 8000, 2400)
    assert 2000 <= counts["subscriptions"] <= 10000 and 4000 <= counts["contacts"] <= 10000
    for table, columns in ARCHITECTURE_COLUMNS.items():
        assert getattr(first, table).column_names == columns
        assert getattr(first, table).schema == getattr(load_dataset({"dataset": "ravenstack",
                                                                     "today": TODAY.isoformat()}), table).schema
        assert getattr(again, table).equals(getattr(first, table)), table
    assert not other.subscriptions.equals(first.subscriptions)
    assert _last_day(first) == TODAY
    assert first.feature_usage.column("account_id").null_count == 0
    assert "UK" in first.accounts.column("country").to_pylist()


def test_synthetic_100k_accounts_in_well_under_30_seconds():
    """Measured in CPU seconds of this process, so a busy shared machine does not make it flaky (bench/seed.py
    reports wall time)."""
    started = time.process_time()
    big = load_dataset({"dataset": "synthetic", "accounts": 100_000, "seed": 7, "today": TODAY.isoformat()})
    elapsed = time.process_time() - started
    counts = big.counts()
    assert counts["accounts"] == 100_000 and counts["feature_usage"] == 2_000_000
    assert 330_000 <= counts["contacts"] <= 370_000 and 280_000 <= counts["subscriptions"] <= 320_000
    assert elapsed < 30, f"generating 100,000 accounts took {elapsed:.1f} CPU seconds"
    datasets._cache.clear()


@pytest.mark.parametrize("spec, fragment", [
    ({"dataset": "nope"}, "'dataset': got 'nope'"),
    ({"dataset": "synthetic"}, "'accounts': got None"),
    ({"dataset": "synthetic", "accounts": -5}, "'accounts': got -5"),
    ({"dataset": "ravenstack", "today": "03/12/2026"}, "'today': got '03/12/2026'"),
])
def test_bad_specs_name_the_field(spec, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        load_dataset(spec)
