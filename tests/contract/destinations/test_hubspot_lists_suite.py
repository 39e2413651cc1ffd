"""The shared destination contract suite run for HubSpot company lists (one MANUAL list per segment).

Every suite test runs except the partial-batch resume: a list membership answer names only the ids HubSpot could
not find, so there is no per-record transient outcome to resume from (a call succeeds or fails as a whole, which
the whole-call fault tests cover). HubSpot's partial batches (207) are exercised by the `hubspot_properties` case.
"""
from __future__ import annotations

import pytest

from tests.contract.destinations import test_contract as suite
from tests.contract.destinations.harness import SEGMENT_NAMES, set_members
from tests.contract.destinations.hubspot_lists_case import CASE


@pytest.fixture
def case():
    return CASE


test_sync_matches_membership_and_reapply_writes_nothing = \
    suite.test_sync_matches_membership_and_reapply_writes_nothing
test_exits_are_removed_and_entries_added = suite.test_exits_are_removed_and_entries_added
test_write_calls_equal_the_api_minimum = suite.test_write_calls_equal_the_api_minimum
test_one_bad_record_in_a_batch_of_good_ones_is_rejected_and_reported = \
    suite.test_one_bad_record_in_a_batch_of_good_ones_is_rejected_and_reported
test_every_call_fails_then_the_next_run_sends_everything = \
    suite.test_every_call_fails_then_the_next_run_sends_everything
test_mixed_429_503_and_lock_faults_converge_with_nothing_lost = \
    suite.test_mixed_429_503_and_lock_faults_converge_with_nothing_lost
test_kill_mid_run_then_resume_sends_only_the_unconfirmed = \
    suite.test_kill_mid_run_then_resume_sends_only_the_unconfirmed
test_guardrail_blocks_a_mass_removal_until_forced = suite.test_guardrail_blocks_a_mass_removal_until_forced
test_dry_run_writes_nothing = suite.test_dry_run_writes_nothing


def test_members_others_added_are_never_removed(hubspot_sandbox, con):
    ids, members = suite.seeded(CASE, hubspot_sandbox, con)
    foreign = ids[500]
    CASE.foreign_member(hubspot_sandbox, con, "alpha", foreign)
    suite.sync(con, CASE, hubspot_sandbox.env(), "r1", suite.SEGS)
    assert CASE.observed(hubspot_sandbox, SEGMENT_NAMES)["alpha"] == set(members["alpha"]) | {foreign}
    shrunk = {"alpha": members["alpha"][:25], "beta": members["beta"]}
    set_members(con, shrunk)
    _plan, report = suite.sync(con, CASE, hubspot_sandbox.env(), "r2", suite.SEGS)
    assert report.synced == 5
    assert CASE.observed(hubspot_sandbox, SEGMENT_NAMES)["alpha"] == set(shrunk["alpha"]) | {foreign}
