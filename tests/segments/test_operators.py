"""Every operator against boundary values: inclusive/exclusive edges, nulls, time zones, months, trends."""
from datetime import date, datetime, timedelta, timezone

import pytest

from segsync.errors import InputError
from segsync.segments.compiler import shift, utc_as_of
from segsync.segments.model import Duration
from tests.segments.helpers import load, scratch_db, where_members

AS_OF = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
UTC = timezone.utc


@pytest.fixture(scope="module")
def con():
    accounts = [
        {"account_id": "A1", "seats": 10, "plan_tier": "Basic", "industry": "FinTech", "is_trialing": True,
         "mrr": 99.5, "country": "NO", "signup_date": date(2026, 11, 3), "renewal_date": date(2027, 3, 3),
         "last_activity_at": datetime(2026, 11, 3, 12, 0, tzinfo=UTC)},
        {"account_id": "A2", "seats": 11, "plan_tier": "Pro", "industry": "fintech", "is_trialing": False,
         "mrr": 100.0, "country": "GB", "signup_date": date(2026, 11, 2), "renewal_date": date(2027, 3, 4),
         "last_activity_at": datetime(2026, 12, 3, 13, 0, tzinfo=UTC)},
        {"account_id": "A3"},
    ]
    connection = scratch_db(accounts)
    yield connection
    connection.close()


