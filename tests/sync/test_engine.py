"""Engine behaviour against the in-memory destination: diffs, acks, failures, resume, guardrails, dry runs."""
from __future__ import annotations

import pytest

from segsync.sync import apply_sync, plan_sync
from segsync.sync.state import failures
from tests.sync.conftest import FAST, accounts, make_config, set_members
from tests.sync.fakes import FakeSegment, FakeSegmentSet, Killed, quota_error, unavailable

SEGS = FakeSegmentSet([FakeSegment("churn"), FakeSegment("upsell")])


def run(con, config, run_id, segments=SEGS, **kw):
    plans = plan_sync(con, config, segments, env={}, run_id=run_id)
    return plans["fake"], apply_sync(con, plans, env={}, policy=FAST, **kw)["fake"]


def state_rows(con):
    return con.execute("SELECT target, record_key, status, attempts FROM sync_state ORDER BY ALL").fetchall()


def test_first_run_adds_everything_in_maximal_batches_and_second_run_writes_nothing(con, fake):
    set_members(con, {"churn": accounts("a", 250), "upsell": accounts("b", 40)})
    plan, report = run(con, make_config(), "r1")
    assert (plan.adds, plan.updates, plan.removes, plan.api_calls_estimate) == (290, 0, 0, 4)
    assert (report.synced, report.rejected, report.retry, report.write_calls) == (290, 0, 0, 4)
    assert sorted(n for _k, n in fake.calls) == [40, 50, 100, 100]
    assert fake.member_keys("seg:churn") == set(accounts("a", 250))
    assert fake.members["seg:upsell"]["b00003"] == {"account_id": "b00003"}
    plan2, report2 = run(con, make_config(), "r2")
    assert (plan2.total, plan2.unchanged, plan2.api_calls_estimate, report2.write_calls) == (0, 290, 0, 0)
    assert len(fake.calls) == 4


def test_exits_become_removes_and_only_confirmed_members_are_removed(con, fake):
    set_members(con, {"churn": accounts("a", 100)})
    run(con, make_config(), "r1")
    fake.members["seg:churn"]["someone-else"] = {"added_by": "a person"}
    set_members(con, {"churn": accounts("a", 100)[:90]})
    plan, report = run(con, make_config(), "r2")
    assert (plan.adds, plan.removes, report.synced, report.write_calls) == (0, 10, 10, 1)
    assert fake.member_keys("seg:churn") == set(accounts("a", 90)) | {"someone-else"}
    assert con.execute("SELECT count(*) FROM sync_state").fetchone()[0] == 90


def test_holdout_members_are_never_synced(con, fake):
    set_members(con, {"churn": ["a1", "a2"]}, holdouts={"churn": ["h1", "h2", "h3"]})
    _plan, report = run(con, make_config(), "r1")
    assert report.synced == 2
    assert fake.member_keys("seg:churn") == {"a1", "a2"}


def test_segment_routing_follows_destinations_overrides(con, fake):
    segs = FakeSegmentSet([FakeSegment("churn", {"fake": True}), FakeSegment("upsell", {"other": True}),
                           FakeSegment("beta", {"fake": False}), FakeSegment("trial")])
    set_members(con, {"churn": ["a"], "upsell": ["b"], "beta": ["c"], "trial": ["d"]})
    plan, _report = run(con, make_config(), "r1", segments=segs)
    assert [t.target for t in plan.targets] == ["seg:churn", "seg:trial"]


def test_per_record_rejection_in_a_batch_of_good_records_is_reported_and_replanned(con, fake):
    set_members(con, {"churn": accounts("a", 150)})
    fake.reject.update({"a00007": "INVALID_EMAIL", "a00120": "INVALID_EMAIL"})
    _plan, report = run(con, make_config(), "r1")
    assert (report.synced, report.rejected, report.retry, report.write_calls) == (148, 2, 0, 2)
    failed = failures(con)
    assert [(f[2], f[4], f[5], f[6]) for f in failed] == [("a00007", "rejected", 1, "INVALID_EMAIL"),
                                                          ("a00120", "rejected", 1, "INVALID_EMAIL")]
    plan2, report2 = run(con, make_config(), "r2")
    assert (plan2.adds, report2.rejected, report2.write_calls) == (2, 2, 1)
    assert [f[5] for f in failures(con)] == [2, 2]
    fake.reject.clear()
    plan3, report3 = run(con, make_config(), "r3")
    assert (plan3.adds, report3.synced) == (2, 2)
    assert failures(con) == []


def test_a_run_where_every_call_fails_then_a_run_where_all_succeed(con, fake):
    set_members(con, {"churn": accounts("a", 120)})
    fake.call_errors.extend([unavailable() for _ in range(3 * 2 * 3)])  # 2 batches x 3 attempts x 3 rounds
    _plan, report = run(con, make_config(), "r1")
    assert (report.synced, report.retry) == (0, 120)
    assert fake.members == {}
    assert {s for _t, _k, s, _a in state_rows(con)} == {"retry"}
    plan2, report2 = run(con, make_config(), "r2")
    assert (plan2.adds, report2.synced, report2.retry, report2.write_calls) == (120, 120, 0, 2)
    assert fake.member_keys("seg:churn") == set(accounts("a", 120))


