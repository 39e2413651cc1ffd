"""Explain (exact rendered tree), preview (size, splits, sample, change since last run) and fixture runs."""
from datetime import date, datetime, timezone

import pytest

from segsync.errors import InputError
from segsync.segments import evaluate, explain, preview, render_explain, run_fixture_tests
from tests.segments.helpers import load, scratch_db

AS_OF = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def segments():
    return load(
        ("risky", """
         all:
           - {field: renewal_date, op: within_next, value: 90d}
           - any:
               - {field: health_score, op: lt, value: 40}
               - trend: {measure: usage_count, window: 7d, op: lte, change_pct: -30}
               - trend: {measure: usage_count, period: 7d, dropping: 2}
           - not: {sql: "plan_tier = 'Enterprise' AND seats > 100"}
         """, "priority: {group: stage, rank: 2}\nsplit:\n  buckets:\n    - {name: call, percent: 50}\n"
              "    - {name: holdout, percent: 50, holdout: true}\n"),
        ("vip", "{field: seats, op: gt, value: 100}", "priority: {group: stage, rank: 1}\n"),
        ("risky_only", "{not_in_segment: vip}"),
    )


@pytest.fixture
def con():
    accounts = [
        {"account_id": "A1", "renewal_date": date(2027, 1, 10), "health_score": 55.0, "plan_tier": "Pro", "seats": 8},
        {"account_id": "A2", "renewal_date": date(2027, 1, 10), "health_score": 20.0, "plan_tier": "Enterprise",
         "seats": 150},
        {"account_id": "A3", "renewal_date": None, "health_score": None, "plan_tier": None, "seats": None},
    ]
    usage = [{"account_id": "A1", "day": date(2026, 12, 2), "usage_count": 6},
             {"account_id": "A1", "day": date(2026, 11, 25), "usage_count": 10},
             {"account_id": "A1", "day": date(2026, 11, 18), "usage_count": 12}]
    connection = scratch_db(accounts, usage)
    yield connection
    connection.close()


def test_explain_member_shows_every_leaf_value_and_verdict(con, segments):
    text = render_explain(explain(con, segments, "risky", "A1", AS_OF))
    assert text == "\n".join([
        "risky for account A1 as of 2026-12-03 12:00:00+00:00: MEMBER (split holdout, holdout: never synced)",
        "  ✓ all",
        "    ✓ renewal_date within_next 90d  [actual: 2027-01-10]  (from 2026-12-03 to 2027-03-03)",
        "    ✓ any",
        "      ✗ health_score lt 40  [actual: 55]",
        "      ✓ trend usage_count change over 7d lte -30%  [actual: 6 vs 10: -40.0%]  "
        "(current 2026-11-27..2026-12-03, previous 2026-11-20..2026-11-26)",
        "      ✓ trend usage_count dropping 2 periods of 7d in a row  [actual: 12 -> 10 -> 6]  "
        "(periods from 2026-11-13 to 2026-12-03)",
        "    ✓ not",
        "      ✗ sql: plan_tier = 'Enterprise' AND seats > 100  [actual: plan_tier='Pro', seats=8]",
    ])


def test_explain_shows_the_priority_group_taking_the_account(con, segments):
    result = explain(con, segments, "risky", "A2", AS_OF)
    assert (result.matched, result.member, result.outranked_by) == (False, False, ["vip"])
    lines = render_explain(result).splitlines()
    assert lines[0] == "risky for account A2 as of 2026-12-03 12:00:00+00:00: NOT A MEMBER"
    assert lines[-1] == ("      ✓ sql: plan_tier = 'Enterprise' AND seats > 100  "
                         "[actual: plan_tier='Enterprise', seats=150]")
    result = explain(con, segments, "vip", "A2", AS_OF)
    assert render_explain(result).splitlines() == [
        "vip for account A2 as of 2026-12-03 12:00:00+00:00: MEMBER",
        "  ✓ seats gt 100  [actual: 150]"]