CASES = [
    ("{field: seats, op: eq, value: 10}", ["A1"]),
    ("{field: seats, op: ne, value: 10}", ["A2"]),
    ("{field: plan_tier, op: eq, value: Basic}", ["A1"]),
    ("{field: is_trialing, op: eq, value: false}", ["A2"]),
    ("{field: is_trialing, op: ne, value: true}", ["A2"]),
    ("{field: plan_tier, op: in, value: [Basic, Pro]}", ["A1", "A2"]),
    ("{field: plan_tier, op: not_in, value: [Basic]}", ["A2"]),
    ("{field: seats, op: in, value: [11, 12]}", ["A2"]),
    ("{field: seats, op: gt, value: 10}", ["A2"]),
    ("{field: seats, op: gte, value: 10}", ["A1", "A2"]),
    ("{field: seats, op: lt, value: 11}", ["A1"]),
    ("{field: seats, op: lte, value: 11}", ["A1", "A2"]),
    ("{field: mrr, op: gt, value: 99.5}", ["A2"]),
    ("{field: mrr, op: gte, value: 99.5}", ["A1", "A2"]),
    ("{field: seats, op: between, value: [10, 10]}", ["A1"]),
    ("{field: seats, op: between, value: [10, 11]}", ["A1", "A2"]),
    ("{field: mrr, op: between, value: [99.5, 99.9]}", ["A1"]),
    ("{field: seats, op: is_null}", ["A3"]),
    ("{field: seats, op: is_null, value: true}", ["A3"]),
    ("{field: seats, op: is_null, value: false}", ["A1", "A2"]),
    ("{field: industry, op: contains, value: Tech}", ["A1"]),
    ("{field: industry, op: contains, value: tech}", ["A2"]),
    ("{field: industry, op: starts_with, value: fin}", ["A2"]),
    ("{field: industry, op: starts_with, value: Fin}", ["A1"]),
    # relative dates: today is 2026-12-03; 2026-11-03 is exactly 30 days back (inclusive edge)
    ("{field: signup_date, op: within_last, value: 30d}", ["A1"]),
    ("{field: signup_date, op: within_last, value: 31d}", ["A1", "A2"]),
    ("{field: signup_date, op: more_than_ago, value: 30d}", ["A2"]),
    ("{field: signup_date, op: more_than_ago, value: 31d}", []),
    ("{field: renewal_date, op: within_next, value: 90d}", ["A1"]),
    ("{field: renewal_date, op: within_next, value: 91d}", ["A1", "A2"]),
    ("{field: renewal_date, op: within_next, value: 3mo}", ["A1"]),
    ("{field: renewal_date, op: within_next, value: 13w}", ["A1", "A2"]),
    ("{field: renewal_date, op: within_next, value: 12w}", []),
    ("{field: signup_date, op: within_last, value: 1mo}", ["A1"]),
    ("{field: signup_date, op: within_last, value: 1y}", ["A1", "A2"]),
    # timestamps compare with the as-of instant (12:00 UTC): A1 exactly 30 days back, A2 after the as-of
    ("{field: last_activity_at, op: within_last, value: 30d}", ["A1"]),
    ("{field: last_activity_at, op: more_than_ago, value: 29d}", ["A1"]),
    ("{field: last_activity_at, op: within_next, value: 1d}", ["A2"]),
    ("{field: signup_date, op: before, value: 2026-11-03}", ["A2"]),
    ("{field: signup_date, op: after, value: 2026-11-02}", ["A1"]),
    ("{field: signup_date, op: gte, value: 2026-11-02}", ["A1", "A2"]),
    ("{field: signup_date, op: between, value: [2026-11-01, 2026-11-02]}", ["A2"]),
    ("{field: last_activity_at, op: before, value: '2026-11-03T12:00:00Z'}", []),
    ("{field: last_activity_at, op: after, value: '2026-11-03T11:59:59Z'}", ["A1", "A2"]),
    ("{field: last_activity_at, op: after, value: '2026-12-03T15:00:00+02:00'}", []),
    ("{field: last_activity_at, op: after, value: '2026-12-03T14:59:59+02:00'}", ["A2"]),
    ("{field: last_activity_at, op: eq, value: 2026-11-03 12:00:00}", ["A1"]),
    # nulls: a leaf on a missing value is false, so `not` of it is true
    ("not: {field: plan_tier, op: eq, value: Basic}", ["A2", "A3"]),
    ("not: {field: seats, op: gt, value: 10}", ["A1", "A3"]),
    ("not: [{field: seats, op: gte, value: 10}, {field: plan_tier, op: eq, value: Pro}]", ["A1", "A3"]),
    ("not: {not: {field: seats, op: eq, value: 10}}", ["A1"]),
    ("not: {any: [{field: seats, op: eq, value: 10}, {field: mrr, op: eq, value: 100}]}", ["A3"]),
    # nesting to depth
    ("""
     any:
       - all:
           - {field: plan_tier, op: eq, value: Basic}
           - {field: seats, op: gte, value: 10}
       - all:
           - {field: plan_tier, op: eq, value: Pro}
           - not:
               any:
                 - {field: seats, op: lt, value: 11}
                 - all: [{field: mrr, op: lt, value: 100}, {field: country, op: eq, value: GB}]
     """, ["A1", "A2"]),
    # YAML 1.1 traps coerced because the field type makes the intent certain
    ("{field: country, op: eq, value: NO}", ["A1"]),
    ("{field: country, op: in, value: [NO, GB]}", ["A1", "A2"]),
    ("{field: seats, op: eq, value: 1e1}", ["A1"]),
    ("{field: signup_date, op: eq, value: 2026-11-03}", ["A1"]),
    ("{field: signup_date, op: eq, value: '2026-11-03'}", ["A1"]),
    ("sql: \"seats * 2 = 20 OR lower(plan_tier) = 'pro'\"", ["A1", "A2"]),
    ("not: {sql: \"seats > 10\"}", ["A1", "A3"]),
]


@pytest.mark.parametrize("where, expected", CASES, ids=[c[0].strip().splitlines()[0][:60] for c in CASES])
def test_operator(con, where, expected):
    assert where_members(con, where, AS_OF) == expected


def test_as_of_is_converted_to_utc_before_taking_the_day(con):
    where = "{field: signup_date, op: within_last, value: 30d}"
    # 01:00 at +05:00 is still 2026-12-03 in UTC: A1's signup is 30 days back
    assert where_members(con, where, datetime(2026, 12, 4, 1, 0, tzinfo=timezone(timedelta(hours=5)))) == ["A1"]
    # 06:00 at +05:00 is 2026-12-04 01:00 UTC: now 31 days back
    assert where_members(con, where, datetime(2026, 12, 4, 6, 0, tzinfo=timezone(timedelta(hours=5)))) == []
    # a naive datetime is UTC; a date means the end of that UTC day
    assert utc_as_of(datetime(2026, 12, 3, 9, 30)) == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    assert utc_as_of(date(2026, 12, 3)) == datetime(2026, 12, 3, 23, 59, 59, tzinfo=UTC)


