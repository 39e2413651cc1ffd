"""Salesforce field layout, desired payloads in SQL, field specs and destination validation (no HTTP)."""
from __future__ import annotations

import json
from pathlib import Path

from destinations.salesforce import SalesforceDestination, salesforce_field_specs
from destinations.salesforce_fields import segment_fragment
from segsync.config import ProjectConfig
from segsync.sync.validate import check_destinations
from tests.sync.conftest import set_members
from tests.sync.fakes import FakeSegment, FakeSegmentSet

SETTINGS = {"type": "salesforce", "mode": "update_only", "entered_at_field": "Segsync_{segment}_Since__c",
            "picklist_field": "Segsync_Primary__c"}
SEGS = FakeSegmentSet([FakeSegment("churn_risk"), FakeSegment("upsell", {"salesforce": {"value": "Upsell Now"}}),
                       FakeSegment("beta", {"salesforce": False})])


def destination(settings=SETTINGS):
    return SalesforceDestination.from_settings("salesforce", settings, {})


def test_names_and_ownership_follow_templates_and_overrides():
    assert segment_fragment("churn-risk 90d") == "Churn_Risk_90d"
    owned = destination().ownership(SEGS)
    assert owned.targets == frozenset({"Account"})
    assert owned.fields == frozenset({"Segsync_Segments__c", "Segsync_Primary__c", "Segsync_Churn_Risk__c",
                                      "Segsync_Upsell__c", "Segsync_Churn_Risk_Since__c", "Segsync_Upsell_Since__c"})


def test_desired_payload_has_every_owned_field_with_sorted_deduplicated_multiselect(con):
    con.execute("""CREATE TABLE accounts AS SELECT * FROM (VALUES
        ('a1', '001000000000001AAA'), ('a2', '001000000000002AAA'), ('a3', NULL), ('a4', '001000000000001AAA'))
        t(account_id, salesforce_account_id)""")
    con.execute("""CREATE TABLE segment_history AS SELECT * FROM (VALUES
        ('churn_risk', 'a1', TIMESTAMPTZ '2026-11-20 10:00:00+00', NULL::TIMESTAMPTZ),
        ('upsell', 'a2', TIMESTAMPTZ '2026-11-01 23:30:00+00', NULL::TIMESTAMPTZ))
        t(segment, account_id, entered_at, exited_at)""")
    set_members(con, {"churn_risk": ["a1", "a3"], "upsell": ["a2", "a4"], "beta": ["a1"]})
    from segsync.sync.planner import create_members_view

    create_members_view(con, ["churn_risk", "upsell"])
    rows = destination().desired(con, SEGS).order("record_key").fetchall()
    assert [(t, k, a, s) for t, k, a, _p, s in rows] == [
        ("Account", "001000000000001AAA", "a1", ["churn_risk", "upsell"]),
        ("Account", "001000000000002AAA", "a2", ["upsell"])]
    assert json.loads(rows[0][3]) == {
        "Segsync_Churn_Risk_Since__c": "2026-11-20", "Segsync_Churn_Risk__c": True, "Segsync_Primary__c": "Upsell Now",
        "Segsync_Segments__c": "Upsell Now;churn_risk", "Segsync_Upsell_Since__c": None, "Segsync_Upsell__c": True}
    assert json.loads(rows[1][3]) == {
        "Segsync_Churn_Risk_Since__c": None, "Segsync_Churn_Risk__c": False, "Segsync_Primary__c": "Upsell Now",
        "Segsync_Segments__c": "Upsell Now", "Segsync_Upsell_Since__c": "2026-11-01", "Segsync_Upsell__c": True}
    assert list(json.loads(rows[0][3])) == sorted(json.loads(rows[0][3]))


def test_remove_and_dropped_fields_clear_only_what_segsync_wrote():
    dest = destination()
    old = {"Segsync_Churn_Risk__c": True, "Segsync_Segments__c": "churn_risk", "Segsync_Old__c": True}
    removal = dest.change_for("remove", "Account", "001x", None, old, "a1")
    assert removal.new == {"Segsync_Churn_Risk__c": False, "Segsync_Segments__c": None, "Segsync_Old__c": False}
    update = dest.change_for("update", "Account", "001x", {"Segsync_Churn_Risk__c": False,
                                                          "Segsync_Segments__c": "upsell"}, old, "a1")
    assert update.new == {"Segsync_Churn_Risk__c": False, "Segsync_Segments__c": "upsell", "Segsync_Old__c": False}


