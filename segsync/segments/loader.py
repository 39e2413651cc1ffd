"""Loads every segment file of a folder, checking all of them at once (file, line, key path, value, expected)."""
from __future__ import annotations

from pathlib import Path

from segsync.errors import InputError, Problem
from segsync.segments.checks import ConditionChecker, suggestion
from segsync.segments.columns import DECLARED_ACCOUNTS, DECLARED_DAILY_USAGE, declared_account_columns
from segsync.segments.model import (
    MAX_NAME_LENGTH, NAME_PATTERN, Priority, SegmentDef, SegmentOutline, SegmentSet, Split, SplitBucket, references,
)
from segsync.segments.values import text_of
from segsync.segments.yamlnodes import Node, join_path, key_positions, read_yaml

TOP_KEYS = ("name", "description", "owner", "where", "destinations", "split", "priority")
NOT_SEGMENT_FILES = {"measures.yaml", "measures.yml"}  # derived-measure definitions (owned by the build)
NAME_EXPECTED = f"snake_case: lowercase letters, digits and _, starting with a letter, at most {MAX_NAME_LENGTH} characters"


def segment_files(directory: Path) -> list[Path]:
    """The segment files of a folder: *.yaml / *.yml at its top level, except measures.yaml."""
    files = [p for pattern in ("*.yaml", "*.yml") for p in Path(directory).glob(pattern)]
    return sorted(p for p in files if p.name not in NOT_SEGMENT_FILES)


def load_segments(directory: Path, *, columns: dict[str, str] | None = None,
                  usage_columns: dict[str, str] | None = None, config=None) -> SegmentSet:
    """Load and check every segment file; raise InputError with every problem from every file."""
    directory = Path(directory)
    problems: list[Problem] = []
    if not directory.is_dir():
        raise InputError([Problem(str(directory), "segment folder not found", expected="a folder of segment YAML files")])
    texts = {str(path): path.read_text() for path in segment_files(directory)}
    columns = columns or declared_account_columns(directory)
    segment_set, outlines = check_segment_texts(texts, columns=columns, usage_columns=usage_columns,
                                                problems=problems)
    if config is not None:
        # every file whose name and destinations read cleanly, even while its conditions have problems
        outline_set = SegmentSet(outlines, columns=segment_set.columns, usage_columns=segment_set.usage_columns)
        problems.extend(destination_problems(config, outline_set))
    if problems:
        raise InputError(sorted(problems, key=lambda p: (p.file, p.line or 0)))
    return segment_set


def load_segment_texts(texts: dict[str, str], *, columns: dict[str, str] | None = None,
                       usage_columns: dict[str, str] | None = None,
                       problems: list[Problem] | None = None) -> SegmentSet:
    """Check segment definitions given as {file name: YAML text}; problems are appended (or raised if no list given)."""
    collect = problems if problems is not None else []
    segment_set, _outlines = check_segment_texts(texts, columns=columns, usage_columns=usage_columns,
                                                 problems=collect)
    if problems is None and collect:
        raise InputError(sorted(collect, key=lambda p: (p.file, p.line or 0)))
    return segment_set


def check_segment_texts(texts: dict[str, str], *, columns: dict[str, str] | None,
                        usage_columns: dict[str, str] | None,
                        problems: list[Problem]) -> tuple[SegmentSet, list[SegmentOutline]]:
    """The valid segments, and the outline (name, destinations, key lines) of every file that has one."""
    columns = dict(columns or DECLARED_ACCOUNTS)
    usage_columns = dict(usage_columns or DECLARED_DAILY_USAGE)
    segments, outlines, declared = [], [], set()
    for file, text in texts.items():
        parsed = ParsedFile(file)
        segment = parse_segment(text, file, columns, usage_columns, problems, parsed)
        if segment is not None:
            segments.append(segment)
        elif parsed.name is not None:
            declared.add(parsed.name)
        if parsed.outline is not None:
            outlines.append(parsed.outline)
    segment_set = SegmentSet(segments, columns=columns, usage_columns=usage_columns)
    problems.extend(cross_file_problems(segment_set, declared_with_problems=declared))
    return segment_set, outlines


