"""Salesforce-specific behaviour against the emulator: bulk path, null policy, describe checks, merges, sessions, quota."""
from __future__ import annotations

import pytest

from segsync.config import ProjectConfig
from segsync.sync.state import failures
from tests.contract.destinations import case_salesforce as sfcase
from tests.contract.destinations.harness import FAST, SEGMENT_NAMES, segments, set_members
from segsync.sync import apply_sync, plan_sync

SEGS = segments(*SEGMENT_NAMES)
CASE = sfcase.CASE
BIG = {"dataset": "synthetic", "accounts": 51000, "seed": 7}
SMALL = {"dataset": "synthetic", "accounts": 300, "seed": 7}


def run(con, sf_sandbox, run_id, settings=None, segment_set=SEGS, **kw):
    config = ProjectConfig(destinations={"salesforce": dict(settings or sfcase.SETTINGS)})
    plans = plan_sync(con, config, segment_set, env=sf_sandbox.env(), run_id=run_id)
    return plans["salesforce"], apply_sync(con, plans, env=sf_sandbox.env(), policy=FAST, **kw)["salesforce"]


def record(sf_sandbox, account_id):
    return sfcase.accounts_by_product_id(sf_sandbox)[account_id]


def write_log(sf_sandbox):
    return [(e.method, e.path.split("/v62.0")[-1]) for e in sf_sandbox["salesforce"].log.entries()
            if e.method in sfcase.WRITE_METHODS and "/query" not in e.path]


def test_50000_changes_take_one_bulk_job_of_three_write_calls(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, BIG)
    set_members(con, {"alpha": ids[:50000]})
    plan, report = run(con, sf_sandbox, "big")
    assert (plan.channel, plan.api_calls_estimate) == ("bulk-2.0", 3)
    assert (report.synced, report.rejected, report.retry, report.write_calls) == (50000, 0, 0, 3)
    assert [m for m, _p in write_log(sf_sandbox)] == ["POST", "PUT", "PATCH"]
    assert len(sfcase.observed(sf_sandbox, SEGMENT_NAMES)["alpha"]) == 50000


def test_leaving_clears_owned_fields_over_rest_and_never_touches_other_fields(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, SMALL)
    industry_before = record(sf_sandbox, ids[0])["Industry"]
    set_members(con, {"alpha": ids[:3], "beta": ids[:1]})
    run(con, sf_sandbox, "r1")
    first = record(sf_sandbox, ids[0])
    assert (first["Segsync_Alpha__c"], first["Segsync_Beta__c"], first["Segsync_Segments__c"]) == \
        (True, True, "alpha;beta")
    set_members(con, {"alpha": ids[1:3]})
    plan, report = run(con, sf_sandbox, "r2")
    assert (plan.updates, plan.removes, report.synced, report.write_calls) == (0, 1, 1, 1)
    left = record(sf_sandbox, ids[0])
    assert (left["Segsync_Alpha__c"], left["Segsync_Beta__c"], left["Segsync_Segments__c"]) == (False, False, None)
    assert left["Industry"] == industry_before and left["Name"] == first["Name"]
    assert con.execute("SELECT count(*) FROM sync_state").fetchone()[0] == 2


