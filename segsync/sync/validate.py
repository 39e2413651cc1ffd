"""`segsync validate`, destination side: unknown destinations, fields claimed twice, values that cannot fit."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from segsync.errors import InputError, Problem, SegsyncError
from segsync.sync.targets import iter_segment_defs


def check_destinations(config, segment_set: Any, env: Mapping[str, str] | None = None) -> list[Problem]:
    """Every destination problem of this project, collected (never raised one at a time)."""
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
                                        expected=" / ".join(configured) or "a destination from segsync.yaml"))
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
    return problems


def claim_problems(destination: str, claims: Mapping[str, list[str]], segment_set: Any) -> list[Problem]:
    """One problem per field/list/tag that more than one segment (or setting) writes."""
    files = {s.name: (str(getattr(s, "source_file", "segment_defs")), getattr(s, "line", None))
             for s in iter_segment_defs(segment_set)}
    problems = []
    for owned, owners in sorted(claims.items()):
        if len(set(owners)) > 1:
            file, line = files.get(owners[-1], ("segsync.yaml", None))
            problems.append(Problem(file, f"{destination}: {owned!r} is written by more than one segment or setting: "
                                          f"{', '.join(owners)}", line=line, path=f"destinations.{destination}",
                                    value=owned, expected="each field, list or tag owned by exactly one segment"))
    return problems
