"""`segsync plan` and the failures table through the typer app, with the in-memory destination."""
from __future__ import annotations

import json
import subprocess

import pytest
from rich.console import Console
from typer.testing import CliRunner

from segsync import store
from segsync.cli.main import app
from segsync.cli.sync_cmd import failures_table
from tests.sync.conftest import set_members


@pytest.fixture
def project(tmp_path, monkeypatch, fake, warehouse):
    (tmp_path / "segment_defs").mkdir()
    (tmp_path / "segment_defs" / "small.yaml").write_text(
        "name: small\ndescription: few seats\nwhere: {field: seats, op: lt, value: 10}\n")
    (tmp_path / "segsync.yaml").write_text(
        f"warehouse: {warehouse}\nsegments_dir: segment_defs\n"
        "destinations:\n  fake:\n    type: fake\n    batch_size: 2\n")
    monkeypatch.setenv("SEGSYNC_CONFIG", str(tmp_path / "segsync.yaml"))
    monkeypatch.chdir(tmp_path)
    con = store.connect(warehouse)
    con.execute("CREATE TABLE accounts AS SELECT * FROM (VALUES ('A1', 5), ('A2', 50), ('A3', 2)) t(account_id, seats)")
    set_members(con, {"small": ["A1", "A3", "A9"]})
    con.close()
    return tmp_path


def test_plan_json_prints_one_object_and_sends_nothing(project, fake):
    result = CliRunner().invoke(app, ["plan", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    plan = out["destinations"]["fake"]
    # the current segment file is evaluated (A1, A3), not the stale segment_membership (A1, A3, A9)
    assert (plan["adds"], plan["removes"], plan["api_calls_estimate"], plan["channel"]) == (2, 0, 1, "batch")
    assert plan["guardrail"] == {"ok": True, "reasons": [], "scopes": []}
    assert plan["segments"] == [{"segment": "small", "entering": 2, "leaving": 0,
                                 "entering_sample": ["A1", "A3"], "leaving_sample": []}]
    assert fake.calls == []


def test_plan_tables_name_every_destination(project):
    result = CliRunner().invoke(app, ["plan"])
    assert result.exit_code == 0, result.output
    assert "fake (fake, membership): +2 add, ~0 update, -0 remove, 0 unchanged; 1 write call(s) via batch" \
        in result.output
    assert "  segment small: 2 entering, 0 leaving; entering e.g. A1, A3" in result.output


def test_plan_base_revision_reads_segments_from_git(project):
    def git(*args):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "add", "segment_defs")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "one segment")
    (project / "segment_defs" / "small.yaml").write_text(
        "name: small\ndescription: few seats\nwhere: {field: seats, op: lt, value: 10}\n"
        "destinations: {fake: false}\n")
    result = CliRunner().invoke(app, ["plan", "--json", "--base", "HEAD"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["destinations"]["fake"]["adds"] == 0  # no longer routed to fake
    assert out["base"] == {"revision": "HEAD", "segments": [  # same condition: nobody moves
        {"segment": "small", "status": "unchanged", "base_members": 2, "members": 2, "entering": 0, "leaving": 0,
         "entering_sample": [], "leaving_sample": []}]}


def test_failures_table_lists_unconfirmed_records(project, fake):
    from segsync.config import load_config
    from segsync.sync import apply_sync, plan_sync
    from segsync.segments import load_segments

    fake.reject["A3"] = "INVALID"
    config = load_config()
    con = store.connect(config.warehouse)
    plans = plan_sync(con, config, load_segments(config.segments_path, config=config), env={}, run_id="r1")
    apply_sync(con, plans, env={})
    console = Console(width=200, record=True)
    console.print(failures_table(con))
    text = console.export_text()
    assert "Unconfirmed records (1)" in text
    row = next(line for line in text.splitlines() if "A3" in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")][:7] == [
        "fake", "seg:small", "A3", "A3", "rejected", "1", "INVALID"]
    con.close()