def test_explain_nulls_references_and_unknown_accounts(con, segments):
    assert render_explain(explain(con, segments, "risky_only", "A3", AS_OF)).splitlines() == [
        "risky_only for account A3 as of 2026-12-03 12:00:00+00:00: MEMBER",
        "  ✓ not_in_segment vip  [actual: not a member]"]
    lines = render_explain(explain(con, segments, "risky", "A3", AS_OF)).splitlines()
    assert lines[2] == "    ✗ renewal_date within_next 90d  [actual: null]  (from 2026-12-03 to 2027-03-03)"
    assert lines[5] == ("      ✗ trend usage_count change over 7d lte -30%  [actual: 0 vs 0: n/a (previous window "
                        "is 0)]  (current 2026-11-27..2026-12-03, previous 2026-11-20..2026-11-26)")
    missing = explain(con, segments, "risky", "nope", AS_OF)
    assert not missing.found
    assert render_explain(missing) == ("risky for account nope as of 2026-12-03 12:00:00+00:00: "
                                       "account not found in accounts")


def test_explain_agrees_with_evaluate_for_every_account(con, segments):
    evaluate(con, segments, as_of=AS_OF, run_id="r1")
    members = set(con.execute("SELECT segment, account_id FROM segment_membership").fetchall())
    for segment in segments.names:
        for account in ("A1", "A2", "A3"):
            assert explain(con, segments, segment, account, AS_OF).member == ((segment, account) in members)


def test_preview_reports_size_splits_sample_and_change_since_last_run(con, segments):
    first = preview(con, segments, "risky", as_of=AS_OF, sample=5)
    assert (first.size, first.by_split, first.last_run_id) == (1, {"holdout": 1}, None)
    assert first.sample == [{"account_id": "A1", "account_name": None, "plan_tier": "Pro", "mrr": None,
                             "health_score": 55.0, "renewal_date": date(2027, 1, 10)}]
    evaluate(con, segments, as_of=AS_OF, run_id="r1")
    con.execute("UPDATE accounts SET health_score = 10, renewal_date = DATE '2027-02-01' WHERE account_id = 'A3'")
    con.execute("UPDATE accounts SET renewal_date = DATE '2027-06-01' WHERE account_id = 'A1'")
    second = preview(con, segments, "risky", as_of=AS_OF, sample=5)
    assert (second.size, second.last_run_id) == (1, "r1")
    assert (second.entered, second.entered_count, second.exited, second.exited_count) == (["A3"], 1, ["A1"], 1)
    counts_only = preview(con, segments, "risky", as_of=AS_OF, sample=0)
    assert (counts_only.entered, counts_only.entered_count, counts_only.exited_count, counts_only.sample) == (
        [], 1, 1, [])
    assert con.execute("SELECT account_id FROM segment_membership WHERE segment = 'risky'").fetchall() == [("A1",)]
    assert con.execute("SELECT segment, account_id FROM segment_history ORDER BY ALL").fetchall() == [
        ("risky", "A1"), ("risky_only", "A1"), ("risky_only", "A3"), ("vip", "A2")]  # preview wrote nothing


def test_fixture_runner_reports_failures_and_bad_fixtures(tmp_path, segments):
    (tmp_path / "ok.yaml").write_text("""as_of: 2026-12-03
accounts:
  - {account_id: big, seats: 150}
  - {account_id: small, seats: 2, renewal_date: 2027-01-01, health_score: 5}
expect:
  - {account_id: big, in: [vip], not_in: [risky]}
  - {account_id: small, in: [risky, vip]}
""")
    outcomes = run_fixture_tests(tmp_path, segments)
    assert [str(o) for o in outcomes] == [
        f"PASS {tmp_path}/ok.yaml:6: big in vip",
        f"PASS {tmp_path}/ok.yaml:6: big not in risky",
        f"PASS {tmp_path}/ok.yaml:7: small in risky",
        f"FAIL {tmp_path}/ok.yaml:7: small in vip (it is not in it)",
    ]
    (tmp_path / "bad.yaml").write_text("""as_of: 2026-12-03
accounts:
  - {account_id: x, seets: 3}
expect:
  - {account_id: y, in: [vip]}
  - {account_id: x, in: [vipp]}
""")
    with pytest.raises(InputError) as info:
        run_fixture_tests(tmp_path, segments)
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path}/bad.yaml:3: accounts[0].seets: unknown column 'seets'; expected a column of the accounts "
        "table; did you mean 'seats'?",
        f"{tmp_path}/bad.yaml:5: expect[0]: expectation names no account of this fixture (got 'y'); "
        "expected an account_id listed under accounts",
        f"{tmp_path}/bad.yaml:6: expect[1].in[0]: unknown segment 'vipp'; expected a segment name; did you mean 'vip'?",
    ]
