"""Sources: pull Salesforce, HubSpot, Stripe and the product database into typed raw DuckDB tables."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module

import duckdb

from segsync.config import ProjectConfig
from segsync.errors import InputError, Problem

# source name in segsync.yaml -> module with `run(con, section, env, *, run_id, full) -> IngestResult`
SOURCE_MODULES: dict[str, str] = {
    "salesforce": "sources.salesforce",
    "hubspot": "sources.hubspot",
    "stripe": "sources.stripe_billing",
    "product_db": "sources.product_db",
}


@dataclass
class IngestResult:
    """What one source ingest wrote: rows per raw table, API requests/queries made, the cursor reached."""

    source: str
    tables: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    cursor: str | None = None
    issues: int = 0
    run_id: str | None = None


def ingest(con: duckdb.DuckDBPyConnection, config: ProjectConfig, env: Mapping[str, str], *, source: str,
           full: bool = False, run_id: str | None = None) -> IngestResult:
    """Pull one configured source into its raw tables (incremental unless `full`)."""
    if source not in SOURCE_MODULES:
        raise InputError([Problem("segsync.yaml", "unknown source", path=f"sources.{source}", value=source,
                                  expected=f"one of {sorted(SOURCE_MODULES)}")])
    if source not in config.sources:
        raise InputError([Problem("segsync.yaml", "source is not configured", path="sources", value=source,
                                  expected=f"a `{source}:` entry under `sources:`")])
    module = import_module(SOURCE_MODULES[source])
    return module.run(con, config.source(source), env, run_id=run_id or uuid.uuid4().hex[:12], full=full)


def enabled_sources(config: ProjectConfig) -> list[str]:
    """Configured sources whose `enabled` is not false, in file order."""
    return [name for name, section in config.sources.items() if section.get("enabled", True)]


def ingest_all(con: duckdb.DuckDBPyConnection, config: ProjectConfig, env: Mapping[str, str],
               full: bool = False) -> list[IngestResult]:
    """Ingest every enabled source one after another (DuckDB has one writer)."""
    run_id = uuid.uuid4().hex[:12]
    return [ingest(con, config, env, source=name, full=full, run_id=run_id) for name in enabled_sources(config)]
