"""`segsync validate`, destination side: unknown destinations, fields claimed twice, values that cannot fit."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from segsync.errors import InputError, Problem, SegsyncError
from segsync.sync.targets import iter_segment_defs


def check_destinations(config, segment_set: Any, env: Mapping[str, str] | None = None) -> list[Problem]:
    """Every destination problem of this project, collected (never raised one at a time).

    Builds each destination from segsync.yaml without contacting it (no credentials or sandbox needed).
    A problem about one segment points at the line of its `destinations:` key it concerns (the most
    specific one the file has), e.g. `destinations.hubspot.list_name`, else at the segment's name.
    """
    from destinations import DESTINATION_TYPES, create_destination

    env = os.environ if env is None else env
    problems: list[Problem] = []
    configured = sorted(config.destinations)
    for seg in iter_segment_defs(segment_set):
        for name, value in (getattr(seg, "destinations", None) or {}).items():
            where = dict(file=str(getattr(seg, "source_file", "segment_defs")), line=getattr(seg, "line", None))
            if name not in config.destinations:
                problems.append(Problem(**where, message=f"segment {seg.name!r} names an unknown destination",
                                        path=f"destinations.{name}", value=name,
                                        expected=_closest(name, configured,
                                                          " / ".join(configured) or "a destination from segsync.yaml")))
            elif not isinstance(value, (bool, Mapping)):
                problems.append(Problem(**where, message="destination settings must be true/false or a mapping",
                                        path=f"destinations.{name}", value=value,
                                        expected="true, false or per-segment overrides"))
    for name, settings in config.destinations.items():
        if not settings.get("enabled", True):
            continue
        type_name = settings.get("type", name)
        if type_name not in DESTINATION_TYPES:
            problems.append(Problem("segsync.yaml", "unknown destination type", path=f"destinations.{name}.type",
                                    value=type_name, expected=" / ".join(sorted(DESTINATION_TYPES))))
            continue
        try:
            destination = create_destination(name, settings, env)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        except SegsyncError as exc:
            problems.append(Problem("segsync.yaml", str(exc), path=f"destinations.{name}"))
            continue
        try:
            problems.extend(destination.check(segment_set))
            problems.extend(claim_problems(name, destination.claims(segment_set), segment_set))
        finally:
            destination.close()
    return [_at_key(problem, segment_set) for problem in problems]


def claim_problems(destination: str, claims: Mapping[str, list[str]], segment_set: Any) -> list[Problem]:
    """One problem per field/list/tag that more than one segment (or setting) writes.

    It is reported in the file of the last owner that names the field in its own `destinations:` (the
    override that clashes), else in the last owner's file.
    """
    segments = {s.name: s for s in iter_segment_defs(segment_set)}
    problems = []
    for owned, owners in sorted(claims.items()):
        if len(set(owners)) > 1:
            explicit = [o for o in owners if o in segments and _override_key(segments[o], destination, owned)]
            owner = segments.get((explicit or owners)[-1])
            file = str(getattr(owner, "source_file", "segment_defs")) if owner else "segsync.yaml"
            line = getattr(owner, "line", None) if owner else None
            problems.append(Problem(file, f"{destination}: {owned!r} is written by more than one segment or setting: "
                                          f"{', '.join(owners)}", line=line, path=f"destinations.{destination}",
                                    value=owned, expected="each field, list or tag owned by exactly one segment"))
    return problems


def _closest(name: str, choices: list[str], expected: str) -> str:
    import difflib

    found = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"{expected}; did you mean {found[0]!r}?" if found else expected


def _override_key(seg: Any, destination: str, value: Any) -> str | None:
    """The per-segment setting of `destination` whose value is `value` (e.g. checkbox_field), if exactly one."""
    settings = (getattr(seg, "destinations", None) or {}).get(destination)
    if not isinstance(settings, Mapping) or value is None:
        return None
    keys = [key for key, setting in settings.items() if setting == value]
    return keys[0] if len(keys) == 1 else None


def _at_key(problem: Problem, segment_set: Any) -> Problem:
    """Point a segment's destination problem at the key it concerns, when the segment knows its key lines."""
    if not problem.path or not problem.path.startswith("destinations."):
        return problem
    seg = next((s for s in iter_segment_defs(segment_set)
                if str(getattr(s, "source_file", "")) == problem.file), None)
    lines = getattr(seg, "key_lines", None) if seg is not None else None
    if not lines:
        return problem
    path = problem.path
    parts = path.split(".")
    if len(parts) == 2:
        key = _override_key(seg, parts[1], problem.value)
        if key is not None:
            path = f"{path}.{key}"
    probe = path
    while probe:
        if probe in lines:
            return dataclasses.replace(problem, path=path, line=lines[probe])
        probe = probe.rpartition(".")[0]
    return dataclasses.replace(problem, path=path)
