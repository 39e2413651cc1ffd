"""Benchmark: seed every emulator and the product database from RavenStack and from N synthetic accounts, vs targets."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import datasets  # noqa: E402
from sandbox.datasets import load_dataset, write_product_db  # noqa: E402
from sandbox.server import VENDORS, create_emulator  # noqa: E402

TARGETS = {"ravenstack": 2.0, "synthetic": 60.0}  # seconds for every emulator (issue 3); product DB listed apart
PRODUCT_DB_TARGET = 60.0  # seconds for the product database at 100,000 accounts (2M usage rows)


def timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def run(spec: dict, vendors: list[str], product_db: bool) -> dict:
    datasets._cache.clear()
    dataset, build_seconds = timed(load_dataset, spec)
    rows = {"dataset": (dataset.counts(), build_seconds)}
    for vendor in vendors:
        emulator = create_emulator(vendor)
        with emulator.lock:
            counts, seconds = timed(emulator.seed, dataset)
        rows[vendor] = (counts, seconds)
    if product_db:
        with tempfile.TemporaryDirectory() as tmp:
            rows["product_db"] = timed(write_product_db, dataset, f"sqlite:///{tmp}/product.db")
    return rows


def report(title: str, rows: dict, target: float) -> None:
    emulator_seconds = sum(s for name, (_, s) in rows.items() if name not in ("dataset", "product_db"))
    print(f"\n== {title}")
    for name, (counts, seconds) in rows.items():
        summary = ", ".join(f"{k}={v}" for k, v in counts.items())
        print(f"  {name:<11} {seconds:7.2f} s  {summary[:110]}")
    total = rows["dataset"][1] + emulator_seconds
    print(f"  dataset + emulators: {total:.2f} s (target {target:.0f} s) -> {total / target:.2f} of the budget")
    if "product_db" in rows:
        seconds = rows["product_db"][1]
        print(f"  product database:    {seconds:.2f} s (target {PRODUCT_DB_TARGET:.0f} s) -> "
              f"{seconds / PRODUCT_DB_TARGET:.2f} of the budget")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000, help="synthetic accounts (0 skips the run)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--vendors", default=",".join(VENDORS), help="comma-separated emulators")
    parser.add_argument("--skip-product-db", action="store_true")
    args = parser.parse_args(argv)
    vendors = [v for v in args.vendors.split(",") if v]
    report("RavenStack (500 accounts)", run({"dataset": "ravenstack"}, vendors, not args.skip_product_db),
           TARGETS["ravenstack"])
    if args.accounts:
        spec = {"dataset": "synthetic", "accounts": args.accounts, "seed": args.seed}
        report(f"Synthetic ({args.accounts:,} accounts, seed {args.seed})",
               run(spec, vendors, not args.skip_product_db), TARGETS["synthetic"])


if __name__ == "__main__":
    main()
