"""Ingest + build benchmark on synthetic data: rows/s and peak memory at 10,000 and 100,000 accounts, and their ratio.

Usage: python bench/ingest.py [--sizes 10000 100000] [--sources product_db stripe salesforce hubspot]

For each size the sandboxes run in their own process (seeded with {"dataset": "synthetic", "accounts": N}), the
product database is written to SQLite, and a fresh measuring process ingests every chosen source into a new
warehouse and builds `accounts`. Peak memory is that measuring process's maximum resident set size.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALL_SOURCES = ["product_db", "salesforce", "hubspot", "stripe"]
MEMORY_LIMIT = "512MB"  # DuckDB's buffer pool for the measured run (it spills beyond this)


def _prepare(size: int, workdir: Path) -> dict:
    """Start the sandboxes in a child process, seed them, and write the product database; returns the env."""
    env_file = workdir / "sandbox.env"
    server = subprocess.Popen([sys.executable, "-m", "sandbox.server", "--env-file", str(env_file), "--state-dir",
                               str(workdir / "sandbox")], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    json.loads(server.stdout.readline())
    from segsync.envfile import parse_env_file

    env = parse_env_file(env_file)
    spec = {"dataset": "synthetic", "accounts": size}
    import httpx

    for base in (env["SALESFORCE_INSTANCE_URL"], env["HUBSPOT_BASE_URL"], env["STRIPE_API_BASE"]):
        verify = env["SALESFORCE_CA_BUNDLE"] if base.startswith("https") else True
        with httpx.Client(verify=verify, timeout=600, trust_env=False) as http:
            http.post(f"{base}/__sandbox/seed", json=spec).raise_for_status()
    writer = subprocess.run([sys.executable, "-c", (
        "import sys, json; from sandbox.datasets import load_dataset; from sandbox.product_db import write_product_db;"
        f"print(json.dumps(write_product_db(load_dataset({spec!r}), sys.argv[1])))"),
        f"sqlite:///{workdir / 'product.db'}"], cwd=ROOT, capture_output=True, text=True, check=True)
    env["PRODUCT_DB_URL"] = f"sqlite:///{workdir / 'product.db'}"
    env["_PRODUCT_COUNTS"] = writer.stdout.strip()
    env["_SERVER_PID"] = str(server.pid)
    return env


def measure(env_json: str, sources: list[str], warehouse: str) -> dict:
    """Inside the measuring process: ingest each source, build, report rows, seconds and peak RSS."""
    import sources as source_pkg
    from segsync import store
    from segsync.build import build_accounts
    from segsync.config import load_config

    env = json.loads(env_json)
    config = load_config(ROOT / "segsync.yaml", env=env)
    con = store.connect(warehouse)
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    report = {"sources": {}}
    started = time.perf_counter()
    for name in sources:
        t0 = time.perf_counter()
        result = source_pkg.ingest(con, config, env, source=name, full=True)
        seconds = time.perf_counter() - t0
        rows = sum(result.tables.values())
        report["sources"][name] = {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
                                   "requests": result.requests}
    t0 = time.perf_counter()
    built = build_accounts(con, config)
    report["build"] = {"accounts": built.accounts, "daily_usage_rows": built.account_daily_usage,
                       "seconds": round(time.perf_counter() - t0, 2)}
    report["total_rows"] = sum(s["rows"] for s in report["sources"].values())
    report["total_seconds"] = round(time.perf_counter() - started, 2)
    report["rows_per_s"] = round(report["total_rows"] / report["total_seconds"])
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    con.close()
    return report


def run_size(size: int, sources: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"segsync-bench-{size}-") as tmp:
        workdir = Path(tmp)
        env = _prepare(size, workdir)
        try:
            child_env = {k: v for k, v in env.items() if not k.startswith("_")}
            # the environment (with the sandbox credentials) travels on stdin, never on the command line
            out = subprocess.run([sys.executable, __file__, "--measure", "--sources", *sources,
                                  "--warehouse", str(workdir / "warehouse.duckdb")],
                                 cwd=ROOT, input=json.dumps(child_env), capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"measuring run for {size} accounts failed:\n{out.stderr[-3000:]}")
            report = json.loads(out.stdout.strip().splitlines()[-1])
            report["accounts"] = size
            report["product_db_rows"] = json.loads(env["_PRODUCT_COUNTS"])
            return report
        finally:
            os.kill(int(env["_SERVER_PID"]), 15)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    parser.add_argument("--sources", nargs="+", default=ALL_SOURCES, choices=ALL_SOURCES)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(sys.stdin.read(), args.sources, args.warehouse)))
        return
    reports = []
    for size in args.sizes:
        report = run_size(size, args.sources)
        reports.append(report)
        print(f"{size:>7,} accounts: {report['total_rows']:>10,} raw rows in {report['total_seconds']:>7.1f} s "
              f"= {report['rows_per_s']:>8,} rows/s; build {report['build']['seconds']:.1f} s; "
              f"peak memory {report['peak_rss_mib']:.0f} MiB", flush=True)
        for name, source in report["sources"].items():
            print(f"          {name:<11} {source['rows']:>10,} rows {source['seconds']:>7.1f} s "
                  f"{source['rows_per_s']:>8,} rows/s {source['requests']:>6} requests", flush=True)
    if len(reports) >= 2:
        small, large = reports[0], reports[-1]
        ratio = large["peak_rss_mib"] / small["peak_rss_mib"]
        print(f"memory ratio {large['accounts']:,}/{small['accounts']:,} accounts: {ratio:.2f}x "
              f"(target < 3x); peak {large['peak_rss_mib']:.0f} MiB (target < 1024 MiB)")
    print(json.dumps(reports))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
