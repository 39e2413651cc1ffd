"""The HubSpot property case: an owned multi-select listing each company's segments, 100 companies per call."""
from __future__ import annotations

import math

from tests.contract.destinations import hubspot_lists_case as case_hubspot
from tests.contract.destinations.harness import SEGMENT_NAMES, ContractCase

SETTINGS = {"type": "hubspot", "lists": False, "properties": {"segsync_segments": {"value": "segments"}}}
BATCH_UPDATE = "/crm/v3/objects/companies/batch/update"


def emulator(sandbox):
    return sandbox["hubspot"]


def seed(sandbox, con, spec) -> list[str]:
    ids = case_hubspot.seed(sandbox, con, spec)
    with emulator(sandbox).lock:
        emulator(sandbox).registry("companies").create({
            "name": "segsync_segments", "label": "segsync segments", "type": "enumeration", "fieldType": "checkbox",
            "groupName": "companyinformation",
            "options": [{"label": name.capitalize(), "value": name} for name in SEGMENT_NAMES]})
    return ids


def observed(sandbox, segment_names) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {name: set() for name in segment_names}
    for record in emulator(sandbox).store("companies").records.values():
        for name in (record.props.get("segsync_segments") or "").split(";"):
            if name in found:
                found[name].add(case_hubspot._account_of[record.id])
    return found


def write_calls(sandbox) -> int:
    return sum(1 for e in emulator(sandbox).log.entries() if e.method == "POST" and e.path == BATCH_UPDATE)


def reject_record(sandbox, con, account_id: str) -> None:
    emulator(sandbox).faults.add({"record_ids": [case_hubspot.company_id(con, account_id)],
                                  "code": "VALIDATION_ERROR", "message": "company is locked", "times": None})


def transient_record(sandbox, account_id: str, times: int) -> None:
    company = next(c for c, a in case_hubspot._account_of.items() if a == account_id)
    emulator(sandbox).faults.add({"record_ids": [company], "code": "INTERNAL_ERROR", "times": times})


def foreign_member(sandbox, con, segment: str, account_id: str) -> None:
    """A person ticked the segment in the multi-select of a company segsync does not sync."""
    record = emulator(sandbox).store("companies").records[case_hubspot.company_id(con, account_id)]
    with emulator(sandbox).lock:
        record.props["segsync_segments"] = segment


def call_fault(sandbox, status: int, times: int | None) -> None:
    emulator(sandbox).faults.add({"method": "POST", "path": BATCH_UPDATE + "$", "status": status, "times": times})


CASE = ContractCase(name="hubspot_properties", sandbox="hubspot_sandbox", settings=SETTINGS, seed=seed,
                    observed=observed, write_calls=write_calls, min_calls=lambda n: math.ceil(n / 100),
                    reject_record=reject_record, transient_record=transient_record, call_fault=call_fault,
                    clear_log=case_hubspot.clear_log, clear_faults=case_hubspot.clear_faults,
                    foreign_member=foreign_member)
