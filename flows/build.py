"""Build flow: raw tables -> unified accounts (and contacts, usage, match report, data issues) -> segments."""
from __future__ import annotations

from prefect import flow, task

from flows.common import parse_as_of, project
from segsync import pipeline


@task(name="build-accounts")
def build_accounts(config_path: str | None, as_of: str | None, run_id: str) -> dict:
    return pipeline.build(project(config_path), as_of=parse_as_of(as_of), run_id=run_id)


@task(name="evaluate-segments")
def evaluate_segments(config_path: str | None, as_of: str | None, run_id: str) -> dict[str, int]:
    return pipeline.evaluate(project(config_path), as_of=parse_as_of(as_of), run_id=run_id)


@flow(name="build", log_prints=True)
def build_flow(config_path: str | None = None, as_of: str | None = None, run_id: str = "manual") -> dict:
    built = build_accounts(config_path, as_of, run_id)
    members = evaluate_segments(config_path, as_of, run_id)
    return {"build": built, "segments": members}
