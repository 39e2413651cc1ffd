"""The destination contract harness: one ContractCase per destination, discovered from `case_*.py` modules.

A case says how to seed N accounts into its sandbox and the warehouse, how to read back which accounts the vendor
holds per segment, how many write calls the sandbox saw, the API minimum for a change set, and how to inject
per-record and whole-call faults. `test_contract.py` runs the same suite for every case.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from segsync.config import Guardrails, ProjectConfig
from segsync.retry import RetryPolicy
from segsync.sync import apply_sync, plan_sync

FAST = RetryPolicy(max_attempts=4, base_delay=0.0, jitter=0.0)
DATASET = {"dataset": "synthetic", "accounts": 6000, "seed": 7}
SEGMENT_NAMES = ("alpha", "beta")  # the segments every contract test syncs


@dataclass
class ContractCase:
    """Everything the shared suite needs to know about one destination."""

    name: str  # the destination's key in segsync.yaml (also its `type`)
    sandbox: str  # the conftest fixture that starts its emulator, e.g. "sf_sandbox"
    settings: dict
    seed: Callable[[Any, Any, dict], list[str]]  # (sandbox, con, dataset spec) -> usable account ids, seeded both sides
    observed: Callable[[Any, list[str]], dict[str, set[str]]]  # (sandbox, segments) -> segment -> account ids
    write_calls: Callable[[Any], int]  # write requests in the sandbox log since the last clear
    min_calls: Callable[[int], int]  # API minimum write calls for n adds to one segment
    reject_record: Callable[[Any, Any, str], None]  # (sandbox, con, account_id): make its writes fail for good
    transient_record: Callable[[Any, str, int], None]  # (sandbox, account_id, times): per-record retryable fault
    call_fault: Callable[[Any, int, int | None], None]  # (sandbox, status, times): whole-call fault on writes
    clear_log: Callable[[Any], None]
    clear_faults: Callable[[Any], None]
    sizes: tuple[int, ...] = (1, 199, 200, 201, 5000)
    extra: dict = field(default_factory=dict)
    # (sandbox, con, segment, account_id): make the account a member of the segment's list/tag/field the way a
    # person would, outside segsync (None: the destination has no such notion)
    foreign_member: Callable[[Any, Any, str, str], None] | None = None


def discover_cases() -> dict[str, ContractCase]:
    """Every `CASE` defined by a `case_*.py` module next to this file."""
    cases = {}
    folder = Path(__file__).parent
    for info in pkgutil.iter_modules([str(folder)]):
        if info.name.startswith("case_"):
            module = importlib.import_module(f"{__package__}.{info.name}")
            cases[module.CASE.name] = module.CASE
    return dict(sorted(cases.items()))


@dataclass
class Segment:
    name: str
    destinations: dict = field(default_factory=dict)


@dataclass
class Segments:
    segments: list


def segments(*names: str) -> Segments:
    return Segments([Segment(n) for n in names])


def config_for(case: ContractCase, **guardrails) -> ProjectConfig:
    return ProjectConfig(destinations={case.name: dict(case.settings)}, guardrails=Guardrails(**guardrails))


def write_warehouse(con, dataset) -> None:
    """`accounts` and `contacts` tables (the columns destinations read) from a sandbox dataset's Arrow tables."""
    con.register("_ds_accounts", dataset.accounts)
    con.register("_ds_contacts", dataset.contacts)
    con.execute("""CREATE OR REPLACE TABLE accounts AS
                   SELECT account_id::VARCHAR AS account_id, name AS account_name, domain,
                          salesforce_id AS salesforce_account_id, hubspot_id::VARCHAR AS hubspot_company_id
                   FROM _ds_accounts""")
    con.execute("""CREATE OR REPLACE TABLE contacts AS
                   SELECT lower(email) AS contact_key, account_id::VARCHAR AS account_id, lower(email) AS email,
                          first_name, last_name, salesforce_id AS salesforce_contact_id,
                          hubspot_id::VARCHAR AS hubspot_contact_id
                   FROM _ds_contacts""")
    con.unregister("_ds_accounts")
    con.unregister("_ds_contacts")


def set_members(con, members: dict[str, list[str]]) -> None:
    con.execute("""CREATE OR REPLACE TABLE segment_membership (segment VARCHAR, account_id VARCHAR, split VARCHAR,
                   is_holdout BOOLEAN, run_id VARCHAR, evaluated_at TIMESTAMPTZ)""")
    rows = pa.table({"segment": pa.array([s for s, ids in members.items() for _ in ids], pa.string()),
                     "account_id": pa.array([a for ids in members.values() for a in ids], pa.string())})
    con.register("_members", rows)  # one Arrow insert: executemany of 50k rows takes minutes
    con.execute("INSERT INTO segment_membership SELECT segment, account_id, 'treatment', false, 'r', now() "
                "FROM _members")
    con.unregister("_members")


def sync(con, case: ContractCase, env: dict, run_id: str, segment_set: Segments, *, force: bool = False,
         dry_run: bool = False, **guardrails):
    """Plan and apply one destination; returns (plan, report)."""
    plans = plan_sync(con, config_for(case, **guardrails), segment_set, env=env, run_id=run_id,
                      destinations=[case.name])
    reports = apply_sync(con, plans, env=env, force=force, dry_run=dry_run, policy=FAST)
    return plans[case.name], reports[case.name]
