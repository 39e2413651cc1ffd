"""One-pass evaluation: membership rows, history across runs, references, priority groups and splits."""
from datetime import datetime, timezone

import duckdb
import pytest

from segsync.errors import InputError

from segsync import store
from segsync.segments import evaluate, evaluate_into, membership_changes
from segsync.segments.model import Split, SplitBucket
from segsync.segments.splits import bucket_for, slot_expression, stable_slot
from sqlglot import exp
from tests.segments.helpers import load, members, scratch_db

T1 = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)
T2 = datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc)
T3 = datetime(2026, 12, 3, 6, 0, tzinfo=timezone.utc)


def accounts(seats_by_id: dict[str, int]) -> list[dict]:
    return [{"account_id": a, "seats": s, "plan_tier": "Basic" if s < 10 else "Pro"} for a, s in seats_by_id.items()]


def test_evaluate_writes_membership_and_history_across_runs(warehouse):
    con = store.connect(warehouse)
    con.execute("CREATE TABLE accounts AS SELECT * FROM (VALUES ('A1', 5), ('A2', 20), ('A3', 8)) t(account_id, seats)")
    segments = load(("small", "{field: seats, op: lt, value: 10}"), ("large", "{field: seats, op: gte, value: 10}"))
    assert evaluate(con, segments, as_of=T1, run_id="r1") == {"small": 2, "large": 1}
    assert con.execute("SELECT segment, account_id, split, is_holdout, run_id, evaluated_at FROM segment_membership "
                       "ORDER BY ALL").fetchall() == [
        ("large", "A2", None, False, "r1", T1), ("small", "A1", None, False, "r1", T1),
        ("small", "A3", None, False, "r1", T1)]
    con.execute("UPDATE accounts SET seats = 12 WHERE account_id = 'A1'")
    assert evaluate(con, segments, as_of=T2, run_id="r2") == {"small": 1, "large": 2}
    con.execute("UPDATE accounts SET seats = 4 WHERE account_id = 'A1'")
    assert evaluate(con, segments, as_of=T3, run_id="r3") == {"small": 2, "large": 1}
    history = con.execute("SELECT segment, account_id, entered_at, exited_at, entered_run_id, exited_run_id "
                          "FROM segment_history ORDER BY segment, account_id, entered_at").fetchall()
    assert history == [
        ("large", "A1", T2, T3, "r2", "r3"),
        ("large", "A2", T1, None, "r1", None),
        ("small", "A1", T1, T2, "r1", "r2"),
        ("small", "A1", T3, None, "r3", None),
        ("small", "A3", T1, None, "r1", None),
    ]
    assert con.execute("SELECT DISTINCT run_id FROM segment_membership").fetchall() == [("r3",)]
    con.close()


def test_unchanged_rerun_adds_no_history_and_dropped_segment_closes_its_rows(warehouse):
    con = store.connect(warehouse)
    con.execute("CREATE TABLE accounts AS SELECT * FROM (VALUES ('A1', 5), ('A2', 20)) t(account_id, seats)")
    both = load(("small", "{field: seats, op: lt, value: 10}"), ("large", "{field: seats, op: gte, value: 10}"))
    evaluate(con, both, as_of=T1, run_id="r1")
    evaluate(con, both, as_of=T2, run_id="r2")
    assert con.execute("SELECT count(*) FROM segment_history").fetchone() == (2,)
    only_small = load(("small", "{field: seats, op: lt, value: 10}"))
    evaluate(con, only_small, as_of=T3, run_id="r3")
    assert con.execute("SELECT segment, exited_run_id FROM segment_history ORDER BY segment").fetchall() == [
        ("large", "r3"), ("small", None)]
    con.close()