def test_month_arithmetic_clamps_to_the_last_day():
    assert shift(date(2026, 3, 31), Duration(1, "mo"), -1) == date(2026, 2, 28)
    assert shift(date(2024, 2, 29), Duration(1, "y"), +1) == date(2025, 2, 28)
    assert shift(date(2026, 12, 3), Duration(6, "mo"), +1) == date(2027, 6, 3)
    assert shift(date(2026, 1, 15), Duration(13, "mo"), -1) == date(2024, 12, 15)


@pytest.fixture(scope="module")
def usage_con():
    def rows(account, pairs):
        return [{"account_id": account, "day": d, "usage_count": n, "usage_duration_secs": 0, "error_count": n,
                 "features_used": 1} for d, n in pairs]

    today = date(2026, 12, 3)
    days = [today - timedelta(days=i) for i in range(40)]
    usage = (rows("U1", [(d, 1) for d in days[:7]] + [(date(2026, 11, 20), 10), (date(2026, 12, 4), 100)])
             + rows("U2", [(date(2026, 12, 1), 5)])
             + rows("U3", [(date(2026, 12, 3), 10), (date(2026, 11, 26), 20), (date(2026, 11, 19), 30),
                           (date(2026, 11, 12), 40)])
             + rows("U4", [(date(2026, 12, 3), 10), (date(2026, 11, 26), 30), (date(2026, 11, 19), 30),
                           (date(2026, 11, 12), 40)]))
    connection = scratch_db([{"account_id": a} for a in ("U1", "U2", "U3", "U4", "U5")], usage)
    yield connection
    connection.close()


TREND_CASES = [
    # U1: current week 7, previous week 10 -> exactly -30%; the row after the as-of day is ignored
    ("trend: {measure: usage_count, window: 7d, op: lte, change_pct: -30}", ["U1", "U3", "U4"]),
    ("trend: {measure: usage_count, window: 7d, op: lt, change_pct: -30}", ["U3", "U4"]),
    ("trend: {measure: usage_count, window: 1w, op: gte, change_pct: -30}", ["U1"]),
    ("trend: {measure: usage_count, window: 7d, op: gt, change_pct: -30}", []),
    # U2 had no usage in the previous window: the change is unknown, so no comparison holds
    ("trend: {measure: usage_count, window: 14d, op: gt, change_pct: 0}", []),
    # U3 over 14 days: 30 vs 70 -> -57.1%; U4: 40 vs 70 -> -42.9%
    ("trend: {measure: error_count, window: 14d, op: lte, change_pct: -57}", ["U3"]),
    ("trend: {measure: error_count, window: 14d, op: lte, change_pct: -58}", []),
    ("trend: {measure: usage_count, period: 7d, dropping: 3}", ["U3"]),
    ("trend: {measure: usage_count, period: 1w, dropping: 2}", ["U3"]),
    ("trend: {measure: usage_count, period: 7d, dropping: 1}", ["U1", "U3", "U4"]),
    ("not: {trend: {measure: usage_count, period: 7d, dropping: 1}}", ["U2", "U5"]),
]


@pytest.mark.parametrize("where, expected", TREND_CASES, ids=[c[0][:60] for c in TREND_CASES])
def test_trend(usage_con, where, expected):
    assert where_members(usage_con, where, AS_OF) == expected


def test_octal_looking_number_is_rejected_not_guessed():
    with pytest.raises(InputError) as info:
        load(("probe", "{field: seats, op: eq, value: 010}"))
    assert [str(p) for p in info.value.problems] == [
        "seg0.yaml:4: where.value: ambiguous number: YAML 1.1 reads unquoted 010 as octal 8 (got '010'); "
        "expected a plain decimal number without leading zeros (or quote it for a text field)"]
