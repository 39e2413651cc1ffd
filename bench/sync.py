"""Benchmark: Salesforce sync throughput against the sandbox with a rate limit on and faults injected, zero loss."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from destinations.salesforce import salesforce_field_specs  # noqa: E402
from sandbox.datasets import load_dataset  # noqa: E402
from sandbox.server import start  # noqa: E402
from segsync import store  # noqa: E402
from segsync.config import ProjectConfig  # noqa: E402
from segsync.retry import RetryPolicy, reset_limiters  # noqa: E402
from segsync.sync import apply_sync, plan_sync  # noqa: E402
from segsync.sync.state import failures  # noqa: E402
from segsync.sync.targets import RoutedSegment  # noqa: E402

SEGMENTS = ("alpha", "beta")
POLICY = RetryPolicy(max_attempts=6, base_delay=0.05, max_delay=2.0)
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


class Seg(RoutedSegment):
    """A segment stand-in: a name and no per-destination overrides (routes everywhere)."""

    @property
    def destinations(self) -> dict:
        return {}


class SegmentSet:
    def __init__(self, names):
        self.segments = [Seg(n) for n in names]


def prepare(sandbox, con, accounts: int, settings: dict) -> list[str]:
    """Seed the org and the warehouse with the same accounts, and create the fields segsync owns."""
    dataset = load_dataset({"dataset": "synthetic", "accounts": accounts, "seed": 11})
    emulator = sandbox["salesforce"]
    with emulator.lock:
        emulator.reset()
        emulator.seed(dataset)
        for body in salesforce_field_specs(ProjectConfig(destinations={"salesforce": settings}),
                                           SegmentSet(SEGMENTS)):
            emulator.org.add_fields(body["object"], body["fields"])
    emulator.log.clear()
    emulator.faults.clear()
    con.register("ds_accounts", dataset.accounts)
    con.execute("""CREATE OR REPLACE TABLE accounts AS SELECT account_id::VARCHAR AS account_id,
                   salesforce_id AS salesforce_account_id FROM ds_accounts""")
    for table in ("sync_state", "sync_plan", "sync_redirects"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return dataset.accounts["account_id"].cast("string").to_pylist()


def set_members(con, members: dict[str, list[str]]) -> None:
    con.execute("""CREATE OR REPLACE TABLE segment_membership (segment VARCHAR, account_id VARCHAR, split VARCHAR,
                   is_holdout BOOLEAN, run_id VARCHAR, evaluated_at TIMESTAMPTZ)""")
    for name, ids in members.items():
        con.execute("INSERT INTO segment_membership SELECT ?, unnest(?), 'treatment', false, 'bench', now()",
                    [name, ids])


def lost_records(sandbox, con, members: dict[str, list[str]]) -> int:
    """Members whose checkbox is not set in the org, plus records still unconfirmed in sync_state."""
    by_product = {r["Product_Account_Id__c"]: r for r in sandbox["salesforce"].org.records["Account"].values()}
    missing = sum(1 for name, ids in members.items() for a in ids
                  if not by_product[a].get(f"Segsync_{name.capitalize()}__c"))
    return missing + len(failures(con, limit=1_000_000))


def run_scenario(sandbox, con, *, label: str, records: int, settings: dict, faults: list[dict],
                 allowed_per_second: float | None) -> dict:
    ids = prepare(sandbox, con, records + 100, settings)
    members = {"alpha": ids[:records], "beta": ids[: records // 4]}
    set_members(con, members)
    for fault in faults:
        sandbox["salesforce"].faults.add(fault)
    reset_limiters()
    config = ProjectConfig(destinations={"salesforce": settings})
    env = sandbox.env()
    started = time.perf_counter()
    plans = plan_sync(con, config, SegmentSet(SEGMENTS), env=env, run_id=f"{label}-1")
    report = apply_sync(con, plans, env=env, policy=POLICY)["salesforce"]
    elapsed = time.perf_counter() - started
    runs = 1
    while report.retry and runs < 3:  # records left unconfirmed are sent by the next run
        runs += 1
        plans = plan_sync(con, config, SegmentSet(SEGMENTS), env=env, run_id=f"{label}-{runs}")
        report = apply_sync(con, plans, env=env, policy=POLICY)["salesforce"]
    calls = len([e for e in sandbox["salesforce"].log.entries() if e.path.startswith("/services/data/")])
    writes = len([e for e in sandbox["salesforce"].log.entries()
                  if e.method in WRITE_METHODS and e.path.startswith("/services/data/") and "/query" not in e.path])
    rate = calls / elapsed
    return {"scenario": label, "records": records, "seconds": round(elapsed, 2),
            "records_per_s": round(records / elapsed), "http_calls": calls, "write_calls": writes,
            "calls_per_s": round(rate, 1),
            "share_of_allowed": f"{rate / allowed_per_second:.0%}" if allowed_per_second else "n/a (bulk)",
            "runs": runs, "lost": lost_records(sandbox, con, members)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000, help="changes per scenario")
    parser.add_argument("--rate", type=float, default=10.0, help="allowed REST calls per second (limiter)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = start(["salesforce"], state_dir=Path(tmp) / "sandbox")
        con = store.connect(Path(tmp) / "bench.duckdb")
        try:
            rest = {"type": "salesforce", "bulk_threshold": 10**9,
                    "rate_limit": {"calls": int(args.rate), "per_seconds": 1.0}}
            chaos = [{"method": "PATCH", "path": r"/composite/sobjects$", "status": 503, "probability": 0.05,
                      "seed": 3},
                     {"method": "PATCH", "path": r"/composite/sobjects$", "status": 429, "retry_after": 0,
                      "probability": 0.03}]
            rows = [
                run_scenario(sandbox, con, label="collections", records=args.records, settings=rest, faults=[],
                             allowed_per_second=args.rate),
                run_scenario(sandbox, con, label="collections+faults", records=args.records, settings=rest,
                             faults=chaos, allowed_per_second=args.rate),
                run_scenario(sandbox, con, label="bulk-2.0", records=args.records,
                             settings={"type": "salesforce", "bulk_threshold": 2000, "bulk_poll_seconds": 0.2},
                             faults=[], allowed_per_second=None),
            ]
        finally:
            con.close()
            sandbox.stop()
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))


if __name__ == "__main__":
    main()
