"""The malformed corpus: each file gets its exact messages (file, line, key path, value, expected) and causes no write."""
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from segsync.cli.main import app
from segsync.config import ProjectConfig
from segsync.errors import InputError
from segsync.segments import load_segments
from tests.segments.helpers import COLUMNS

CORPUS = Path(__file__).parent / "malformed"
FILES = sorted(CORPUS.glob("*.yaml"))
# Destination checks run on every corpus file (as in `segsync validate` of a project), without credentials.
DESTINATIONS = {"salesforce": {"type": "salesforce", "mode": "update_only"},
                "hubspot": {"type": "hubspot", "mode": "membership"}}
PROJECT_FILE = ("segments_dir: segment_defs\ndestinations:\n  salesforce: {type: salesforce, mode: update_only}\n"
                "  hubspot: {type: hubspot, mode: membership}\n")
VALID = """name: valid_one
description: a valid segment next to the broken ones
where: {field: seats, op: gt, value: 1}
"""


def expected_messages(path: Path, shown_as: str) -> list[str]:
    lines = [line.removeprefix("# expect: ") for line in path.read_text().splitlines()
             if line.startswith("# expect: ")]
    return [line.replace("{file}", shown_as) for line in lines]


def test_the_corpus_has_at_least_thirty_files_each_with_expectations():
    assert len(FILES) >= 30
    assert all(expected_messages(f, "x") for f in FILES)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_malformed_file_gets_its_exact_messages(path, tmp_path):
    folder = tmp_path / "segment_defs"
    folder.mkdir()
    target = folder / path.name
    shutil.copy(path, target)
    (folder / "valid_one.yaml").write_text(VALID)
    with pytest.raises(InputError) as info:
        load_segments(folder, columns=COLUMNS, config=_config(tmp_path))
    assert [str(p) for p in info.value.problems] == expected_messages(path, str(target))


def test_all_problems_of_all_files_are_reported_together(tmp_path):
    folder = tmp_path / "segment_defs"
    shutil.copytree(CORPUS, folder)
    with pytest.raises(InputError) as info:
        load_segments(folder, columns=COLUMNS, config=_config(tmp_path))
    expected = sorted((m for f in FILES for m in expected_messages(f, str(folder / f.name))))
    assert sorted(str(p) for p in info.value.problems) == expected


def test_validate_cli_lists_every_problem_and_exits_nonzero(tmp_path, warehouse, monkeypatch):
    folder = tmp_path / "segment_defs"
    shutil.copytree(CORPUS, folder)
    (tmp_path / "segsync.yaml").write_text(PROJECT_FILE)
    for variable in ("HUBSPOT_ACCESS_TOKEN", "SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN", "HUBSPOT_BASE_URL"):
        monkeypatch.delenv(variable, raising=False)  # validate needs no vendor credentials or sandbox
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", "--dir", str(folder), "--config", str(tmp_path / "segsync.yaml")])
    assert result.exit_code == 1
    total = sum(len(expected_messages(f, "")) for f in FILES)
    assert f"{total} problem(s) in the segment files; nothing was evaluated or sent" in result.output
    assert "did you mean 'health_score'?" in result.output
    assert not warehouse.exists()


def _config(project_dir: Path) -> ProjectConfig:
    return ProjectConfig(project_dir=project_dir, destinations=DESTINATIONS)


@pytest.mark.parametrize("path", FILES[:: max(1, len(FILES) // 10)], ids=lambda p: p.stem)
def test_no_malformed_file_reaches_the_warehouse(path, tmp_path, warehouse):
    """The pipeline's evaluate step loads (and fails) before it writes membership."""
    from segsync import pipeline

    folder = tmp_path / "segment_defs"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE TABLE accounts AS SELECT 'A1' AS account_id, 5::BIGINT AS seats")
    con.close()
    config = ProjectConfig(project_dir=tmp_path, segments_dir="segment_defs", warehouse=str(warehouse))
    with pytest.raises(InputError):
        pipeline.evaluate(config, as_of=None, run_id="r1")
    con = duckdb.connect(str(warehouse))
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    con.close()
    assert tables == {"accounts"}