def test_record_level_retry_is_resent_within_the_run(con, fake):
    set_members(con, {"churn": accounts("a", 10)})
    fake.retry_once.update({"a00001", "a00002"})
    _plan, report = run(con, make_config(), "r1")
    assert (report.synced, report.retry, report.write_calls) == (10, 0, 2)
    assert [n for _k, n in fake.calls] == [10, 2]


def test_kill_mid_run_then_resume_sends_only_unconfirmed_and_ends_like_an_uninterrupted_run(con, fake):
    set_members(con, {"churn": accounts("a", 500)})
    fake.kill_at_call = 3
    with pytest.raises(Killed):
        run(con, make_config(), "r1")
    statuses = con.execute("SELECT status, count(*) FROM sync_state GROUP BY ALL ORDER BY ALL").fetchall()
    assert statuses == [("pending", 300), ("synced", 200)]
    fake.kill_at_call = None
    plan, report = run(con, make_config(), "r2")
    assert (plan.adds, report.synced, report.write_calls) == (300, 300, 3)
    assert sum(n for _k, n in fake.calls) == 500
    assert fake.member_keys("seg:churn") == set(accounts("a", 500))
    assert con.execute("SELECT count(*) FROM sync_state WHERE status = 'synced'").fetchone()[0] == 500


def test_kill_after_send_before_confirm_resends_idempotently(con, fake):
    set_members(con, {"churn": accounts("a", 50)})
    plans = plan_sync(con, make_config(), SEGS, env={}, run_id="r1")
    from segsync.sync import state

    state.mark_pending(con, "fake", "r1")  # the run died after marking and sending, before confirming
    fake.members["seg:churn"] = {k: {"account_id": k} for k in accounts("a", 50)}
    plan, report = run(con, make_config(), "r2")
    assert plans["fake"].adds == 50 and (plan.adds, report.synced) == (50, 50)
    assert fake.member_keys("seg:churn") == set(accounts("a", 50))


def test_fatal_quota_stop_keeps_confirmed_batches_and_marks_the_rest_for_retry(con, fake):
    set_members(con, {"churn": accounts("a", 300)})
    run(con, make_config(), "r1")
    set_members(con, {"churn": accounts("a", 300) + accounts("z", 250)})
    calls_before = len(fake.calls)
    fake.call_errors.append(quota_error())
    plan, report = run(con, make_config(), "r2")
    assert plan.adds == 250
    assert report.blocked_reason == "fake stopped: daily API allowance spent"
    assert (report.synced, report.retry, report.write_calls) == (0, 250, 1)
    assert len(fake.calls) == calls_before + 1
    assert failures(con)[0][4:7] == ("retry", 1, "REQUEST_LIMIT_EXCEEDED")
    plan3, report3 = run(con, make_config(), "r3")
    assert (plan3.adds, report3.synced, report3.write_calls) == (250, 250, 3)
    assert len(fake.member_keys("seg:churn")) == 550


def test_guardrail_blocks_mass_removal_unless_forced(con, fake):
    set_members(con, {"churn": accounts("a", 100), "upsell": accounts("b", 100)})
    run(con, make_config(), "r1")
    set_members(con, {"churn": accounts("a", 100)[:70], "upsell": accounts("b", 100)[:85]})
    plan, report = run(con, make_config(), "r2")
    assert plan.guardrail.ok is False
    assert plan.guardrail.reasons == ("fake: segment 'churn' would lose 30 of 100 synced members (30%), above "
                                      "the 20% limit (guardrails.max_remove_share)",)
    assert report.blocked_reason == plan.guardrail.reasons[0] and report.write_calls == 0
    assert len(fake.member_keys("seg:churn")) == 100
    _plan, forced = run(con, make_config(), "r3", force=True)
    assert (forced.synced, forced.write_calls) == (45, 2)
    assert len(fake.member_keys("seg:churn")) == 70


def test_empty_source_load_never_becomes_mass_removal(con, fake):
    set_members(con, {"churn": accounts("a", 40)})
    run(con, make_config(), "r1")
    set_members(con, {})
    plan, report = run(con, make_config(max_remove_share=1.0), "r2")
    assert plan.removes == 40
    assert plan.guardrail.reasons[0].startswith("fake: the desired state is empty but 40 records are synced")
    assert report.write_calls == 0 and len(fake.member_keys("seg:churn")) == 40


