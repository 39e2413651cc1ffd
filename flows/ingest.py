"""Ingest flow: one task per enabled source, each writing its raw tables and cursor in DuckDB."""
from __future__ import annotations

from prefect import flow, task

from flows.common import project
from segsync import pipeline


@task(name="ingest-source", task_run_name="ingest {source}", retries=0)
def ingest_source(config_path: str | None, source: str, full: bool = False) -> dict:
    return pipeline.ingest_source(project(config_path), source, full=full)


@flow(name="ingest", log_prints=True)
def ingest_flow(config_path: str | None = None, full: bool = False,
                only: list[str] | None = None) -> dict[str, dict]:
    """Sources run one after another (DuckDB allows one writer); `only` limits the run to some sources."""
    config = project(config_path)
    chosen = [s for s in pipeline.enabled_sources(config) if not only or s in only]
    unknown = sorted(set(only or []) - set(config.sources))
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; segsync.yaml defines {sorted(config.sources)}")
    return {source: ingest_source(config_path, source, full) for source in chosen}
