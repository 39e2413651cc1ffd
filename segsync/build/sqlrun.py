"""Runs a multi-statement SQL script with named parameters, giving each statement only the names it uses."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import duckdb

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def split_statements(script: str) -> list[str]:
    """Statements of a script whose semicolons only end statements (no ';' inside literals)."""
    return [s.strip() for s in script.split(";") if s.strip() and not all(
        line.strip().startswith("--") or not line.strip() for line in s.strip().splitlines())]


def run_script(con: duckdb.DuckDBPyConnection, script: str, params: Mapping[str, Any] | None = None) -> None:
    params = params or {}
    for statement in split_statements(script):
        used = set(_PARAM.findall(statement))
        missing = used - set(params)
        if missing:
            raise KeyError(f"SQL parameter(s) {sorted(missing)} not supplied")
        con.execute(statement, {k: params[k] for k in used} if used else None)
