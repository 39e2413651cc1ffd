"""Sync flow: per destination, plan against confirmed state (stored as an artifact), then apply."""
from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from flows.common import project
from segsync import pipeline
from segsync.summary import plan_markdown


@task(name="sync-destination", task_run_name="sync {destination}")
def sync_destination(config_path: str | None, destination: str, run_id: str, dry_run: bool, force: bool,
                     approved: list[str], reconcile: bool = False) -> dict:
    outcome = pipeline.sync_destination(project(config_path), destination, run_id=run_id, dry_run=dry_run,
                                        force=force, approved=tuple(approved), reconcile=reconcile)
    create_markdown_artifact(key=f"plan-{destination}", markdown=plan_markdown(destination, outcome),
                             description=f"segsync plan and result for {destination}")
    return outcome


@flow(name="sync", log_prints=True)
def sync_flow(config_path: str | None = None, run_id: str = "manual", dry_run: bool = False,
              force: bool = False, approved: list[str] | None = None, reconcile: bool = False) -> dict[str, dict]:
    """`approved` holds plan fingerprints (from `segsync plan`) allowed past their guardrails; `reconcile` checks
    each destination for drift before planning it."""
    config = project(config_path)
    results = {}
    for destination in pipeline.enabled_destinations(config):
        results[destination] = sync_destination(config_path, destination, run_id, dry_run, force,
                                                list(approved or []), reconcile)
    return results
