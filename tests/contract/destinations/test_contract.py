"""The one contract suite every destination runs against its sandbox (cases from `case_*.py`)."""
from __future__ import annotations

import pytest

from segsync.sync.state import failures
from tests.contract.destinations.conftest import CASES
from tests.contract.destinations.harness import DATASET, SEGMENT_NAMES, segments, set_members, sync

SEGS = segments(*SEGMENT_NAMES)


class Killed(BaseException):
    """The process dying between two calls (not an Exception, so nothing in segsync catches it)."""


def seeded(case, sandbox, con, n_alpha=30, n_beta=20):
    ids = case.seed(sandbox, con, DATASET)
    members = {"alpha": ids[:n_alpha], "beta": ids[n_alpha - 10:n_alpha - 10 + n_beta]}
    set_members(con, members)
    return ids, members


def expected(members) -> dict[str, set[str]]:
    return {name: set(members.get(name, [])) for name in SEGMENT_NAMES}


def test_sync_matches_membership_and_reapply_writes_nothing(case, sandbox, con):
    ids, members = seeded(case, sandbox, con)
    plan, report = sync(con, case, sandbox.env(), "r1", SEGS)
    assert report.rejected == 0 and report.retry == 0 and report.synced == plan.total
    assert case.observed(sandbox, SEGMENT_NAMES) == expected(members)
    case.clear_log(sandbox)
    plan2, report2 = sync(con, case, sandbox.env(), "r2", SEGS)
    assert (plan2.total, report2.write_calls, case.write_calls(sandbox)) == (0, 0, 0)


def test_exits_are_removed_and_entries_added(case, sandbox, con):
    ids, members = seeded(case, sandbox, con)
    sync(con, case, sandbox.env(), "r1", SEGS)
    members = {"alpha": ids[:28] + ids[100:102], "beta": members["beta"]}
    set_members(con, members)
    plan, report = sync(con, case, sandbox.env(), "r2", SEGS)
    assert report.retry == 0 and report.rejected == 0
    assert case.observed(sandbox, SEGMENT_NAMES) == expected(members)


@pytest.mark.parametrize("size", [1, 199, 200, 201, 5000])
def test_write_calls_equal_the_api_minimum(case, sandbox, con, size):
    ids = case.seed(sandbox, con, DATASET)
    set_members(con, {"alpha": ids[:size]})
    plan, report = sync(con, case, sandbox.env(), f"size-{size}", SEGS)
    assert (report.synced, report.rejected, report.retry) == (size, 0, 0)
    assert plan.api_calls_estimate == case.min_calls(size)
    assert case.write_calls(sandbox) == case.min_calls(size) == report.write_calls
    assert case.observed(sandbox, SEGMENT_NAMES)["alpha"] == set(ids[:size])


def test_one_bad_record_in_a_batch_of_good_ones_is_rejected_and_reported(case, sandbox, con):
    ids, members = seeded(case, sandbox, con)
    bad = members["alpha"][3]
    case.reject_record(sandbox, con, bad)
    _plan, report = sync(con, case, sandbox.env(), "r1", SEGS)
    assert report.rejected == 1 and report.retry == 0
    failed = failures(con)
    assert [(f[3], f[4]) for f in failed] == [(bad, "rejected")]
    observed = case.observed(sandbox, SEGMENT_NAMES)
    assert observed["alpha"] == set(members["alpha"]) - {bad}
    plan2, report2 = sync(con, case, sandbox.env(), "r2", SEGS)
    assert plan2.total == 1 and report2.rejected == 1  # planned again every run until it succeeds


def test_every_call_fails_then_the_next_run_sends_everything(case, sandbox, con):
    ids, members = seeded(case, sandbox, con)
    case.call_fault(sandbox, 503, None)
    _plan, report = sync(con, case, sandbox.env(), "r1", SEGS)
    assert report.synced == 0 and report.retry > 0
    assert case.observed(sandbox, SEGMENT_NAMES) == {name: set() for name in SEGMENT_NAMES}
    case.clear_faults(sandbox)
    plan2, report2 = sync(con, case, sandbox.env(), "r2", SEGS)
    assert report2.synced == plan2.total == report.retry and report2.retry == 0
    assert case.observed(sandbox, SEGMENT_NAMES) == expected(members)


def test_mixed_429_503_and_lock_faults_converge_with_nothing_lost(case, sandbox, con):
    ids, members = seeded(case, sandbox, con)
    case.call_fault(sandbox, 429, 1)
    case.call_fault(sandbox, 503, 1)
    for account_id in members["alpha"][:3]:
        case.transient_record(sandbox, account_id, 1)
    plan, report = sync(con, case, sandbox.env(), "r1", SEGS)
    assert (report.synced, report.rejected, report.retry) == (plan.total, 0, 0)
    assert case.observed(sandbox, SEGMENT_NAMES) == expected(members)
    assert failures(con) == []