class ParsedFile:
    """What one file declares even when it has problems: its segment name (or the file's stem when the
    name cannot be read) and its outline for the destination checks."""

    def __init__(self, file: str):
        stem = Path(file).stem
        self.name: str | None = stem if NAME_PATTERN.match(stem) else None
        self.outline: SegmentOutline | None = None


def parse_segment(text: str, file: str, columns, usage_columns, problems: list[Problem],
                  parsed: ParsedFile | None = None) -> SegmentDef | None:
    parsed = parsed or ParsedFile(file)
    before = len(problems)
    root, found = read_yaml(text, file)
    problems.extend(found)
    if root is None:
        return None
    if not root.is_mapping:
        problems.append(Problem(file, "the top level must be a mapping", line=root.line,
                                expected="name, description and where keys"))
        return None
    for key in root.value:
        if key not in TOP_KEYS:
            problems.append(Problem(file, f"unknown key '{key}'", line=root.key_lines[key], path=key,
                                    expected=suggestion(key, TOP_KEYS, "one of " + ", ".join(TOP_KEYS))))
    name = _required_text(root, "name", file, problems)
    name_ok = False
    if name is not None and not NAME_PATTERN.match(name):
        problems.append(Problem(file, "invalid segment name", line=root.value["name"].line, path="name",
                                value=name, expected=NAME_EXPECTED))
    elif name is not None and len(name) > MAX_NAME_LENGTH:
        problems.append(Problem(file, f"segment name is {len(name)} characters long", line=root.value["name"].line,
                                path="name", value=name, expected=f"at most {MAX_NAME_LENGTH} characters (it becomes "
                                                                  "a field value, list name and tag)"))
    elif name is not None:
        name_ok = True
        parsed.name = name
    description = _required_text(root, "description", file, problems)
    owner = _optional_text(root, "owner", file, problems)
    where = None
    if "where" not in root.value:
        problems.append(Problem(file, "missing key 'where'", line=root.line,
                                expected="where: a condition tree (all / any / not / {field, op, value})"))
    else:
        where = ConditionChecker(file, columns, usage_columns, problems).condition(root.value["where"])
    before_destinations = len(problems)
    destinations = _destinations(root.get("destinations"), file, problems)
    key_lines = key_positions(root)
    if name_ok and len(problems) == before_destinations:
        parsed.outline = SegmentOutline(name=name, destinations=destinations, source_file=Path(file),
                                        line=root.value["name"].line, key_lines=key_lines)
    split = _split(root.get("split"), name, file, problems)
    priority = _priority(root.get("priority"), file, problems)
    if len(problems) > before or where is None:
        return None
    return SegmentDef(name=name, description=description, owner=owner, where=where, destinations=destinations,
                      source_file=Path(file), line=root.value["name"].line, split=split, priority=priority,
                      key_lines=key_lines)


TEXT_EXPECTED = {"name": "a snake_case name such as churn_risk",
                 "description": "one sentence saying who is in the segment", "owner": "a team or person"}


def _required_text(root: Node, key: str, file: str, problems: list[Problem]) -> str | None:
    node = root.get(key)
    if node is None:
        problems.append(Problem(file, f"missing key '{key}'", line=root.line, expected=TEXT_EXPECTED[key]))
        return None
    text = text_of(node)
    if not text or not text.strip():
        problems.append(Problem(file, f"'{key}' must be non-empty text", line=node.line, path=key,
                                value=None if node.is_scalar else "a list or mapping", expected=TEXT_EXPECTED[key]))
        return None
    return text


def _optional_text(root: Node, key: str, file: str, problems: list[Problem]) -> str | None:
    return _required_text(root, key, file, problems) if key in root.value else None


