"""Segment side of `plan --base REV`: definitions from a git revision, membership compared without history."""
import subprocess

import pytest

from segsync.errors import InputError
from segsync.segments import load_segments, load_segments_at, membership_diff
from tests.segments.helpers import COLUMNS, scratch_db


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   check=True, capture_output=True)


def write(folder, name, where):
    (folder / f"{name}.yaml").write_text(f"name: {name}\ndescription: d\nwhere: {where}\n")


@pytest.fixture
def repo(tmp_path):
    folder = tmp_path / "segment_defs"
    folder.mkdir()
    git(tmp_path, "init", "-q")
    write(folder, "small", "{field: seats, op: lt, value: 10}")
    write(folder, "pro", "{field: plan_tier, op: eq, value: Pro}")
    write(folder, "legacy", "{field: seats, op: gt, value: 100}")
    (folder / "measures.yaml").write_text("measures: []\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    write(folder, "small", "{field: seats, op: lt, value: 20}")  # widened
    (folder / "legacy.yaml").unlink()
    write(folder, "big", "{field: seats, op: gte, value: 20}")
    return folder


def test_definitions_at_a_revision_and_the_membership_diff(repo):
    base = load_segments_at("HEAD", repo, columns=COLUMNS)
    head = load_segments(repo, columns=COLUMNS)
    assert base.names == ["legacy", "pro", "small"] and head.names == ["big", "pro", "small"]
    assert str(base["small"].source_file) == "HEAD:segment_defs/small.yaml"
    con = scratch_db([{"account_id": "A1", "seats": 5, "plan_tier": "Pro"},
                      {"account_id": "A2", "seats": 15, "plan_tier": "Basic"},
                      {"account_id": "A3", "seats": 150, "plan_tier": "Pro"}])
    changes = {c.segment: c for c in membership_diff(con, base, head, sample=5)}
    assert [(c.segment, c.status, c.base_members, c.members, c.entered, c.exited) for c in changes.values()] == [
        ("big", "added", 0, 1, 1, 0), ("legacy", "removed", 1, 0, 0, 1), ("pro", "unchanged", 2, 2, 0, 0),
        ("small", "changed", 1, 2, 1, 0)]
    assert (changes["small"].entering, changes["legacy"].leaving) == (["A2"], ["A3"])
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert tables == {"accounts", "account_daily_usage"}


def test_unknown_revision_is_a_clear_input_error(repo):
    with pytest.raises(InputError) as info:
        load_segments_at("no-such-branch", repo, columns=COLUMNS)
    assert "git ls-tree --name-only no-such-branch:segment_defs failed" in str(info.value)
    assert info.value.problems[0].expected == "a revision that exists in this repository (e.g. origin/main)"