def test_history_without_flags_table_is_rebuilt_from_open_rows(warehouse):
    con = store.connect(warehouse)
    con.execute("CREATE TABLE accounts AS SELECT * FROM (VALUES ('A1', 5), ('A2', 20)) t(account_id, seats)")
    segments = load(("small", "{field: seats, op: lt, value: 10}"), ("large", "{field: seats, op: gte, value: 10}"))
    evaluate(con, segments, as_of=T1, run_id="r1")
    con.execute("DROP TABLE segment_membership_flags")
    con.execute("UPDATE accounts SET seats = 30 WHERE account_id = 'A1'")
    evaluate(con, segments, as_of=T2, run_id="r2")
    assert con.execute("SELECT segment, account_id, entered_run_id, exited_run_id FROM segment_history "
                       "ORDER BY ALL").fetchall() == [
        ("large", "A1", "r2", None), ("large", "A2", "r1", None), ("small", "A1", "r1", "r2")]
    assert con.execute("SELECT * FROM segment_membership_flags ORDER BY account_id").fetchall() == [
        ("A1", False, True), ("A2", False, True)]
    con.close()


def test_record_history_false_and_evaluate_into_leave_history_alone(warehouse):
    con = store.connect(warehouse)
    con.execute("CREATE TABLE accounts AS SELECT 'A1' AS account_id, 5 AS seats")
    segments = load(("small", "{field: seats, op: lt, value: 10}"))
    evaluate(con, segments, as_of=T1, run_id="r1", record_history=False)
    assert con.execute("SELECT count(*) FROM segment_history").fetchone() == (0,)
    assert evaluate_into(con, segments, "base_membership", as_of=T1, run_id="base") == {"small": 1}
    assert con.execute("SELECT segment, account_id, run_id FROM base_membership").fetchall() == [
        ("small", "A1", "base")]
    assert con.execute("SELECT count(*) FROM segment_history").fetchone() == (0,)
    con.close()


def test_membership_changes_between_two_tables():
    con = duckdb.connect()
    con.execute("CREATE TABLE old AS SELECT * FROM (VALUES ('s', 'A1'), ('s', 'A2'), ('t', 'A1')) v(segment, account_id)")
    con.execute("CREATE TABLE new AS SELECT * FROM (VALUES ('s', 'A2'), ('s', 'A3'), ('s', 'A4')) v(segment, account_id)")
    assert membership_changes(con, "old", "new") == {"s": {"entered": 2, "exited": 1}, "t": {"entered": 0, "exited": 1}}


def test_references_follow_the_referenced_segment():
    con = scratch_db(accounts({"A1": 5, "A2": 20, "A3": 8}))
    segments = load(("small", "{field: seats, op: lt, value: 10}"),
                    ("small_pro", "all: [{in_segment: small}, {field: plan_tier, op: eq, value: Pro}]"),
                    ("not_small", "not_in_segment: small"),
                    ("chain", "any: [{in_segment: not_small}, {field: seats, op: eq, value: 5}]"))
    assert members(con, segments, T1) == {"small": ["A1", "A3"], "small_pro": [], "not_small": ["A2"],
                                          "chain": ["A1", "A2"]}


def test_priority_group_gives_each_account_only_its_best_ranked_segment():
    con = scratch_db(accounts({"A1": 5, "A2": 20, "A3": 8, "A4": 50}))
    segments = load(
        ("tiny", "{field: seats, op: lt, value: 6}", "priority: {group: size, rank: 1}\n"),
        ("small", "{field: seats, op: lt, value: 10}", "priority: {group: size, rank: 2}\n"),
        ("any_size", "{field: seats, op: gte, value: 0}", "priority: {group: size, rank: 3}\n"),
        ("ungrouped", "{field: seats, op: lt, value: 10}"),
        ("after_priority", "in_segment: small"),
    )
    assert members(con, segments, T1) == {"tiny": ["A1"], "small": ["A3"], "any_size": ["A2", "A4"],
                                          "ungrouped": ["A1", "A3"], "after_priority": ["A3"]}


