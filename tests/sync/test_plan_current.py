"""`segsync plan` plans the *current* segment files (temporary membership), `--base REV` shows who the segment-file
changes since REV move; the remove-share guardrail counts only members the destination confirmed."""
from __future__ import annotations

import json
import subprocess

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from segsync import store
from segsync.cli.main import app
from segsync.cli.sync_cmd import CURRENT_MEMBERS, plan_current, segment_changes_since
from segsync.config import load_config
from segsync.segments import evaluate, load_segments
from segsync.sync import apply_sync, plan_sync
from segsync.sync.guardrails import ScopeCheck
from segsync.sync.state import ensure_sync_tables
from tests.sync.conftest import accounts, make_config, set_members
from tests.sync.fakes import FakeSegment

SEATS = [("A1", 5), ("A2", 50), ("A3", 2), ("A4", 8), ("A5", 30)]


def segment_file(value: int) -> str:
    return f"name: small\ndescription: few seats\nwhere: {{field: seats, op: lt, value: {value}}}\n"


@pytest.fixture
def project(tmp_path, monkeypatch, fake, warehouse):
    (tmp_path / "segment_defs").mkdir()
    (tmp_path / "segment_defs" / "small.yaml").write_text(segment_file(10))
    (tmp_path / "segsync.yaml").write_text(
        f"warehouse: {warehouse}\nsegments_dir: segment_defs\n"
        "destinations:\n  fake:\n    type: fake\n    batch_size: 2\n")
    monkeypatch.setenv("SEGSYNC_CONFIG", str(tmp_path / "segsync.yaml"))
    monkeypatch.chdir(tmp_path)
    con = store.connect(warehouse)
    con.register("seats", pa.table({"account_id": [a for a, _ in SEATS], "seats": [n for _, n in SEATS]}))
    con.execute("CREATE TABLE accounts AS SELECT * FROM seats")
    con.unregister("seats")
    con.close()
    return tmp_path


def synced_run(project) -> None:
    """One real run: evaluate the segment files into segment_membership, plan and apply to the fake destination."""
    config = load_config()
    con = store.connect(config.warehouse)
    try:
        segments = load_segments(config.segments_path, config=config)
        evaluate(con, segments, run_id="r1")
        reports = apply_sync(con, plan_sync(con, config, segments, env={}, run_id="r1"), env={})
        assert (reports["fake"].synced, reports["fake"].rejected) == (3, 0)
    finally:
        con.close()


