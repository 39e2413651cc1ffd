"""The Salesforce destination's contract case: Account checkboxes + multi-select in the Salesforce emulator."""
from __future__ import annotations

import math

from destinations.salesforce import salesforce_field_specs
from sandbox.datasets import load_dataset
from segsync.config import ProjectConfig
from tests.contract.destinations.harness import (
    SEGMENT_NAMES,
    ContractCase,
    segments,
    write_warehouse,
)

SETTINGS = {"type": "salesforce", "mode": "update_only", "bulk_threshold": 2000, "bulk_poll_seconds": 0.0}
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


def emulator(sandbox):
    return sandbox["salesforce"]


def create_fields(sandbox, segment_names=SEGMENT_NAMES, settings=SETTINGS) -> None:
    """What an admin (or `segsync sandbox seed`) creates in Setup before the first sync."""
    config = ProjectConfig(destinations={"salesforce": dict(settings)})
    org = emulator(sandbox).org
    with emulator(sandbox).lock:
        for body in salesforce_field_specs(config, segments(*segment_names)):
            org.add_fields(body["object"], body["fields"])


def seed(sandbox, con, spec) -> list[str]:
    dataset = load_dataset(spec)
    emu = emulator(sandbox)
    with emu.lock:
        emu.seed(dataset)
    create_fields(sandbox)
    emu.log.clear()
    write_warehouse(con, dataset)
    return dataset.accounts["account_id"].cast("string").to_pylist()


def accounts_by_product_id(sandbox) -> dict[str, dict]:
    return {r["Product_Account_Id__c"]: r for r in emulator(sandbox).org.records["Account"].values()
            if not r.get("IsDeleted")}


def observed(sandbox, segment_names) -> dict[str, set[str]]:
    """Members per segment by checkbox; the multi-select must list exactly the checked segments."""
    members = {name: set() for name in segment_names}
    for account_id, record in accounts_by_product_id(sandbox).items():
        checked = sorted(n for n in segment_names if record.get(f"Segsync_{n.capitalize()}__c"))
        listed = sorted((record.get("Segsync_Segments__c") or "").split(";")) if record.get(
            "Segsync_Segments__c") else []
        assert listed == checked, f"{account_id}: multi-select {listed} != checkboxes {checked}"
        for name in checked:
            members[name].add(account_id)
    return members


def write_calls(sandbox) -> int:
    return sum(1 for e in emulator(sandbox).log.entries()
               if e.method in WRITE_METHODS and e.path.startswith("/services/data/")
               and not e.path.rstrip("/").endswith(("/query", "/queryAll"))
               and not (e.method == "POST" and "/composite/sobjects/" in e.path))


def min_calls(n: int) -> int:
    return 3 if n >= SETTINGS["bulk_threshold"] else math.ceil(n / 200)


def salesforce_id(con, account_id: str) -> str:
    return con.execute("SELECT salesforce_account_id FROM accounts WHERE account_id = ?", [account_id]).fetchone()[0]


def reject_record(sandbox, con, account_id: str) -> None:
    emulator(sandbox).faults.add({"record_ids": [salesforce_id(con, account_id)],
                                  "code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                  "message": "Segment flags are locked for this account", "times": None})


def transient_record(sandbox, account_id: str, times: int) -> None:
    sf_id = next(r["Id"] for a, r in accounts_by_product_id(sandbox).items() if a == account_id)
    emulator(sandbox).faults.add({"record_ids": [sf_id], "code": "UNABLE_TO_LOCK_ROW", "times": times})


def call_fault(sandbox, status: int, times: int | None) -> None:
    emulator(sandbox).faults.add({"method": "PATCH", "path": r"/composite/sobjects$", "status": status,
                                  "times": times})


def clear_log(sandbox) -> None:
    emulator(sandbox).log.clear()


def foreign_member(sandbox, con, segment: str, account_id: str) -> None:
    """A rep ticks the segment's checkbox (and multi-select value) on an Account by hand."""
    emu = emulator(sandbox)
    with emu.lock:
        record = emu.org.records["Account"][salesforce_id(con, account_id)]
        record[f"Segsync_{segment.capitalize()}__c"] = True
        record["Segsync_Segments__c"] = segment


def clear_faults(sandbox) -> None:
    emulator(sandbox).faults.clear()


CASE = ContractCase(name="salesforce", sandbox="sf_sandbox", settings=SETTINGS, seed=seed, observed=observed,
                    write_calls=write_calls, min_calls=min_calls, reject_record=reject_record,
                    transient_record=transient_record, call_fault=call_fault, clear_log=clear_log,
                    clear_faults=clear_faults, foreign_member=foreign_member)