def test_small_removals_under_the_floor_and_max_records(con, fake):
    set_members(con, {"churn": accounts("a", 20)})
    run(con, make_config(), "r1")
    set_members(con, {"churn": accounts("a", 20)[:12]})
    plan, _ = run(con, make_config(min_remove_floor=10), "r2")
    assert plan.guardrail.ok and plan.removes == 8
    set_members(con, {"churn": accounts("a", 40)})
    plan2, report2 = run(con, make_config(max_records=25), "r3")
    assert plan2.guardrail.reasons == ("fake: the plan touches 28 records, above the limit of 25 "
                                       "(guardrails.max_records)",)
    assert report2.write_calls == 0


def test_dry_run_plans_everything_and_sends_nothing(con, fake):
    set_members(con, {"churn": accounts("a", 201)})
    plan, report = run(con, make_config(), "r1", dry_run=True)
    assert (plan.adds, plan.api_calls_estimate, report.write_calls, report.dry_run) == (201, 3, 0, True)
    assert fake.calls == [] and con.execute("SELECT count(*) FROM sync_state").fetchone()[0] == 0
    assert plan.to_dict()["targets"] == [{"target": "seg:churn", "adds": 201, "updates": 0, "removes": 0}]


def test_writes_outside_ownership_are_refused_even_with_force(con, fake):
    fake.unowned_field = True
    set_members(con, {"churn": ["a1", "a2"]})
    plan, report = run(con, make_config(), "r1", force=True)
    assert plan.ownership_problems == ("fake: 2 record(s) would write field 'owner', which segsync does not own "
                                       "(owned: account_id)",)
    assert report.blocked_reason == plan.ownership_problems[0] and fake.calls == []


def test_merged_record_is_redirected_to_the_survivor(con, fake):
    set_members(con, {"churn": ["a1", "a2", "a3"]})
    fake.redirects["a2"] = "a9"
    _plan, report = run(con, make_config(), "r1")
    assert (report.synced, report.redirected, report.write_calls) == (3, 1, 2)
    assert fake.member_keys("seg:churn") == {"a1", "a3", "a9"}
    assert [(k, s) for _t, k, s, _a in state_rows(con)] == [("a1", "synced"), ("a3", "synced"), ("a9", "synced")]
    plan2, report2 = run(con, make_config(), "r2")
    assert (plan2.total, report2.write_calls) == (0, 0)


def test_plan_is_printable_and_json_serialisable(con, fake):
    import json

    set_members(con, {"churn": ["a1"]})
    plan = plan_sync(con, make_config(), SEGS, env={}, run_id="r1")["fake"]
    text = str(plan)
    assert text.splitlines()[0] == ("fake (fake, membership): +1 add, ~0 update, -0 remove, 0 unchanged; "
                                    "1 write call(s) via batch")
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["sample"] == [{"target": "seg:churn", "record_key": "a1", "op": "add",
                               "new": {"account_id": "a1"}}]


def test_a_removal_after_an_unconfirmed_send_clears_what_that_send_may_have_written(con, fake):
    from segsync.sync import state

    set_members(con, {"churn": ["a1"]})
    plan_sync(con, make_config(), SEGS, env={}, run_id="r1")
    state.mark_pending(con, "fake", "r1")  # sent, then the process died before the confirmation
    set_members(con, {})
    plan = plan_sync(con, make_config(), SEGS, env={}, run_id="r2")["fake"]
    assert (plan.adds, plan.removes) == (0, 1)
    rows = con.execute("SELECT record_key, op, old_payload::VARCHAR FROM sync_plan WHERE run_id = 'r2'").fetchall()
    assert rows == [("a1", "remove", '{"account_id":"a1"}')]


def test_planning_before_anything_was_built_is_a_clear_input_error(con, fake):
    from segsync.errors import InputError

    with pytest.raises(InputError) as caught:
        plan_sync(con, make_config(), SEGS, env={}, run_id="r1")
    assert [str(p) for p in caught.value.problems] == [
        "warehouse: segment_membership: table segment_membership does not exist yet; expected a built warehouse: "
        "run `segsync run` (ingest, build, evaluate) first"]


def test_an_approved_plan_passes_its_guardrail_and_only_that_plan(con, fake):
    set_members(con, {"churn": accounts("a", 100)})
    run(con, make_config(), "r1")
    set_members(con, {"churn": accounts("a", 100)[:50]})
    plan, report = run(con, make_config(), "r2")
    assert report.blocked_reason and plan.fingerprint in str(plan)
    set_members(con, {"churn": accounts("a", 100)[:40]})  # a different change than the one approved
    plan3, report3 = run(con, make_config(), "r3", approved={plan.fingerprint})
    assert plan3.fingerprint != plan.fingerprint and report3.write_calls == 0
    set_members(con, {"churn": accounts("a", 100)[:50]})
    plan4, report4 = run(con, make_config(), "r4", approved={plan.fingerprint})
    assert plan4.fingerprint == plan.fingerprint
    assert (report4.blocked_reason, report4.synced) == (None, 50)