def test_bulk_path_clears_with_na_and_maps_failures_back_by_id(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, {"dataset": "synthetic", "accounts": 6000, "seed": 7})
    set_members(con, {"alpha": ids[:2500]})
    run(con, sf_sandbox, "r1")
    bad = ids[10]
    sfcase.reject_record(sf_sandbox, con, bad)
    set_members(con, {"beta": ids[:2500]})
    plan, report = run(con, sf_sandbox, "r2", force=True)  # every alpha member leaves: 100% removal, forced
    assert plan.channel == "bulk-2.0" and plan.updates == 2500
    assert (report.synced, report.rejected, report.write_calls) == (2499, 1, 3)
    moved = record(sf_sandbox, ids[0])
    assert (moved["Segsync_Alpha__c"], moved["Segsync_Beta__c"], moved["Segsync_Segments__c"]) == \
        (False, True, "beta")
    [failure] = failures(con)
    assert (failure[3], failure[4], failure[6]) == (bad, "rejected", "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    assert "Segment flags are locked for this account" in failure[7]


def test_lock_contention_is_retried_within_the_run(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, SMALL)
    set_members(con, {"alpha": ids[:50]})
    for account_id in ids[:2]:
        sfcase.transient_record(sf_sandbox, account_id, 1)
    _plan, report = run(con, sf_sandbox, "r1")
    assert (report.synced, report.retry, report.write_calls) == (50, 0, 2)


def test_over_long_values_are_rejected_per_record_never_truncated(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, SMALL)
    with sf_sandbox["salesforce"].lock:
        sf_sandbox["salesforce"].org.add_fields("Account", [{"name": "Segsync_Primary__c", "type": "string",
                                                             "length": 4}])
    settings = {**sfcase.SETTINGS, "picklist_field": "Segsync_Primary__c"}
    set_members(con, {"alpha": ids[:2], "beta": ids[2:4]})
    _plan, report = run(con, sf_sandbox, "r1", settings=settings)
    assert (report.synced, report.rejected, report.retry, report.write_calls) == (2, 2, 0, 1)
    assert sorted((f[3], f[6]) for f in failures(con)) == [(ids[0], "STRING_TOO_LONG"), (ids[1], "STRING_TOO_LONG")]
    assert "Segsync_Primary__c: 5 characters, max length 4; not truncated" in failures(con)[0][7]
    assert record(sf_sandbox, ids[0]).get("Segsync_Primary__c") is None
    assert record(sf_sandbox, ids[2])["Segsync_Primary__c"] == "beta"


def test_multiselect_values_missing_from_describe_are_rejected_before_sending(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, SMALL)
    with sf_sandbox["salesforce"].lock:
        sf_sandbox["salesforce"].org.add_fields("Account", [{"name": "Segsync_Gamma__c", "type": "boolean"}])
    segs = segments("alpha", "beta", "gamma")  # gamma is not among the multi-select's picklist values yet
    set_members(con, {"alpha": ids[:2], "gamma": ids[1:3]})
    _plan, report = run(con, sf_sandbox, "r1", segment_set=segs)
    assert (report.synced, report.rejected, report.retry, report.write_calls) == (1, 2, 0, 1)
    assert sorted((f[3], f[6]) for f in failures(con)) == [
        (ids[1], "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"), (ids[2], "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")]
    assert record(sf_sandbox, ids[0])["Segsync_Segments__c"] == "alpha"
    assert record(sf_sandbox, ids[1]).get("Segsync_Segments__c") is None


def test_merged_account_is_redirected_to_the_survivor(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, SMALL)
    loser, winner = sfcase.salesforce_id(con, ids[0]), sfcase.salesforce_id(con, ids[1])
    with sf_sandbox["salesforce"].lock:
        sf_sandbox["salesforce"].org.merge(winner, [loser])
    set_members(con, {"alpha": ids[:1]})
    _plan, report = run(con, sf_sandbox, "r1")
    assert (report.synced, report.redirected) == (1, 1)
    survivor = sf_sandbox["salesforce"].org.records["Account"][winner]
    assert (survivor["Segsync_Alpha__c"], survivor["Segsync_Segments__c"]) == (True, "alpha")
    assert con.execute("SELECT from_key, to_key FROM sync_redirects").fetchall() == [(loser, winner)]
    assert con.execute("SELECT record_key, status FROM sync_state").fetchall() == [(winner, "synced")]
    plan2, report2 = run(con, sf_sandbox, "r2")
    assert (plan2.total, report2.write_calls) == (0, 0)


def test_expired_session_is_reauthenticated_once(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, SMALL)
    set_members(con, {"alpha": ids[:5]})
    sf_sandbox["salesforce"].faults.add({"method": "PATCH", "path": r"/composite/sobjects$", "status": 401,
                                         "times": 1})
    _plan, report = run(con, sf_sandbox, "r1")
    assert (report.synced, report.blocked_reason) == (5, None)


def test_a_session_that_stays_invalid_stops_the_destination_with_nothing_marked_synced(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, SMALL)
    set_members(con, {"alpha": ids[:5]})
    sf_sandbox["salesforce"].faults.add({"method": "PATCH", "path": r"/composite/sobjects$", "status": 401})
    _plan, report = run(con, sf_sandbox, "r1")
    assert report.synced == 0 and report.retry == 5
    assert report.blocked_reason.startswith("salesforce stopped: session rejected after re-authentication")
    token = sf_sandbox.env()["SALESFORCE_ACCESS_TOKEN"]
    assert token not in report.blocked_reason and all(token not in (f[7] or "") for f in failures(con))


def test_daily_api_share_cap_stops_before_sending(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, SMALL)
    set_members(con, {"alpha": ids[:5]})
    sf_sandbox["salesforce"].configure({"daily_api_limit": 1000, "api_requests_used": 499})
    _plan, report = run(con, sf_sandbox, "r1", settings={**sfcase.SETTINGS, "max_api_share": 0.5})
    assert report.blocked_reason == (
        "salesforce stopped: salesforce: the org has used 500 of its 1000 daily API requests; segsync may use up to "
        "50% (500) (destinations.salesforce.max_api_share)")
    assert (report.synced, report.retry, report.write_calls) == (0, 5, 0)
    assert write_log(sf_sandbox) == []


def test_exhausted_org_allowance_stops_cleanly(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, SMALL)
    set_members(con, {"alpha": ids[:5]})
    sf_sandbox["salesforce"].configure({"daily_api_limit": 1000, "api_requests_used": 1000})
    _plan, report = run(con, sf_sandbox, "r1", settings={**sfcase.SETTINGS, "max_api_share": 1.0})
    assert report.blocked_reason.startswith("salesforce stopped: salesforce: HTTP 403 REQUEST_LIMIT_EXCEEDED")
    assert report.retry == 5


@pytest.mark.parametrize("size,calls", [(1999, 10), (2000, 3)])
def test_the_bulk_threshold_is_chosen_automatically(sf_sandbox, con, size, calls):
    ids = sfcase.seed(sf_sandbox, con, {"dataset": "synthetic", "accounts": 6000, "seed": 7})
    set_members(con, {"alpha": ids[:size]})
    plan, report = run(con, sf_sandbox, f"t{size}")
    assert plan.api_calls_estimate == report.write_calls == sfcase.write_calls(sf_sandbox) == calls


def test_lock_retries_after_a_bulk_job_go_through_one_collections_call(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, {"dataset": "synthetic", "accounts": 6000, "seed": 7})
    set_members(con, {"alpha": ids[:2500]})
    for account_id in ids[:3]:
        sfcase.transient_record(sf_sandbox, account_id, 1)
    plan, report = run(con, sf_sandbox, "r1")
    assert plan.channel == "bulk-2.0"
    assert (report.synced, report.retry, report.write_calls) == (2500, 0, 4)
    assert [m for m, _p in write_log(sf_sandbox)] == ["POST", "PUT", "PATCH", "PATCH"]


def test_a_deleted_account_without_survivor_is_rejected_and_reported(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, SMALL)
    gone = sfcase.salesforce_id(con, ids[0])
    emulator = sf_sandbox["salesforce"]
    with emulator.lock:
        emulator.org.delete(emulator.org.objects["Account"], gone, emulator.org.next_stamp())
    set_members(con, {"alpha": ids[:3]})
    _plan, report = run(con, sf_sandbox, "r1")
    assert (report.synced, report.rejected, report.redirected) == (2, 1, 0)
    assert [(f[2], f[4], f[6]) for f in failures(con)] == [(gone, "rejected", "ENTITY_IS_DELETED")]


def test_describe_failing_before_sending_stops_cleanly_and_retries_next_run(sf_sandbox, con):
    ids = sfcase.seed(sf_sandbox, con, SMALL)
    set_members(con, {"alpha": ids[:4]})
    sf_sandbox["salesforce"].faults.add({"method": "GET", "path": r"/describe", "status": 503})
    _plan, report = run(con, sf_sandbox, "r1")
    assert report.blocked_reason.startswith("salesforce stopped: salesforce: HTTP 503 SERVER_UNAVAILABLE")
    assert (report.synced, report.retry, report.write_calls) == (0, 4, 0)
    sf_sandbox["salesforce"].faults.clear()
    plan2, report2 = run(con, sf_sandbox, "r2")
    assert (plan2.adds, report2.synced) == (4, 4)
