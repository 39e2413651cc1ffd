"""The main job: ingest -> build -> evaluate -> sync as one Prefect flow with subflows, plus a summary artifact."""
from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows.build import build_flow
from flows.common import parse_as_of, project
from flows.ingest import ingest_flow
from flows.sync import sync_flow
from segsync import pipeline, runs
from segsync.summary import make_summary, summary_markdown


@flow(name="segsync-pipeline", log_prints=True)
def segsync_pipeline(config_path: str | None = None, as_of: str | None = None, dry_run: bool = False,
                     force: bool = False, full: bool = False, skip_ingest: bool = False,
                     sources: list[str] | None = None, approved: list[str] | None = None,
                     reconcile: bool = False) -> dict:
    """Run the whole job once; returns the run summary (also stored in sync_runs and as an artifact).

    Segment files are checked before anything is read or written. A dry run works on a scratch copy of
    the warehouse, so it changes neither the stored membership and history nor the sync state.
    """
    config = project(config_path)
    pipeline.check_segments(config)
    run_id = runs.new_run_id()
    con = pipeline.connect(config)
    runs.start_run(con, run_id, parse_as_of(as_of))
    con.close()
    status = "failed"
    summary: dict = {"run_id": run_id}
    try:
        with pipeline.scratch_warehouse(config, enabled=dry_run):
            ingested = {} if skip_ingest else ingest_flow(config_path, full, sources)
            built = build_flow(config_path, as_of, run_id)
            synced = sync_flow(config_path, run_id, dry_run, force, approved, reconcile)
        summary = make_summary(run_id=run_id, as_of=as_of, dry_run=dry_run, ingested=ingested,
                               built=built, synced=synced)
        status = summary["status"]
        return summary
    finally:
        con = pipeline.connect(config)
        runs.finish_run(con, run_id, status, summary)
        con.close()
        if "segments" in summary:
            create_markdown_artifact(key="segsync-run-summary", markdown=summary_markdown(summary),
                                     description=f"segsync run {run_id}")