def test_channel_switches_to_bulk_at_the_threshold():
    dest = destination({**SETTINGS, "bulk_threshold": 2000})
    assert dest.begin(1999) == "sobject-collections"
    assert dest.max_batch(dest.batch_key(dest.change_for("add", "Account", "k", {}, None, None))) == 200
    assert dest.begin(2000) == "bulk-2.0"
    key = dest.batch_key(dest.change_for("add", "Account", "k", {}, None, None))
    assert (dest.calls_per_batch(key), dest.max_batch(key)) == (3, 10_000_000)


def test_field_specs_match_the_sandbox_admin_shape():
    config = ProjectConfig(destinations={"salesforce": {"type": "salesforce"}})
    segs = FakeSegmentSet([FakeSegment("churn_risk"), FakeSegment("upsell")])
    assert salesforce_field_specs(config, segs) == [{"object": "Account", "fields": [
        {"name": "Segsync_Segments__c", "type": "multipicklist", "label": "Segsync segments",
         "picklistValues": ["churn_risk", "upsell"], "restricted": True},
        {"name": "Segsync_Churn_Risk__c", "type": "boolean", "label": "Segment: churn_risk"},
        {"name": "Segsync_Upsell__c", "type": "boolean", "label": "Segment: upsell"},
    ]}]


def test_validation_reports_unknown_destinations_clashes_and_names_that_cannot_fit():
    config = ProjectConfig(destinations={"salesforce": {"type": "salesforce"}})
    long_name = "a_segment_with_an_extremely_long_descriptive_name"
    segs = FakeSegmentSet([
        FakeSegment("churn", {"salesforce": {"checkbox_field": "Shared__c"}, "hubspt": True}),
        FakeSegment("risk", {"salesforce": {"checkbox_field": "Shared__c"}}),
        FakeSegment(long_name),
        FakeSegment("semi", {"salesforce": {"value": "a;b"}}),
    ])
    for seg in segs.segments:
        seg.source_file, seg.line = Path(f"segment_defs/{seg.name}.yaml"), 1
    messages = [str(p) for p in check_destinations(config, segs, env={})]
    assert messages == [
        "segment_defs/churn.yaml:1: destinations.hubspt: segment 'churn' names an unknown destination "
        "(got 'hubspt'); expected salesforce",
        f"segment_defs/{long_name}.yaml:1: destinations.salesforce: Salesforce field name is 57 characters before "
        f"__c (got 'Segsync_A_Segment_With_An_Extremely_Long_Descriptive_Name__c'); expected at most 40; set a "
        f"shorter checkbox_field / entered_at_field for this segment",
        "segment_defs/semi.yaml:1: destinations.salesforce.value: segment value cannot be a Salesforce picklist "
        "value (got 'a;b'); expected 1-255 characters without ';'",
        "segment_defs/risk.yaml:1: destinations.salesforce: salesforce: 'Shared__c' is written by more than one "
        "segment or setting: churn, risk (got 'Shared__c'); expected each field, list or tag owned by exactly one "
        "segment",
    ]


def test_planning_without_an_accounts_table_names_the_missing_table(con):
    import pytest

    from segsync.errors import InputError
    from segsync.sync import plan_sync

    set_members(con, {"churn_risk": ["a1"]})
    config = ProjectConfig(destinations={"salesforce": dict(SETTINGS)})
    with pytest.raises(InputError, match=r"warehouse: accounts: table accounts does not exist yet"):
        plan_sync(con, config, SEGS, env={}, run_id="r1")


def test_modes_that_would_create_accounts_are_refused_by_validation():
    config = ProjectConfig(destinations={"salesforce": {"type": "salesforce", "mode": "upsert"}})
    assert [str(p) for p in check_destinations(config, SEGS, env={})] == [
        "segsync.yaml: destinations.salesforce.mode: sync mode not supported for Salesforce Accounts (got 'upsert'); "
        "expected update_only (segsync never creates Accounts)"]