def test_split_slot_is_md5_based_and_identical_in_python_and_duckdb():
    # fixed values: the same on every machine and Python process (no hash randomisation)
    assert stable_slot("beta_invite", "A-2e4581") == 6903
    assert stable_slot("beta_invite", "A-43a9e3") == 4166
    assert [stable_slot("s", f"A{i}") for i in range(5)] == [
        int(__import__("hashlib").md5(f"s:A{i}".encode()).hexdigest()[:8], 16) % 10_000 for i in range(5)]
    assert stable_slot("churn", "A-2e4581") == 8814
    con = duckdb.connect()
    con.execute("CREATE TABLE ids AS SELECT 'acct-' || i AS account_id FROM range(2000) r(i)")
    sql = slot_expression("salt", exp.column("account_id")).sql("duckdb")
    in_sql = dict(con.execute(f"SELECT account_id, {sql} FROM ids").fetchall())
    assert in_sql == {a: stable_slot("salt", a) for a in in_sql}


def test_split_proportions_within_one_percent_on_100k_and_stable_across_runs():
    ids = [{"account_id": f"acct-{i:06d}", "seats": 1, "plan_tier": "Basic"} for i in range(100_000)]
    con = scratch_db(ids)
    split = """
    split:
      salt: exp_2026
      buckets:
        - {name: treatment, percent: 90}
        - {name: control, percent: 10, holdout: true}
    """
    segments = load(("everyone", "{field: seats, op: eq, value: 1}", split))
    evaluate_into(con, segments, "run1", as_of=T1, run_id="r1")
    evaluate_into(con, segments, "run2", as_of=T2, run_id="r2")
    shares = dict(con.execute("SELECT split, count(*) / 100000.0 FROM run1 GROUP BY split").fetchall())
    assert set(shares) == {"treatment", "control"}
    assert abs(shares["treatment"] - 0.90) < 0.01 and abs(shares["control"] - 0.10) < 0.01
    assert con.execute("SELECT count(*) FROM run1 WHERE is_holdout <> (split = 'control')").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM run1 JOIN run2 USING (account_id) "
                       "WHERE run1.split <> run2.split").fetchone() == (0,)
    sample = con.execute("SELECT account_id, split FROM run1 ORDER BY account_id LIMIT 500").fetchall()
    rule = Split("exp_2026", (SplitBucket("treatment", 90), SplitBucket("control", 10, True)))
    assert all(bucket_for(rule, a).name == s for a, s in sample)


def test_three_way_split_with_fractional_percent():
    rule = Split("x", (SplitBucket("a", 33.33), SplitBucket("b", 33.33), SplitBucket("c", 33.34)))
    assert [(b.name, low, high) for b, low, high in rule.ranges()] == [("a", 0, 3333), ("b", 3333, 6666),
                                                                       ("c", 6666, 10000)]


def test_empty_segment_set_evaluates_to_nothing(warehouse):
    con = store.connect(warehouse)
    con.execute("CREATE TABLE accounts AS SELECT 'A1' AS account_id")
    assert evaluate(con, load(), as_of=T1, run_id="r1") == {}
    assert con.execute("SELECT count(*) FROM segment_membership").fetchone() == (0,)
    con.close()


@pytest.mark.parametrize("as_of", [T1, T3])
def test_membership_evaluated_at_is_the_as_of(as_of):
    con = scratch_db(accounts({"A1": 5}))
    evaluate_into(con, load(("small", "{field: seats, op: lt, value: 10}")), "m", as_of=as_of, run_id="x")
    assert con.execute("SELECT evaluated_at FROM m").fetchall() == [(as_of,)]


def test_missing_input_tables_name_the_segment_file():
    con = duckdb.connect()
    con.execute("CREATE TABLE accounts AS SELECT 'A1' AS account_id, 5 AS seats")
    segments = load(("plain", "{field: seats, op: lt, value: 10}"),
                    ("falling", "{trend: {measure: usage_count, period: 7d, dropping: 2}}"))
    with pytest.raises(InputError) as info:
        evaluate_into(con, segments, "m", as_of=T1)
    assert [str(p) for p in info.value.problems] == [
        "seg1.yaml:1: the warehouse has no account_daily_usage table; expected a built warehouse "
        "(run `segsync run` first)"]
    with pytest.raises(InputError) as info:
        evaluate_into(duckdb.connect(), load(("plain", "{field: seats, op: lt, value: 10}")), "m", as_of=T1)
    assert [p.message for p in info.value.problems] == ["the warehouse has no accounts table"]