def _destinations(node: Node | None, file: str, problems: list[Problem]) -> dict[str, dict | bool]:
    if node is None:
        return {}
    if not node.is_mapping:
        problems.append(Problem(file, "'destinations' must be a mapping", line=node.line, path="destinations",
                                expected="destination name -> settings mapping, or false to skip it"))
        return {}
    result: dict[str, dict | bool] = {}
    for name, value in node.value.items():
        if value.is_mapping or isinstance(value.value, bool):
            result[name] = value.plain_python()
        else:
            problems.append(Problem(file, f"settings for destination '{name}' must be a mapping or true/false",
                                    line=value.line, path=value.path, value=value.value if value.is_scalar else None,
                                    expected="e.g. hubspot: {list: \"Churn risk\"} or mailchimp: false"))
    return result


def _split(node: Node | None, name: str | None, file: str, problems: list[Problem]) -> Split | None:
    if node is None:
        return None
    shape = "split: {salt: optional text, buckets: [{name, percent, holdout: true/false}]}"
    buckets_node = node.get("buckets")
    if not node.is_mapping or buckets_node is None or not buckets_node.is_sequence or len(buckets_node.value) < 2:
        problems.append(Problem(file, "'split' needs at least two buckets", line=node.line, path="split",
                                expected=shape))
        return None
    for key in node.value:
        if key not in ("salt", "buckets"):
            problems.append(Problem(file, f"unknown key '{key}'", line=node.key_lines[key], path=f"split.{key}",
                                    expected="salt or buckets"))
    salt = text_of(node.value["salt"]) if "salt" in node.value else name
    buckets, seen, ok = [], set(), True
    for item in buckets_node.value:
        bucket_name = text_of(item.get("name")) if item.is_mapping and item.get("name") else None
        percent_node = item.get("percent") if item.is_mapping else None
        percent = percent_node.value if percent_node is not None else None
        holdout_node = item.get("holdout") if item.is_mapping else None
        if bucket_name is None or not NAME_PATTERN.match(bucket_name) or bucket_name in seen:
            problems.append(Problem(file, "each bucket needs a unique snake_case name", line=item.line,
                                    path=item.path, value=bucket_name, expected=shape))
            ok = False
        if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 < percent <= 100 \
                or round(percent, 2) != percent:
            problems.append(Problem(file, "bucket percent must be a number above 0 and at most 100 (2 decimals)",
                                    line=percent_node.line if percent_node else item.line,
                                    path=join_path(item.path, "percent"), value=percent, expected="e.g. 90 or 12.5"))
            ok = False
        if holdout_node is not None and not isinstance(holdout_node.value, bool):
            problems.append(Problem(file, "'holdout' must be true or false", line=holdout_node.line,
                                    path=holdout_node.path, value=holdout_node.value, expected="true or false"))
            ok = False
        if ok:
            seen.add(bucket_name)
            buckets.append(SplitBucket(bucket_name, float(percent), bool(holdout_node and holdout_node.value)))
    if ok and abs(sum(b.percent for b in buckets) - 100) > 1e-9:
        problems.append(Problem(file, "bucket percentages must add up to 100", line=buckets_node.line,
                                path="split.buckets", value=round(sum(b.percent for b in buckets), 2),
                                expected="percentages summing to exactly 100"))
        ok = False
    return Split(salt or "", tuple(buckets)) if ok else None


def _priority(node: Node | None, file: str, problems: list[Problem]) -> Priority | None:
    if node is None:
        return None
    shape = "priority: {group: lifecycle, rank: 1} (rank 1 wins over 2)"
    group = text_of(node.value["group"]) if node.is_mapping and "group" in node.value else None
    rank_node = node.get("rank") if node.is_mapping else None
    rank = rank_node.value if rank_node is not None else None
    if group is None or not NAME_PATTERN.match(group):
        problems.append(Problem(file, "'priority' needs a snake_case group name", line=node.line, path="priority.group",
                                value=group, expected=shape))
        return None
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        problems.append(Problem(file, "priority rank must be a whole number from 1", line=(rank_node or node).line,
                                path="priority.rank", value=rank, expected=shape))
        return None
    return Priority(group, rank)