def test_kill_mid_run_then_resume_sends_only_the_unconfirmed(case, sandbox, con, monkeypatch):
    ids = case.seed(sandbox, con, DATASET)
    members = {"alpha": ids[:450]}
    set_members(con, members)
    from destinations import destination_class

    cls = destination_class(case.settings["type"])
    original = cls.send
    sent = []

    def dying_send(self, key, batch):
        if len(sent) == 1:
            raise Killed()
        sent.append(len(batch))
        return original(self, key, batch)

    monkeypatch.setattr(cls, "send", dying_send)
    with pytest.raises(Killed):
        sync(con, case, sandbox.env(), "r1", SEGS)
    monkeypatch.setattr(cls, "send", original)
    confirmed = con.execute("SELECT count(*) FROM sync_state WHERE status = 'synced'").fetchone()[0]
    assert confirmed <= sum(sent) < 450  # only what the vendor confirmed is marked synced
    plan, report = sync(con, case, sandbox.env(), "r2", SEGS)
    assert plan.adds == 450 - confirmed and report.synced == 450 - confirmed
    assert case.observed(sandbox, SEGMENT_NAMES) == expected(members)


def test_resume_after_a_partial_batch_sends_only_the_records_left_unconfirmed(case, sandbox, con):
    ids, members = seeded(case, sandbox, con)
    stuck = members["alpha"][5]
    case.transient_record(sandbox, stuck, 3)  # outlives the in-run record retries
    _plan, report = sync(con, case, sandbox.env(), "r1", SEGS)
    assert report.retry == 1 and report.synced > 0
    assert [(f[3], f[4]) for f in failures(con)] == [(stuck, "retry")]
    case.clear_log(sandbox)
    plan2, report2 = sync(con, case, sandbox.env(), "r2", SEGS)
    # Mailchimp subscribes the missing address, then tags it: two write requests, both counted in the report
    calls = 2 if case.name == "mailchimp" else 1
    assert (plan2.total, report2.synced, report2.write_calls, case.write_calls(sandbox)) == (1, 1, calls, calls)
    assert case.observed(sandbox, SEGMENT_NAMES) == expected(members)


def test_guardrail_blocks_a_mass_removal_until_forced(case, sandbox, con):
    ids, members = seeded(case, sandbox, con, n_alpha=60)
    sync(con, case, sandbox.env(), "r1", SEGS)
    shrunk = {"alpha": members["alpha"][:20], "beta": members["beta"]}
    set_members(con, shrunk)
    case.clear_log(sandbox)
    plan, report = sync(con, case, sandbox.env(), "r2", SEGS)
    assert plan.guardrail.ok is False and report.blocked_reason and case.write_calls(sandbox) == 0
    assert case.observed(sandbox, SEGMENT_NAMES) == expected(members)
    _plan, forced = sync(con, case, sandbox.env(), "r3", SEGS, force=True)
    assert forced.blocked_reason is None
    assert case.observed(sandbox, SEGMENT_NAMES) == expected(shrunk)


def test_dry_run_writes_nothing(case, sandbox, con):
    ids, members = seeded(case, sandbox, con)
    plan, report = sync(con, case, sandbox.env(), "r1", SEGS, dry_run=True)
    assert plan.total > 0 and report.write_calls == 0 and case.write_calls(sandbox) == 0
    assert case.observed(sandbox, SEGMENT_NAMES) == {name: set() for name in SEGMENT_NAMES}


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.foreign_member is not None))
def test_members_others_added_are_never_removed(name, request, con):
    case = CASES[name]
    sandbox = request.getfixturevalue(case.sandbox)
    ids, members = seeded(case, sandbox, con)
    foreign = ids[500]
    case.foreign_member(sandbox, con, "alpha", foreign)
    sync(con, case, sandbox.env(), "r1", SEGS)
    assert case.observed(sandbox, SEGMENT_NAMES)["alpha"] == set(members["alpha"]) | {foreign}
    shrunk = {"alpha": members["alpha"][:25], "beta": members["beta"]}
    set_members(con, shrunk)
    _plan, report = sync(con, case, sandbox.env(), "r2", SEGS)
    assert report.synced == 5
    assert case.observed(sandbox, SEGMENT_NAMES)["alpha"] == set(shrunk["alpha"]) | {foreign}
