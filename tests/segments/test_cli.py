"""The segment commands end to end through the typer app (no project file: folder and warehouse given directly)."""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segsync import store
from segsync.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
NO_CONFIG = ["--config", "/nonexistent/segsync.yaml"]


@pytest.fixture
def project(tmp_path, monkeypatch, warehouse):
    folder = tmp_path / "segment_defs"
    folder.mkdir()
    (folder / "small.yaml").write_text("name: small\ndescription: few seats\nwhere: {field: seats, op: lt, value: 10}\n")
    (folder / "busy.yaml").write_text("name: busy\ndescription: heavy use\nwhere:\n  all:\n"
                                      "    - {in_segment: small}\n    - {field: usage_30d, op: gte, value: 30}\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_validate_real_segment_defs(warehouse):
    """Against a temporary warehouse (none yet: the declared columns), so a running demo's warehouse cannot matter."""
    result = run("validate", "--dir", str(ROOT / "segment_defs"), *NO_CONFIG)
    assert not warehouse.exists()
    assert result.exit_code == 0, result.output
    assert result.output.startswith("9 segment(s) OK: beta_invite, churn_risk, near_usage_cap")


def test_validate_json(project):
    result = run("validate", "--dir", "segment_defs", "--json", *NO_CONFIG)
    assert json.loads(result.output) == {"ok": True, "segments": ["busy", "small"]}
    (project / "segment_defs" / "bad.yaml").write_text("name: bad\ndescription: d\nwhere: {field: seets, op: lt, value: 1}\n")
    result = run("validate", "--dir", "segment_defs", "--json", *NO_CONFIG)
    assert result.exit_code == 1
    assert json.loads(result.output) == {"ok": False, "problems": [
        {"file": "segment_defs/bad.yaml", "line": 3, "path": "where.field", "message": "unknown field 'seets'",
         "value": None, "expected": "a column of accounts; did you mean 'seats'?"}]}


def test_compile_writes_one_file_per_segment_and_the_one_pass_query(project):
    result = run("compile", "--dir", "segment_defs", "--out", "target/segments", "--as-of", "2026-12-03", *NO_CONFIG)
    assert result.exit_code == 0, result.output
    out = project / "target" / "segments"
    assert sorted(p.name for p in out.iterdir()) == ["_all_segments.sql", "busy.sql", "small.sql"]
    small = (out / "small.sql").read_text()
    assert small.startswith("-- segment small (segment_defs/small.yaml)\nSELECT\n")
    assert 'COALESCE("a"."seats" < 10, FALSE)' in small
    con = store.connect()
    con.execute("CREATE TABLE accounts AS SELECT * FROM (VALUES ('A1', 5, 40), ('A2', 50, 40), ('A3', 2, 1)) "
                "t(account_id, seats, usage_30d)")
    assert con.execute((out / "busy.sql").read_text()).fetchall() == [("A1",)]
    assert con.execute((out / "_all_segments.sql").read_text() + "").fetchall() == [
        ("A1", True, True), ("A2", False, False), ("A3", False, True)]
    con.close()


def test_preview_and_explain_commands(project):
    con = store.connect()
    con.execute("CREATE TABLE accounts AS SELECT * FROM (VALUES ('A1', 5::BIGINT, 40::BIGINT), "
                "('A2', 50, 40)) t(account_id, seats, usage_30d)")
    con.close()
    result = run("preview", "busy", "--as-of", "2026-12-03", *NO_CONFIG)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == ["busy: 1 member(s)", "no earlier run recorded"]
    assert "A1" in result.output
    result = run("explain", "busy", "A1", "--as-of", "2026-12-03", *NO_CONFIG)
    assert result.output.splitlines() == [
        "busy for account A1 as of 2026-12-03 23:59:59+00:00: MEMBER",
        "  ✓ all",
        "    ✓ in_segment small  [actual: member]",
        "    ✓ usage_30d gte 30  [actual: 40]",
    ]
    assert run("explain", "busy", "ZZ", *NO_CONFIG).exit_code == 1
    unknown = run("preview", "nope", *NO_CONFIG)
    assert unknown.exit_code == 1 and "unknown segment 'nope'; known: busy, small" in unknown.output


def test_preview_needs_a_built_warehouse(project):
    result = run("preview", "busy", *NO_CONFIG)
    assert result.exit_code == 1
    assert "No accounts table in the warehouse yet" in result.output


def test_segment_fixture_tests_of_the_repository_pass(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run("test", *NO_CONFIG)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["63 passed, 0 failed"]
    verbose = run("test", "--verbose", *NO_CONFIG).output.splitlines()
    assert len(verbose) == 64 and verbose[0] == "PASS segment_defs/tests/churn_risk.yaml:24: weak_health in churn_risk"


def test_failing_fixture_fails_the_command(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    (tmp_path / "wrong.yaml").write_text("as_of: 2026-12-03\naccounts:\n  - {account_id: x, plan_tier: Basic}\n"
                                         "expect:\n  - {account_id: x, in: [upsell_candidates]}\n")
    result = run("test", "--dir", str(tmp_path), *NO_CONFIG)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"FAIL {tmp_path}/wrong.yaml:5: x in upsell_candidates (it is not in it)", "0 passed, 1 failed"]


def test_schema_command_prints_the_json_schema(monkeypatch):
    monkeypatch.chdir(ROOT)
    schema = json.loads(run("schema", *NO_CONFIG).output)
    assert schema["$defs"]["leaf"]["properties"]["op"]["enum"][:4] == ["eq", "ne", "in", "not_in"]
    assert "seat_utilisation" in schema["$defs"]["leaf"]["properties"]["field"]["enum"]


def test_validate_falls_back_to_declared_columns_while_another_process_writes(project, warehouse):
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
        "con.execute('CREATE TABLE accounts (account_id VARCHAR)'); print('ready', flush=True); time.sleep(60)"),
        str(warehouse)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = run("validate", "--dir", "segment_defs", *NO_CONFIG)
        assert result.exit_code == 0, result.output
        assert "in use by another process; checking against the documented columns instead." in result.output
        assert result.output.splitlines()[-1] == "2 segment(s) OK: busy, small"
        busy = run("explain", "busy", "A1", *NO_CONFIG)
        assert busy.exit_code == 1 and "is in use by another process" in busy.output
    finally:
        holder.kill()
        holder.wait()