def cross_file_problems(segment_set: SegmentSet, declared_with_problems: set[str] = frozenset()) -> list[Problem]:
    """Duplicate names, unknown references, reference cycles (through priority groups too), duplicate ranks.

    `declared_with_problems`: names of segments whose files have problems of their own; a reference to one
    of them is not an unknown segment (its file's problems are reported there).
    """
    problems: list[Problem] = []
    first: dict[str, SegmentDef] = {}
    for segment in segment_set:
        if segment.name in first:
            other = first[segment.name]
            problems.append(Problem(str(segment.source_file), f"duplicate segment name '{segment.name}'",
                                    line=segment.line, path="name",
                                    expected=f"a unique name (also defined in {other.source_file}:{other.line})"))
        else:
            first[segment.name] = segment
    for segment in segment_set:
        for ref in references(segment.where):
            if ref.segment not in first and ref.segment not in declared_with_problems:
                problems.append(Problem(str(segment.source_file), f"unknown segment '{ref.segment}'", line=ref.line,
                                        path=ref.path, expected=suggestion(ref.segment, first, "the name of a segment")))
    for group, members in segment_set.priority_groups().items():
        ranks: dict[int, SegmentDef] = {}
        for segment in members:
            if segment.priority.rank in ranks:
                problems.append(Problem(str(segment.source_file),
                                        f"rank {segment.priority.rank} of priority group '{group}' is also used by "
                                        f"'{ranks[segment.priority.rank].name}'",
                                        line=key_line(segment, "priority.rank"), path="priority.rank", expected="a distinct rank per segment in a group"))
            ranks[segment.priority.rank] = segment
    problems.extend(_cycle_problems(segment_set, first))
    return problems


def key_line(segment: SegmentDef, path: str) -> int:
    """The line of the most specific key of `path` the segment's file has (else its name's line)."""
    while path:
        if path in segment.key_lines:
            return segment.key_lines[path]
        path = path.rpartition(".")[0]
    return segment.line


def dependencies(segment_set: SegmentSet, segment: SegmentDef) -> list[tuple[str, object]]:
    """(segment it depends on, the reference or None for priority) for one segment."""
    deps = [(ref.segment, ref) for ref in references(segment.where)]
    deps += [(better.name, None) for better in segment_set.outranked_by(segment.name)]
    return deps


def _cycle_problems(segment_set: SegmentSet, by_name: dict[str, SegmentDef]) -> list[Problem]:
    problems, state, reported = [], {}, set()

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for dep, ref in dependencies(segment_set, by_name[name]):
            if dep not in by_name:
                continue  # reported as an unknown segment
            if state.get(dep) == "open":
                path = trail + [name]
                cycle = path[path.index(dep):] + [dep]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    segment = by_name[name]
                    why = "" if ref else (f" ('{name}' ranks below '{dep}' in priority group "
                                          f"'{segment.priority.group}', so it depends on it)")
                    problems.append(Problem(str(segment.source_file),
                                            "segments depend on each other in a cycle: " + " -> ".join(cycle) + why,
                                            line=ref.line if ref else key_line(segment, "priority"),
                                            path=ref.path if ref else "priority",
                                            expected="references (and priority groups) without loops"))
            elif dep not in state:
                visit(dep, trail + [name])
        state[name] = "done"

    for name in by_name:
        if name not in state:
            visit(name, [])
    return problems


def destination_problems(config, segment_set: SegmentSet) -> list[Problem]:
    """Destination-level checks owned by the sync side (unknown destination, field length, clashes)."""
    try:
        from segsync.sync.validate import check_destinations
    except ImportError:
        return []
    return list(check_destinations(config, segment_set))
