"""The segment side of a plan: load the segment files of another git revision and diff membership against it."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path, PurePosixPath

import duckdb

from segsync.errors import InputError, Problem
from segsync.segments.evaluate import evaluate_into
from segsync.segments.loader import NOT_SEGMENT_FILES, load_segment_texts
from segsync.segments.model import SegmentSet

BASE_TABLE = "_segsync_plan_base"
HEAD_TABLE = "_segsync_plan_head"


@dataclass
class SegmentChange:
    """Who would enter and leave one segment between the base definitions and the current ones."""

    segment: str
    status: str  # added / removed / changed / unchanged
    base_members: int
    members: int
    entered: int
    exited: int
    entering: list[str] = field(default_factory=list)
    leaving: list[str] = field(default_factory=list)


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InputError([Problem(str(repo), f"git {' '.join(args)} failed: {result.stderr.strip()}",
                                  expected="a revision that exists in this repository (e.g. origin/main)")])
    return result.stdout


def segment_texts_at(revision: str, directory: Path) -> dict[str, str]:
    """{path: YAML text} of the segment files in `directory` as of a git revision."""
    directory = Path(directory).resolve()
    repo = Path(_git(directory, "rev-parse", "--show-toplevel").strip())
    relative = PurePosixPath(directory.relative_to(repo).as_posix())
    listing = _git(repo, "ls-tree", "--name-only", f"{revision}:{relative}" if str(relative) != "." else revision)
    texts = {}
    for name in sorted(listing.splitlines()):
        if name.endswith((".yaml", ".yml")) and name not in NOT_SEGMENT_FILES:
            path = relative / name
            texts[f"{revision}:{path}"] = _git(repo, "show", f"{revision}:{path}")
    return texts


def load_segments_at(revision: str, directory: Path, *, columns: dict[str, str] | None = None,
                     usage_columns: dict[str, str] | None = None) -> SegmentSet:
    """The SegmentSet defined by `directory`'s files at `revision` (checked like the working copy)."""
    return load_segment_texts(segment_texts_at(revision, directory), columns=columns, usage_columns=usage_columns)


def membership_diff(con: duckdb.DuckDBPyConnection, base: SegmentSet, head: SegmentSet, *,
                    as_of: datetime | date | None = None, sample: int = 5) -> list[SegmentChange]:
    """Evaluate both definitions over the same accounts (no history touched) and compare per segment."""
    evaluate_into(con, base, BASE_TABLE, as_of=as_of, run_id="base", temporary=True)
    evaluate_into(con, head, HEAD_TABLE, as_of=as_of, run_id="head", temporary=True)
    try:
        changes = []
        for name in sorted(set(base.names) | set(head.names)):
            changes.append(_compare(con, name, name in base, name in head, sample))
        return changes
    finally:
        con.execute(f"DROP TABLE IF EXISTS {BASE_TABLE}")
        con.execute(f"DROP TABLE IF EXISTS {HEAD_TABLE}")


def _compare(con, name: str, in_base: bool, in_head: bool, sample: int) -> SegmentChange:
    counts = {}
    accounts = {}
    for change, left, right in (("entered", HEAD_TABLE, BASE_TABLE), ("exited", BASE_TABLE, HEAD_TABLE)):
        difference = (f"SELECT account_id FROM {left} WHERE segment = $name "
                      f"EXCEPT SELECT account_id FROM {right} WHERE segment = $name")
        counts[change] = con.execute(f"SELECT count(*) FROM ({difference})", {"name": name}).fetchone()[0]
        accounts[change] = [r[0] for r in con.execute(f"{difference} ORDER BY account_id LIMIT $limit",
                                                      {"name": name, "limit": sample}).fetchall()]
    sizes = {table: con.execute(f"SELECT count(*) FROM {table} WHERE segment = $name", {"name": name}).fetchone()[0]
             for table in (BASE_TABLE, HEAD_TABLE)}
    status = ("added" if not in_base else "removed" if not in_head
              else "changed" if counts["entered"] or counts["exited"] else "unchanged")
    return SegmentChange(name, status, int(sizes[BASE_TABLE]), int(sizes[HEAD_TABLE]), int(counts["entered"]),
                         int(counts["exited"]), accounts["entered"], accounts["exited"])