def table_rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_plan_evaluates_the_edited_segment_file_without_touching_membership_or_history(project, fake):
    synced_run(project)  # A1, A3, A4 synced
    (project / "segment_defs" / "small.yaml").write_text(segment_file(3))  # now only A3
    calls_before = len(fake.calls)
    con = store.connect(load_config().warehouse)
    membership = table_rows(con, "SELECT segment, account_id FROM segment_membership ORDER BY ALL")
    history = table_rows(con, "SELECT * FROM segment_history ORDER BY ALL")
    con.close()

    result = CliRunner().invoke(app, ["plan", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["destinations"]["fake"]
    assert (plan["adds"], plan["updates"], plan["removes"], plan["unchanged"]) == (0, 0, 2, 1)
    assert plan["api_calls_estimate"] == 1 and plan["membership_table"] == CURRENT_MEMBERS
    assert plan["segments"] == [{"segment": "small", "entering": 0, "leaving": 2, "entering_sample": [],
                                 "leaving_sample": ["A1", "A4"]}]
    assert plan["guardrail"] == {"ok": True, "reasons": [], "scopes": [
        {"segment": "small", "confirmed": 3, "removing": 2, "share": 0.6667}]}

    con = store.connect(load_config().warehouse)
    assert table_rows(con, "SELECT segment, account_id FROM segment_membership ORDER BY ALL") == membership == [
        ("small", "A1"), ("small", "A3"), ("small", "A4")]
    assert table_rows(con, "SELECT * FROM segment_history ORDER BY ALL") == history
    assert not store.table_exists(con, CURRENT_MEMBERS)
    # `segsync run` still plans from segment_membership: nothing changed there, so nothing to send
    config = load_config()
    plans = plan_sync(con, config, load_segments(config.segments_path, config=config), env={}, run_id="r2")
    assert (plans["fake"].total, plans["fake"].membership_table) == (0, "segment_membership")
    con.close()
    assert len(fake.calls) == calls_before  # no vendor call


def test_plan_text_shows_entering_and_leaving_per_segment(project, fake):
    synced_run(project)
    (project / "segment_defs" / "small.yaml").write_text(segment_file(40))  # A5 enters, nobody leaves
    result = CliRunner().invoke(app, ["plan"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "fake (fake, membership): +1 add, ~0 update, -0 remove, 3 unchanged; 1 write call(s) via batch" \
        in result.output
    assert "  segment small: 1 entering, 0 leaving; entering e.g. A5" in result.output
    assert "  guardrails: ok" in result.output


def test_plan_current_with_a_temporary_membership_table(project, fake):
    config = load_config()
    con = store.connect(config.warehouse)
    try:
        segments = load_segments(config.segments_path, config=config)
        plans = plan_current(con, config, segments, run_id="p1", env={})
        plan = plans["fake"]
        assert (plan.adds, plan.removes, plan.api_calls_estimate) == (3, 0, 2)
        assert [(c.segment, c.entering, c.leaving, c.entering_sample) for c in plan.segments] == [
            ("small", 3, 0, ("A1", "A3", "A4"))]
        assert not store.table_exists(con, "segment_membership")  # never created by a plan
        assert not store.table_exists(con, CURRENT_MEMBERS)
    finally:
        con.close()


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_plan_base_shows_who_the_segment_file_change_moves(project, fake):
    synced_run(project)  # A1, A3, A4 synced
    git(project, "init", "-q")
    git(project, "add", "segment_defs")
    git(project, "commit", "-q", "-m", "small < 10")
    (project / "segment_defs" / "small.yaml").write_text(segment_file(6))  # A4 (8 seats) leaves

    result = CliRunner().invoke(app, ["plan", "--json", "--base", "HEAD"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["base"] == {"revision": "HEAD", "segments": [
        {"segment": "small", "status": "changed", "base_members": 3, "members": 2, "entering": 0, "leaving": 1,
         "entering_sample": [], "leaving_sample": ["A4"]}]}
    plan = out["destinations"]["fake"]  # the current definitions against what the destination confirmed
    assert (plan["adds"], plan["removes"], plan["unchanged"], plan["api_calls_estimate"]) == (0, 1, 2, 1)
    assert plan["segments"] == [{"segment": "small", "entering": 0, "leaving": 1, "entering_sample": [],
                                 "leaving_sample": ["A4"]}]

    text = CliRunner().invoke(app, ["plan", "--base", "HEAD"], env={"COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    assert "Segment changes since HEAD" in text.output
    assert "  segment small: 0 entering, 1 leaving; leaving e.g. A4" in text.output


def test_segment_changes_since_a_revision_called_directly(project):
    git(project, "init", "-q")
    git(project, "add", "segment_defs")
    git(project, "commit", "-q", "-m", "small < 10")
    (project / "segment_defs" / "small.yaml").write_text(segment_file(40))
    config = load_config()
    con = store.connect(config.warehouse)
    try:
        segments = load_segments(config.segments_path, config=config)
        [change] = segment_changes_since(con, config, segments, "HEAD")
        assert (change.segment, change.status, change.base_members, change.members, change.entered,
                change.exited, change.entering, change.leaving) == ("small", "changed", 3, 4, 1, 0, ["A5"], [])
        assert not store.table_exists(con, "segment_membership")
    finally:
        con.close()


def test_plan_base_with_an_unknown_revision_is_an_input_error(project):
    git(project, "init", "-q")
    git(project, "add", "segment_defs")
    git(project, "commit", "-q", "-m", "one")
    result = CliRunner().invoke(app, ["plan", "--base", "no-such-rev"])
    assert result.exit_code == 2
    assert "no-such-rev" in result.output


# -- guardrail over confirmed (status synced) members only ------------------------------------------------------

def state_rows(con, keys: list[str], status: str) -> None:
    """sync_state rows of the fake destination in seg:beta_invite, once confirmed (hash set) and now `status`."""
    ensure_sync_tables(con)
    con.register("_keys", pa.table({"k": keys}))
    con.execute("""
        INSERT INTO sync_state (destination, target, record_key, account_id, payload_hash, payload, segments, status,
                                attempts, last_code)
        SELECT 'fake', 'seg:beta_invite', k, k, md5(json_object('account_id', k)::VARCHAR),
               json_object('account_id', k), ['beta_invite'], ?, 1,
               CASE WHEN ? = 'rejected' THEN 'INVALID_CROSS_REFERENCE_KEY' END
        FROM _keys
    """, [status, status])
    con.unregister("_keys")


def test_remove_share_counts_only_members_the_destination_confirmed(con, fake):
    synced = accounts("S", 100)
    rejected = accounts("R", 40)
    state_rows(con, synced, "synced")
    state_rows(con, rejected, "rejected")
    set_members(con, {"beta_invite": synced[:88]})  # 12 synced members leave; the 40 rejected rows are gone too
    plans = plan_sync(con, make_config(max_remove_share=0.1), [FakeSegment("beta_invite")], env={}, run_id="g1")
    plan = plans["fake"]
    assert plan.removes == 52  # every no-longer-desired row is still planned as a remove
    assert plan.guardrail.scopes == (ScopeCheck("beta_invite", 100, 12),)
    assert plan.guardrail.reasons == (
        "fake: segment 'beta_invite' would lose 12 of 100 synced members (12%), above the 10% limit "
        "(guardrails.max_remove_share)",)


def test_rejected_rows_do_not_trip_the_remove_share(con, fake):
    synced = accounts("S", 100)
    rejected = accounts("R", 40)
    state_rows(con, synced, "synced")
    state_rows(con, rejected, "rejected")
    set_members(con, {"beta_invite": synced[:95]})  # 5 synced leave (below the floor of 10)
    plans = plan_sync(con, make_config(), [FakeSegment("beta_invite")], env={}, run_id="g2")
    plan = plans["fake"]
    # counting the rejected rows as members would read "45 of 140 (32%)" and block
    assert plan.guardrail.scopes == (ScopeCheck("beta_invite", 100, 5),)
    assert (plan.guardrail.ok, plan.guardrail.reasons) == (True, ())
    assert [(c.segment, c.entering, c.leaving, c.leaving_sample) for c in plan.segments] == [
        ("beta_invite", 0, 5, ("S00095", "S00096", "S00097", "S00098", "S00099"))]


def test_remove_share_message_names_confirmed_counts(con, fake):
    synced = accounts("S", 100)
    state_rows(con, synced, "synced")
    state_rows(con, accounts("R", 300), "rejected")
    set_members(con, {"beta_invite": synced[:70]})
    plan = plan_sync(con, make_config(), [FakeSegment("beta_invite")], env={}, run_id="g3")["fake"]
    assert plan.guardrail.scopes == (ScopeCheck("beta_invite", 100, 30),)
    assert plan.guardrail.reasons == (
        "fake: segment 'beta_invite' would lose 30 of 100 synced members (30%), above the 20% limit "
        "(guardrails.max_remove_share)",)
